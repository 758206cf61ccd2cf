"""Value parsers for the normalize stage: dates, amounts, enums, names, codes, case numbers, phones.

Every parser takes one source value and either returns the clean value (None for an empty cell)
or raises ValueError with a reason a person can act on — never another exception, so the caller
can quarantine or null a value without guessing what went wrong. The spellings they accept
(empty markers, date layouts, units, status words) live in lookups/values.toml.

Sources repeat the same few values many times, so the `*_series` helpers run a parser once per
distinct value and spread the result back over the rows (a million rows cost what their few
thousand distinct values cost).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
import opencc
import pandas as pd
from stdnum.cn import uscc as stdnum_uscc

LOOKUPS = Path(__file__).resolve().parent / "lookups"

T = TypeVar("T")

_OPEN = re.compile(r"[\[{【〔〖「『«〈《]")
_CLOSE = re.compile(r"[\]}】〕〗」』»〉》]")
_SPACES = re.compile(r"\s+")


@cache
def lookups() -> dict[str, Any]:
    """values.toml, read once per process."""
    with (LOOKUPS / "values.toml").open("rb") as f:
        return tomllib.load(f)


@cache
def _t2s() -> opencc.OpenCC:
    """One converter per process: building it loads dictionaries, converting is cheap."""
    return opencc.OpenCC("t2s")


# --- text -------------------------------------------------------------------------------


@cache
def _empty_markers() -> frozenset[str]:
    return frozenset(m.casefold() for m in lookups()["empty_markers"])


def clean_text(value: object) -> str | None:
    """The value as NFKC text without outer spaces, or None when it is an empty marker."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if _SPACES.sub("", text).casefold() in _empty_markers():
        return None
    return text


def display_text(value: object) -> str | None:
    """Like clean_text but keeps the source's own characters (names are shown as published)."""
    if clean_text(value) is None:
        return None
    return _SPACES.sub(" ", str(value)).strip()


def unify_brackets(text: str) -> str:
    """Every bracket kind as ASCII ( ) (after NFKC has folded the full-width ones)."""
    return _CLOSE.sub(")", _OPEN.sub("(", text))


def split_list(value: object, separators: str | None = None) -> list[str]:
    """Items of a list cell (罪名, several names), trimmed, empties and repeats dropped."""
    text = clean_text(value)
    if text is None:
        return []
    pattern = separators or lookups()["text"]["list_separators"]
    items = (clean_text(part) for part in re.split(pattern, text))
    return list(dict.fromkeys(i for i in items if i))


# --- dates ------------------------------------------------------------------------------


@cache
def _date_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in lookups()["dates"]["patterns"])


def _checked_date(y: int, m: int, d: int, text: str) -> str:
    cfg = lookups()["dates"]
    if not cfg["min_year"] <= y <= cfg["max_year"]:
        raise ValueError(f"date {text!r}: year {y} out of range")
    try:
        return date(y, m, d).isoformat()
    except ValueError as e:
        raise ValueError(f"date {text!r}: {e}") from None


def _epoch_date(number: int, text: str) -> str:
    offset = timezone(timedelta(hours=lookups()["dates"]["epoch_utc_offset_hours"]))
    try:
        moment = datetime.fromtimestamp(number, tz=UTC).astimezone(offset)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"date {text!r}: epoch number out of range") from None
    return _checked_date(moment.year, moment.month, moment.day, text)


def parse_date(value: object) -> str | None:
    """An ISO YYYY-MM-DD date from the layouts Chinese sources use, epoch numbers included."""
    text = clean_text(value)
    if text is None:
        return None
    for pattern in _date_patterns():
        m = pattern.fullmatch(text)
        if m:
            return _checked_date(int(m["y"]), int(m["m"]), int(m["d"]), text)
    epoch = re.fullmatch(r"(\d{10}|\d{13})(?:\.0+)?", text)
    if epoch:
        digits = epoch[1]
        return _epoch_date(int(digits) // (1000 if len(digits) == 13 else 1), text)
    raise ValueError(f"date {text!r}: not a recognised date layout")


# --- amounts ----------------------------------------------------------------------------

_NUMBER_UNIT = re.compile(r"(?P<num>\d+(?:\.\d+)?)(?P<unit>\D*)")


def parse_amount_cny(value: object, unit_hint: str | None = None) -> float | None:
    """An amount in yuan; a bare number takes unit_hint (罚款金额（万元） says 万元)."""
    text = clean_text(value)
    if text is None:
        return None
    cfg = lookups()["amounts"]
    compact = _SPACES.sub("", text)
    if any(word.casefold() in compact.casefold() for word in cfg["foreign"]):
        raise ValueError(f"amount {text!r}: not in yuan")
    for noise in cfg["noise"]:
        compact = compact.replace(noise, "")
    m = _NUMBER_UNIT.fullmatch(compact)
    if not m:
        raise ValueError(f"amount {text!r}: not a number with a unit")
    unit = m["unit"].strip("()") or unit_hint or "元"  # 200(万元) as well as 200万元
    if unit not in cfg["units"]:
        raise ValueError(f"amount {text!r}: unknown unit {unit!r}")
    if len(m["num"].split(".")[0]) > 15:
        raise ValueError(f"amount {text!r}: implausibly large")
    try:
        yuan = round(Decimal(m["num"]) * Decimal(cfg["units"][unit]), 2)
    except InvalidOperation:
        raise ValueError(f"amount {text!r}: not a number") from None
    return float(yuan)


# --- enums ------------------------------------------------------------------------------


def _word_key(text: str) -> str:
    return _t2s().convert(_SPACES.sub("", unicodedata.normalize("NFKC", text))).casefold()


@cache
def _enum_table(table: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    try:
        spec = lookups()["enums"][table]
    except KeyError:
        raise KeyError(f"values.toml has no [enums.{table}]") from None
    return spec["default"], tuple((_word_key(w), v) for w, v in spec["words"])


def enum_value(value: object, table: str) -> str:
    """The enum word for a source value via [enums.<table>]: exact word, then first contained."""
    default, words = _enum_table(table)
    text = clean_text(value)
    if text is None:
        return default
    key = _word_key(text)
    exact = dict(reversed(words))
    if key in exact:
        return exact[key]
    return next((v for w, v in words if w in key), default)


def enum_matches(value: object, table: str) -> bool:
    """Whether any word of the table occurs in the value (so the default was not a guess)."""
    text = clean_text(value)
    if text is None:
        return False
    key = _word_key(text)
    return any(w in key for w, _ in _enum_table(table)[1])


# --- names and codes --------------------------------------------------------------------

# Brackets go too: 某某公司（南浦区分公司）, 某某公司(南浦区分公司) and 某某公司南浦区分公司 are one name.
_NOT_NAME_CHARS = re.compile(r"\W|_")


def _name_pre_key(name: object) -> str | None:
    text = clean_text(name)
    if text is None:
        return None
    key = _NOT_NAME_CHARS.sub("", unify_brackets(text).casefold())
    return key or None


def name_key(name: object) -> str | None:
    """The matching key of a name: NFKC, simplified; brackets, punctuation and spaces gone."""
    pre = _name_pre_key(name)
    return None if pre is None else _t2s().convert(pre)


def clean_uscc(raw: object) -> str | None:
    """The 统一社会信用代码 when it passes the GB 32100-2015 check, else None."""
    text = clean_text(raw)
    if text is None:
        return None
    code = re.sub(r"[\s\-]", "", text).upper()
    try:
        return stdnum_uscc.validate(code)
    except ValueError:  # stdnum's ValidationError is a ValueError
        return None


class CaseNumber(NamedTuple):
    year: int
    court_code: str
    case_type: str
    seq: int

    def __str__(self) -> str:
        return f"({self.year}){self.court_code}{self.case_type}{self.seq}号"


_CASE_NO = re.compile(
    r"\((?P<year>\d{4})\)(?P<court>最高法|[^\W\d_](?:\d{4}|\d{2})?)"
    r"(?P<type>[^\W\d_]{1,4}?)(?P<seq>\d+)号"
)


def parse_case_no(text: object) -> CaseNumber:
    """The parts of a 案号 such as (2024)苏0706民初1234号, ASCII or full-width brackets."""
    cleaned = clean_text(text)
    if cleaned is None:
        raise ValueError("case number is empty")
    compact = _SPACES.sub("", unify_brackets(cleaned))
    m = _CASE_NO.fullmatch(compact)
    if not m:
        raise ValueError(f"case number {cleaned!r}: not in the form (年份)法院代字+类型+序号号")
    return CaseNumber(int(m["year"]), m["court"], m["type"], int(m["seq"]))


def canonical_case_no(text: object) -> str | None:
    """The case number in one spelling (ASCII brackets, no spaces), even when it does not parse."""
    cleaned = clean_text(text)
    if cleaned is None:
        return None
    try:
        return str(parse_case_no(cleaned))
    except ValueError:
        return _SPACES.sub("", unify_brackets(cleaned))


# --- phones -----------------------------------------------------------------------------

_EXTENSION = re.compile(r"(转|分机|ext\.?|x|#).*$", re.IGNORECASE)


def normalize_phone(raw: object) -> str | None:
    """A mainland number in one digits-only form.

    Mobiles are 11 digits (13800000000); 400/800 numbers 10 digits (4001234567); landlines are
    the area code with its 0 followed by the local number (059961234567). +86 / 0086 and
    extensions are dropped. A landline without an area code is refused: it cannot be matched.
    """
    text = clean_text(raw)
    if text is None:
        return None
    digits = re.sub(r"\D", "", _EXTENSION.sub("", text))
    international = text.lstrip().startswith("+") or digits.startswith("0086")
    digits = digits.removeprefix("00") if digits.startswith("0086") else digits
    if international or (len(digits) == 13 and digits.startswith("861")):
        digits = digits.removeprefix("86")
        if international and digits and digits[0] not in "014":
            digits = "0" + digits  # +86 599 … is the landline 0599 …
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return digits
    if re.fullmatch(r"[48]00\d{7}", digits):
        return digits
    if re.fullmatch(r"0[1-9]\d{8,10}", digits):
        return digits
    raise ValueError(f"phone {text!r}: not a mainland mobile, 400/800 or area-coded number")


def split_phones(value: object) -> list[str]:
    """The separate numbers of a cell that lists several (0599-61234567；13800000000)."""
    return split_list(value, r"[;；、,，/|\n]+")


# --- whole columns ----------------------------------------------------------------------
# Keys, names and case numbers are nearly all distinct, so for them the per-value functions
# above run as pandas string operations over the column instead.


def keep_where(values: pd.Series, keep: pd.Series) -> pd.Series:
    """The values as an object column with None (not NaN) where keep is false."""
    out = values.astype(object).copy()
    out[~keep.to_numpy(dtype=bool)] = None
    return out


def clean_texts(values: pd.Series) -> pd.Series:
    """clean_text over a column (once per distinct value: most columns repeat a lot)."""
    return map_unique(values, clean_text)[0]


def display_texts(values: pd.Series) -> pd.Series:
    """display_text over a column."""
    return map_unique(values, display_text)[0]


def _unify_brackets_column(text: pd.Series) -> pd.Series:
    return text.str.replace(_OPEN, "(", regex=True).str.replace(_CLOSE, ")", regex=True)


def case_no_parts(values: pd.Series) -> pd.DataFrame:
    """parse_case_no over a column: year, court, type, seq (all None where it does not parse)."""
    compact = _unify_brackets_column(clean_texts(values)).str.replace(_SPACES, "", regex=True)
    return compact.str.extract(f"^{_CASE_NO.pattern}$").astype(object).assign(_compact=compact)


def canonical_case_nos(values: pd.Series) -> pd.Series:
    """canonical_case_no over a column."""
    parts = case_no_parts(values)
    seq = parts["seq"].map(lambda x: str(int(x)), na_action="ignore")
    built = "(" + parts["year"] + ")" + parts["court"] + parts["type"] + seq + "号"
    return keep_where(
        built.where(parts["year"].notna(), parts["_compact"]), parts["_compact"].notna()
    )


# --- once per distinct value ------------------------------------------------------------


def map_unique(values: pd.Series, parse: Callable[[Any], T]) -> tuple[pd.Series, pd.Series]:
    """parse applied once per distinct value: (results, error reasons), both aligned to values.

    A None or NaN cell gives (None, None) without calling parse.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results: list[Any] = []
    errors: list[str | None] = []
    for u in uniques:
        try:
            results.append(parse(u))
            errors.append(None)
        except ValueError as e:
            results.append(None)
            errors.append(str(e))
    results.append(None)
    errors.append(None)
    result_arr = np.empty(len(results), dtype=object)
    result_arr[:] = results
    error_arr = np.array(errors, dtype=object)
    return (
        pd.Series(result_arr[codes], index=values.index, dtype=object),
        pd.Series(error_arr[codes], index=values.index, dtype=object),
    )


def map_unique_pairs(
    values: pd.Series, hints: pd.Series, parse: Callable[[Any, Any], T]
) -> tuple[pd.Series, pd.Series]:
    """map_unique for a parser of two arguments (an amount and its unit hint)."""
    pairs = pd.Series(list(zip(values, hints, strict=True)), index=values.index, dtype=object)
    return map_unique(pairs, lambda pair: parse(*pair))


def name_keys(names: pd.Series) -> pd.Series:
    """name_key over a column, with one OpenCC call for all distinct names (the slow part)."""
    pre = map_unique(names, _name_pre_key)[0]
    codes, uniques = pd.factorize(pre, use_na_sentinel=True)
    if len(uniques) == 0:
        return pd.Series([None] * len(names), index=names.index, dtype=object)
    converted = _t2s().convert("\n".join(uniques)).split("\n")
    if len(converted) != len(uniques):  # a dictionary phrase swallowed a line break
        converted = [_t2s().convert(u) for u in uniques]
    arr = np.empty(len(converted) + 1, dtype=object)
    arr[:-1] = converted
    arr[-1] = None
    return pd.Series(arr[codes], index=names.index, dtype=object)
