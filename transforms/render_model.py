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
import re
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from agencywatch.config import City
from agencywatch.paths import CityPaths

LOOKUPS = Path(__file__).with_name("lookups")
SAFE_ID = re.compile(r"[0-9A-Za-z-]+")
NOT_IN_URL = re.compile(r"[\s\x00-\x1f]")  # str.isspace() and control characters
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
HISTORY_FIELDS = ("as_of", "agency_id", "score", "list", "list_reason_code", "list_reason_zh",
                  "list_reason_en", "method_version")  # fmt: skip
CHART_W, CHART_H = 300, 100


def http_url(value: object) -> str | None:
    """The url when it is an absolute http(s) url (safe as an href), else None."""
    return _http_url(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=1 << 16)
def _http_url(value: str) -> str | None:
    """http_url of a string, remembered: a source's records share a handful of page urls."""
    text = value.strip()
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


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def column_values(
    df: pd.DataFrame, column: str, derive: Callable[[Any], Any] | None = None
) -> list[Any]:
    """A column as Python values with None for missing ones (all None when the column is
    absent), or derive(value) of each when given (derive(None) for a missing one).

    Text is converted, and derive called, once per distinct value (a city's quarter of a
    million events repeat their record types, dates, urls and agency ids): the same object
    serves every row that holds it, which also halves the model's memory."""
    if column not in df.columns:
        return [None if derive is None else derive(None)] * len(df)
    series = df[column]
    if series.dtype.kind in "biuf" and derive is None:
        return series.to_numpy(dtype=object, na_value=None).tolist()
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = np.empty(len(uniques) + 1, dtype=object)
    values[:-1] = uniques.to_numpy(dtype=object, na_value=None)
    values[-1] = None  # code -1: a missing value
    if derive is not None:
        values[:] = [derive(v) for v in values]
    return values[codes].tolist()


def records(df: pd.DataFrame, columns: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Rows as dicts with None for missing values (templates test `is none`, not NaN)."""
    cols = list(df.columns if columns is None else columns)
    values = [column_values(df, c) for c in cols]
    return [dict(zip(cols, row, strict=True)) for row in zip(*values, strict=True)]


def site_model(city: City, paths: CityPaths, release_dir: Path, run: dict) -> dict[str, Any]:
    """Everything the templates show, prepared in Python so templates stay simple."""
    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    as_of = manifest["date"]
    titles = {s.id: s.title for s in city.sources}
    events = read_table(release_dir / "events.parquet")
    reasons = records(read_table(release_dir / "reasons.parquet"))
    agencies = agency_views(read_table(release_dir / "agencies.parquet"), paths)
    by_id = {a["agency_id"]: a for a in agencies}
    views = attach_events(by_id, event_views(events, titles, as_of, expired_records(reasons)))
    attach_reasons(by_id, reasons, views)
    corrections_log = attach_judgement(agencies, paths, release_dir)
    agencies.sort(key=lambda a: (a["name"] or "", a["agency_id"]))
    return {
        "city": city,
        "as_of": as_of,
        "method_version": manifest.get("method_version", city.scoring.method_version),
        "agencies": agencies,
        "events": events,  # the release's events table, for the search index
        "counts": {k: sum(a["list"] == k for a in agencies) for k in LIST_ORDER},
        "list_order": LIST_ORDER,
        "list_pages": LIST_PAGES,
        "freshness": source_freshness(city, paths, run),
        "method": method_view(city),
        "downloads": download_files(release_dir, manifest),
        "release_date": release_dir.name,
        "contact_href": http_url(city.contact_url),
        "corrections_log": corrections_log,
    }


def agency_views(df: pd.DataFrame, paths: CityPaths) -> list[dict[str, Any]]:
    """One dict per released agency with its path-safe id and registration facts; reasons,
    events and the judgement are attached afterwards."""
    if df.empty:
        return []
    facts = _extra_facts(paths, df["agency_id"])
    out = []
    for row, extra in zip(records(df), facts, strict=True):
        row.update(agency_id=safe_id(row["agency_id"]), facts=extra,
                   list=row.get("list") or "not_rated", reasons=[], events=[])  # fmt: skip
        out.append(row)
    return out


def _extra_facts(paths: CityPaths, ids: pd.Series) -> list[dict[str, Any]]:
    """Registration facts the release leaves out (address, legal rep…), from resolved data,
    in the order of ids (the last resolved row of an id wins; absent ones are all None)."""
    resolved = read_table(paths.resolved / "agencies.parquet")
    if resolved.empty or "agency_id" not in resolved.columns:
        return [dict.fromkeys(EXTRA_FACTS) for _ in range(len(ids))]
    resolved = resolved.drop_duplicates("agency_id", keep="last").set_index("agency_id")
    picked = resolved.reindex(ids.astype(object).to_numpy())
    return records(picked, EXTRA_FACTS)


def expired_records(reasons: Iterable[dict[str, Any]]) -> dict[str, str]:
    """record id → why it no longer counts, from the scorer's reasons."""
    out: dict[str, str] = {}
    for r in reasons:
        if r.get("counts") is not None and not r["counts"] and r.get("expired_reason"):
            for i in (r.get("evidence") or "").split(";"):
                if i:
                    out.setdefault(i, r["expired_reason"])
    return out


def event_views(
    events: pd.DataFrame, titles: dict[str, str], as_of: str, expired: dict[str, str]
) -> list[dict[str, Any]]:
    """Each event as the timeline and the evidence lists show it, newest first within an
    agency: the href only for an http(s) url, the source's title, the page's sha256 prefix,
    the retrieval date and why it no longer counts. `evidence_html` (the rendered evidence
    snippet) is filled in by the renderer."""
    if events.empty:
        return []
    events = events.reindex(columns=EVENT_FIELDS)
    keys = pd.DataFrame({"date": events["event_date"].fillna(""), "id": events["record_id"]})
    newest_first = keys.sort_values(["date", "id"], ascending=False, kind="stable").index
    ordered = events.loc[newest_first]
    columns = [column_values(ordered, c) for c in VIEW_FIELDS]
    derived = [
        column_values(ordered, "url", http_url),
        column_values(ordered, "source_id", lambda s: titles.get(s, s)),
        column_values(ordered, "content_sha256", lambda sha: (sha or "")[:12]),
        column_values(ordered, "fetched_at", lambda t: str(t or "")[:10]),
        _expired_reasons(columns[0], column_values(ordered, "publicity_end"), as_of, expired),
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
    record_ids: list[Any], ends: list[Any], as_of: str, expired: dict[str, str]
) -> list[str | None]:
    """Why each event no longer counts: the scorer's reason, else "publicity_ended" when its
    publicity ended before the release date, else None."""
    return [
        reason if (reason := expired.get(rid)) is not None
        else ("publicity_ended" if end and str(end) < as_of else None)
        for rid, end in zip(record_ids, ends, strict=True)
    ]  # fmt: skip


def attach_events(
    by_id: dict[str, dict[str, Any]], views: list[dict[str, Any]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Give each agency its timeline (views come newest first); return (agency, record) →
    event view."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for view in views:
        by_key[(view["agency_id"], view["record_id"])] = view
        agency = by_id.get(view["agency_id"])
        if agency is not None:
            agency["events"].append(view)
    return by_key


def attach_reasons(
    by_id: dict[str, dict[str, Any]],
    reasons: list[dict[str, Any]],
    views: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Give each agency its reasons, each with its evidence records (flags first)."""
    for r in reasons:
        agency = by_id.get(r["agency_id"])
        if agency is None:
            continue
        ids = [i for i in (r.get("evidence") or "").split(";") if i]
        r["evidence_records"] = [
            views.get((r["agency_id"], i)) or {"record_id": i, "missing": True} for i in ids
        ]
        agency["reasons"].append(r)
    for a in by_id.values():
        a["reasons"].sort(key=lambda r: (r["component"] != "flag", not r["counts"], r["code"]))


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
    agencies: list[dict[str, Any]], paths: CityPaths, release_dir: Path
) -> list[dict[str, Any]]:
    """Give each agency its parent and branches, related parties, possibly related records,
    corrections and list history; return the public corrections log (applied ones)."""
    by_id = {a["agency_id"]: a for a in agencies}
    for a in agencies:
        a.update(parent=None, branches=[], related=[], impersonation=[], candidates=[],
                 corrections=[], history=[], list_changes=[], history_chart=None)  # fmt: skip
    _attach_parents(by_id, read_table(paths.resolved / "agencies.parquet"))
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
    for aid, points in release_history(paths, release_dir).items():
        if aid in by_id:
            by_id[aid].update(history=points, list_changes=list_changes(points),
                              history_chart=history_chart(points))  # fmt: skip
    return log


def _attach_parents(by_id: dict[str, dict[str, Any]], resolved: pd.DataFrame) -> None:
    if resolved.empty or "parent_id" not in resolved.columns:
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
