// Search, phone lookup, filing-number lookup and batch check over the static shards under
// search/ (written by transforms/search_index.py). Everything happens in this browser: a query
// fetches one or a few small shards from this site and nothing else. Text from the data is only
// ever set with textContent; only http(s) links become hrefs; agency ids must be path-safe.
(function () {
  "use strict";
  var site = JSON.parse(document.getElementById("site-data").textContent);
  var T = site.t;
  var base = site.assets + "search/";
  var cache = {};
  var SAFE_ID = /^[0-9A-Za-z-]+$/;
  var MAX_HITS = 50;

  function getJSON(path) {
    if (!cache[path]) {
      cache[path] = fetch(base + path).then(function (r) {
        if (r.status === 404) { return null; }  // an empty shard is not written
        if (!r.ok) { throw new Error(path + ": " + r.status); }
        return r.json();
      });
    }
    return cache[path];
  }
  function meta() { return getJSON("meta.json"); }

  // --- keys: the same rules as transforms/search_index.py and transforms/values.py -----------
  function fnv1a(text) {
    var h = 0x811c9dc5;
    for (var ch of text) {
      h ^= ch.codePointAt(0);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h >>> 0;
  }
  function needsT2s(text) {
    for (var ch of text) { if (ch.codePointAt(0) > 0x2e7f) { return true; } }
    return false;
  }
  function nameKey(text, t2s) {
    var out = "";
    for (var ch of String(text || "").normalize("NFKC").toLowerCase()) {
      var c = t2s[ch] || ch;
      if (/[\p{L}\p{N}]/u.test(c)) { out += c; }
    }
    return out;
  }
  function normalizeCode(text) {
    return String(text || "").normalize("NFKC").toUpperCase().replace(/[^0-9A-Z]/g, "");
  }
  // A mainland number in digits-only form: mobiles 11 digits, 400/800 10 digits, landlines with
  // their area code and its 0. A local number typed without area code (7-8 digits) is matched
  // against the end of the known numbers.
  function normalizePhone(raw) {
    var text = String(raw || "").normalize("NFKC").trim();
    if (!text || /[a-wyz\u3400-\u9fff]/i.test(text.replace(/(转|分机|ext\.?|x|#).*$/i, ""))) {
      return null;
    }
    text = text.replace(/(转|分机|ext\.?|x|#).*$/i, "");
    var digits = text.replace(/\D/g, "");
    var international = /^\+/.test(text) || digits.indexOf("0086") === 0;
    if (digits.indexOf("0086") === 0) { digits = digits.slice(2); }
    var country = international || (digits.length === 13 && digits.indexOf("861") === 0) ||
      ((digits.length === 11 || digits.length === 12) && /^86[2-9]/.test(digits));
    if (country) {
      digits = digits.replace(/^86/, "");
      if (digits && "014".indexOf(digits[0]) === -1) { digits = "0" + digits; }
    }
    if (/^1[3-9]\d{9}$/.test(digits) || /^[48]00\d{7}$/.test(digits) || /^0[1-9]\d{8,10}$/.test(digits)) {
      return { number: digits, local: false };
    }
    if (/^[2-9]\d{6,7}$/.test(digits)) { return { number: digits, local: true }; }
    return null;
  }

  // --- lookups -------------------------------------------------------------------------------
  function bigrams(key) {
    if (key.length === 1) { return [key]; }
    var chars = Array.from(key), out = [];
    for (var i = 0; i + 1 < chars.length; i++) {
      var g = chars[i] + chars[i + 1];
      if (out.indexOf(g) === -1) { out.push(g); }
    }
    if (out.length > 8) {  // enough to narrow; the key itself is checked on every candidate
      var step = out.length / 8, picked = [];
      for (var k = 0; k < 8; k++) { picked.push(out[Math.floor(k * step)]); }
      out = picked;
    }
    return out;
  }
  function intersect(lists) {
    lists.sort(function (a, b) { return a.length - b.length; });
    return lists[0].filter(function (i) {
      return lists.every(function (l) { return l.indexOf(i) !== -1; });
    });
  }
  function docs(m, ids) {
    var shards = [];
    ids.forEach(function (i) {
      var s = Math.floor(i / m.docs_per_shard);
      if (shards.indexOf(s) === -1) { shards.push(s); }
    });
    return Promise.all(shards.map(function (s) { return getJSON("docs/" + s + ".json"); }))
      .then(function (loaded) {
        return ids.map(function (i) {
          var shard = loaded[shards.indexOf(Math.floor(i / m.docs_per_shard))] || [];
          return shard[i % m.docs_per_shard];
        }).filter(Boolean);
      });
  }
  function searchNames(query) {
    return meta().then(function (m) {
      var t2s = needsT2s(query) ? getJSON("t2s.json") : Promise.resolve({});
      return t2s.then(function (map) {
        var key = nameKey(query, map || {});
        if (!key) { return []; }
        var grams = bigrams(key);
        return Promise.all(grams.map(function (g) {
          return getJSON("names/" + (fnv1a(g) % m.name_buckets) + ".json").then(function (shard) {
            return (shard && shard[g]) || [];
          });
        })).then(function (lists) {
          var ids = intersect(lists).slice(0, 400);
          return docs(m, ids);
        }).then(function (found) {
          return found.filter(function (d) { return d.key.indexOf(key) !== -1; })
            .map(function (d) { d.exact = d.key === key; return d; })
            .sort(function (a, b) {
              return (b.exact - a.exact) || (a.key.length - b.key.length) || a.name.localeCompare(b.name, "zh-CN");
            });
        });
      });
    });
  }
  function lookupCode(code) {
    return meta().then(function (m) {
      return getJSON("codes/" + (fnv1a(code) % m.code_buckets) + ".json");
    }).then(function (shard) { return (shard && shard[code]) || []; });
  }
  function lookupPhone(phone) {
    return getJSON("phones/" + phone.number.slice(-2) + ".json").then(function (shard) {
      shard = shard || {};
      if (!phone.local) { return shard[phone.number] || []; }
      var out = [];
      Object.keys(shard).forEach(function (n) {
        if (n.length > phone.number.length && n.slice(-phone.number.length) === phone.number) {
          shard[n].forEach(function (e) { out.push(Object.assign({ number: n }, e)); });
        }
      });
      return out;
    });
  }

  // --- DOM -----------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) { return; }
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function agencyHref(id) { return SAFE_ID.test(id || "") ? site.root + "agency/" + id + ".html" : null; }
  function agencyLink(ref) {
    var href = agencyHref(ref.id);
    var name = ref.name || ref.id || "";
    return href ? el("a", { href: href }, [name]) : el("span", {}, [name]);
  }
  function badge(list) {
    if (!list) { return null; }
    return el("span", { "class": "badge list-" + list.replace(/[^a-z_]/g, "") }, [site.labels.lists[list] || list]);
  }
  function sourceLine(e) {
    var parts = [T.source + T.colon];
    if (e.href && /^https?:\/\//i.test(e.href)) {
      parts.push(el("a", { href: e.href, rel: "nofollow noopener noreferrer" }, [e.source || e.href]));
    } else {
      parts.push(e.source || "");
    }
    if (e.fetched_on) { parts.push(" · " + T.fetched + " " + e.fetched_on); }
    if (e.record_id) { parts.push(" · ", el("span", { "class": "code muted" }, [e.record_id])); }
    return el("p", { "class": "source" }, parts);
  }
  function show(box, nodes) {
    box.textContent = "";
    nodes.forEach(function (n) { if (n) { box.appendChild(n); } });
  }
  function nameHits(hits) {
    if (!hits.length) { return null; }
    var items = hits.slice(0, MAX_HITS).map(function (d) {
      return el("li", {}, [agencyLink(d), " ", badge(d.list),
        d.uscc ? el("span", { "class": "code muted" }, [" " + d.uscc]) : null,
        d.district ? " · " + d.district : null]);
    });
    var list = el("ul", { "class": "hits" }, items);
    return hits.length > MAX_HITS ? el("div", {}, [list, el("p", { "class": "muted" }, [T.more])]) : list;
  }
  function codeHits(entries) {
    if (!entries.length) { return null; }
    return el("ul", { "class": "hits" }, entries.map(function (e) {
      if (e.kind === "filing") {
        return el("li", { "class": "filing" }, [
          el("p", {}, [el("strong", {}, [T.filing_no + " " + (e.filing_no || "")]), " · ",
            site.labels.filing_type[e.filing_type] || e.filing_type || ""]),
          el("p", {}, [T.agency + T.colon, e.id ? agencyLink(e) : (e.filed_name || "") + " (" + T.unlinked + ")", " ", badge(e.list)]),
          el("p", {}, [T.issuer + T.colon + (e.issuer || "—") + " · " + T.issued + T.colon + (e.issued_on || "—") +
            " · " + T.expires + T.colon + (e.expires_on || "—")]),
          sourceLine(e)]);
      }
      return el("li", {}, [agencyLink(e), " ", badge(e.list)]);
    }));
  }
  function phoneResult(entries) {
    var published = entries.filter(function (e) { return e.kind === "published_by_agency"; });
    var reported = entries.filter(function (e) { return e.kind === "reported"; });
    var verdicts = [];
    if (published.some(function (e) { return e.registered; })) {
      verdicts.push(el("p", { "class": "verdict verdict-agency" }, [T.phone_agency]));
    } else if (published.length) {
      verdicts.push(el("p", { "class": "verdict verdict-unregistered" }, [T.phone_agency_unregistered]));
    }
    if (reported.length) { verdicts.push(el("p", { "class": "verdict verdict-reported" }, [T.phone_reported])); }
    if (!entries.length) { verdicts.push(el("p", { "class": "verdict verdict-unknown" }, [T.phone_unknown])); }
    var items = entries.map(function (e) {
      return el("li", {}, [
        el("p", {}, [el("strong", {}, [site.labels.phone_kind[e.kind] || e.kind || ""]),
          e.number ? el("span", { "class": "code" }, [" " + e.number]) : null, " · ",
          e.id ? agencyLink(e) : (e.reported_name || "") + " (" + T.unlinked + ")", " ", badge(e.list)]),
        sourceLine(e)]);
    });
    return verdicts.concat(items.length ? [el("ul", { "class": "hits" }, items)] : []);
  }
  function failed(box) { return function () { show(box, [el("p", { "class": "warn" }, [T.error])]); }; }
  function setParam(name, value) {
    var url = new URL(window.location.href);
    url.searchParams.set(name, value);
    window.history.replaceState(null, "", url.pathname.split("/").pop() + url.search);
  }

  // --- pages ---------------------------------------------------------------------------------
  function looksLikeCode(code) { return code.length >= 6 && /\d/.test(code) && /^[0-9A-Z]+$/.test(code); }
  function runSearch(query, box) {
    var q = query.trim();
    if (!q) { show(box, []); return Promise.resolve(); }
    show(box, [el("p", { "class": "muted" }, [T.searching])]);
    var code = normalizeCode(q);
    var phone = normalizePhone(q);
    var hasWord = /[\p{L}]/u.test(q.replace(/^\+?86/, ""));
    return Promise.all([
      hasWord || !looksLikeCode(code) ? searchNames(q) : Promise.resolve([]),
      looksLikeCode(code) ? lookupCode(code) : Promise.resolve([]),
      phone && !/[a-z]/i.test(q) ? lookupPhone(phone) : Promise.resolve([]),
    ]).then(function (r) {
      var nodes = [nameHits(r[0]), codeHits(r[1]), r[2].length ? el("div", {}, phoneResult(r[2])) : null];
      show(box, nodes.some(Boolean) ? nodes : [el("p", {}, [T.no_match])]);
    }, failed(box));
  }
  function runPhone(query, box) {
    var phone = normalizePhone(query);
    if (!phone) { show(box, [el("p", { "class": "warn" }, [T.invalid_phone])]); return Promise.resolve(); }
    show(box, [el("p", { "class": "muted" }, [T.searching])]);
    return lookupPhone(phone).then(function (entries) {
      show(box, [el("p", {}, [T.input + T.colon, el("span", { "class": "code" }, [phone.number])])].concat(phoneResult(entries)));
    }, failed(box));
  }
  function runCode(query, box) {
    var code = normalizeCode(query);
    if (!code) { show(box, []); return Promise.resolve(); }
    return lookupCode(code).then(function (entries) {
      show(box, [codeHits(entries) || el("p", {}, [T.no_match])]);
    }, failed(box));
  }

  function checkLine(line) {
    var code = normalizeCode(line);
    if (/^[0-9A-Z]{18}$/.test(code) || (/^\d{6,}$/.test(code) && !/[\p{L}]/u.test(line))) {
      return lookupCode(code).then(function (entries) {
        var refs = entries.filter(function (e) { return e.id; });
        return { input: line, hits: refs.map(function (e) { return { id: e.id, name: e.name, list: e.list }; }) };
      });
    }
    return searchNames(line).then(function (hits) {
      var exact = hits.filter(function (d) { return d.exact; });
      return { input: line, hits: exact.length ? exact : hits };
    });
  }
  function csvCell(value) {
    var text = String(value === null || value === undefined ? "" : value);
    if (/^[=+\-@\t\r]/.test(text)) { text = "'" + text; }  // formula-safe in spreadsheets
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function firstColumn(line) {
    var m = /^\s*"((?:[^"]|"")*)"/.exec(line);
    if (m) { return m[1].replace(/""/g, '"'); }
    return line.split(/[,\t]/)[0];
  }
  function inputLines(text, fromCsv) {
    var lines = text.replace(/^\ufeff/, "").split(/\r?\n/).map(function (l) {
      return (fromCsv ? firstColumn(l) : l).trim();
    }).filter(Boolean);
    if (fromCsv && lines.length && /^(名称|机构名称|统一社会信用代码|代码|name|code|uscc)$/i.test(lines[0])) {
      lines.shift();  // a header row
    }
    return lines.slice(0, 1000);
  }
  function runBatch(lines, box, download) {
    show(box, [el("p", { "class": "muted" }, [T.searching])]);
    return Promise.all(lines.map(checkLine)).then(function (results) {
      var csv = [[T.input, T.status, T.agency, T.list, T.link].map(csvCell).join(",")];
      var rows = results.map(function (r) {
        var status = !r.hits.length ? T.not_found_line : (r.hits.length === 1 ? T.found : T.several + " (" + r.hits.length + ")");
        var hit = r.hits[0];
        var href = hit ? agencyHref(hit.id) : null;
        var absolute = href ? new URL(href, window.location.href).href : "";
        csv.push([r.input, status, hit ? hit.name : "", hit ? (site.labels.lists[hit.list] || hit.list) : "", absolute].map(csvCell).join(","));
        return el("tr", { "class": r.hits.length ? "matched" : "unmatched" }, [
          el("td", {}, [r.input]),
          el("td", {}, [status]),
          el("td", {}, [hit ? agencyLink(hit) : "—"]),
          el("td", {}, [hit ? badge(hit.list) : "—"]),
          el("td", { "class": "code" }, [href ? el("a", { href: href }, [hit.id]) : "—"]),
        ]);
      });
      var table = el("table", { "class": "batch-results" }, [
        el("caption", {}, [T.results + " (" + results.length + ")"]),
        el("thead", {}, [el("tr", {}, [T.input, T.status, T.agency, T.list, T.link].map(function (h) {
          return el("th", { scope: "col" }, [h]);
        }))]),
        el("tbody", {}, rows)]);
      show(box, [table]);
      var blob = new Blob(["\ufeff" + csv.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
      download.href = URL.createObjectURL(blob);
      download.parentNode.hidden = false;
    }, failed(box));
  }

  function wireForm(form, param, run) {
    var input = form.querySelector("input[type=search]");
    var box = document.getElementById("results");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      setParam(param, input.value);
      run(input.value, box);
    });
    var initial = new URLSearchParams(window.location.search).get(param);
    if (initial) { input.value = initial; run(initial, box); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-search]");
    if (form) {
      var kind = form.getAttribute("data-search");
      if (kind === "name") { wireForm(form, "q", runSearch); }
      if (kind === "phone") { wireForm(form, "n", runPhone); }
      if (kind === "code") { wireForm(form, "c", runCode); }
    }
    var batch = document.getElementById("batch-form");
    if (batch) {
      var text = document.getElementById("batch-input");
      var file = document.getElementById("batch-file");
      var box = document.getElementById("batch-results");
      var download = document.getElementById("batch-download");
      batch.addEventListener("submit", function (e) {
        e.preventDefault();
        runBatch(inputLines(text.value, false), box, download);
      });
      file.addEventListener("change", function () {
        if (!file.files.length) { return; }
        file.files[0].text().then(function (content) {
          runBatch(inputLines(content, true), box, download);
        });
      });
    }
  });

  window.agencyWatchSearch = { normalizePhone: normalizePhone, nameKey: nameKey, fnv1a: fnv1a };
})();
