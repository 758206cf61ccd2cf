"""Raw items → one DataFrame per record type with canonical column names.

Sources label the same field in many ways (双公示 keys, Chinese labels with full-width or ASCII
brackets, underscores and suffixes, JSON keys). The mapping is data — lookups/labels.toml plus a
city's `[labels.<record_type>]` — and labels are compared after a light normalization, so most
variants need no entry at all. Values stay the source's strings: parsing them is normalize's job,
and the raw gate sees exactly what the source said.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd

from agencywatch.config import City
from transforms.rawfile import PROVENANCE as PROVENANCE
from transforms.rawfile import RawFileError as RawFileError
from transforms.rawfile import RawTable, table_from_items
from transforms.rawfile import read_raw as read_raw
from transforms.values import LOOKUPS, clean_texts, unify_brackets

_LABEL_NOISE = re.compile(r"[\s_\-‐‑–—―]+")
_BRACKETED = re.compile(r"\(([^()]*)\)")


def normalize_label(label: str) -> str:
    """The comparison form of a label: NFKC, lower case, brackets unified, no spaces or dashes."""
    text = unify_brackets(unicodedata.normalize("NFKC", str(label))).casefold()
    return _LABEL_NOISE.sub("", text)


def _label_candidates(norm: str) -> list[str]:
    """The forms a label is tried in: whole, without brackets, bracket content, / parts."""
    bare = _BRACKETED.sub("", norm)
    forms = [norm, bare, bare.rstrip("0123456789"), *_BRACKETED.findall(norm)]
    forms += [part for form in (norm, bare) for part in form.split("/") if "/" in form]
    return [f for f in dict.fromkeys(forms) if f]


@cache
def _lookup_file() -> dict[str, Any]:
    with (LOOKUPS / "labels.toml").open("rb") as f:
        return tomllib.load(f)


@cache
def _builtin_labels(record_type: str) -> tuple[dict[str, str], dict[str, int]]:
    """(normalized label → column, column → rank in the file) for one record type."""
    columns = _lookup_file()["labels"].get(record_type, {})
    mapping: dict[str, str] = {}
    for column, labels in columns.items():
        for label in labels:
            mapping.setdefault(normalize_label(label), column)
    return mapping, {column: rank for rank, column in enumerate(columns)}


def label_map(record_type: str, city: City | None = None) -> dict[str, str]:
    """Normalized label → column for a record type; the city's own labels win."""
    mapping = dict(_builtin_labels(record_type)[0])
    if city is not None:
        for label, column in city.labels.get(record_type, {}).items():  # type: ignore[call-overload]
            mapping[normalize_label(label)] = column
    return mapping


def column_for(label: str, mapping: dict[str, str]) -> str | None:
    """The column a source label feeds, or None when no form of it is known."""
    return next(
        (mapping[c] for c in _label_candidates(normalize_label(label)) if c in mapping), None
    )


@cache
def _unit_labels() -> dict[str, str]:
    units = _lookup_file().get("units", {})
    return {normalize_label(label): unit for unit, labels in units.items() for label in labels}


def unit_of_label(label: str) -> str | None:
    """The unit a label gives its bare numbers: 罚款金额（万元） and CF_NR_FK say 万元."""
    norm = normalize_label(label)
    if "万元" in norm:
        return "万元"
    if "(元)" in norm:
        return "元"
    return _unit_labels().get(norm)


@dataclass
class Canonical:
    """canonical_frame's result with what it learnt on the way."""

    frame: pd.DataFrame
    unmapped: dict[str, int] = field(default_factory=dict)
    unit_hints: dict[str, pd.Series] = field(default_factory=dict)


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _provenance(values: pd.Series) -> pd.Series:
    """A provenance column as it travels to the clean tables: Arrow-backed text stays so (it
    is only carried, sorted and written), anything else becomes Python objects."""
    if isinstance(values.dtype, pd.StringDtype):
        return values.copy()
    return _objects(values)


def _objects(values: pd.Series) -> pd.Series:
    """A column as Python objects, None where missing (Arrow-backed text included)."""
    obj = values.astype(object)
    return obj.where(obj.notna(), None)


def _text_column(values: pd.Series) -> pd.Series:
    """A raw column as str-or-None (JSON numbers and epoch dates become their digits).

    Arrow-backed text (parsed crawler output) stays Arrow-backed, missing cells as NaN: the
    parsers take it value by value all the same, and text that is only carried goes to the
    clean table without a round trip through Python objects.
    """
    if isinstance(values.dtype, pd.StringDtype):
        return values.copy()
    obj = values.astype(object)
    if pd.api.types.infer_dtype(obj, skipna=True) in ("string", "empty"):
        return obj.where(obj.notna(), None)
    return obj.where(obj.notna(), None).map(_as_text, na_action="ignore")


def _blank(values: pd.Series) -> pd.Series:
    """Cells that are missing or an empty marker (checked once per distinct value)."""
    return clean_texts(values).isna()


def canonical(items: list[dict[str, Any]], record_type: str, city: City | None = None) -> Canonical:
    """The raw items as canonical columns, with unmapped labels and per-row unit hints."""
    return canonical_table(table_from_items(items), record_type, city)


def canonical_table(
    table: RawTable,
    record_type: str,
    city: City | None = None,
    columns: Collection[str] | None = None,
) -> Canonical:
    """canonical() of a parsed raw file (transforms.rawfile), column by column.

    With `columns`, only those canonical columns are built and provenance is left out (the
    raw gate checks a few columns); unmapped labels are reported all the same.
    """
    mapping = label_map(record_type, city)
    raw = table.fields
    by_column: dict[str, list[str]] = {}
    unmapped: dict[str, int] = {}
    for label in raw.columns:
        column = column_for(label, mapping)
        if column is None:
            unmapped[str(label)] = int(raw[label].notna().sum())
        else:
            by_column.setdefault(column, []).append(label)
    ranks = _builtin_labels(record_type)[1]
    out: dict[str, pd.Series] = {}
    if columns is None:
        out = {name: _provenance(table.provenance[name]) for name in PROVENANCE}
        out["record_type"] = out["record_type"].where(out["record_type"].notna(), record_type)
    wanted = [c for c in by_column if columns is None or c in columns]
    hints: dict[str, pd.Series] = {}
    for column in sorted(wanted, key=lambda c: (ranks.get(c, len(ranks)), c)):
        labels = sorted(by_column[column], key=lambda lb: _label_rank(lb, column, mapping))
        out[column], hint = _combine(raw, labels)
        if hint is not None:
            hints[column] = hint
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(table)))
    frame.attrs["unmapped_labels"] = sorted(unmapped)
    return Canonical(frame, dict(sorted(unmapped.items())), hints)


def _label_rank(label: str, column: str, mapping: dict[str, str]) -> int:
    """Position of the label's first known form among the column's labels (file order)."""
    known = [norm for norm, col in mapping.items() if col == column]
    forms = _label_candidates(normalize_label(label))
    return next((known.index(f) for f in forms if f in known), len(known))


def _combine(raw: pd.DataFrame, labels: list[str]) -> tuple[pd.Series, pd.Series | None]:
    """One column from several labels (first non-empty wins) and the unit of each row's value."""
    value = _text_column(raw[labels[0]])
    units = [unit_of_label(lb) for lb in labels]
    hint = pd.Series(units[0], index=raw.index, dtype=object)
    for label, unit in zip(labels[1:], units[1:], strict=True):
        take = _blank(value)
        value = value.where(~take, _text_column(raw[label]))
        hint = hint.where(~take, unit)
    return value, (hint if any(units) else None)


def canonical_frame(
    items: list[dict[str, Any]], record_type: str, city: City | None = None
) -> pd.DataFrame:
    """One row per raw item, canonical column names, string values, provenance columns.

    Labels no mapping knows are dropped; their names are in frame.attrs["unmapped_labels"]
    (and, with counts, from unmapped_labels()).
    """
    return canonical(items, record_type, city).frame


def unmapped_labels(
    items: list[dict[str, Any]], record_type: str, city: City | None = None
) -> dict[str, int]:
    """Labels of the items that map to no column, with how many items carry each."""
    mapping = label_map(record_type, city)
    counts: Counter[str] = Counter()
    for item in items:
        counts.update(str(label) for label in item.get("fields") or {})
    return {lb: n for lb, n in sorted(counts.items()) if column_for(lb, mapping) is None}
