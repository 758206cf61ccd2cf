"""Release circuit breaker: a release that changes too much at once is held for review.

Gates check that each table is well formed; they cannot see that a well-formed run dropped a
third of the agencies (a source shrank within its row bounds) or put forty companies on the
blacklist overnight (a poisoned or misparsed source). Those are the runs that would do the most
harm if published, and a wrong blacklisting is the worst bug this product can have, so the new
lists are compared with the live release and a release that moves more than the city's
thresholds (`[release]` in the city config) is stopped like a failed gate: the previous release
and site stay live and a person looks at the numbers first.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from agencywatch.config import City
from agencywatch.paths import CityPaths

NAME = "release_breaker"
DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EXAMPLES = 20
REVIEWED_ENV = "AGENCYWATCH_RELEASE_REVIEWED"  # = the run date: a person looked and accepts it
REVIEW_COLUMNS = ("name", "list", "score", "list_reason_zh")  # what `agencywatch review` shows


def previous_release(paths: CityPaths, as_of: str) -> Path | None:
    """The release the live site shows, else the newest dated release before as_of."""
    from transforms.publish import live_release

    live = live_release(paths.site)
    if live is not None and (live / "agencies.parquet").is_file():
        return live
    if not paths.releases.is_dir():
        return None
    earlier = sorted(
        p
        for p in paths.releases.iterdir()
        if DATE_DIR.match(p.name) and p.name < as_of and (p / "agencies.parquet").is_file()
    )
    return earlier[-1] if earlier else None


def lists_of(path: Path) -> pd.Series:
    """agency_id -> list, from a release's agencies or the scorer's scores."""
    df = pd.read_parquet(path, columns=["agency_id", "list"])
    return df.set_index("agency_id")["list"].fillna("not_rated")


def compare(previous: pd.Series, current: pd.Series) -> dict[str, Any]:
    """Agencies lost and agencies newly on the blacklist, as shares of the previous release."""
    lost = sorted(set(previous.index) - set(current.index))
    was_black = set(previous[previous == "blacklist"].index)
    onto_black = sorted(set(current[current == "blacklist"].index) - was_black)
    base = max(len(previous), 1)
    return {
        "previous_agencies": len(previous),
        "current_agencies": len(current),
        "lost": lost,
        "onto_blacklist": onto_black,
        "lost_share": round(len(lost) / base, 4),
        "blacklist_gain_share": round(len(onto_black) / base, 4),
    }


def check_release(city: City, paths: CityPaths, as_of: str) -> dict[str, Any]:
    """The breaker as a gate result (docs/architecture.md, gates), written to gates/."""
    limits = city.release
    previous = previous_release(paths, as_of)
    stats: dict[str, Any] = {
        "as_of": as_of,
        "previous_release": previous.name if previous else None,
    }
    failed: list[dict[str, Any]] = []
    if previous is not None:
        facts = compare(
            lists_of(previous / "agencies.parquet"), lists_of(paths.scored / "scores.parquet")
        )
        stats |= facts
        failed = _tripped(facts, limits.max_agency_loss_share, limits.max_blacklist_gain_share)
    reviewed = os.environ.get(REVIEWED_ENV) == as_of
    if failed and reviewed:
        stats["accepted_after_review"] = True
    result = {
        "name": NAME,
        "success": not failed or reviewed,
        "failed_expectations": [] if reviewed else failed,
        "statistics": stats,
    }
    paths.gates.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, ensure_ascii=False, indent=1)
    (paths.gates / f"{NAME}.json").write_text(text + "\n", encoding="utf-8")
    return result


def held_release(paths: CityPaths) -> dict[str, Any] | None:
    """What a person needs to decide on a release the breaker held, from its last result: the
    run date, the checks that tripped, and each agency it would put on the blacklist or drop,
    by name; None when the last run's release was not held.

    The gate file alone names agencies by id; a reviewer has to recognise them, and to see the
    scorer's reason for each new blacklisting, before accepting the release."""
    try:
        gate = json.loads((paths.gates / f"{NAME}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if gate.get("success", True):
        return None
    stats = gate.get("statistics") or {}
    scores = paths.scored / "scores.parquet"
    current = _agency_table(scores, paths.resolved / "agencies.parquet")
    previous = paths.releases / str(stats.get("previous_release") or "")
    before = _agency_table(previous / "agencies.parquet")
    return {
        "as_of": stats.get("as_of") or _scored_as_of(scores),
        "previous_release": stats.get("previous_release"),
        "checks": gate.get("failed_expectations") or [],
        "onto_blacklist": _rows(current, stats.get("onto_blacklist") or []),
        "lost": _rows(before, stats.get("lost") or []),
    }


def _agency_table(*files: Path) -> pd.DataFrame:
    """agency_id -> name, list, score and the list's reason, each from the first of files
    that has it (the scorer's lists hold no names; resolve's agencies do)."""
    out = pd.DataFrame()
    for path in dict.fromkeys(files):
        have = _columns(path) if path.is_file() else set()
        cols = [c for c in REVIEW_COLUMNS if c in have and c not in out.columns]
        if "agency_id" in have and cols:
            df = pd.read_parquet(path, columns=["agency_id", *cols]).set_index("agency_id")
            out = df if out.columns.empty else out.join(df, how="outer")
    return out


def _scored_as_of(scores: Path) -> str:
    """The run date the scorer wrote (a gate file from before the breaker recorded its own)."""
    if "as_of" not in (_columns(scores) if scores.is_file() else set()):
        return ""
    dates = pd.read_parquet(scores, columns=["as_of"])["as_of"].dropna()
    return str(dates.iloc[0])[:10] if len(dates) else ""


def _columns(path: Path) -> set[str]:
    import pyarrow.parquet as pq

    return set(pq.read_schema(path).names)


def _rows(table: pd.DataFrame, ids: list[str]) -> list[dict[str, Any]]:
    """One row per id, in the gate's order, with what table knows of it (blank when nothing)."""
    rows = []
    for agency_id in ids:
        known = table.loc[agency_id].to_dict() if agency_id in table.index else {}
        rows.append({"agency_id": agency_id, **{k: _plain(v) for k, v in known.items()}})
    return rows


def _plain(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _tripped(facts: dict[str, Any], max_loss: float, max_gain: float) -> list[dict[str, Any]]:
    out = []
    base = facts["previous_agencies"]
    checks = (
        ("lost", "lost_share", max_loss, "agencies lost since the previous release"),
        ("onto_blacklist", "blacklist_gain_share", max_gain, "agencies newly on the blacklist"),
    )
    for key, share, limit, what in checks:
        if facts[share] > limit:
            out.append(
                {
                    "expectation": f"{what} (release held for review; to publish it anyway "
                    f"set {REVIEWED_ENV}=<run date>)",
                    "column": None,
                    "expected": f"at most {limit:.0%} of {base}",
                    "observed": f"{facts[share]:.0%} ({len(facts[key])} of {base})",
                    "unexpected_examples": facts[key][:EXAMPLES],
                }
            )
    return out
