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
from functools import cache, lru_cache
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


@cache
def _longest_marker() -> int:
    return max(map(len, _empty_markers()), default=0)


def clean_text(value: object) -> str | None:
    """The value as NFKC text without outer spaces, or None when it is an empty marker."""
    if value.__class__ is not str:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return None
        value = str(value)
    text = unicodedata.normalize("NFKC", value).strip()
    # Case folding never shortens text, so a text longer than every marker without a space
    # inside cannot be one; str.split() splits where the regex's \s matches.
    if len(text) > _longest_marker() and len(text.split(None, 1)) == 1:
        return text
    if "".join(text.split()).casefold() in _empty_markers():
        return None
    return text


def display_text(value: object) -> str | None:
    """Like clean_text but keeps the source's own characters (names are shown as published)."""
    if clean_text(value) is None:
        return None
    return " ".join(str(value).split())  # white space runs as one space, none at the ends


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


_EPOCH = re.compile(r"(\d{10}|\d{13})(?:\.0+)?")


def parse_date(value: object) -> str | None:
    """An ISO YYYY-MM-DD date from the layouts Chinese sources use, epoch numbers included."""
    text = clean_text(value)
    if text is None:
        return None
    for pattern in _date_patterns():
        m = pattern.fullmatch(text)
        if m:
            return _checked_date(int(m["y"]), int(m["m"]), int(m["d"]), text)
    epoch = _EPOCH.fullmatch(text)
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


@lru_cache(maxsize=1 << 16)
def _word_key(text: str) -> str:
    """Text as enum words are compared: NFKC, simplified, lower case, no spaces (cached: role
    words and statuses repeat, and the OpenCC call is the dear part)."""
    return _t2s().convert(_SPACES.sub("", unicodedata.normalize("NFKC", text))).casefold()


@cache
def _enum_table(table: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    try:
        spec = lookups()["enums"][table]
    except KeyError:
        raise KeyError(f"values.toml has no [enums.{table}]") from None
    return spec["default"], tuple((_word_key(w), v) for w, v in spec["words"])


@cache
def _enum_exact(table: str) -> dict[str, str]:
    """Word → enum value; the first listing of a word wins."""
    return dict(reversed(_enum_table(table)[1]))


def enum_value(value: object, table: str) -> str:
    """The enum word for a source value via [enums.<table>]: exact word, then first contained."""
    default, words = _enum_table(table)
    text = clean_text(value)
    if text is None:
        return default
    key = _word_key(text)
    exact = _enum_exact(table)
    if key in exact:
        return exact[key]
    return next((v for w, v in words if w in key), default)


def enum_values(values: pd.Series, table: str) -> pd.Series:
    """enum_value over a column: the word keys of all distinct values in one OpenCC call."""
    default, words = _enum_table(table)
    exact = _enum_exact(table)
    cleaned = map_unique(values, clean_text)[0]
    codes, uniques = pd.factorize(cleaned, use_na_sentinel=True)
    found = [
        exact[key] if key in exact else next((v for w, v in words if w in key), default)
        for key in _word_keys(list(uniques))
    ]
    return pd.Series(_object_array([*found, default])[codes], index=values.index, dtype=object)


def _word_keys(texts: list[str]) -> list[str]:
    """_word_key of each text; the OpenCC conversion runs once over all of them."""
    folded = [_SPACES.sub("", unicodedata.normalize("NFKC", t)) for t in texts]
    converted = _t2s().convert("\n".join(folded)).split("\n") if folded else []
    if len(converted) != len(folded):  # a dictionary phrase swallowed a line break
        converted = [_t2s().convert(t) for t in folded]
    return [c.casefold() for c in converted]


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


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_PLAIN = re.compile(r"[0-9]{8}[0-9A-HJ-NPQRTUWXY]{10}")


def clean_uscc(raw: object) -> str | None:
    """The 统一社会信用代码 when it passes the GB 32100-2015 check, else None."""
    text = clean_text(raw)
    if text is None:
        return None
    code = re.sub(r"[\s\-]", "", text).upper()
    if _USCC_PLAIN.fullmatch(code):  # the usual case: stdnum's checks, without its clean-up
        total = sum(_USCC_VALUES[c] * w for c, w in zip(code, _USCC_WEIGHTS, strict=False))
        return code if code[-1] == _USCC_ALPHABET[(31 - total) % 31] else None
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
_NOT_DIGIT = re.compile(r"\D")
# a mobile, a 400/800 number, or a landline with its area code
_PHONE_FORMS = re.compile(r"1[3-9]\d{9}|[48]00\d{7}|0[1-9]\d{8,10}")


def normalize_phone(raw: object) -> str | None:
    """A mainland number in one digits-only form.

    Mobiles are 11 digits (13800000000); 400/800 numbers 10 digits (4001234567); landlines are
    the area code with its 0 followed by the local number (059961234567). +86 / 0086 and
    extensions are dropped. A landline without an area code is refused: it cannot be matched.
    """
    text = clean_text(raw)
    if text is None:
        return None
    digits = _NOT_DIGIT.sub("", _EXTENSION.sub("", text))
    international = text.lstrip().startswith("+") or digits.startswith("0086")
    digits = digits.removeprefix("00") if digits.startswith("0086") else digits
    if international or (len(digits) == 13 and digits.startswith("861")):
        digits = digits.removeprefix("86")
        if international and digits and digits[0] not in "014":
            digits = "0" + digits  # +86 599 … is the landline 0599 …
    if _PHONE_FORMS.fullmatch(digits):
        return digits
    raise ValueError(f"phone {text!r}: not a mainland mobile, 400/800 or area-coded number")


def phone_numbers(values: pd.Series) -> pd.Series:
    """Per cell, the numbers normalize_phone accepts among split_phones' parts (others left out)."""
    rows, numbers = phone_number_rows(values)
    out: list[list[str]] = [[] for _ in range(len(values))]
    for row, number in zip(rows.tolist(), numbers.tolist(), strict=True):
        out[row].append(number)
    return pd.Series(_object_array(out), index=values.index, dtype=object)


def phone_number_rows(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """phone_numbers flattened: (row position, number) for every number found, in row order
    and, within a row, in the order of its parts.

    A cell of ASCII digits, brackets and dashes only, longer than any empty marker, is one part
    that reads the same in pyarrow: its digits, kept when they make a mobile, 400/800 or
    area-coded number. Cells that may carry a country code, an extension or several numbers go
    through the parsers.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    simple = _matching_rows(values, rf"^[0-9()\-]{{{_longest_marker() + 1},}}$")
    rows, numbers = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=object)]
    if simple.any():
        text = pa.array(values[simple], type=pa.string(), from_pandas=True)
        digits = pc.replace_substring_regex(text, r"[^0-9]", "")
        coded = pc.or_(pc.starts_with(digits, "86"), pc.starts_with(digits, "0086"))
        local = ~coded.to_numpy(zero_copy_only=False)
        valid = pc.match_substring_regex(digits, f"^(?:{_PHONE_FORMS.pattern})$")
        kept = local & valid.to_numpy(zero_copy_only=False)
        at = np.flatnonzero(simple)
        rows.append(at[kept])
        numbers.append(digits.to_numpy(zero_copy_only=False)[kept])
        simple[at[~local]] = False
    rest = np.flatnonzero(~simple)
    if len(rest):
        parsed = [n or [] for n in map_unique(values.iloc[rest], _phone_numbers)[0].tolist()]
        counts = np.fromiter(map(len, parsed), dtype=np.int64, count=len(parsed))
        rows.append(np.repeat(rest, counts))
        numbers.append(_object_array([n for found in parsed for n in found]))
    row, number = np.concatenate(rows), np.concatenate(numbers)
    order = np.argsort(row, kind="stable")  # a row is simple or not: its parts stay in order
    return row[order], number[order]


def _object_array(items: list[Any]) -> np.ndarray:
    """A 1-d object array of the items, lists included as elements."""
    return np.fromiter(items, dtype=object, count=len(items))


def _phone_numbers(cell: object) -> list[str]:
    """phone_numbers of one cell, by the parsers."""
    numbers = []
    for part in split_phones(cell):
        try:
            number = normalize_phone(part)
        except ValueError:
            continue
        if number is not None:
            numbers.append(number)
    return numbers


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


# Characters that are their own NFKC form and no white space (tests check this against
# unicodedata): printable ASCII, CJK punctuation and brackets, CJK ideographs. Full-width forms
# are no white space either and fold to one printable ASCII character each. In RE2 syntax.
_OWN_NFKC = (
    r"\x21-\x7e"  # printable ASCII
    r"\x{3001}-\x{3003}\x{3008}-\x{3011}\x{3014}-\x{301b}"  # 、。〃 〈〉《》「」『』【】 〔〕〖〗〘〙〚〛
    r"\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}"  # CJK ideographs
)
_FULL_WIDTH = r"\x{ff01}-\x{ff5e}"


def _plain_rows(values: pd.Series, chars: str) -> np.ndarray:
    """Rows whose text is longer than any empty marker and made only of `chars`.

    Such text is no empty marker (NFKC keeps its length and adds no space, case folding never
    shortens), and has no white space to trim or collapse: the cleaners would return it as is.
    """
    return _matching_rows(values, f"^[{chars}]{{{_longest_marker() + 1},}}$")


def _matching_rows(values: pd.Series, pattern: str) -> np.ndarray:
    """Rows whose text matches an RE2 pattern (pyarrow); none when the column is not all text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pd.api.types.infer_dtype(values, skipna=True) != "string":
        return np.zeros(len(values), dtype=bool)
    try:
        text = pa.array(values, type=pa.string(), from_pandas=True)
    except (UnicodeError, pa.ArrowException):  # lone surrogates: the per-value path copes
        return np.zeros(len(values), dtype=bool)
    return pc.match_substring_regex(text, pattern).fill_null(False).to_numpy(zero_copy_only=False)


def own_nfkc_rows(values: pd.Series) -> np.ndarray:
    """Rows whose text NFKC leaves as it is and that hold no white space (nor is an empty
    marker): a per-value text function that only normalizes and drops spaces can skip them."""
    return _plain_rows(values, _OWN_NFKC)


def map_unless_plain(
    values: pd.Series, parse: Callable[[Any], Any], plain: np.ndarray
) -> pd.Series:
    """parse over the rows that are not plain (once per distinct value); plain rows keep
    their text. An object column comes back."""
    if not plain.any():
        return map_unique(values, parse)[0]
    out = pd.Series(values.to_numpy(dtype=object), index=values.index, dtype=object)
    rest = ~plain
    if rest.any():
        out[rest] = map_unique(values[rest], parse)[0].to_numpy()
    return out


_USCC_CHECK_TABLE = np.full(256, 0, dtype=np.int64)
_USCC_CHECK_TABLE[[ord(c) for c in _USCC_ALPHABET]] = np.arange(len(_USCC_ALPHABET))


def clean_usccs(values: pd.Series) -> pd.Series:
    """clean_uscc over a column: codes already in plain form are checked all at once."""
    plain = _matching_rows(values, f"^{_USCC_PLAIN.pattern}$")
    out = map_unless_plain(values, clean_uscc, plain)
    if plain.any():
        codes = out[plain].to_numpy(dtype=object)
        digits = np.frombuffer("".join(codes).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
        total = _USCC_CHECK_TABLE[digits[:, :17]] @ np.array(_USCC_WEIGHTS, dtype=np.int64)
        alphabet = np.frombuffer(_USCC_ALPHABET.encode("ascii"), dtype=np.uint8)
        valid = alphabet[(31 - total) % 31] == digits[:, 17]
        out[plain] = np.where(valid, codes, None)
    return out


def clean_texts(values: pd.Series) -> pd.Series:
    """clean_text over a column (once per distinct value: most columns repeat a lot)."""
    return map_unless_plain(values, clean_text, own_nfkc_rows(values))


def display_texts(values: pd.Series) -> pd.Series:
    """display_text over a column; Arrow-backed text comes back Arrow-backed (missing as NaN)."""
    plain = _plain_rows(values, _OWN_NFKC + _FULL_WIDTH)
    if not isinstance(values.dtype, pd.StringDtype) or not plain.any():
        return map_unless_plain(values, display_text, plain)
    out = values.copy()
    rest = ~plain
    if rest.any():
        out[rest] = map_unique(values[rest], display_text)[0].to_numpy()
    return out


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
    if isinstance(uniques, pd.Index):  # a Series' uniques come as an Index
        uniques = uniques.array
    if isinstance(uniques, pd.api.extensions.ExtensionArray):  # Arrow text: one conversion,
        uniques = uniques.to_numpy(dtype=object)  # not an Arrow scalar per value
    results, errors = _parsed(uniques, parse)
    # fromiter keeps list results (split_list) as elements rather than reading them as rows
    result_arr = np.fromiter([*results, None], dtype=object, count=len(results) + 1)
    error_arr = np.array([*errors, None], dtype=object)
    return (
        pd.Series(result_arr[codes], index=values.index, dtype=object),
        pd.Series(error_arr[codes], index=values.index, dtype=object),
    )


def _parsed(uniques: Any, parse: Callable[[Any], T]) -> tuple[list[Any], list[str | None]]:
    """(results, error reasons) of parse over values, None for a value it refused.

    parse runs over the values in C (map) and only a refusal costs Python bookkeeping: the
    refused value was taken from the iterator, so mapping goes on with the next one.
    """
    results: list[Any] = []
    refused: dict[int, str] = {}
    rest = iter(uniques)
    while True:
        try:
            results.extend(map(parse, rest))
            break
        except ValueError as e:
            refused[len(results)] = str(e)
            results.append(None)
    errors: list[str | None] = [None] * len(results)
    for i, reason in refused.items():
        errors[i] = reason
    return results, errors


def map_unique_pairs(
    values: pd.Series, hints: pd.Series, parse: Callable[[Any, Any], T]
) -> tuple[pd.Series, pd.Series]:
    """map_unique for a parser of two arguments (an amount and its unit hint)."""
    pairs = pd.Series(list(zip(values, hints, strict=True)), index=values.index, dtype=object)
    return map_unique(pairs, lambda pair: parse(*pair))


# CJK ideographs: their own NFKC and case fold, word characters, no brackets (RE2 syntax).
_IDEOGRAPHS = r"\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}"


def name_keys(names: pd.Series) -> pd.Series:
    """name_key over a column, with one OpenCC call for all distinct names (the slow part).

    A name made of CJK ideographs only, longer than any empty marker (most company names),
    is its own pre-key: nothing to fold, unify or strip.
    """
    pre = map_unless_plain(names, _name_pre_key, _plain_rows(names, _IDEOGRAPHS))
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
