"""CSV cells that a spreadsheet will not execute.

Excel, LibreOffice and Numbers treat a cell starting with ``= + - @`` (or a tab / carriage return
that some of them strip first) as a formula, so a company name such as
``=HYPERLINK("http://x","y")`` taken from a public source could run in a journalist's sheet. The
OWASP advice is to prefix such text with an apostrophe; numbers are left as numbers so that a
negative amount stays a number.

A province release has millions of cells, so the prefixing and the CSV text are computed a
column at a time with Arrow kernels; the bytes are exactly those pandas' `to_csv` writes for
the same frame (QUOTE_MINIMAL, LF, empty cells for missing values), which stays the fallback
for any column type the fast path does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# with LF line ends, Python's csv module (pandas' writer) quotes a field only for these
NEEDS_QUOTES_REGEX = '[,"\n]'
LARGE_TEXT = pa.large_string()


def inert(value: object) -> object:
    """The value, with text that a spreadsheet would evaluate made inert by a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _is_text_column(col: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col))


def inert_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of df whose text columns are safe to open in a spreadsheet."""
    out = df.copy()
    for col in out.columns:
        if _is_text_column(out[col]):
            out[col] = inert_column(out[col])
    return out


def inert_column(col: pd.Series) -> pd.Series:
    """One text column made inert: vectorized for string dtypes, per value for object columns
    (which may hold non-text values that must stay as they are)."""
    if isinstance(col.dtype, pd.StringDtype):
        starts = col.str.startswith(FORMULA_STARTS, na=False).astype(bool)
        return col.where(~starts, "'" + col)
    return col.map(inert, na_action="ignore")


def inert_text(values: pa.Array) -> pa.Array:
    """Arrow strings with a leading apostrophe on every value a spreadsheet would evaluate."""
    starts = pa.array(_formula_starts(values))
    return _replace_where(values, starts, lambda v: pc.binary_join_element_wise(
        _text("'"), v, _text("")))  # fmt: skip


# The formula starts are ASCII: in UTF-8 a value starts with one exactly when its first byte is
# that character's, so each value's first byte is looked up in place, no slice copied.
_FORMULA_BYTES = np.frombuffer("".join(FORMULA_STARTS).encode("ascii"), dtype=np.uint8)


def _formula_starts(values: pa.Array) -> np.ndarray:
    """Which values (text, not missing) start with a FORMULA_STARTS character."""
    if values.type not in (pa.string(), pa.large_string()):
        first = pc.utf8_slice_codeunits(values, 0, 1)
        hit = pc.is_in(first, value_set=pa.array(FORMULA_STARTS, first.type))
        return hit.fill_null(False).to_numpy(zero_copy_only=False)
    width = np.int64 if values.type == pa.large_string() else np.int32
    offsets = np.frombuffer(values.buffers()[1], dtype=width)[values.offset :]
    starts, ends = offsets[: len(values)], offsets[1 : len(values) + 1]
    data = values.buffers()[2]
    hit = np.zeros(len(values), dtype=bool)
    if data is None or not len(values):
        return hit
    nonempty = ends > starts
    hit[nonempty] = np.isin(np.frombuffer(data, dtype=np.uint8)[starts[nonempty]], _FORMULA_BYTES)
    if values.null_count:
        hit &= values.is_valid().to_numpy(zero_copy_only=False)
    return hit


def _replace_where(
    values: pa.Array, mask: pa.Array, fn: Callable[[pa.Array], pa.Array]
) -> pa.Array:
    """values with fn applied to the masked ones only (most cells need nothing)."""
    if not pc.any(mask).as_py():
        return values
    return pc.replace_with_mask(values, mask, fn(pc.filter(values, mask)))


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8 with a BOM (Excel in Chinese locales needs it) and LF line ends, for stable bytes."""
    path.write_bytes(csv_bytes(df))


def csv_bytes(df: pd.DataFrame) -> bytes:
    """The inert CSV of df, as pandas' to_csv(index=False, encoding="utf-8-sig") writes it."""
    return b"".join(csv_pieces(df))


def csv_pieces(df: pd.DataFrame) -> list[bytes | memoryview]:
    """csv_bytes in pieces to be written one after the other (the body stays in Arrow's
    buffer: a province city's events are 130 MB of CSV, copied once less)."""
    fields = _csv_fields(df) if len(df.columns) > 1 else None
    if fields is None:  # one column has csv's special case for empty rows; pandas knows it
        text = inert_frame(df).to_csv(index=False, lineterminator="\n")
        return [text.encode("utf-8-sig")]
    header = ",".join(_quoted_py(str(c)) for c in df.columns) + "\n"
    if len(df) == 0:
        return [header.encode("utf-8-sig")]
    fields[-1] = pc.binary_join_element_wise(fields[-1], _text("\n"), _text(""))  # line ends
    lines = pc.binary_join_element_wise(*fields, _text(","))
    return [header.encode("utf-8-sig"), _concatenated(lines)]


def _concatenated(lines: pa.Array) -> memoryview:
    """Every value's bytes, one after the other: a string array's data buffer between the
    first and last offsets (no Python string of the whole file is made)."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[first:last]


def _csv_fields(df: pd.DataFrame) -> list[pa.Array] | None:
    """Each column as the CSV text of its cells, or None when a column is of a kind only
    pandas' writer knows how to format."""
    out = []
    for name in df.columns:
        field = _csv_field(df[name])
        if field is None:
            return None
        out.append(field)
    return out


def _csv_field(col: pd.Series) -> pa.Array | None:
    dtype = col.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return pa.array(_float_texts(col.to_numpy()), LARGE_TEXT)
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return pa.array(col.to_numpy().astype(str), LARGE_TEXT)
    if isinstance(dtype, pd.BooleanDtype):
        words = col.map({True: "True", False: "False"}).astype(object)
        return pa.array(words.where(col.notna(), "").tolist(), LARGE_TEXT)
    if isinstance(dtype, pd.StringDtype) or dtype is np.dtype(object):
        text = _arrow_text(col)
        if text is None:
            return None
        return _quoted(inert_text(pc.fill_null(text, _text(""))))
    return None


def _float_texts(values: np.ndarray) -> np.ndarray:
    """numpy's str() of each float, "" for NaN (what pandas writes), made once per distinct
    value: scores and points repeat a few values over a hundred thousand rows. Values are
    told apart by their bits, so 0.0 and -0.0 keep their own text."""
    if values.dtype != np.float64:  # other widths print otherwise: each value as it is
        return np.where(np.isnan(values), "", values.astype(str))
    bits = np.ascontiguousarray(values).view(np.int64)
    distinct, at = np.unique(bits, return_inverse=True)
    floats = distinct.view(np.float64)
    texts = np.where(np.isnan(floats), "", floats.astype(str))  # pandas: numpy's str()
    return texts[at.reshape(-1)]


def _quoted(text: pa.Array) -> pa.Array:
    """Cells holding a comma, a quote or a line feed in quotes, their quotes doubled."""
    data = text.buffers()[2]
    if data is None or not any(c in data.to_pybytes() for c in (b",", b'"', b"\n")):
        return text  # a quick look at the column's bytes spares the regex on most columns
    needs = pc.match_substring_regex(text, NEEDS_QUOTES_REGEX)
    return _replace_where(text, needs, lambda v: pc.binary_join_element_wise(
        _text('"'), pc.replace_substring(v, '"', '""'), _text('"'), _text("")))  # fmt: skip


def _arrow_text(col: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The column as Arrow large strings; None when it holds anything but text and nulls."""
    try:
        if isinstance(col.dtype, pd.StringDtype):
            text = pa.array(col).cast(LARGE_TEXT)
            return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
        if pd.api.types.infer_dtype(col, skipna=True) not in ("string", "empty"):
            return None
        return pa.array(col.to_numpy(dtype=object), LARGE_TEXT, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _text(value: str) -> pa.Scalar:
    """A literal for the kernels, of the same type as the columns (they do not mix types)."""
    return pa.scalar(value, LARGE_TEXT)


def _quoted_py(field: str) -> str:
    """A header cell, quoted as the csv module quotes it."""
    if any(c in field for c in ',"\n'):
        return '"' + field.replace('"', '""') + '"'
    return field
