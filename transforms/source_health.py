"""Each source's health for the sources page: last success, freshness, rows, quarantine, grade.

The report card follows lookups/source_health.toml — completeness (records parsed without
quarantine), timeliness (days since the last good crawl) and machine readability (how the source
publishes) — and every grade carries the rule that gave it, so a reader (or the source's
publisher) can see exactly why a source got its letter. Everything comes from the run summary
and the crawl logs, so the page and `last-run.json` never disagree.
"""

from __future__ import annotations

import json
import math
import tomllib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from agencywatch.config import City, Source
from agencywatch.paths import CityPaths

RULES_FILE = Path(__file__).resolve().parent / "lookups" / "source_health.toml"
DIMENSIONS = ("completeness", "timeliness", "machine_readability")


@cache
def rules() -> dict[str, Any]:
    with RULES_FILE.open("rb") as f:
        return tomllib.load(f)


def _letter_by_threshold(value: float | None, thresholds: list[list[Any]], higher: bool) -> str:
    if value is None:
        return rules()["letters"][-1]
    for limit, letter in thresholds:
        if (value >= limit) if higher else (value <= limit):
            return str(letter)
    return rules()["letters"][-1]


def completeness(rows: int, quarantined: int) -> tuple[float | None, str]:
    """(share parsed, letter): raw rows that were not quarantined, over all raw rows."""
    share = max(0, rows - quarantined) / rows if rows > 0 else None
    return share, _letter_by_threshold(share, rules()["completeness"]["thresholds"], True)


def timeliness(last_success_at: str | None, checked_at: str | None) -> tuple[float | None, str]:
    """(age in days, letter): how old the data in use was when the source was last checked."""
    age = _days_between(last_success_at, checked_at)
    return age, _letter_by_threshold(age, rules()["timeliness"]["thresholds"], False)


def machine_readability(source: Source) -> tuple[str, str]:
    """(publication format, letter) from the source's kind and file format."""
    spec = rules()["machine_readability"]
    fmt = source.kind if source.kind != "file_download" else source.file_format
    return fmt, str(spec["formats"].get(fmt, spec["default"]))


def overall(letters: list[str], status: str | None) -> str:
    spec = rules()["overall"]
    points = spec["points"]
    mean = math.floor(sum(points[x] for x in letters) / len(letters))
    letter = next(k for k, v in points.items() if v == mean)
    cap = spec["cap"].get(status or "")
    if cap and points[letter] > points[cap]:
        return str(cap)
    return letter


def _days_between(then: str | None, now: str | None) -> float | None:
    if not then or not now:
        return None
    try:
        parsed = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (then, now)]
    except ValueError:
        return None
    parsed = [p if p.tzinfo else p.replace(tzinfo=UTC) for p in parsed]
    return round(max(0.0, (parsed[1] - parsed[0]).total_seconds() / 86400), 1)


def _crawl_log(paths: CityPaths, source_id: str) -> dict[str, Any]:
    path = paths.raw / f"{source_id}.crawl.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def source_health(city: City, paths: CityPaths, run: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per configured source, in config order, for the sources page."""
    reported = run.get("sources") or {}
    out = []
    for source in city.sources:
        info = {**_crawl_log(paths, source.id), **(reported.get(source.id) or {})}
        # a stale source is judged on the data still in use, not on the refused crawl
        rows = int(info.get("rows_in_use", info.get("rows")) or 0)
        quarantined = int(info.get("quarantined") or 0)
        share, c_letter = completeness(rows, quarantined)
        age, t_letter = timeliness(info.get("last_success_at"), info.get("finished_at"))
        fmt, m_letter = machine_readability(source)
        status = info.get("status")
        out.append(
            {
                "id": source.id,
                "title": source.title,
                "title_en": source.title_en,
                "kind": source.kind,
                "status": status,
                "message": info.get("message") or "",
                "last_success_at": info.get("last_success_at"),
                "age_days": age,
                "max_stale_days": source.max_stale_days,
                "rows": rows,
                "quarantined": quarantined,
                "pages_fetched": int(info.get("pages_fetched") or 0),
                "pages_not_modified": int(info.get("pages_not_modified") or 0),
                "grades": {
                    "completeness": {"letter": c_letter, "value": share},
                    "timeliness": {"letter": t_letter, "value": age},
                    "machine_readability": {"letter": m_letter, "value": fmt},
                },
                "grade": overall([c_letter, t_letter, m_letter], status),
            }
        )
    return out


def grade_rules() -> list[dict[str, Any]]:
    """The rule of each dimension and of the overall letter, as the page prints them."""
    spec = rules()
    return [
        {"key": key, "title": spec[key]["title"], "rule": spec[key]["rule"]}
        for key in (*DIMENSIONS, "overall")
    ]
