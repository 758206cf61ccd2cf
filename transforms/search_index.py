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
"""

from __future__ import annotations

import functools
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import opencc
import pandas as pd
import pyarrow.parquet as pq

from agencywatch.paths import CityPaths
from transforms.render_model import http_url, records
from transforms.values import name_key, normalize_phone

FORMAT_VERSION = 1
DOCS_PER_SHARD = 64
POSTINGS_PER_BUCKET = 400  # aims at a few KB per names shard
CODES_PER_BUCKET = 64
T2S_CONFIGS = ("s2t", "s2tw", "s2hk")
# what code_entries and phone_entries read of a clean table
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
    return set(key) | {key[i : i + 2] for i in range(len(key) - 1)}


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
    docs = [_doc(a) for a in agencies]
    meta = {
        "version": FORMAT_VERSION,
        "count": len(docs),
        "docs_per_shard": DOCS_PER_SHARD,
        "name_buckets": _bucket_count(sum(len(grams(d["key"])) for d in docs), POSTINGS_PER_BUCKET),
    }
    sources = {s.id: s.title for s in model["city"].sources}
    events = model.get("events")
    linked = _linked(agencies)
    codes = code_entries(agencies, paths, sources, events, linked)
    meta["code_buckets"] = _bucket_count(len(codes), CODES_PER_BUCKET)
    files: dict[str, bytes] = {}
    for k in range(0, len(docs), DOCS_PER_SHARD):
        files[f"docs/{k // DOCS_PER_SHARD}.json"] = _json(docs[k : k + DOCS_PER_SHARD])
    files.update(_buckets("names", name_postings(docs), meta["name_buckets"]))
    files.update(_buckets("codes", codes, meta["code_buckets"]))
    phones: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(dict)
    for number, entries in phone_entries(agencies, paths, sources, events, linked).items():
        phones[phone_shard(number)][number] = entries
    for shard, numbers in phones.items():
        files[f"phones/{shard}.json"] = _json(numbers)
    files["t2s.json"] = _json(traditional_map(d["key"] for d in docs))
    files["meta.json"] = _json(meta)
    return files, meta


def _bucket_count(items: int, per_bucket: int) -> int:
    return max(1, math.ceil(items / per_bucket))


def _doc(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": a["agency_id"],
        "name": a.get("name") or "",
        "key": name_key(a.get("name")) or "",
        "list": a["list"],
        "uscc": a.get("uscc"),
        "district": a.get("district"),
    }


def name_postings(docs: list[dict[str, Any]]) -> dict[str, list[int]]:
    """gram → indices of the docs whose matching key holds it."""
    postings: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(docs):
        for g in sorted(grams(d["key"])):
            postings[g].append(i)
    return postings


def _buckets(folder: str, entries: dict[str, Any], buckets: int) -> dict[str, bytes]:
    split: dict[int, dict[str, Any]] = defaultdict(dict)
    for key in sorted(entries):
        split[fnv1a(key) % buckets][key] = entries[key]
    return {f"{folder}/{bucket}.json": _json(content) for bucket, content in split.items()}


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
        "fetched_on": str(row.get("fetched_at") or "")[:10] or None,
    }


def _linked(agencies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """record id → the agency it was linked to, from each agency's timeline."""
    return {e["record_id"]: a for a in agencies for e in a["events"]}


def _clean_or_events(
    paths: CityPaths,
    agencies: list[dict[str, Any]],
    record_type: str,
    key: str,
    events: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """The clean records of a type (linked or not); without them, the linked events (the
    release's events table when given, else the agencies' timelines), whose record id ends in
    the record's key."""
    path = paths.clean / f"{record_type}.parquet"
    if path.is_file():
        present = set(pq.read_schema(path).names)
        return records(pd.read_parquet(path, columns=[c for c in CLEAN_COLUMNS if c in present]))
    if events is not None:
        rows = records(events[events["record_type"] == record_type]) if len(events) else []
    else:
        rows = [e for a in agencies for e in a["events"] if e["record_type"] == record_type]
    return [{**e, key: e["record_id"].split(":", 1)[-1]} for e in rows]


def code_entries(
    agencies: list[dict[str, Any]],
    paths: CityPaths,
    sources: dict[str, str],
    events: pd.DataFrame | None = None,
    linked: dict[str, dict[str, Any]] | None = None,
) -> dict[str, list[dict]]:
    """Normalized code → what it identifies: an agency (USCC or id) or a filing."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in agencies:
        out[a["agency_id"].upper()].append({"kind": "agency", **_agency_ref(a)})
        if a.get("uscc") and a["uscc"].upper() != a["agency_id"].upper():
            out[a["uscc"].upper()].append({"kind": "agency", **_agency_ref(a)})
    linked = _linked(agencies) if linked is None else linked
    for row in _clean_or_events(paths, agencies, "filing", "filing_no", events):
        number = normalize_code(row.get("filing_no"))
        if not number:
            continue
        out[number].append(
            {
                "kind": "filing",
                "filing_no": row.get("filing_no"),
                "filing_type": row.get("filing_type") or row.get("category"),
                "issuer": row.get("issuer"),
                "issued_on": row.get("issued_on") or row.get("event_date"),
                "expires_on": row.get("expires_on"),
                "filed_name": row.get("name"),
                **_agency_ref(linked.get(row.get("record_id"))),
                **_evidence(row, sources),
            }
        )
    return out


def normalize_code(value: object) -> str | None:
    """A code as typed (spaces, dashes, lower case) in the form the index keys it."""
    if value is None:
        return None
    text = "".join(ch for ch in str(value).upper() if ch.isalnum())
    return text or None


def phone_entries(
    agencies: list[dict[str, Any]],
    paths: CityPaths,
    sources: dict[str, str],
    events: pd.DataFrame | None = None,
    linked: dict[str, dict[str, Any]] | None = None,
) -> dict[str, list[dict]]:
    """Normalized number → every record that mentions it, with the agency when linked."""
    linked = _linked(agencies) if linked is None else linked
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    numbers: dict[Any, str | None] = {}  # raw → normalized (None: not a number the site keys)
    for row in _clean_or_events(paths, agencies, "phone", "number", events):
        raw = row.get("number")
        if raw not in numbers:
            try:
                numbers[raw] = normalize_phone(raw)
            except ValueError:
                numbers[raw] = None
        number = numbers[raw]
        if number is None:
            continue
        agency = linked.get(row.get("record_id"))
        out[number].append(
            {
                "kind": row.get("kind") or row.get("category"),
                "registered": bool(agency and agency.get("registered")),
                "reported_name": row.get("name"),
                **_agency_ref(agency),
                **_evidence(row, sources),
            }
        )
    for entries in out.values():
        entries.sort(key=lambda e: (str(e["kind"]), str(e["record_id"])))
    return out


@functools.cache
def _converter(config: str) -> opencc.OpenCC:
    """An OpenCC converter, loaded once per process (a worker renders several cities)."""
    return opencc.OpenCC(config)


def traditional_map(keys: Iterable[str]) -> dict[str, str]:
    """Traditional (and regional variant) character → the simplified one the keys use.

    Limited to the characters of this site's names, so the map stays a few KB."""
    chars = sorted({ch for k in keys for ch in k if ord(ch) > 0x2E7F})
    out: dict[str, str] = {}
    for config in T2S_CONFIGS:
        conv = _converter(config)
        for ch, trad in zip(chars, conv.convert("\n".join(chars)).split("\n"), strict=False):
            if len(trad) == 1 and trad != ch:
                out.setdefault(trad, ch)
    return out
