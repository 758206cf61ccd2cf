"""Frame operations that pandas 3 does slowly on Arrow-backed text, done by Arrow instead.

pandas 3 keeps text in Arrow, but several of its operations on it still go through Python
objects or factorize both sides: `isin` builds an Arrow scalar per value, merges and multi-key
sorts factorize every key column. At province scale (300,000 events in a city) those were
whole seconds of the resolve, score and release stages. Each helper here gives exactly what
the pandas call it replaces gives (the docstrings name it), so callers stay readable.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def isin(s: pd.Series, values: Iterable[Any]) -> pd.Series:
    """`s.isin(values)`, the same answer, for text columns and long value lists.

    pandas 3 builds one Arrow scalar in Python per value for a str column's isin (seconds per
    call at province scale); Arrow's is_in hashes the whole value set at once. Nulls match
    nulls, as in pandas.
    """
    if not arrow_text(s):
        return s.isin(values)
    if isinstance(values, pd.Series | pd.Index) and arrow_text(values):
        value_set = pa.array(values)
    else:
        kept = [v for v in values if isinstance(v, str) or v is None or v is pd.NA
                or (isinstance(v, float) and v != v)]  # fmt: skip
        value_set = pa.array(kept, pa.large_string(), from_pandas=True)
    hit = pc.is_in(pa.array(s), value_set=value_set.cast(pa.large_string()))
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=s.index, dtype=bool)


def arrow_text(s: pd.Series | pd.Index) -> bool:
    """Whether s holds text in Arrow (pandas' str dtype with pyarrow storage)."""
    return isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"


def large_text(values: pd.Series | pa.ChunkedArray | pa.Array) -> pa.Array:
    """Text as one Arrow large_string array (the kernels want both sides alike)."""
    arr = pa.array(values) if isinstance(values, pd.Series) else values
    arr = arr.cast(pa.large_string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def lookup_join(
    left: pd.DataFrame, right: pd.DataFrame, key: str, validate: bool = True
) -> pd.DataFrame:
    """`left.merge(right, on=key, how="inner", validate="many_to_one")`, for text keys: the
    rows of left whose key right holds (in left's order), with right's other columns.
    With validate=False, a right side with repeated keys is joined by pandas instead.

    pandas' merge factorizes both key columns (a second per call for a province city's
    events); Arrow's hash lookup finds each left key's row in one pass.
    """
    checked = "many_to_one" if validate else None
    overlap = (set(left.columns) & set(right.columns)) - {key}
    if not len(left) or not len(right) or overlap:
        return left.merge(right, on=key, how="inner", validate=checked)
    try:
        found, rows = lookup_positions(left[key], right[key])
    except pd.errors.MergeError:
        if validate:
            raise
        return left.merge(right, on=key, how="inner")
    picked = left.take(found).reset_index(drop=True)
    others = right.drop(columns=key).take(rows).reset_index(drop=True)
    return pd.concat([picked, others], axis=1)


def lookup_positions(left: pd.Series, right: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The rows lookup_join pairs, as positions: (left rows whose key right holds, in left's
    order; the right row each one joins). A caller that goes on to reorder the joined rows
    can then take each column once, in its final order.

    Raises pd.errors.MergeError when right's keys repeat (not a many-to-one lookup).
    """
    keys = large_text(right)
    if len(pc.unique(keys)) != len(keys):
        raise pd.errors.MergeError(
            "Merge keys are not unique in right dataset; not a many-to-one merge"
        )
    at = pc.index_in(large_text(left), value_set=keys).to_numpy(zero_copy_only=False)
    found = ~np.isnan(at) if at.dtype.kind == "f" else np.ones(len(at), dtype=bool)
    return np.flatnonzero(found), at[found].astype(np.int64)


def sorted_rows(
    df: pd.DataFrame, keys: list[str], descending: Iterable[str] = (), na_first: bool = False
) -> pd.DataFrame:
    """`df.sort_values(keys, ascending=[k not in descending …], kind="stable",
    na_position="first" if na_first else "last")`, sorted by Arrow: pandas factorizes every
    text key first."""
    order = sort_order(df, keys, descending, na_first)
    if np.array_equal(order, np.arange(len(df))):  # already in order (often: written sorted)
        return df
    return df.take(order)


def sort_order(
    df: pd.DataFrame, keys: list[str], descending: Iterable[str] = (), na_first: bool = False
) -> np.ndarray:
    """The row positions sorted_rows puts df's rows in (df itself is not reordered)."""
    down, nulls = set(descending), "at_start" if na_first else "at_end"
    table = pa.table({k: pa.array(df[k]) for k in keys})
    order = pc.sort_indices(
        table, sort_keys=[(k, "descending" if k in down else "ascending", nulls) for k in keys]
    )
    return order.to_numpy()


def write_table(df: pd.DataFrame, path: Path) -> None:
    """A working table (clean/, resolved/, scored/) as Parquet, without column statistics.

    The stages read whole columns and never filter on row groups, and min/max statistics of
    wide text columns cost a fifth of the writing. Released tables keep theirs
    (transforms.release.write_parquet).
    """
    df.to_parquet(path, index=False, write_statistics=False)
