// Filters and sorting for the agency lists: no network, no dependency. Without JavaScript the
// full list is still there; with it, the filter form appears, ?q= from the home page search box
// is applied, and each column header becomes a sort button.
(function () {
  "use strict";
  function norm(s) { return (s || "").normalize("NFKC").toLowerCase().replace(/\s+/g, ""); }

  function applyFilters(form, rows) {
    var q = norm(form.querySelector("#filter").value);
    var selects = Array.prototype.slice.call(form.querySelectorAll("select[data-filter-attr]"));
    var shown = 0;
    rows.forEach(function (row) {
      var ok = q === "" || norm(row.getAttribute("data-search")).indexOf(q) !== -1;
      selects.forEach(function (sel) {
        if (sel.value !== "" && row.getAttribute("data-" + sel.getAttribute("data-filter-attr")) !== sel.value) {
          ok = false;
        }
      });
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    var count = form.querySelector("#filter-count");
    if (count) { count.textContent = shown + " / " + rows.length; }
  }

  function cellValue(row, index, kind) {
    var cell = row.cells[index];
    if (kind === "number") {
      var v = cell.getAttribute("data-value");
      return v === "" || v === null ? -Infinity : parseFloat(v);
    }
    return cell.textContent.trim();
  }

  function makeSortable(table) {
    var headers = Array.prototype.slice.call(table.querySelectorAll("th[data-sort]"));
    headers.forEach(function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var kind = th.getAttribute("data-sort");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index, kind), y = cellValue(b, index, kind);
          var c = kind === "number" ? x - y : String(x).localeCompare(String(y), "zh-CN");
          return ascending ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.slice.call(document.querySelectorAll("table.sortable")).forEach(makeSortable);
    var form = document.getElementById("filters");
    if (!form) { return; }
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-search]"));
    form.hidden = false;
    var q = new URLSearchParams(window.location.search).get("q");
    if (q) { form.querySelector("#filter").value = q; }
    form.addEventListener("input", function () { applyFilters(form, rows); });
    form.addEventListener("change", function () { applyFilters(form, rows); });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    applyFilters(form, rows);
  });
})();
