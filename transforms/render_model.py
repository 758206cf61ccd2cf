"""The site model: everything the templates show, prepared in Python so templates stay simple.

Built from whole columns (`Series.to_numpy` once per column, rows zipped into plain dicts)
instead of pandas row conversions per agency: at province scale a city has 25,000 agencies and
a quarter of a million events, and `DataFrame.to_dict` / `astype(object).where` per group cost
more than rendering the pages. The views keep the shape the templates always read (dicts with
None for a missing value, never NaN).
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from agencywatch.config import City
from agencywatch.paths import CityPaths

LOOKUPS = Path(__file__).with_name("lookups")
SAFE_ID = re.compile(r"[0-9A-Za-z-]+")
NOT_IN_URL = re.compile(r"[\s\x00-\x1f]")  # str.isspace() and control characters
# an http(s) url of letters, digits and a few marks that urlsplit reads as scheme, host, path
# and query, and that has no space or control character: http_url keeps it as it is
PLAIN_HTTP_URL = re.compile(
    r"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[A-Za-z0-9._~/%+=&?-]*)?"
)
LIST_ORDER = ("blacklist", "warning", "whitelist", "no_adverse_record", "not_rated")
LIST_PAGES = {
    "blacklist": "blacklist.html",
    "warning": "warning.html",
    "whitelist": "whitelist.html",
    "no_adverse_record": "no-adverse-record.html",
    "not_rated": "not-rated.html",
}
EXTRA_FACTS = ("address", "legal_rep", "established_on", "registered_capital_cny", "business_scope")
EVENT_FIELDS = ("record_id", "agency_id", "record_type", "match_method", "event_date",
                "summary_zh", "summary_en", "source_id", "url", "fetched_at", "content_sha256",
                "publicity_end")  # fmt: skip
VIEW_FIELDS = EVENT_FIELDS[:9]  # as the release has them; the rest are derived
# what the pages read of the resolved agencies
RESOLVED_COLUMNS = ("agency_id", "parent_id", *EXTRA_FACTS)
REASON_FIELDS = ("agency_id", "code", "component", "points", "text_zh", "text_en", "evidence",
                 "counts", "expired_reason")  # the release's reasons table  # fmt: skip
HISTORY_FIELDS = ("as_of", "agency_id", "score", "list", "list_reason_code", "list_reason_zh",
                  "list_reason_en", "method_version")  # fmt: skip
CHART_W, CHART_H = 300, 100


def http_url(value: object) -> str | None:
    """The url when it is an absolute http(s) url (safe as an href), else None."""
    return _http_url(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=1 << 16)
def _http_url(value: str) -> str | None:
    """http_url of a string, remembered: a source's records share a handful of page urls.
    A plain ASCII url (PLAIN_HTTP_URL) is one without parsing it."""
    text = value.strip()
    if PLAIN_HTTP_URL.fullmatch(text):
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc and not NOT_IN_URL.search(text):
        return text
    return None


def safe_id(agency_id: object) -> str:
    """An agency id usable as a path segment; anything else is refused, never rewritten."""
    if not isinstance(agency_id, str) or not SAFE_ID.fullmatch(agency_id):
        raise ValueError(f"agency id {agency_id!r} is not safe in a path (only 0-9 A-Z a-z -)")
    return agency_id


def read_table(path: Path, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A Parquet table (only those of columns it has, when given); empty when absent."""
    if not path.is_file():
        return pd.DataFrame()
    if columns is None:
        return pd.read_parquet(path)
    present = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=[c for c in columns if c in present])


def column_values(
    df: pd.DataFrame,
    column: str,
    derive: Callable[[Any], Any] | None = None,
    rows: np.ndarray | None = None,
) -> list[Any]:
    """A column as Python values with None for missing ones (all None when the column is
    absent), or derive(value) of each when given (derive(None) for a missing one); only the
    given rows, in their order, when rows (positions) are given.

    Text is converted, and derive called, once per distinct value (a city's quarter of a
    million events repeat their record types, dates, urls and agency ids): the same object
    serves every row that holds it, which also halves the model's memory. Rows are picked from
    the codes, so a reordered view costs no reordered copy of the frame."""
    size = len(df) if rows is None else len(rows)
    if column not in df.columns:
        return [None if derive is None else derive(None)] * size
    series = df[column]
    if series.dtype.kind in "biuf" and derive is None:
        values = series.to_numpy(dtype=object, na_value=None)
        return (values if rows is None else values[rows]).tolist()
    codes, values = factorized(series)
    if derive is not None:
        values[:] = [derive(v) for v in values]
    return values[codes if rows is None else codes[rows]].tolist()


def distinct_values(df: pd.DataFrame, column: str, rows: np.ndarray) -> list[Any]:
    """column_values of a column whose values are (nearly) all distinct, like record ids: an
    Arrow-backed text column is converted straight, as factorizing it would not share any
    value."""
    if column in df.columns and isinstance(df[column].dtype, pd.ArrowDtype | pd.StringDtype):
        values = pa.array(df[column], from_pandas=True)
        if is_text_type(values.type):
            return values.take(pa.array(rows)).to_pylist()
    return column_values(df, column, rows=rows)


def is_text_type(kind: pa.DataType) -> bool:
    """Whether an Arrow type is text (string or large_string)."""
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def factorized(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(code of each row, its distinct values as Python objects with None last): code -1, a
    missing value, picks that None."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = np.empty(len(uniques) + 1, dtype=object)
    values[:-1] = uniques.to_numpy(dtype=object, na_value=None)
    values[-1] = None
    return codes, values


def records(df: pd.DataFrame, columns: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Rows as dicts with None for missing values (templates test `is none`, not NaN)."""
    cols = list(df.columns if columns is None else columns)
    values = [column_values(df, c) for c in cols]
    return [dict(zip(cols, row, strict=False)) for row in zip(*values, strict=True)]


def site_model(city: City, paths: CityPaths, release_dir: Path, run: dict) -> dict[str, Any]:
    """Everything the templates show, prepared in Python so templates stay simple."""
    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    as_of = manifest["date"]
    titles = {s.id: s.title for s in city.sources}
    events = read_table(release_dir / "events.parquet")
    reasons = read_table(release_dir / "reasons.parquet")
    resolved = read_table(paths.resolved / "agencies.parquet", RESOLVED_COLUMNS)
    agencies = agency_views(read_table(release_dir / "agencies.parquet"), resolved)
    by_id = {a["agency_id"]: a for a in agencies}
    timelines = attach_events(by_id, events, titles, as_of, expired_records(reasons))
    attach_reasons(by_id, reasons, timelines)
    corrections_log = attach_judgement(agencies, paths, release_dir, resolved)
    agencies.sort(key=operator.itemgetter("agency_id"))
    agencies.sort(key=lambda a: a["name"] or "")  # stable: by name, then id
    return {
        "city": city,
        "as_of": as_of,
        "method_version": manifest.get("method_version", city.scoring.method_version),
        "agencies": agencies,
        "events": events,  # the release's events table, for the search index
        "counts": list_counts(agencies),
        "list_order": LIST_ORDER,
        "list_pages": LIST_PAGES,
        "freshness": source_freshness(city, paths, run),
        "method": method_view(city),
        "downloads": download_files(release_dir, manifest),
        "release_date": release_dir.name,
        "contact_href": http_url(city.contact_url),
        "corrections_log": corrections_log,
    }


def list_counts(agencies: list[dict[str, Any]]) -> dict[str, int]:
    """How many agencies each list holds (every list named, in LIST_ORDER)."""
    counts = Counter(a["list"] for a in agencies)
    return {k: counts[k] for k in LIST_ORDER}


def agency_views(df: pd.DataFrame, resolved: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per released agency with its path-safe id and registration facts (from the
    resolved agencies); reasons, events and the judgement are attached afterwards."""
    if df.empty:
        return []
    facts = _extra_facts(resolved, df["agency_id"])
    out = []
    for row, extra in zip(records(df), facts, strict=True):
        row.update(agency_id=safe_id(row["agency_id"]), facts=extra,
                   list=row.get("list") or "not_rated", reasons=[], events=[])  # fmt: skip
        out.append(row)
    return out


def _extra_facts(resolved: pd.DataFrame, ids: pd.Series) -> list[dict[str, Any]]:
    """Registration facts the release leaves out (address, legal rep…), from resolved data,
    in the order of ids (the last resolved row of an id wins; absent ones are all None)."""
    if resolved.empty or "agency_id" not in resolved.columns:
        return [dict.fromkeys(EXTRA_FACTS) for _ in range(len(ids))]
    last = resolved.drop_duplicates("agency_id", keep="last")
    rows = pd.Index(last["agency_id"]).get_indexer(ids)
    facts = [_picked(last, c, rows) for c in EXTRA_FACTS]
    return [dict(zip(EXTRA_FACTS, row, strict=True)) for row in zip(*facts, strict=True)]


def _picked(df: pd.DataFrame, column: str, rows: np.ndarray) -> list[Any]:
    """column_values of the given rows, None where a row is -1 (absent)."""
    if column not in df.columns:
        return [None] * len(rows)
    values = column_values(df, column)
    values.append(None)  # what row -1 picks
    return [values[r] for r in rows.tolist()]


def expired_records(reasons: pd.DataFrame) -> dict[str, str]:
    """record id → why it no longer counts, from the scorer's reasons (the first reason that
    names the record wins)."""
    out: dict[str, str] = {}
    if reasons.empty:
        return out
    ended = column_values(reasons, "counts", lambda c: c is not None and not c)
    why = column_values(reasons, "expired_reason", bool)
    rows = np.flatnonzero(np.array(ended, dtype=bool) & np.array(why, dtype=bool))
    reason = column_values(reasons, "expired_reason", rows=rows)
    evidence = [e or "" for e in distinct_values(reasons, "evidence", rows)]
    cited = pc.split_pattern(pa.array(evidence, pa.string()), ";")
    ids = pc.list_flatten(cited).to_pylist()
    named = [reason[k] for k in pc.list_parent_indices(cited).to_numpy().tolist()]
    # the first reason that names a record wins: dict() keeps the last, so fill it backwards
    out = dict(zip(reversed(ids), reversed(named), strict=True))
    out.pop("", None)  # what splitting "" or "a;;b" leaves
    return out


@dataclass
class Timelines:
    """The event views of every agency's timeline, grouped by agency (views), with each
    view's record id (Arrow text) and its agency's position in the agencies (owners): what
    attach_reasons finds a reason's evidence in."""

    views: list[dict[str, Any]] = field(default_factory=list)
    record_ids: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    owners: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))


def attach_events(
    by_id: dict[str, dict[str, Any]],
    events: pd.DataFrame,
    titles: dict[str, str],
    as_of: str,
    expired: dict[str, str],
) -> Timelines:
    """Give each agency its timeline, newest first, and return the views.

    One sort groups the events by agency (newest first within each) and each agency takes its
    slice of the views, instead of a quarter of a million appends and lookups."""
    if events.empty or not by_id or "agency_id" not in events.columns:
        return Timelines()
    ids = list(by_id)
    owner = pd.Index(ids).get_indexer(events["agency_id"])
    order = timeline_order(events, owner)
    views = event_views(events, order, titles, as_of, expired)
    owners = owner[order]
    counts = np.bincount(owners, minlength=len(ids))
    ends = np.cumsum(counts).tolist()
    for k in np.flatnonzero(counts).tolist():
        by_id[ids[k]]["events"] = views[ends[k] - int(counts[k]) : ends[k]]
    record_ids = _arrow_text(events["record_id"] if "record_id" in events else None, len(events))
    return Timelines(views, _one_array(record_ids.take(order)), owners)


def _one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    return values


def timeline_order(events: pd.DataFrame, owner: np.ndarray) -> np.ndarray:
    """Positions of the events of known agencies (owner ≥ 0), grouped by owner, each group
    newest first (event date, then record id, both descending; no date sorts last)."""
    kept = np.flatnonzero(owner >= 0)
    date = _arrow_text(events.get("event_date"), len(events))
    keys = pa.table({"owner": owner[kept], "date": pc.fill_null(date, "").take(kept),
                     "id": _arrow_text(events.get("record_id"), len(events)).take(kept)})  # fmt: skip
    sort = [("owner", "ascending"), ("date", "descending"), ("id", "descending")]
    return kept[pc.sort_indices(keys, sort_keys=sort).to_numpy()]


def _arrow_text(column: pd.Series | None, size: int) -> pa.Array | pa.ChunkedArray:
    """A text column as Arrow strings (without a copy when pandas holds it in Arrow already);
    all null when absent."""
    if column is None:
        return pa.nulls(size, pa.string())
    values = pa.array(column, from_pandas=True)
    return values if is_text_type(values.type) else values.cast(pa.string())


def event_views(
    events: pd.DataFrame,
    order: np.ndarray,
    titles: dict[str, str],
    as_of: str,
    expired: dict[str, str],
) -> list[dict[str, Any]]:
    """The events at positions order, each as the timeline and the evidence lists show it:
    the href only for an http(s) url, the source's title, the page's sha256 prefix, the
    retrieval date and why it no longer counts. The renderer renders their timeline entries
    (timeline_item.html) in one pass per batch of agencies."""
    if not len(order):
        return []

    def column(name: str, derive: Callable[[Any], Any] | None = None) -> list[Any]:
        return column_values(events, name, derive, order)

    columns = [distinct_values(events, "record_id", order), *map(column, VIEW_FIELDS[1:])]
    derived = [
        column("url", http_url),
        column("source_id", lambda s: titles.get(s, s)),
        column("content_sha256", lambda sha: (sha or "")[:12]),
        column("fetched_at", lambda t: str(t or "")[:10]),
        _expired_reasons(events, order, columns[0], as_of, expired),
    ]
    return [
        {"record_id": rid, "agency_id": aid, "record_type": rtype, "match_method": match,
         "event_date": date, "summary_zh": s_zh, "summary_en": s_en, "source_id": sid,
         "url": url, "href": href, "source_title": title, "sha_prefix": prefix,
         "fetched_on": day, "expired_reason": reason, "missing": False}
        for rid, aid, rtype, match, date, s_zh, s_en, sid, url, href, title, prefix, day, reason
        in zip(*columns, *derived, strict=True)
    ]  # fmt: skip


def _expired_reasons(
    events: pd.DataFrame,
    order: np.ndarray,
    record_ids: list[Any],
    as_of: str,
    expired: dict[str, str],
) -> list[str | None]:
    """Why each event no longer counts: the scorer's reason, else "publicity_ended" when its
    publicity ended before the release date, else None (decided once per distinct end date)."""
    out = column_values(
        events, "publicity_end", lambda end: "publicity_ended" if end and str(end) < as_of else None,
        order,
    )  # fmt: skip
    if expired and "record_id" in events.columns:
        ids = _arrow_text(events["record_id"], len(events))
        named = pc.is_in(ids, value_set=pa.array(list(expired), type=ids.type))
        for i in np.flatnonzero(named.to_numpy(zero_copy_only=False)[order]).tolist():
            out[i] = expired[record_ids[i]]
    return out


def attach_reasons(
    by_id: dict[str, dict[str, Any]], reasons: pd.DataFrame, timelines: Timelines
) -> None:
    """Give each agency its reasons (flags first, then the ones that count, then by code),
    each with its evidence records: the timeline's own views, so a record's snippet is
    rendered once."""
    if reasons.empty or not by_id or "agency_id" not in reasons.columns:
        return
    ids = list(by_id)
    owner = pd.Index(ids).get_indexer(reasons["agency_id"])
    order = _reason_order(reasons, owner)
    rows = reason_rows(reasons, order)
    for r, found in zip(rows, evidence_records(reasons, order, owner[order], timelines),
                        strict=True):  # fmt: skip
        r["evidence_records"] = found
    counts = np.bincount(owner[order], minlength=len(ids))
    ends = np.cumsum(counts).tolist()
    for k in np.flatnonzero(counts).tolist():
        by_id[ids[k]]["reasons"] = rows[ends[k] - int(counts[k]) : ends[k]]


def reason_rows(reasons: pd.DataFrame, order: np.ndarray) -> list[dict[str, Any]]:
    """The reasons at positions order as dicts (the release's columns written out, so each
    dict is one literal instead of a dict(zip) per row)."""
    values = [
        distinct_values(reasons, c, order)
        if c == "evidence"
        else column_values(reasons, c, rows=order)
        for c in reasons.columns
    ]
    if tuple(reasons.columns) != REASON_FIELDS:
        return [dict(zip(reasons.columns, row, strict=False)) for row in zip(*values, strict=True)]
    return [
        {"agency_id": aid, "code": code, "component": component, "points": points,
         "text_zh": text_zh, "text_en": text_en, "evidence": evidence, "counts": counts,
         "expired_reason": expired}
        for aid, code, component, points, text_zh, text_en, evidence, counts, expired
        in zip(*values, strict=True)
    ]  # fmt: skip


def evidence_records(
    reasons: pd.DataFrame, order: np.ndarray, owners: np.ndarray, timelines: Timelines
) -> list[list[dict[str, Any]]]:
    """For each reason at positions order (of the agencies at owners), the views of the
    records its evidence names (";"-separated ids), or {"record_id", "missing": True} for one
    that is not in its agency's timeline (the last view when it is there twice).

    The ids are split and looked up in Arrow: a city's reasons cite a quarter of a million
    records."""
    text = _one_array(_arrow_text(reasons.get("evidence"), len(reasons)).take(order))
    parts = pc.split_pattern(pc.fill_null(text, ""), ";")
    cited = _one_array(pc.list_flatten(parts))
    kept = pc.not_equal(cited, "")
    cited = cited.filter(kept)
    parent = pc.list_parent_indices(parts).to_numpy()[kept.to_numpy(zero_copy_only=False)]
    position = _last_positions(cited, timelines.record_ids)
    own = position >= 0
    own[own] = timelines.owners[position[own]] == owners[parent[own]]
    picked = np.empty(len(position), dtype=object)
    if own.any():
        views = np.empty(len(timelines.views), dtype=object)
        views[:] = timelines.views
        picked[own] = views[position[own]]
    if not own.all():
        rest = np.flatnonzero(~own)
        names = cited.take(pa.array(rest)).to_pylist()
        # a record of another agency's timeline may be in this one's too
        by_agency = _views_by_agency(timelines) if (position[rest] >= 0).any() else {}
        for k, name in zip(rest.tolist(), names, strict=True):
            view = by_agency.get((int(owners[parent[k]]), name))
            picked[k] = view if view is not None else {"record_id": name, "missing": True}
    ends = np.cumsum(np.bincount(parent, minlength=len(order))).tolist()
    cites = picked.tolist()
    return [cites[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]


def _last_positions(wanted: pa.Array, record_ids: pa.Array) -> np.ndarray:
    """The position of the last of record_ids equal to each wanted id, -1 for none."""
    n = len(record_ids)
    last_first = record_ids.take(pa.array(np.arange(n - 1, -1, -1)))
    if last_first.type != wanted.type:
        last_first = last_first.cast(wanted.type)
    at = pc.index_in(wanted, value_set=last_first).fill_null(-1).to_numpy()
    return np.where(at >= 0, n - 1 - at, -1)


def _views_by_agency(timelines: Timelines) -> dict[tuple[int, str], dict[str, Any]]:
    """(agency position, record id) → its view (the last one of the agency's timeline)."""
    return {
        (owner, view["record_id"]): view
        for owner, view in zip(timelines.owners.tolist(), timelines.views, strict=True)
    }


def _reason_order(reasons: pd.DataFrame, owner: np.ndarray) -> np.ndarray:
    """Positions of the reasons of known agencies (owner ≥ 0), grouped by owner; within an
    agency flags first, then the ones that count, then by code, else as the release has them."""
    flag_last = column_values(reasons, "component", lambda c: c != "flag")
    not_counting = column_values(reasons, "counts", lambda c: not c)
    codes, values = factorized(reasons["code"]) if "code" in reasons.columns else (
        np.full(len(reasons), -1), np.array([None], dtype=object))  # fmt: skip
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[sorted(range(len(values)), key=lambda k: (values[k] is None, values[k] or ""))] = (
        np.arange(len(values))
    )
    keys = (np.arange(len(reasons)), ranks[codes], np.array(not_counting, dtype=bool),
            np.array(flag_last, dtype=bool), owner)  # fmt: skip
    order = np.lexsort(keys)
    return order[owner[order] >= 0]


def source_freshness(city: City, paths: CityPaths, run: dict) -> list[dict[str, Any]]:
    """Each source's state from the run summary, completed by its crawl log when present."""
    reported = run.get("sources") or {}
    rows = []
    for s in city.sources:
        log_path = paths.raw / f"{s.id}.crawl.json"
        log = json.loads(log_path.read_text(encoding="utf-8")) if log_path.is_file() else {}
        info = {**log, **(reported.get(s.id) or {})}
        rows.append(
            {
                "id": s.id,
                "title": s.title,
                "status": info.get("status"),
                "rows": info.get("rows"),
                "last_success_at": info.get("last_success_at"),
            }
        )
    return rows


def download_files(release_dir: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    names = sorted({*manifest.get("files", {}), "manifest.json"})
    return [
        {
            "name": n,
            "bytes": (release_dir / n).stat().st_size,
            "sha256": manifest.get("files", {}).get(n)
            or hashlib.sha256((release_dir / n).read_bytes()).hexdigest(),
        }
        for n in names
        if (release_dir / n).is_file()
    ]


def method_view(city: City) -> dict[str, Any]:
    """The method page's facts: transforms.score.method_description when it exists, else the
    city config and the scoring lookup table (the same numbers the scorer reads)."""
    try:
        from transforms.score import method_description
    except ImportError:
        desc: dict[str, Any] = {}
    else:
        desc = method_description(city)
    return _normalized_method(city, desc)


def _normalized_method(city: City, desc: dict[str, Any]) -> dict[str, Any]:
    sc = city.scoring
    thresholds = desc.get("thresholds") or {}
    codes = desc.get("reason_codes") or desc.get("codes") or _lookup_codes(city)
    if isinstance(codes, dict):
        codes = [{"code": k, **v} for k, v in codes.items()]
    return {
        "version": desc.get("method_version") or desc.get("version") or sc.method_version,
        "weights": dict(desc.get("weights") or sc.weights.model_dump()),
        "window_months": desc.get("window_months") or sc.window_months,
        "whitelist_threshold": desc.get(
            "whitelist_threshold", thresholds.get("whitelist", sc.whitelist_threshold)
        ),
        "warning_threshold": desc.get(
            "warning_threshold", thresholds.get("warning", sc.warning_threshold)
        ),
        "red_flag_charges": list(desc.get("red_flag_charges") or sc.red_flag_charges),
        "codes": [_code_view(c) for c in codes],
        "from_scorer": bool(desc),
        # the rules stated in words, the expiry rules and the scope, from scoring.toml via the scorer
        "rules": desc.get("rules") or {},
        "expiry_rules": desc.get("expiry_rules") or {},
        "scope": desc.get("scope") or {},
        "related": desc.get("related") or {},
        "lists_text": desc.get("lists") or {},
    }


def _lookup_codes(city: City) -> list[dict[str, Any]]:
    path = LOOKUPS / "scoring.toml"
    if not path.is_file():
        return []
    with path.open("rb") as f:
        codes = tomllib.load(f).get("codes", {})
    return [
        {"code": k, **v, "points": city.scoring.points.get(k, v.get("points"))}
        for k, v in codes.items()
    ]


def _code_view(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": c.get("code", ""),
        "component": c.get("component", ""),
        "points": c.get("points"),
        "list": c.get("list"),
        "zh": c.get("text_zh") or c.get("zh") or "",
        "en": c.get("text_en") or c.get("en") or "",
    }


# --- the judgement on the agency page: relations, corrections, history ------------------------


def attach_judgement(
    agencies: list[dict[str, Any]],
    paths: CityPaths,
    release_dir: Path,
    resolved: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Give each agency its parent and branches, related parties, possibly related records,
    corrections and list history; return the public corrections log (applied ones).
    resolved: the resolved agencies table when the caller has read it already."""
    by_id = {a["agency_id"]: a for a in agencies}
    history = release_history(paths, release_dir)
    for a in agencies:
        points = history.get(a["agency_id"])
        if points is None or len(points) == 1:  # none yet, or a first release: no change
            a.update(parent=None, branches=[], related=[], impersonation=[], candidates=[],
                     corrections=[], history=points or [], list_changes=[], history_chart=None)  # fmt: skip
        else:
            a.update(parent=None, branches=[], related=[], impersonation=[], candidates=[],
                     corrections=[], history=points, list_changes=list_changes(points),
                     history_chart=history_chart(points))  # fmt: skip
    if resolved is None:
        resolved = read_table(paths.resolved / "agencies.parquet")
    _attach_parents(by_id, resolved)
    for r in records(read_table(paths.resolved / "related.parquet")):
        if r["agency_id"] in by_id:
            view = {**r, "other_href": r.get("other_agency_id") in by_id}
            by_id[r["agency_id"]][
                "impersonation" if r["kind"] == "impersonation" else "related"
            ].append(view)
    for c in records(read_table(paths.resolved / "candidates.parquet")):
        if c["agency_id"] in by_id:
            by_id[c["agency_id"]]["candidates"].append(c)
    log = [
        c
        for c in records(read_table(paths.resolved / "corrections_applied.parquet"))
        if c["applied"]
    ]
    for c in log:
        c["agencies"] = []
        for aid in {c.get("agency_id"), *str(c.get("previous_agency_id") or "").split(";")}:
            if aid in by_id:
                by_id[aid]["corrections"].append(c)
                c["agencies"].append({"agency_id": aid, "name": by_id[aid]["name"]})
    log.sort(key=lambda c: (c["decided_on"], c["correction_id"]), reverse=True)
    return log


def _attach_parents(by_id: dict[str, dict[str, Any]], resolved: pd.DataFrame) -> None:
    if resolved.empty or "parent_id" not in resolved.columns or resolved["parent_id"].isna().all():
        return
    for aid, pid in zip(resolved["agency_id"], resolved["parent_id"], strict=True):
        if aid in by_id and isinstance(pid, str) and pid in by_id:
            by_id[aid]["parent"] = {"agency_id": pid, "name": by_id[pid]["name"]}
            by_id[pid]["branches"].append({"agency_id": aid, "name": by_id[aid]["name"]})


def release_history(paths: CityPaths, release_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Score and list of every agency in every release up to this one (agencies.csv files)."""
    folders = {release_dir.resolve()}
    if paths.releases.is_dir():
        folders |= {
            d.resolve()
            for d in paths.releases.iterdir()
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", d.name) and d.name <= release_dir.name
        }
    frames = []
    for d in sorted(folders, key=lambda p: p.name):
        if (d / "agencies.csv").is_file():
            df = pd.read_csv(d / "agencies.csv", dtype=str, encoding="utf-8-sig",
                             usecols=lambda c: c in HISTORY_FIELDS, keep_default_na=False)  # fmt: skip
            frames.append(df.assign(release=d.name))
    if not frames:
        return {}
    hist = pd.concat(frames, ignore_index=True).reindex(columns=[*HISTORY_FIELDS, "release"])
    hist["score"] = pd.to_numeric(hist["score"], errors="coerce")
    hist = hist.sort_values(["agency_id", "release"])
    out: dict[str, list[dict[str, Any]]] = {}
    for point in records(hist):
        out.setdefault(point["agency_id"], []).append(point)
    return out


def list_changes(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The releases in which the agency entered or left a list, with the reason then given."""
    out = []
    for before, now in zip(points, points[1:], strict=False):
        if before["list"] != now["list"]:
            out.append({"release": now["release"], "from": before["list"], "to": now["list"],
                        "reason_code": now["list_reason_code"], "reason_zh": now["list_reason_zh"],
                        "reason_en": now["list_reason_en"]})  # fmt: skip
    return out


def history_chart(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Polyline points (numbers only) for the inline SVG score chart; None for under two scores."""
    scored = [p for p in points if p["score"] is not None and not pd.isna(p["score"])]
    if len(scored) < 2:
        return None
    step = CHART_W / (len(scored) - 1)
    coords = [(round(i * step, 1), round(CHART_H - float(p["score"]) * CHART_H / 100, 1))
              for i, p in enumerate(scored)]  # fmt: skip
    return {
        "width": CHART_W,
        "height": CHART_H,
        "points": " ".join(f"{x:g},{y:g}" for x, y in coords),
        "dots": [
            {"x": x, "y": y, "release": p["release"], "score": p["score"]}
            for (x, y), p in zip(coords, scored, strict=True)
        ],  # fmt: skip
    }
