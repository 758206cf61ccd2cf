"""CSV cells that a spreadsheet will not execute.

Excel, LibreOffice and Numbers treat a cell starting with ``= + - @`` (or a tab / carriage return
that some of them strip first) as a formula, so a company name such as
``=HYPERLINK("http://x","y")`` taken from a public source could run in a journalist's sheet. The
OWASP advice is to prefix such text with an apostrophe; numbers are left as numbers so that a
negative amount stays a number.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> object:
    """The value, with text that a spreadsheet would evaluate made inert by a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def inert_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of df whose text columns are safe to open in a spreadsheet."""
    out = df.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(inert, na_action="ignore")
    return out


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8 with a BOM (Excel in Chinese locales needs it) and LF line ends, for stable bytes."""
    inert_frame(df).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
