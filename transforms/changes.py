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

import numpy as np
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
    """ADD / MOD / DEL per agency and per list, between two agencies tables.

    Rows come ordered by agency id, each agency's own row first, then the list it left and the
    list it entered. Computed a column at a time: a province city has 25,000 agencies.
    """
    ids, b, a = _aligned(_by_id(previous), _by_id(current))
    in_b, in_a = b.pop("_present").to_numpy(bool), a.pop("_present").to_numpy(bool)
    gone = change_reasons().get("not_in_release", {})
    base = pd.DataFrame(
        {
            "as_of": as_of,
            "since": since,
            "agency_id": ids,
            "name": np.where(in_a, a["name"], b["name"]),
            "list_before": b["list"],
            "list_after": a["list"],
            "score_before": b["score"],
            "score_after": a["score"],
            "list_reason_code": np.where(in_a, a["list_reason_code"], "not_in_release"),
            "list_reason_zh": np.where(in_a, a["list_reason_zh"], gone.get("zh")),
            "list_reason_en": np.where(in_a, a["list_reason_en"], gone.get("en")),
        }
    )
    changed = {k: ~_same_values(b[k], a[k]) for k in COMPARED}
    what = _joined_flags(changed)
    mod = in_a & in_b & (what != "")
    was, now = base["list_before"].to_numpy(object), base["list_after"].to_numpy(object)
    moved = ~_same_values(b["list"], a["list"])
    parts = [
        base[~in_b].assign(scope="agency", change="ADD", list=now[~in_b], _order=0),
        base[~in_a].assign(scope="agency", change="DEL", list=was[~in_a], _order=0),
        base[mod].assign(scope="agency", change="MOD", list=now[mod], what_changed=what[mod],
                         _order=0),
        base[moved & (was != None)].assign(scope="list", change="DEL",  # noqa: E711
                                           list=was[moved & (was != None)], _order=1),  # noqa: E711
        base[moved & (now != None)].assign(scope="list", change="ADD",  # noqa: E711
                                           list=now[moved & (now != None)], _order=2),  # noqa: E711
    ]  # fmt: skip
    out = pd.concat([p for p in parts if len(p)] or [base.iloc[:0].assign(_order=0)])
    out = out.sort_values(["agency_id", "_order"], kind="mergesort")
    columns = [f["name"] for f in _fields("changes")]
    return out.reindex(columns=columns).reset_index(drop=True)


def _fields(table: str) -> list[dict[str, Any]]:
    with FIELDS_FILE.open("rb") as f:
        return tomllib.load(f)["tables"][table]["fields"]


def _by_id(df: pd.DataFrame | None) -> pd.DataFrame:
    """The compared columns per agency id (text), missing values as None; the last row of a
    repeated id wins."""
    if df is None or df.empty:
        return pd.DataFrame(columns=AGENCY_COLUMNS).set_index("agency_id")
    df = df.reindex(columns=AGENCY_COLUMNS)
    df = df.astype(object).where(df.notna(), None)
    df["agency_id"] = df["agency_id"].map(str)
    return df.drop_duplicates("agency_id", keep="last").set_index("agency_id")


def _aligned(
    before: pd.DataFrame, after: pd.DataFrame
) -> tuple[list[str], pd.DataFrame, pd.DataFrame]:
    """Every id of either table, sorted, with both tables' values (None where absent)."""
    ids = sorted(set(before.index) | set(after.index))

    def on(df: pd.DataFrame) -> pd.DataFrame:
        present = df.assign(_present=True).reindex(ids)
        present = present.astype(object).where(present.notna(), None)
        present["_present"] = present["_present"].fillna(False).astype(bool)
        return present.reset_index(drop=True)

    return ids, on(before), on(after)


def _same_values(x: pd.Series, y: pd.Series) -> np.ndarray:
    """Element-wise `_same`: equal, both None, or both NaN (NaN is the one value unequal to
    itself among the text, numbers and None these columns hold), compared in numpy's loop."""
    a, b = x.to_numpy(dtype=object), y.to_numpy(dtype=object)
    if not len(a):
        return np.zeros(0, dtype=bool)
    equal = (a == b).astype(bool)
    return equal | ((a != a).astype(bool) & (b != b).astype(bool))


def _joined_flags(changed: dict[str, np.ndarray]) -> np.ndarray:
    """'list;score;reason' style names of what changed per row ('' when nothing did)."""
    n = len(next(iter(changed.values())))
    out = np.full(n, "", dtype=object)
    for key, flags in changed.items():
        word = WHAT_CHANGED[key]
        out = np.where(flags, np.where(out == "", word, out + ";" + word), out)
    return out


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
