"""Static search shards for the site: names, codes (USCC, filing numbers, agency ids) and phones.

Nothing leaves the visitor's browser and a lookup must stay small on a slow phone, so the index
is cut into shards the page fetches on demand from the site itself:

- ``phones/<last two digits>.json``: one phone lookup downloads one shard (a suffix-keyed
  shard also serves a local number typed without its area code);
- ``codes/<bucket>.json``: a USCC, filing number or agency id, exact match;
- ``names/<bucket>.json`` (posting lists of single characters and bigrams of the name's
  matching key) plus ``docs/<n>.json`` (the agencies themselves): partial names, in simplified
  or traditional characters (``t2s.json`` maps the traditional forms of the characters the
  site's names use).

The bucket of a key is FNV-1a over its code points (``site/static/search.js`` computes the same).
Pagefind was measured against this (see the site notes in docs/architecture.md): its runtime
alone is larger than the 50 KB budget of one phone or code lookup, and it does not fold
traditional input onto simplified names.

A province city's index holds 25,000 agencies and 90,000 phone records (50 MB of JSON), so the
shards are written as the JSON text itself, put together column-wise (Arrow joins, numpy sorts),
with each distinct value encoded once by json's own encoder (value_json); the bytes are those
json.dumps(…, sort_keys=True) gives the same dicts (tests/test_search_index.py holds them to it).
"""

from __future__ import annotations

import functools
import json
import math
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring as _json_string  # json's own (C) string encoder
from pathlib import Path
from typing import Any

import numpy as np
import opencc
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from agencywatch.paths import CityPaths
from transforms.render_model import column_values, factorized, http_url, is_text_type, records
from transforms.values import lookups, name_keys, normalize_phone

FORMAT_VERSION = 1
DOCS_PER_SHARD = 64
POSTINGS_PER_BUCKET = 400  # aims at a few KB per names shard
CODES_PER_BUCKET = 64
JSON_ESCAPED = r'["\\\x00-\x1f]'  # (RE2) what json.dumps escapes in a text, ensure_ascii off
T2S_CONFIGS = ("s2t", "s2tw", "s2hk")
# what code_texts and phone_shards read of a clean table
CLEAN_COLUMNS = ("record_id", "source_id", "url", "fetched_at", "number", "kind", "category",
                 "name", "filing_no", "filing_type", "issuer", "issued_on", "expires_on",
                 "event_date")  # fmt: skip


def fnv1a(text: str) -> int:
    """32-bit FNV-1a over code points: the shard of a key, identical in Python and JS."""
    h = 0x811C9DC5
    for ch in text:
        h ^= ord(ch)
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def grams(key: str) -> set[str]:
    """The characters and bigrams of a matching key: what a partial-name query is split into."""
    return {*key, *map(operator.add, key, key[1:])}


def phone_shard(number: str) -> str:
    """Shard name of a normalized number: its last two digits."""
    return number[-2:].rjust(2, "0")


def build(model: dict[str, Any], paths: CityPaths, out: Path) -> dict[str, Any]:
    """Write every shard under out/ and return the meta the page reads first."""
    files, meta = shards(model, paths)
    for name, data in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return meta


def shards(model: dict[str, Any], paths: CityPaths) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every shard as {path under search/: its bytes}, and the meta the page reads first (the
    renderer writes them itself, hashing the bytes as it goes)."""
    agencies = model["agencies"]
    keys = _name_keys(agencies)
    postings = _postings(keys)
    meta = {
        "version": FORMAT_VERSION,
        "count": len(agencies),
        "docs_per_shard": DOCS_PER_SHARD,
        "name_buckets": _bucket_count(sum(map(len, postings.values())), POSTINGS_PER_BUCKET),
    }
    sources = {s.id: s.title for s in model["city"].sources}
    events = model.get("events")
    linked = linker(agencies, events)
    codes = code_texts(agencies, paths, sources, events, linked)
    meta["code_buckets"] = _bucket_count(len(codes), CODES_PER_BUCKET)
    files = doc_shards(agencies, keys)
    files.update(_buckets("names", postings, meta["name_buckets"]))
    files.update(_text_buckets("codes", codes, meta["code_buckets"]))
    files.update(phone_shards(agencies, paths, sources, events, linked))
    files["t2s.json"] = _json(traditional_map(keys))
    files["meta.json"] = _json(meta)
    return files, meta


def _bucket_count(items: int, per_bucket: int) -> int:
    return max(1, math.ceil(items / per_bucket))


def _name_keys(agencies: list[dict[str, Any]]) -> list[str]:
    """Each agency's name_key ("" for none), with one OpenCC call for all distinct names."""
    if not agencies:
        return []
    names = pd.Series([a.get("name") for a in agencies], dtype=object)
    return [key or "" for key in name_keys(names).tolist()]


def doc_shards(agencies: list[dict[str, Any]], keys: list[str]) -> dict[str, bytes]:
    """docs/<n>.json: DOCS_PER_SHARD agencies each, as the list of their docs (id, name, name
    key, list, USCC, district) that _json would write, put together in Arrow."""
    if not agencies:
        return {}
    docs = _json_objects({
        "district": _json_texts([a.get("district") for a in agencies]),
        "id": _json_texts([a["agency_id"] for a in agencies]),
        "key": _json_texts(keys),
        "list": _json_texts([a["list"] for a in agencies]),
        "name": _json_texts([a.get("name") or "" for a in agencies]),
        "uscc": _json_texts([a.get("uscc") for a in agencies]),
    })  # fmt: skip
    starts = list(range(0, len(agencies), DOCS_PER_SHARD))
    lists = pc.binary_join(_lists(docs, [*starts, len(agencies)]), ",")
    files = pc.binary_join_element_wise("[", lists, "]", "").cast(pa.binary()).to_pylist()
    return {f"docs/{k}.json": data for k, data in enumerate(files)}


def _json_objects(fields: dict[str, pa.Array]) -> pa.Array:
    """Each row's JSON object of the fields (JSON texts), keys in sorted order."""
    pieces: list[Any] = []
    for k, name in enumerate(sorted(fields)):
        pieces += [("{" if k == 0 else ",") + value_json(name) + ":", fields[name]]
    return pc.binary_join_element_wise(*pieces, "}", "")


def _postings(keys: list[str]) -> dict[str, list[int]]:
    """gram → indices of the keys that hold it, in order; a posting per gram of each key, so
    their count is the total of the lists' lengths.

    Computed on code points in numpy (a gram is a number: a character, or a pair of them) and
    turned into text once per distinct gram: a city's 25,000 names hold 700,000 postings."""
    if len(keys) >= 1 << 21:  # a gram (below 2**42) and a key position share one int64
        return _postings_of_texts(keys)
    try:
        points = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:  # a lone surrogate: gram by gram
        return _postings_of_texts(keys)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    key_of = np.repeat(np.arange(len(keys), dtype=np.int64), lengths)
    chars = points.astype(np.int64)
    pair = key_of[1:] == key_of[:-1]  # a bigram: two characters of the same key
    grams = np.concatenate((chars, ((chars[:-1] + 1) << 21 | chars[1:])[pair]))
    owners = np.concatenate((key_of, key_of[:-1][pair]))
    postings = np.sort(grams << 21 | owners)  # (np.unique hashes, much slower here)
    if not len(postings):
        return {}
    postings = postings[np.r_[True, postings[1:] != postings[:-1]]]
    gram, owner = postings >> 21, postings & ((1 << 21) - 1)
    starts = np.flatnonzero(np.r_[True, gram[1:] != gram[:-1]])
    ends = [*starts[1:].tolist(), len(gram)]
    owner_lists = owner.tolist()
    return {
        _gram_text(g): owner_lists[start:end]
        for g, start, end in zip(gram[starts].tolist(), starts.tolist(), ends, strict=True)
    }


def _gram_text(gram: int) -> str:
    """The text of a gram number (_postings): one character, or two."""
    if gram < 1 << 21:
        return chr(gram)
    return chr((gram >> 21) - 1) + chr(gram & ((1 << 21) - 1))


def _postings_of_texts(keys: list[str]) -> dict[str, list[int]]:
    """_postings, gram by gram in Python."""
    postings: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        for g in grams(key):
            postings[g].append(i)
    return postings


def _buckets(folder: str, entries: dict[str, Any], buckets: int) -> dict[str, bytes]:
    split: dict[int, dict[str, Any]] = defaultdict(dict)
    keys = sorted(entries)
    for key, h in zip(keys, fnv1a_many(keys).tolist(), strict=True):
        split[h % buckets][key] = entries[key]
    return {f"{folder}/{bucket}.json": _json(content) for bucket, content in split.items()}


def _text_buckets(folder: str, texts: dict[str, list[str]], buckets: int) -> dict[str, bytes]:
    """_buckets of entries given as JSON texts (code_texts): the same bytes."""
    split: dict[int, list[str]] = defaultdict(list)
    keys = sorted(texts)
    for key, h in zip(keys, fnv1a_many(keys).tolist(), strict=True):
        split[h % buckets].append(f"{value_json(key)}:[{','.join(texts[key])}]")
    return {f"{folder}/{b}.json": f"{{{','.join(parts)}}}".encode() for b, parts in split.items()}


def fnv1a_many(keys: list[str]) -> np.ndarray:
    """fnv1a of each key, computed a column of code points at a time over the keys of each
    length (a city has tens of thousands of codes to bucket)."""
    out = np.zeros(len(keys), dtype=np.uint64)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    for n in np.unique(lengths).tolist():
        rows = np.flatnonzero(lengths == n)
        text = "".join([keys[i] for i in rows.tolist()])
        try:
            points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        except UnicodeEncodeError:  # a lone surrogate: one key at a time
            out[rows] = [fnv1a(keys[i]) for i in rows.tolist()]
            continue
        points = points.reshape(len(rows), n).astype(np.uint64)
        h = np.full(len(rows), 0x811C9DC5, dtype=np.uint64)
        for j in range(n):
            h = ((h ^ points[:, j]) * 0x01000193) & 0xFFFFFFFF
        out[rows] = h
    return out


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _agency_ref(a: dict[str, Any] | None) -> dict[str, Any]:
    if a is None:
        return {"id": None, "name": None, "list": None}
    return {"id": a["agency_id"], "name": a.get("name"), "list": a["list"]}


def _evidence(row: dict[str, Any], sources: dict[str, str]) -> dict[str, Any]:
    return {
        "record_id": row.get("record_id"),
        "href": http_url(row.get("url")),
        "source": sources.get(str(row.get("source_id")), row.get("source_id")),
        "fetched_on": _fetched_on(row.get("fetched_at")),
    }


def _fetched_on(value: Any) -> str | None:
    return str(value or "")[:10] or None


Linker = Callable[[pa.Array], np.ndarray]


def linker(agencies: list[dict[str, Any]], events: pd.DataFrame | None) -> Linker:
    """record ids → the position in agencies of the agency each was linked to (the one whose
    timeline holds it), -1 for none.

    The timelines are the rows of the release's events table whose agency is in the model
    (render_model.attach_events). So when that table is given, the rows of the wanted records
    are found by a hash join in Arrow and, when it names each of them once, a record's agency
    is its row's; otherwise (or without the table) every timeline is read as it is."""
    ids = [a["agency_id"] for a in agencies]
    timelines: list[dict[str, dict[str, Any]]] = []

    def from_timelines(record_ids: pa.Array) -> np.ndarray:
        if not timelines:
            timelines.append(_linked(agencies))
        position = {id(a): k for k, a in enumerate(agencies)}
        found = (timelines[0].get(r) for r in record_ids.to_pylist())
        return np.array([-1 if a is None else position[id(a)] for a in found], dtype=np.intp)

    table = None if events is None or len(set(ids)) != len(ids) else _id_columns(events)
    if table is None:
        return from_timelines
    agency_ids = pa.array(ids, pa.string())

    def positions(record_ids: pa.Array) -> np.ndarray:
        wanted = record_ids.cast(pa.string())
        rows = table.filter(pc.is_in(table["record_id"], value_set=wanted))
        found = rows["record_id"].combine_chunks()
        if len(pc.unique(found)) != len(found):  # a record under two agencies: see timelines
            return from_timelines(record_ids)
        owner = pc.index_in(rows["agency_id"], value_set=agency_ids).combine_chunks()
        at = pc.index_in(wanted, value_set=found)
        return owner.take(at).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)

    return positions


def _id_columns(events: pd.DataFrame) -> pa.Table | None:
    """The events table's record and agency ids as Arrow text, or None without them."""
    if not {"record_id", "agency_id"} <= set(events.columns):
        return None
    columns = {c: pa.array(events[c], from_pandas=True) for c in ("record_id", "agency_id")}
    if not all(is_text_type(v.type) or pa.types.is_null(v.type) for v in columns.values()):
        return None
    return pa.table({c: v.cast(pa.string()) for c, v in columns.items()})


def _linked(agencies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """record id → the agency it was linked to, from each agency's timeline."""
    return {e["record_id"]: a for a in agencies for e in a["events"]}


def _clean_or_events(
    paths: CityPaths,
    agencies: list[dict[str, Any]],
    record_type: str,
    key: str,
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The clean records of a type (linked or not); without them, the linked events (the
    release's events table when given, else the agencies' timelines), whose record id ends in
    the record's key."""
    path = paths.clean / f"{record_type}.parquet"
    if path.is_file():
        present = set(pq.read_schema(path).names)
        return pd.read_parquet(path, columns=[c for c in CLEAN_COLUMNS if c in present])
    if events is not None:
        rows = events[events["record_type"] == record_type] if len(events) else events
        rows = rows.reset_index(drop=True)
    else:
        rows = pd.DataFrame(
            [e for a in agencies for e in a["events"] if e["record_type"] == record_type]
        )
    if rows.empty:
        return pd.DataFrame()
    keys = [i.split(":", 1)[-1] for i in column_values(rows, "record_id")]
    return rows.assign(**{key: pd.Series(keys, index=rows.index, dtype=object)})


def code_texts(
    agencies: list[dict[str, Any]],
    paths: CityPaths,
    sources: dict[str, str],
    events: pd.DataFrame | None = None,
    linked: Linker | None = None,
) -> dict[str, list[str]]:
    """Normalized code → what it identifies, each as the JSON text _json writes: an agency
    (by USCC or id; one text serves both) or a filing."""
    out: dict[str, list[str]] = defaultdict(list)
    for a in agencies:
        ref = _agency_ref(a)
        text = (f'{{"id":{value_json(ref["id"])},"kind":"agency",'
                f'"list":{value_json(ref["list"])},"name":{value_json(ref["name"])}}}')  # fmt: skip
        out[a["agency_id"].upper()].append(text)
        if a.get("uscc") and a["uscc"].upper() != a["agency_id"].upper():
            out[a["uscc"].upper()].append(text)
    linked = linker(agencies, events) if linked is None else linked
    rows = records(_clean_or_events(paths, agencies, "filing", "filing_no", events))
    cited = pa.array([_text_or_none(row.get("record_id")) for row in rows], pa.string())
    owners = [agencies[k] if k >= 0 else None for k in linked(cited).tolist()]
    for row, agency in zip(rows, owners, strict=True):
        number = normalize_code(row.get("filing_no"))
        if not number:
            continue
        entry = {
            "kind": "filing",
            "filing_no": row.get("filing_no"),
            "filing_type": row.get("filing_type") or row.get("category"),
            "issuer": row.get("issuer"),
            "issued_on": row.get("issued_on") or row.get("event_date"),
            "expires_on": row.get("expires_on"),
            "filed_name": row.get("name"),
            **_agency_ref(agency),
            **_evidence(row, sources),
        }
        out[number].append(value_json(entry))
    return out


def normalize_code(value: object) -> str | None:
    """A code as typed (spaces, dashes, lower case) in the form the index keys it."""
    if value is None:
        return None
    text = "".join(ch for ch in str(value).upper() if ch.isalnum())
    return text or None


def phone_shards(
    agencies: list[dict[str, Any]],
    paths: CityPaths,
    sources: dict[str, str],
    events: pd.DataFrame | None = None,
    linked: Linker | None = None,
) -> dict[str, bytes]:
    """phones/<last two digits>.json: normalized number → every record that mentions it (by
    kind, then record id), with the agency when linked; the bytes _json would write.

    The phone shards are most of the index's bytes (a hundred thousand entries at province
    scale), so they are put together in Arrow: each distinct value (number, source, page,
    name, agency) is encoded once as JSON text, the entries are ordered by shard, number, kind
    and record id with one lexsort, and each shard is one join of its entries, with the keys
    in sorted order and the brackets of the shard and of each number folded into its first
    and last entries (test_search_index compares the bytes with json.dumps)."""
    rows = _clean_or_events(paths, agencies, "phone", "number", events)
    number, distinct = _keyed_numbers(rows)
    kept = np.flatnonzero(number >= 0)
    if not len(kept):
        return {}
    kind = _kinds(rows)
    record_id = _text_column(rows, "record_id")
    order = kept[np.lexsort((_ranks(record_id.take(kept)), _ranks(kind.take(kept)),
                             number[kept]))]  # fmt: skip
    linked = linker(agencies, events) if linked is None else linked
    agency = _agency_json(agencies, linked(record_id.take(order)))
    brackets = _phone_brackets(number[order], distinct)
    entry = pc.binary_join_element_wise(
        *brackets["open"], '{"fetched_on":', _json_column(rows, "fetched_at", order, _fetched_on),
        ',"href":', _json_column(rows, "url", order, http_url),
        ',"id":', agency["id"], ',"kind":', _quoted(kind.take(order)),
        ",", agency["list_name"],
        ',"record_id":', _json_strings(rows, "record_id", order),
        ',"registered":', agency["registered"],
        ',"reported_name":', _json_column(rows, "name", order),
        ',"source":', _json_column(rows, "source_id", order, lambda s: sources.get(str(s), s)),
        "}", *brackets["close"], "",
    )  # fmt: skip
    files = pc.binary_join(_lists(entry, [*brackets["firsts"], len(order)]), ",")
    return {
        f"phones/{name}.json": data
        for name, data in zip(brackets["names"], files.cast(pa.binary()).to_pylist(), strict=True)
    }


def _keyed_numbers(rows: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """(each row's number as a position in the distinct normalized numbers, -1 for one the
    site does not key; those numbers, in order of shard, then number)."""
    if "number" not in rows.columns:
        return np.full(len(rows), -1), []
    codes, raw = factorized(rows["number"])
    normal = [_keyed_number(v) for v in raw]
    by_shard: dict[str, list[str]] = defaultdict(list)
    for n in sorted({n for n in normal if n is not None}):
        by_shard[phone_shard(n)].append(n)
    distinct = [n for shard in sorted(by_shard) for n in by_shard[shard]]
    position = {n: k for k, n in enumerate(distinct)}
    table = np.array([-1 if n is None else position[n] for n in normal], dtype=np.intp)
    return table[codes], distinct


def _kinds(rows: pd.DataFrame) -> pa.Array:
    """Each row's kind, else (missing or empty) its category, as Arrow text."""
    kind = _text_column(rows, "kind")
    category = _text_column(rows, "category")
    use_category = pc.fill_null(pc.equal(kind, ""), True)
    return pc.if_else(use_category, category, kind)


def _text_column(df: pd.DataFrame, column: str) -> pa.Array:
    """A column as one Arrow text array (str() of anything that is not text, None kept)."""
    if column not in df.columns:
        return pa.nulls(len(df), pa.string())
    values = pa.array(df[column], from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if is_text_type(values.type) or pa.types.is_null(values.type):
        return values.cast(pa.string())
    return pa.array([_text_or_none(v) for v in column_values(df, column)], pa.string())


def _text_or_none(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else str(value)


def _ranks(values: pa.Array) -> np.ndarray:
    """Each text's rank in the order Python sorts str() of the values (None as "None"):
    Arrow compares UTF-8 bytes, which orders code points as Python does."""
    return pc.rank(pc.fill_null(values, "None"), tiebreaker="dense").to_numpy()


def _quoted(values: pa.Array) -> pa.Array:
    """value_json of each text (None: null)."""
    if pc.any(pc.match_substring_regex(values, JSON_ESCAPED)).as_py():
        return _json_texts(values.to_pylist())
    return pc.fill_null(pc.binary_join_element_wise('"', values, '"', ""), "null")


def _phone_brackets(numbers: np.ndarray, distinct: list[str]) -> dict[str, Any]:
    """For entries in order of shard, then number (numbers: positions in distinct): what goes
    before them ("open": `{` starts a shard, `"number":[` a number), after them ("close": `]`
    and `}`), where each shard starts ("firsts") and the shards' names ("names")."""
    shard_names = [phone_shard(n) for n in distinct]
    shard_of = np.cumsum([k > 0 and shard_names[k] != shard_names[k - 1]
                          for k in range(len(distinct))])  # fmt: skip
    shards = shard_of[numbers]
    new_number = np.r_[True, numbers[1:] != numbers[:-1]]
    new_shard = np.r_[True, shards[1:] != shards[:-1]]
    number_open = pa.array([f"{value_json(n)}:[" for n in distinct], pa.string())
    firsts = np.flatnonzero(new_shard)
    return {
        "open": [pc.if_else(pa.array(new_shard), "{", ""),
                 pc.if_else(pa.array(new_number), number_open.take(pa.array(numbers)), "")],
        "close": [pc.if_else(pa.array(np.r_[new_number[1:], True]), "]", ""),
                  pc.if_else(pa.array(np.r_[new_shard[1:], True]), "}", "")],
        "firsts": firsts.tolist(),
        "names": [shard_names[k] for k in numbers[firsts].tolist()],
    }  # fmt: skip


def _lists(values: pa.Array, offsets: list[int]) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def _json_column(
    df: pd.DataFrame, column: str, rows: np.ndarray, derive: Callable[[Any], Any] | None = None
) -> pa.Array:
    """value_json(derive(value)) of a column at the given rows, encoded once per distinct
    value."""
    if column not in df.columns:
        return _json_texts([derive(None) if derive else None] * len(rows))
    codes, values = factorized(df[column])
    texts = pa.array([value_json(derive(v) if derive else v) for v in values], pa.string())
    return texts.take(pa.array(codes[rows] % len(values)))  # code -1: the None last


def _json_texts(values: list[Any]) -> pa.Array:
    """value_json of each value, as Arrow text: texts quoted in Arrow when none holds a
    character JSON escapes, other values encoded once per distinct value."""
    if values and all(v.__class__ is str for v in values):
        texts = pa.array(values, pa.string())
        if not pc.any(pc.match_substring_regex(texts, JSON_ESCAPED)).as_py():
            return pc.binary_join_element_wise('"', texts, '"', "")
    distinct: dict[Any, int] = {}
    codes = [distinct.setdefault(v, len(distinct)) for v in values]
    return pa.array([value_json(v) for v in distinct], pa.string()).take(pa.array(codes))


def _agency_json(agencies: list[dict[str, Any]], positions: np.ndarray) -> dict[str, pa.Array]:
    """The JSON texts of each phone entry's agency fields (the agency at each position, none
    for -1): "id", "list_name" (`"list":…,"name":…`) and "registered", once per agency."""
    distinct, codes = np.unique(positions, return_inverse=True)
    found = [agencies[k] if k >= 0 else None for k in distinct.tolist()]
    refs = [_agency_ref(a) for a in found]
    texts = {
        "id": [value_json(r["id"]) for r in refs],
        "list_name": [f'"list":{value_json(r["list"])},"name":{value_json(r["name"])}'
                      for r in refs],
        "registered": [value_json(bool(a and a.get("registered"))) for a in found],
    }  # fmt: skip
    picks = pa.array(codes.reshape(-1))
    return {key: pa.array(values, pa.string()).take(picks) for key, values in texts.items()}


def _json_strings(df: pd.DataFrame, column: str, rows: np.ndarray) -> pa.Array:
    """value_json of a text column at rows (mostly distinct values, like record ids): quoted
    in Arrow when none is missing and none holds a character JSON escapes."""
    if column in df.columns:
        values = pa.array(df[column], from_pandas=True)
        if is_text_type(values.type) and not values.null_count:
            picked = values.take(pa.array(rows))
            if isinstance(picked, pa.ChunkedArray):
                picked = picked.combine_chunks()
            if not pc.any(pc.match_substring_regex(picked, JSON_ESCAPED)).as_py():
                return pc.binary_join_element_wise('"', picked.cast(pa.string()), '"', "")
    return _json_column(df, column, rows)


def value_json(value: Any) -> str:
    """The JSON text of one value exactly as _json writes it inside a shard."""
    if value.__class__ is str:
        return _json_string(value)
    if value is None or value is True or value is False:
        return _JSON_CONSTANTS[value]
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


_JSON_CONSTANTS = {None: "null", True: "true", False: "false"}


def _keyed_number(raw: object) -> str | None:
    """normalize_phone, None for a number the site does not key. A number already in its
    normalized form (as the clean tables hold them) is its own result: checked by one regex
    instead of the parser's NFKC, extension and country-code steps."""
    if isinstance(raw, str) and _NORMALIZED_PHONE.fullmatch(raw) and not _digit_markers():
        return raw
    try:
        return normalize_phone(raw)
    except ValueError:
        return None


# normalize_phone's forms in ASCII digits: such a text passes its parser unchanged
_NORMALIZED_PHONE = re.compile(r"1[3-9][0-9]{9}|[48]00[0-9]{7}|0[1-9][0-9]{8,10}")


@functools.cache
def _digit_markers() -> bool:
    """Whether an empty marker is all digits (clean_text would then refuse such a number)."""
    return any(str(m).strip().isdigit() for m in lookups()["empty_markers"])


@functools.cache
def _converter(config: str) -> opencc.OpenCC:
    """An OpenCC converter, loaded once per process (a worker renders several cities)."""
    return opencc.OpenCC(config)


def traditional_map(keys: Iterable[str]) -> dict[str, str]:
    """Traditional (and regional variant) character → the simplified one the keys use.

    Limited to the characters of this site's names, so the map stays a few KB."""
    chars = sorted(ch for ch in set("".join(keys)) if ord(ch) > 0x2E7F)
    out: dict[str, str] = {}
    for config in T2S_CONFIGS:
        conv = _converter(config)
        for ch, trad in zip(chars, conv.convert("\n".join(chars)).split("\n"), strict=False):
            if len(trad) == 1 and trad != ch:
                out.setdefault(trad, ch)
    return out
