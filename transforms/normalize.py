"""Normalize: raw JSONL items → one clean Parquet table per record type.

Each source's items go through the label mapping (transforms.labels), then every column through
its parser (transforms.values), chosen by the column's name: `*_on` and `publicity_end` are
dates, `*_cny` amounts, `uscc` a checked code, `name` gets a `name_key`, and the enum columns
below look their words up in values.toml. A record that cannot be used — no name and no code,
no usable key date, no usable phone number — goes to quarantine.jsonl with the reason; nothing
is dropped silently. Output is deterministic: rows sorted by record_id, columns in contract order.

record_id is `<source_id>:<key>` with the key of docs/architecture.md. A record without its key
gets `h<16 hex>` (a hash of its normalized content). The same key with the same content is a
duplicate and is dropped (and counted); the same key with different content — two debtors of one
case, two outfits behind one phone number — keeps both, each key suffixed with `#<8 hex>` of its
content.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from agencywatch.config import RECORD_TYPES, City, Source
from agencywatch.paths import CityPaths
from transforms import rawfile
from transforms import values as v
from transforms.frames import write_table
from transforms.labels import PROVENANCE, Canonical, canonical_table
from transforms.privacy import masked_items, masked_table
from transforms.rawfile import RawTable, table_from_items

ItemsAt = Callable[[list[int]], list[dict[str, Any]]]

COLUMNS: dict[str, tuple[str, ...]] = {
    "registration": (
        "uscc", "uscc_raw", "name", "name_key", "legal_rep", "registered_capital_cny",
        "established_on", "status", "address", "district", "business_scope", "authority",
    ),
    "filing": (
        "filing_no", "uscc", "uscc_raw", "name", "name_key", "filing_type", "issued_on",
        "expires_on", "issuer",
    ),
    "penalty": (
        "decision_no", "uscc", "uscc_raw", "name", "name_key", "violation", "penalty", "fine_cny",
        "decided_on", "publicity_end", "authority",
    ),
    "abnormal_listing": (
        "uscc", "uscc_raw", "name", "name_key", "list_type", "reason", "listed_on", "removed_on",
        "authority",
    ),
    "judgment": (
        "case_no", "court", "judged_on", "cause", "doc_type", "case_type", "parties", "charges",
        "outcome",
    ),
    "dishonest_debtor": (
        "case_no", "uscc", "uscc_raw", "name", "name_key", "court", "filed_on", "published_on",
        "obligation", "performance", "behaviour", "is_person",
    ),
    "complaint": (
        "complaint_id", "target_name", "name_key", "uscc", "uscc_raw", "filed_on", "category",
        "status", "platform", "title",
    ),
    "phone": (
        "number", "uscc", "uscc_raw", "name", "name_key", "kind", "source_note",
    ),
}  # fmt: skip

KEYS: dict[str, tuple[str, ...]] = {
    "registration": ("uscc",),
    "filing": ("filing_no",),
    "penalty": ("decision_no",),
    "abnormal_listing": ("uscc", "listed_on"),
    "judgment": ("case_no",),
    "dishonest_debtor": ("case_no",),
    "complaint": ("complaint_id",),
    "phone": ("number",),
}

# Each group needs at least one usable date, or the record cannot be placed in the window.
REQUIRED_DATES: dict[str, tuple[tuple[str, ...], ...]] = {
    "penalty": (("decided_on",),),
    "abnormal_listing": (("listed_on",),),
    "judgment": (("judged_on",),),
    "dishonest_debtor": (("published_on", "filed_on"),),
    "complaint": (("filed_on",),),
}

# (record type, column) → [enums.<table>] in values.toml
ENUMS: dict[tuple[str, str], str] = {
    ("registration", "status"): "registration_status",
    ("abnormal_listing", "list_type"): "list_type",
    ("complaint", "status"): "complaint_status",
    ("phone", "kind"): "phone_kind",
}

# Shown as published but left out of the content hash: spelling variants are one record.
_DISPLAY_ONLY = {"name", "target_name", "uscc_raw", "source_note"}
_NAME_COLUMNS = {"name", "target_name"}
FLOAT_COLUMNS = {"registered_capital_cny", "fine_cny"}
BOOL_COLUMNS = {"is_person"}


def output_columns(record_type: str) -> list[str]:
    """The clean table's columns in contract order: record_id, provenance, then the type's own."""
    return ["record_id", *PROVENANCE, *COLUMNS[record_type]]


def empty_table(record_type: str) -> pd.DataFrame:
    """A table with the right columns and dtypes and no rows (for types without a source)."""
    return _typed(pd.DataFrame({c: [] for c in output_columns(record_type)}), record_type)


def _typed(frame: pd.DataFrame, record_type: str) -> pd.DataFrame:
    out = frame.reindex(columns=output_columns(record_type))
    for column in out.columns:
        if column in FLOAT_COLUMNS:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
        elif column in BOOL_COLUMNS:
            out[column] = out[column].fillna(False).astype(bool)
        else:
            out[column] = _text(out[column])
    return out


def _text(values: pd.Series) -> pd.Series:
    """A column as pandas' str dtype, missing where None; text goes to Arrow in one step."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.na_value is np.nan:
        return values
    obj = values.astype(object)
    try:  # Arrow infers text (or nothing but missing values) where infer_dtype says so
        arrow = pa.array(obj.to_numpy(dtype=object), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arrow = None
    if arrow is None or arrow.type not in (pa.string(), pa.null()):
        return obj.where(obj.notna(), None).astype("str")
    arrow = arrow.cast(pa.string())
    return pd.Series(pd.array(arrow, dtype="str"), index=values.index, name=values.name)


# --- columns ----------------------------------------------------------------------------


class _Row:
    """What normalizing one source learns about its rows: problems and nulled values."""

    def __init__(self, index: pd.Index) -> None:
        self.problem = pd.Series(None, index=index, dtype=object)
        self.invalid_values = 0
        self.date_errors: dict[str, pd.Series] = {}  # column → why its dates did not parse

    def flag(self, mask: pd.Series, reasons: pd.Series | str) -> None:
        """Record a reason for rows that have none yet (the first problem is the one reported)."""
        new = mask & self.problem.isna()
        self.problem = self.problem.where(~new, reasons)


def _get(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column of the frame, or an all-None column when the source has no such field."""
    if column in frame:
        return frame[column]
    return pd.Series(None, index=frame.index, dtype=object)


def _is_date(column: str) -> bool:
    return column.endswith("_on") or column == "publicity_end"


def _column(column: str, record_type: str, raw: pd.DataFrame, hints: dict, row: _Row) -> pd.Series:
    """One typed column from its canonical raw column, chosen by the column's name."""
    values = _get(raw, column)
    if (record_type, column) in ENUMS:
        table = ENUMS[(record_type, column)]
        return v.map_unique(values, lambda x: v.enum_value(x, table))[0].fillna(
            v.enum_value(None, table)
        )
    if column in FLOAT_COLUMNS:
        default = v.lookups()["amounts"]["column_default_unit"].get(column)
        unit = hints.get(column, pd.Series(None, index=raw.index, dtype=object)).fillna(default)
        parsed, errors = v.map_unique_pairs(values, unit, v.parse_amount_cny)
    elif _is_date(column):
        parsed, errors = v.map_unique(values, v.parse_date)
        row.date_errors[column] = errors
    else:
        return v.display_texts(values)
    row.invalid_values += int(errors.notna().sum())
    return parsed


def _date_errors(raw: pd.DataFrame, column: str, row: _Row) -> pd.Series:
    if column in row.date_errors:
        return row.date_errors[column]
    return v.map_unique(_get(raw, column), v.parse_date)[1]


def _base_columns(record_type: str, raw: pd.DataFrame, hints: dict, row: _Row) -> pd.DataFrame:
    out = pd.DataFrame({c: raw[c] for c in PROVENANCE}, index=raw.index)
    for column in COLUMNS[record_type]:
        if column == "uscc":
            out["uscc_raw"] = v.clean_texts(_get(raw, "uscc"))
            out["uscc"] = v.clean_usccs(out["uscc_raw"])
        elif column == "name_key":
            source = "target_name" if "target_name" in COLUMNS[record_type] else "name"
            out["name_key"] = v.name_keys(out[source])
        elif column not in out:
            out[column] = _column(column, record_type, raw, hints, row)
    return out


def _require_dates(record_type: str, raw: pd.DataFrame, out: pd.DataFrame, row: _Row) -> None:
    for group in REQUIRED_DATES.get(record_type, ()):
        missing = pd.concat([out[c].isna() for c in group], axis=1).all(axis=1)
        errors = pd.concat([_date_errors(raw, c, row) for c in group], axis=1)
        errors = errors.bfill(axis=1).iloc[:, 0]
        reason = errors.where(errors.notna(), f"no usable {' or '.join(group)}")
        row.flag(missing, reason)


def _require_identity(record_type: str, out: pd.DataFrame, row: _Row) -> None:
    if record_type == "judgment":
        empty = out["case_no"].isna() & (out["parties"] == "[]")
        row.flag(empty, "no case number and no parties")
    else:
        no_code = out["uscc_raw"].isna() if "uscc_raw" in out else True
        row.flag(out["name_key"].isna() & no_code, "no name and no code")


# --- per record type --------------------------------------------------------------------


def _derive_filing(raw: pd.DataFrame, out: pd.DataFrame, source: Source, row: _Row) -> None:
    kind = _get(raw, "filing_type")
    kind = kind.where(v.clean_texts(kind).notna(), source.title)
    out["filing_type"] = v.map_unique(kind, lambda x: v.enum_value(x, "filing_type"))[0]


def _derive_judgment(raw: pd.DataFrame, out: pd.DataFrame, source: Source, row: _Row) -> None:
    out["case_no"] = v.canonical_case_nos(out["case_no"])
    out["case_type"] = _case_types(_get(raw, "case_kind"), out["case_no"])
    out["parties"] = v.map_unique(_get(raw, "parties"), _parties_json)[0].fillna("[]")
    out["charges"] = v.map_unique(_get(raw, "charges"), _charges_json)[0].fillna("[]")


def _case_types(kind: pd.Series, case_no: pd.Series) -> pd.Series:
    """From 案件类型 when it says something, else from the case number's type characters."""
    said = v.map_unique(kind, lambda x: v.enum_matches(x, "case_type"))[0].fillna(False)
    from_kind = v.map_unique(kind, lambda x: v.enum_value(x, "case_type"))[0]
    chars = v.case_no_parts(case_no)["type"]
    from_no = v.map_unique(chars, lambda x: v.enum_value(x, "case_type"))[0]
    from_no = from_no.fillna(v.enum_value(None, "case_type"))
    return from_kind.where(said.astype(bool), from_no)


_USCC_IN_TEXT = re.compile(r"(?:统一社会信用代码|社会信用代码|信用代码)\s*[:]?\s*([0-9A-Za-z]{18})")
_PARTY_NOTE = re.compile(r"\([^()]*(?:代码|住所|法定代表人|负责人|地址)[^()]*\)")


def parse_parties(text: object) -> list[dict[str, str | None]]:
    """当事人 text → [{name, role, uscc}]: `被告单位：X公司（统一社会信用代码：…）；被告人：张某`."""
    cleaned = v.clean_text(text)
    if cleaned is None:
        return []
    return [
        {"name": name, "role": role, "uscc": code}
        for segment in _party_separators().split(v.unify_brackets(cleaned))
        for name, role, code in _segment_parties(segment)
    ]


@functools.lru_cache(maxsize=1 << 16)
def _segment_parties(segment: str) -> tuple[tuple[str, str, str | None], ...]:
    """(name, role, code) of the parties one `role：names` segment names. Cached: a company
    or a plaintiff's segment recurs in many judgments."""
    role_word, sep, rest = segment.partition(":")
    if not sep:
        role_word, rest = "", segment
    code = _USCC_IN_TEXT.search(rest)
    names = v.split_list(_PARTY_NOTE.sub("", rest), r"[、,，]+")
    uscc = v.clean_uscc(code[1]) if code and len(names) == 1 else None
    return tuple((name, _party_role(role_word), uscc) for name in names)


@functools.cache
def _party_separators() -> re.Pattern[str]:
    return re.compile(v.lookups()["text"]["party_separators"])


@functools.lru_cache(maxsize=4096)
def _party_role(role_word: str) -> str:
    """The role a party's label says (the few labels repeat in every judgment)."""
    return v.enum_value(role_word, "party_role")


def _parties_json(text: object) -> str:
    return json.dumps(parse_parties(text), ensure_ascii=False)


def _charges_json(text: object) -> str:
    return json.dumps(v.split_list(text), ensure_ascii=False)


_CJK_NAME = re.compile(r"[\u3400-\u9fff·]{2,}")


def is_person(name: object, card: object, legal_rep: object = None) -> bool:
    """Whether a dishonest-debtor entry is a natural person (AgencyWatch only uses organisations).

    A masked card number (3301**********1234) is a person's ID; a name ending in an
    organisation suffix, a valid USCC or a legal representative mean an organisation; otherwise
    a short all-CJK name reads as a person.
    """
    card_text = v.clean_text(card) or ""
    if v.clean_uscc(card_text):
        return False
    if "*" in card_text:
        return True
    key = v.name_key(name) or ""
    cfg = v.lookups()["organisations"]
    if any(key.endswith(s) for s in cfg["suffixes"]) or v.clean_text(legal_rep):
        return False
    return bool(_CJK_NAME.fullmatch(key)) and len(key) <= cfg["person_name_max_chars"]


def _derive_dishonest(raw: pd.DataFrame, out: pd.DataFrame, source: Source, row: _Row) -> None:
    out["case_no"] = v.canonical_case_nos(out["case_no"])
    rep = _get(raw, "legal_rep")
    triples = pd.Series(list(zip(out["name"], out["uscc_raw"], rep, strict=True)), dtype=object)
    out["is_person"] = v.map_unique(triples.set_axis(out.index), lambda t: is_person(*t))[0]
    out["is_person"] = out["is_person"].astype(bool)
    # a person's (masked) ID number is not ours to republish
    out["uscc_raw"] = out["uscc_raw"].where(~out["is_person"], None)


def _categories(issue: pd.Series, title: pd.Series) -> pd.Series:
    """From 投诉问题 when its words say something, else from the title (each column parsed
    once per distinct value of its own)."""
    table = "complaint_category"
    said = v.map_unique(issue, lambda x: v.enum_matches(x, table))[0].fillna(False).astype(bool)
    from_issue = v.map_unique(issue, lambda x: v.enum_value(x, table))[0]
    if said.all():
        return from_issue.astype(object)
    from_title = v.enum_values(title[~said], table)  # only where the issue says nothing
    return from_issue.where(said, from_title.reindex(title.index)).astype(object)


def _derive_complaint(raw: pd.DataFrame, out: pd.DataFrame, source: Source, row: _Row) -> None:
    out["category"] = _categories(_get(raw, "issue"), out["title"])
    out["platform"] = out["platform"].fillna(source.title)


def _derive_phone(raw: pd.DataFrame, out: pd.DataFrame, source: Source, row: _Row) -> None:
    numbers, errors = v.map_unique(out["number"], v.normalize_phone)
    row.flag(errors.notna(), errors)
    row.flag(numbers.isna(), "no phone number")
    out["number"] = numbers


_DERIVE: dict[str, Callable[[pd.DataFrame, pd.DataFrame, Source, _Row], None]] = {
    "filing": _derive_filing,
    "judgment": _derive_judgment,
    "dishonest_debtor": _derive_dishonest,
    "complaint": _derive_complaint,
    "phone": _derive_phone,
}


# --- record ids and duplicates ----------------------------------------------------------


def _content_hash(frame: pd.DataFrame, record_type: str) -> pd.Series:
    """sha256 of a record's normalized content (provenance and display spellings left out)."""
    columns = [c for c in COLUMNS[record_type] if c not in _DISPLAY_ONLY]
    joined = pd.Series("", index=frame.index, dtype=object)
    for column in columns:
        text = frame[column].astype(object).where(frame[column].notna(), "\x00").astype(str)
        joined = joined + "\x1f" + text
    return v.map_unique(joined, lambda s: hashlib.sha256(s.encode("utf-8")).hexdigest())[0]


def _compact_key(text: str) -> str:
    """A free-text key in one spelling: NFKC, no white space."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def _key(frame: pd.DataFrame, record_type: str) -> pd.Series:
    parts = [frame[c].astype(object) for c in KEYS[record_type]]
    present = np.logical_and.reduce([p.notna().to_numpy() for p in parts])
    joined = _strings(parts[0].where(parts[0].notna(), ""))
    for part in parts[1:]:
        joined = joined + ":" + _strings(part.where(part.notna(), ""))
    if record_type in ("penalty", "filing", "complaint"):  # free text: one spelling for keys
        # text of characters that are their own NFKC form and no space is its own key
        joined = v.map_unless_plain(joined, _compact_key, v.own_nfkc_rows(joined))
    return joined.where(present & (joined != "").to_numpy(), None).astype(object)


def _strings(values: pd.Series) -> pd.Series:
    """An object column as str objects (as astype(str) writes them), without a round trip."""
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values.astype(object)
    return values.astype(str).astype(object)


def with_record_ids(frame: pd.DataFrame, record_type: str) -> tuple[pd.DataFrame, int]:
    """Rows with record_id set, exact duplicates dropped; returns (rows, duplicates dropped).

    The content hash is computed only where it decides something: rows without a key, and rows
    whose key is shared by another row.
    """
    if frame.empty:
        return frame.assign(record_id=pd.Series(dtype=object)), 0
    key = _key(frame, record_type)
    needs_digest = key.isna() | key.duplicated(keep=False)
    digest = pd.Series("", index=frame.index, dtype=object)
    if needs_digest.any():
        digest[needs_digest] = _content_hash(frame[needs_digest], record_type)
    missing = key.isna()
    if missing.any():
        key = key.copy()
        key[missing] = "h" + digest[missing].str[:16]
    # Rows in (key, digest, url, place) order, the first of each (key, digest) kept: the order
    # is found on those four columns and the rows are taken once, at the end.
    by = pd.DataFrame({"_key": key.to_numpy(dtype=object), "_digest": digest.to_numpy(dtype=object),
                       "url": frame["url"].array, "place": frame["place"].array})  # fmt: skip
    order = _order(by, ["_key", "_digest", "url", "place"])
    keys, digests = by["_key"].to_numpy()[order], by["_digest"].to_numpy()[order]
    first = np.ones(len(order), dtype=bool)  # equal (key, digest) pairs sit side by side
    first[1:] = (keys[1:] != keys[:-1]) | (digests[1:] != digests[:-1])
    kept, keys, digests = order[first], keys[first], digests[first]
    clash = np.zeros(len(kept), dtype=bool)  # a key kept twice: each gets its digest
    clash[1:] = keys[1:] == keys[:-1]
    clash[:-1] |= clash[1:].copy()
    suffixed = keys.copy()
    suffixed[clash] = keys[clash] + "#" + np.array([d[:8] for d in digests[clash]], dtype=object)
    unique = frame.take(kept)
    ids = _strings(unique["source_id"]).to_numpy() + ":" + suffixed
    result = unique.assign(record_id=pd.Series(ids, index=unique.index, dtype=object))
    return result, len(frame) - len(unique)


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """frame.sort_values(by, kind="stable", na_position="last"), text columns sorted by Arrow.

    Arrow's stable sort orders UTF-8 bytewise, which is Python's order of str; columns that
    are not all text go to pandas.
    """
    order = _order(frame, by)
    if np.array_equal(order, np.arange(len(frame))):  # already in order: no copy of every column
        return frame
    return frame.take(order)


def _order(frame: pd.DataFrame, by: list[str]) -> np.ndarray:
    """The row positions _sorted puts the frame's rows in."""
    try:
        table = pa.table({c: pa.array(frame[c], type=pa.string(), from_pandas=True) for c in by})
    except (pa.ArrowException, UnicodeError):
        keys = frame[by].reset_index(drop=True)
        return keys.sort_values(by, kind="stable", na_position="last").index.to_numpy()
    return pc.sort_indices(table, sort_keys=[(c, "ascending", "at_end") for c in by]).to_numpy()


# --- one source -------------------------------------------------------------------------


def _quarantine_records(
    items_at: ItemsAt, source: Source, problem: pd.Series
) -> list[dict[str, Any]]:
    rows = [int(i) for i in problem.index[problem.notna()]]
    return [
        {
            "source_id": item.get("source_id") or source.id,
            "place": item.get("place"),
            "url": item.get("url"),
            "reason": problem[i],
            "fields": item.get("fields", {}),
        }
        for i, item in zip(rows, items_at(rows), strict=True)
    ]


def normalize_items(
    items: list[dict[str, Any]], source: Source, city: City | None = None
) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, int]]:
    """One source's raw items → (clean rows, quarantine records, counts)."""
    table = table_from_items(items)
    return normalize_table(table, source, city, table.items_at)


def normalize_table(
    table: RawTable, source: Source, city: City | None, items_at: ItemsAt
) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, int]]:
    """normalize_items over a parsed raw file; items_at(rows) gives the items quarantine shows."""
    mapped = canonical_table(table, source.record_type, city)
    kept, quarantined, counts, _ = _normalized(mapped, source, items_at)
    return _typed(kept, source.record_type), quarantined, counts


def _normalized(
    mapped: Canonical, source: Source, items_at: ItemsAt
) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, int], pd.DataFrame]:
    """(kept rows untyped, quarantine records, counts, every row's parsed columns)."""
    record_type = source.record_type
    raw = mapped.frame.copy()
    raw["source_id"] = raw["source_id"].fillna(source.id)
    raw["record_type"] = record_type
    row = _Row(raw.index)
    out = _base_columns(record_type, raw, mapped.unit_hints, row)
    if record_type in _DERIVE:
        _DERIVE[record_type](raw, out, source, row)
    _require_identity(record_type, out, row)
    _require_dates(record_type, raw, out, row)
    quarantined = _quarantine_records(items_at, source, row.problem)
    kept, duplicates = with_record_ids(out[row.problem.isna()], record_type)
    counts = {
        "rows": len(kept),
        "quarantined": len(quarantined),
        "duplicates": duplicates,
        "invalid_values": row.invalid_values,
        "unmapped_labels": len(mapped.unmapped),
    }
    return kept, quarantined, counts, out


def phones_from_complaints(
    items: list[dict[str, Any]], source: Source, city: City | None
) -> pd.DataFrame:
    """Numbers that called complainants, as `reported` phone rows (one per number and target).

    The phone-number lookup answers "is this number legitimate?"; the numbers people complain
    about are the evidence for that, so they are kept beside the numbers agencies publish.
    """
    return _phones(canonical_table(table_from_items(items), "complaint", city).frame, source)


def _phones(
    raw: pd.DataFrame, source: Source, complaints: pd.DataFrame | None = None
) -> pd.DataFrame:
    """phones_from_complaints over the complaints' canonical frame; `complaints`, the same
    rows as normalized complaints, lends its codes, names and name keys.

    One row per number and name key, taken from the first of its complaints in the order of
    (number, complaint id, url, place); only that order's keys are sorted, and only each
    group's first complaint is taken in full.
    """
    if "phone" not in raw:
        return empty_table("phone")
    if complaints is None:
        complaints = pd.DataFrame(index=raw.index)
        complaints["uscc_raw"] = v.clean_texts(_get(raw, "uscc"))
        complaints["uscc"] = v.clean_usccs(complaints["uscc_raw"])
        complaints["target_name"] = v.display_texts(_get(raw, "target_name"))
        complaints["name_key"] = v.name_keys(complaints["target_name"])
    rows, numbers = v.phone_number_rows(raw["phone"])
    if not len(rows):
        return empty_table("phone")
    complaint_ids = v.clean_texts(_get(raw, "complaint_id")).fillna("?").to_numpy(dtype=object)
    keys = pd.DataFrame({"number": numbers, "_sn": complaint_ids[rows],
                         "url": raw["url"].iloc[rows].to_numpy(),
                         "place": raw["place"].iloc[rows].to_numpy(), "_row": rows})  # fmt: skip
    keys = _sorted(keys, ["number", "_sn", "url", "place"])
    at = keys["_row"].to_numpy()
    group = pd.DataFrame({"number": keys["number"].to_numpy(),
                          "name_key": complaints["name_key"].to_numpy()[at]})  # fmt: skip
    ids = group.groupby(["number", "name_key"], dropna=False, sort=False).ngroup().to_numpy()
    first = np.unique(ids, return_index=True)[1]  # group ids count in order of appearance
    # one complaint may give the code when another about the same outfit does not
    codes = pd.DataFrame({"_g": ids, "uscc_raw": complaints["uscc_raw"].to_numpy()[at],
                          "uscc": complaints["uscc"].to_numpy()[at]}).groupby("_g").first()  # fmt: skip
    taken = raw[list(PROVENANCE)].iloc[at[first]].reset_index(drop=True)
    frame = taken.assign(
        source_id=taken["source_id"].fillna(source.id),
        record_type="phone",
        number=keys["number"].to_numpy()[first],
        name=complaints["target_name"].to_numpy()[at[first]],
        name_key=group["name_key"].to_numpy()[first],
        uscc_raw=codes["uscc_raw"].to_numpy(),
        uscc=codes["uscc"].to_numpy(),
        kind="reported",
        source_note=_complaint_notes(ids, keys["_sn"].to_numpy()),
    )
    kept, _ = with_record_ids(frame, "phone")
    return _typed(kept, "phone")


def _complaint_notes(groups: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Per group (numbered in order of first appearance): 投诉 and its first 20 complaint ids,
    sorted, each once.

    The ids arrive sorted within each group (the rows are in complaint-id order within each
    number), so a stable grouping keeps them sorted and repeats sit side by side.
    """
    order = np.argsort(groups, kind="stable")
    g, sn = groups[order], ids[order]
    new = np.ones(len(g), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (sn[1:] != sn[:-1])
    g, sn = g[new], sn[new]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    rank = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    g, sn = g[rank < 20], sn[rank < 20].tolist()
    bounds = np.r_[np.flatnonzero(np.r_[True, g[1:] != g[:-1]]), len(g)].tolist()
    notes = ["投诉 " + "; ".join(sn[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return np.array(notes, dtype=object)


# --- the stage --------------------------------------------------------------------------


def _write_quarantine(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


def _write_table(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    write_table(frame, tmp)
    tmp.replace(path)


def run(city: City, paths: CityPaths) -> dict[str, Any]:
    """Normalize every source that has a raw file; write clean/<type>.parquet and quarantine.jsonl.

    Every record type gets a table (empty when no source feeds it) so later stages can rely on
    the files. Returns {"sources": {id: {rows, quarantined, duplicates, …}}, "tables": {type: rows}}.
    """
    tables: dict[str, list[pd.DataFrame]] = {rt: [] for rt in RECORD_TYPES}
    quarantine: list[dict[str, Any]] = []
    sources: dict[str, dict[str, int]] = {}
    for source in city.sources:
        raw_file = paths.raw / f"{source.id}.jsonl"
        if not raw_file.exists():
            continue
        table = rawfile.load(raw_file, rawfile.parsed_dir(paths))  # the raw gate's parse
        masked = masked_table(table, city)  # personal numbers stop here
        mapped = canonical_table(masked, source.record_type, city)
        clean, quarantined, counts, parsed = _normalized(
            mapped, source, lambda rows, t=table: masked_items(t.items_at(rows), city)
        )
        tables[source.record_type].append(clean)
        if source.record_type == "complaint":
            tables["phone"].append(_phones(mapped.frame, source, parsed))
        quarantine += masked_items(table.unreadable) + quarantined
        counts["quarantined"] += len(table.unreadable)
        sources[source.id] = counts
    summary: dict[str, int] = {}
    for record_type, parts in tables.items():
        frame = _combined(record_type, parts)
        _write_table(paths.clean / f"{record_type}.parquet", frame)
        summary[record_type] = len(frame)
    _write_quarantine(paths.quarantine, quarantine)
    return {"sources": sources, "tables": summary}


def _combined(record_type: str, parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if not p.empty]
    if not parts:
        return empty_table(record_type)
    frame = _typed(pd.concat(parts, ignore_index=True), record_type)  # Arrow text sorts as is
    return _sorted(frame, ["record_id"]).reset_index(drop=True)
