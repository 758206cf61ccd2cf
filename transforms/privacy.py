"""Masking of private persons' identifiers in source text, before anything is released.

Court and complaint records name people as well as companies: a debtor's 18-digit resident
identity number (GB 11643) or a complainant's mobile number can sit in a judgment's parties, a
complaint's title or a penalty's facts. AgencyWatch publishes facts about companies, so such
numbers are masked as the enforcement-information site masks them itself (first and last four
kept), in every raw field, before normalize sees them. Company numbers stay: landlines and 400
numbers are what agencies publish, and a valid 统一社会信用代码 is a company's public id even when
it is all digits. So do the fields whose whole value is the number an agency publishes or calls
people from (a phone list's number, a complaint's calling number): the phone lookup answers "is
this number legitimate?" with exactly those; the free text around them is masked like any other.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from stdnum.cn import ric, uscc

from agencywatch.config import City
from transforms.labels import column_for, label_map
from transforms.rawfile import RawTable

# \d is any Unicode digit, so full-width ０-９ (common in Chinese sources) match as well.
RESIDENT_ID = re.compile(
    r"(?<![0-9A-Za-z０-９Ａ-Ｚａ-ｚ])\d{17}[\dXxＸｘ](?![0-9A-Za-z０-９Ａ-Ｚａ-ｚ])"
)
MOBILE = re.compile(
    r"(?<![\d+＋])(?:[+＋]?[8８][6６][-\s]?)?[1１][3-9３-９]\d(?:[-\s－]?\d{4}){2}(?!\d)"
)


# record type -> the column holding an agency's own number (kept whole; see the docstring)
AGENCY_NUMBER_COLUMNS = {"phone": "number", "complaint": "phone"}

# What text must hold for RESIDENT_ID or MOBILE to match, loosened (RE2 syntax, for pyarrow):
# eighteen digits in a row (the last may be X) with no letter or digit around them, or a
# mobile's 1[3-9] and nine more digits with at most one character between the groups, no digit
# after them and none before but the 6 of a +86. Text without either is left alone without
# running them (a company code, all digits and letters, is seldom looked at). \p{N} is wider
# than Python's \d, so Unicode tables of different ages only let more through.
_ID_EDGE = r"[^0-9A-Za-z０-９Ａ-Ｚａ-ｚ]"
_MAY_HOLD_NUMBER = (
    rf"(?:^|{_ID_EDGE})\p{{N}}{{17}}[\p{{N}}XxＸｘ](?:$|{_ID_EDGE})"
    r"|(?:^|[^0-57-9０-５７-９])[1１][3-9３-９]\p{N}(?s:.)?\p{N}{4}(?s:.)?\p{N}{4}(?:$|[^0-9０-９])"
)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _masked_id(match: re.Match[str]) -> str:
    number = _ascii(match.group(0)).upper()
    if not _resident_id(number) or uscc.is_valid(number):
        return match.group(0)
    return number[:4] + "*" * 10 + number[-4:]


def _resident_id(number: str) -> bool:
    """Check digit and birth date of GB 11643; the place code is not required to be known
    (a number with an unlisted place is still somebody's, or looks like it to a reader).

    The birth date is read as stdnum's ric.get_birth_date reads it, without its clean-up of
    separators: RESIDENT_ID matched digits (and a final X) only.
    """
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return ric.calc_check_digit(number) == number[-1]


def _masked_mobile(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", _ascii(match.group(0)))[-11:]
    return digits[:3] + "****" + digits[-4:]


def mask_text(text: str) -> str:
    """The text with resident identity numbers and mobile numbers masked; all else as it was."""
    if not text or not any(c.isdigit() for c in text):
        return text
    return MOBILE.sub(_masked_mobile, RESIDENT_ID.sub(_masked_id, text))


def masked_value(value: Any) -> Any:
    """Strings masked, containers walked, numbers masked as their digits (a JSON source may
    write a mobile number as a number: it is still somebody's), anything else unchanged."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _masked_number(value)
    if isinstance(value, dict):
        return {k: masked_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked_value(v) for v in value]
    return value


def _masked_number(value: float) -> Any:
    """The number itself, or its masked digits (as text) when they are a personal number."""
    if isinstance(value, float) and not value.is_integer():
        return value
    digits = str(int(value))
    masked = mask_text(digits)
    return value if masked == digits else masked


def masked_items(items: Iterable[dict[str, Any]], city: City | None = None) -> list[dict[str, Any]]:
    """Raw items (or quarantine records) with every value of `fields` masked, but for an
    agency's own number field (AGENCY_NUMBER_COLUMNS)."""
    return [dict(item, fields=_masked_fields(item, city)) for item in items]


def _masked_fields(item: dict[str, Any], city: City | None) -> Any:
    fields = item.get("fields")
    column = AGENCY_NUMBER_COLUMNS.get(str(item.get("record_type")))
    if column is None or not isinstance(fields, dict):
        return masked_value(fields)
    mapping = label_map(str(item["record_type"]), city)
    return {
        k: v if column_for(k, mapping) == column else masked_value(v) for k, v in fields.items()
    }


# --- whole parsed files ----------------------------------------------------------------------


def masked_table(table: RawTable, city: City | None = None) -> RawTable:
    """The parsed raw file with every field masked as masked_items() would mask its items.

    Column by column, once per distinct value, and only text that may hold a personal number
    is looked at (one pyarrow pass over the whole file picks it out): a file of a hundred
    thousand rows costs what its few thousand candidate values cost. The rows' items (read
    back for quarantine) stay unmasked: mask them with masked_items().
    """
    exempt = _exempt_rows(table, city)
    masked = [
        label
        for label in table.fields.columns
        if not (str(label) in exempt and exempt[str(label)].all())
    ]
    text = [label for label in masked if _is_text(table.fields[label])]
    candidates = dict(zip(text, _may_hold_numbers([table.fields[lb] for lb in text]), strict=True))
    fields = {}
    for label in table.fields.columns:
        values = table.fields[label]
        if label not in masked:
            fields[label] = values
            continue
        if label in candidates:
            out = _masked_text(values, candidates[label])
        else:
            out = _masked_column(values)
        keep = exempt.get(str(label))
        fields[label] = out if keep is None else out.where(~keep, values)
    return dataclasses.replace(table, fields=pd.DataFrame(fields, index=table.fields.index))


def _exempt_rows(table: RawTable, city: City | None) -> dict[str, pd.Series]:
    """label → rows whose value of that label is an agency's own number (left unmasked)."""
    exempt: dict[str, pd.Series] = {}
    for record_type, column in AGENCY_NUMBER_COLUMNS.items():
        rows = table.provenance["record_type"] == record_type
        if not rows.any():
            continue
        mapping = label_map(record_type, city)
        for label in table.fields.columns:
            if column_for(label, mapping) == column:
                exempt[str(label)] = exempt.get(str(label), False) | rows
    return exempt


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.infer_dtype(values, skipna=True) == "string"


def _masked_column(values: pd.Series) -> pd.Series:
    """masked_value over a column that is not all text: every value walked."""
    if pd.api.types.infer_dtype(values, skipna=True) == "empty":
        return values
    return values.map(masked_value)


# A cell that is just eighteen ASCII digits (the last may be X): a company code or an ID.
_BARE_ID = re.compile(r"[0-9]{17}[0-9X]")


def _masked_code(text: str) -> str:
    """mask_text of a _BARE_ID cell: RESIDENT_ID matches it whole, MOBILE cannot match in it
    (eighteen digits leave a mobile a digit beside it), so only the ID check is left."""
    if not _resident_id(text) or uscc.is_valid(text):
        return text
    return text[:4] + "*" * 10 + text[-4:]


def _masked_text(values: pd.Series, candidates: np.ndarray) -> pd.Series:
    """mask_text over a text column, once per distinct candidate value."""
    if not candidates.any():
        return values
    codes, found = pd.factorize(values[candidates])
    uniques = list(found.to_numpy(dtype=object) if hasattr(found, "to_numpy") else found)
    masked = [_masked_code(u) if _BARE_ID.fullmatch(u) else mask_text(u) for u in uniques]
    if masked == uniques:
        return values
    out = values.astype(object)
    out[candidates] = np.array(masked, dtype=object)[codes]
    return out.astype(values.dtype) if values.dtype != object else out


def _may_hold_numbers(columns: list[pd.Series]) -> list[np.ndarray]:
    """Per text column, the rows whose text may hold a personal number (_MAY_HOLD_NUMBER).

    All columns go through one regular expression call: RE2 compiles the pattern's Unicode
    classes anew on every call, which would cost more than matching a column does.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not columns:
        return []
    try:
        arrays = [pa.array(c, type=pa.string(), from_pandas=True) for c in columns]
    except (UnicodeError, pa.ArrowException):  # text that is not UTF-8 (lone surrogates)
        return [np.ones(len(c), dtype=bool) for c in columns]
    chunks = [chunk for a in arrays for chunk in getattr(a, "chunks", [a])]
    flat = pa.concat_arrays(chunks) if chunks else pa.array([], type=pa.string())
    hits = pc.match_substring_regex(flat, _MAY_HOLD_NUMBER).fill_null(False)
    hits = hits.to_numpy(zero_copy_only=False)
    return np.split(hits, np.cumsum([len(c) for c in columns])[:-1])
