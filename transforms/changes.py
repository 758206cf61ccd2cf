"""What changed between releases of a city, and each agency's path through all of them.

Journalists ask "who entered the blacklist this week, and why?" and "how did this agency's score
move?". Both answers come from the releases already published (their agencies table), never from
working data, so anyone holding the releases can recompute them.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

FIELDS_FILE = Path(__file__).with_name("lookups") / "release_fields.toml"
DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MANIFEST = "manifest.json"
COMPARED = ("list", "score", "list_reason_code")
HISTORY_COLUMNS = ["agency_id", "score", "list", "list_reason_code", "method_version"]
AGENCY_COLUMNS = [
    "agency_id",
    "name",
    "list",
    "score",
    "list_reason_code",
    "list_reason_zh",
    "list_reason_en",
]
WHAT_CHANGED = {"list": "list", "score": "score", "list_reason_code": "reason"}


def release_folders(city_releases: Path, before: str | None = None) -> list[Path]:
    """The city's published release folders (dated, with a manifest), oldest first."""
    if not city_releases.is_dir():
        return []
    return sorted(
        p
        for p in city_releases.iterdir()
        if DATE_DIR.match(p.name)
        and (p / MANIFEST).is_file()
        and (before is None or p.name < before)
    )


def released_agencies(folder: Path) -> pd.DataFrame:
    """A published release's agencies table (Parquet keeps the source's text, CSV is inert)."""
    parquet = folder / "agencies.parquet"
    if parquet.is_file():
        return pd.read_parquet(parquet)
    return pd.read_csv(folder / "agencies.csv", encoding="utf-8-sig", dtype={"agency_id": str})


def change_reasons() -> dict[str, dict[str, str]]:
    with FIELDS_FILE.open("rb") as f:
        return tomllib.load(f).get("change_reasons", {})


def changes_table(
    previous: pd.DataFrame | None, current: pd.DataFrame, as_of: str, since: str | None
) -> pd.DataFrame:
    """ADD / MOD / DEL per agency and per list, between two agencies tables."""
    before = _records_by_id(previous)
    after = _records_by_id(current)
    gone = change_reasons().get("not_in_release", {})
    rows: list[dict[str, Any]] = []
    for agency_id in sorted(before.keys() | after.keys()):
        b, a = before.get(agency_id), after.get(agency_id)
        base = _base_row(agency_id, b, a, as_of, since, gone)
        rows.extend(_agency_rows(base, b, a))
        rows.extend(_list_rows(base))
    columns = [f["name"] for f in _fields("changes")]
    return pd.DataFrame(rows, columns=columns)


def _fields(table: str) -> list[dict[str, Any]]:
    with FIELDS_FILE.open("rb") as f:
        return tomllib.load(f)["tables"][table]["fields"]


def _records_by_id(df: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    if df is None or df.empty:
        return {}
    df = df.reindex(columns=AGENCY_COLUMNS)
    rows = df.astype(object).where(df.notna(), None).to_dict("records")
    return {str(r["agency_id"]): r for r in rows}


def _base_row(
    agency_id: str,
    b: dict[str, Any] | None,
    a: dict[str, Any] | None,
    as_of: str,
    since: str | None,
    gone: dict[str, str],
) -> dict[str, Any]:
    now = a or {}
    reason = (
        {k: now.get(k) for k in ("list_reason_code", "list_reason_zh", "list_reason_en")}
        if a
        else {
            "list_reason_code": "not_in_release",
            "list_reason_zh": gone.get("zh"),
            "list_reason_en": gone.get("en"),
        }
    )
    return {
        "as_of": as_of,
        "since": since,
        "agency_id": agency_id,
        "name": (a or b or {}).get("name"),
        "list_before": (b or {}).get("list"),
        "list_after": now.get("list"),
        "score_before": (b or {}).get("score"),
        "score_after": now.get("score"),
        **reason,
    }


def _agency_rows(
    base: dict[str, Any], b: dict[str, Any] | None, a: dict[str, Any] | None
) -> list[dict[str, Any]]:
    if b is None:
        return [{**base, "scope": "agency", "change": "ADD", "list": base["list_after"]}]
    if a is None:
        return [{**base, "scope": "agency", "change": "DEL", "list": base["list_before"]}]
    changed = [WHAT_CHANGED[k] for k in COMPARED if not _same(b.get(k), a.get(k))]
    if not changed:
        return []
    return [
        {
            **base,
            "scope": "agency",
            "change": "MOD",
            "list": base["list_after"],
            "what_changed": ";".join(changed),
        }
    ]


def _list_rows(base: dict[str, Any]) -> list[dict[str, Any]]:
    """An agency moving from one list to another leaves the first (DEL) and enters the other."""
    was, now = base["list_before"], base["list_after"]
    if was == now:
        return []
    rows = []
    if was is not None:
        rows.append({**base, "scope": "list", "change": "DEL", "list": was})
    if now is not None:
        rows.append({**base, "scope": "list", "change": "ADD", "list": now})
    return rows


def _same(x: object, y: object) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return (math.isnan(x) and math.isnan(y)) or x == y
    return x == y


def history_table(city_releases: Path, current: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """Every agency's score and list in each earlier release of the city plus this one."""
    frames = [
        _history_rows(released_agencies(folder), folder.name)
        for folder in release_folders(city_releases, before=as_of)
    ]
    frames.append(_history_rows(current, as_of))
    return pd.concat(frames, ignore_index=True)


def _history_rows(agencies: pd.DataFrame, as_of: str) -> pd.DataFrame:
    out = agencies.reindex(columns=HISTORY_COLUMNS).copy()
    out.insert(0, "as_of", as_of)
    return out


def change_summary(changes: pd.DataFrame) -> dict[str, Any]:
    """Counts for people scanning a release: agencies added / changed / removed, list moves."""
    agency = changes[changes["scope"] == "agency"]
    lists = changes[changes["scope"] == "list"]
    return {
        "since": _first(changes["since"]),
        "agencies": {c: int((agency["change"] == c).sum()) for c in ("ADD", "MOD", "DEL")},
        "entered": _counts(lists[lists["change"] == "ADD"]["list"]),
        "left": _counts(lists[lists["change"] == "DEL"]["list"]),
    }


def _counts(col: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(col.value_counts().items())}


def _first(col: pd.Series) -> str | None:
    values = col.dropna()
    return str(values.iloc[0]) if not values.empty else None
