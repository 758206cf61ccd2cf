"""transforms/frames.py gives exactly what the pandas calls it stands in for give."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.frames import isin, lookup_join, sorted_rows

TEXT = st.one_of(st.none(), st.sampled_from(["a", "b", "ab", "中", "", "b "]))


def text(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype="str")


@given(st.lists(TEXT, max_size=12), st.lists(TEXT, max_size=6))
@settings(max_examples=100, deadline=None)
def test_isin_matches_pandas(values: list, wanted: list) -> None:
    s = text(values)
    expected = s.isin(wanted).tolist()
    assert isin(s, wanted).tolist() == expected
    assert isin(s, set(wanted)).tolist() == s.isin(set(wanted)).tolist()
    assert isin(s, text(wanted)).tolist() == s.isin(text(wanted)).tolist()


@given(st.lists(TEXT, max_size=12), st.lists(st.sampled_from(["a", "b", "ab", "中"]), max_size=6,
                                             unique=True))  # fmt: skip
@settings(max_examples=100, deadline=None)
def test_lookup_join_matches_a_many_to_one_merge(keys: list, right_keys: list) -> None:
    left = pd.DataFrame({"k": text(keys), "n": range(len(keys))})
    right = pd.DataFrame({"k": text(right_keys), "v": [f"v{i}" for i in range(len(right_keys))]})
    expected = left.merge(right, on="k", how="inner", validate="many_to_one")
    pd.testing.assert_frame_equal(lookup_join(left, right, "k"), expected)


def test_lookup_join_refuses_repeated_right_keys_unless_told() -> None:
    left = pd.DataFrame({"k": text(["a", "b"])})
    right = pd.DataFrame({"k": text(["a", "a"]), "v": text(["x", "y"])})
    with pytest.raises(pd.errors.MergeError):
        lookup_join(left, right, "k")
    expected = left.merge(right, on="k", how="inner")
    pd.testing.assert_frame_equal(lookup_join(left, right, "k", validate=False), expected)


@given(st.lists(st.tuples(TEXT, TEXT, st.integers(0, 3)), max_size=15), st.booleans())
@settings(max_examples=100, deadline=None)
def test_sorted_rows_matches_a_stable_sort(rows: list, na_first: bool) -> None:
    df = pd.DataFrame({"a": text([r[0] for r in rows]), "b": text([r[1] for r in rows]),
                       "n": [r[2] for r in rows]})  # fmt: skip
    where = "first" if na_first else "last"
    expected = df.sort_values(["a", "b"], kind="stable", na_position=where)
    pd.testing.assert_frame_equal(sorted_rows(df, ["a", "b"], na_first=na_first), expected)
    expected = df.sort_values(["a", "b"], ascending=[False, True], kind="stable",
                              na_position=where)  # fmt: skip
    got = sorted_rows(df, ["a", "b"], descending=["a"], na_first=na_first)
    pd.testing.assert_frame_equal(got, expected)
