"""Entity resolution: which agency each clean record is about.

A record is linked only on evidence that cannot point at the wrong company: a validated 统一社会
信用代码, or a normalized name that exactly one agency carries. A name shared by two agencies is
left unlinked (a coin toss would put one company's penalty on another's page), natural persons
are never linked, and nothing is matched fuzzily here. Organisations that appear in the records
but in no registration become unverified agencies, so their records are not lost.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections import Counter
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from agencywatch.config import RECORD_TYPES, City
from agencywatch.paths import CityPaths
from transforms import corrections, values
from transforms.frames import (
    isin,
    large_text,
    lookup_join,
    lookup_positions,
    sort_order,
    sorted_rows,
    write_table,
)

LOOKUPS_PATH = Path(__file__).with_name("lookups") / "scoring.toml"

PROVENANCE = [
    "record_id",
    "source_id",
    "record_type",
    "url",
    "fetched_at",
    "content_sha256",
    "place",
]
CLEAN_COLUMNS: dict[str, list[str]] = {
    "registration": [
        "uscc",
        "uscc_raw",
        "name",
        "name_key",
        "legal_rep",
        "registered_capital_cny",
        "established_on",
        "status",
        "address",
        "district",
        "business_scope",
        "authority",
    ],
    "filing": [
        "filing_no",
        "uscc",
        "uscc_raw",
        "name",
        "name_key",
        "filing_type",
        "issued_on",
        "expires_on",
        "issuer",
    ],
    "penalty": [
        "decision_no",
        "uscc",
        "uscc_raw",
        "name",
        "name_key",
        "violation",
        "penalty",
        "fine_cny",
        "decided_on",
        "publicity_end",
        "authority",
    ],
    "abnormal_listing": [
        "uscc",
        "uscc_raw",
        "name",
        "name_key",
        "list_type",
        "reason",
        "listed_on",
        "removed_on",
        "authority",
    ],
    "judgment": [
        "case_no",
        "court",
        "judged_on",
        "cause",
        "doc_type",
        "case_type",
        "parties",
        "charges",
        "outcome",
    ],
    "dishonest_debtor": [
        "case_no",
        "uscc",
        "uscc_raw",
        "name",
        "name_key",
        "court",
        "filed_on",
        "published_on",
        "obligation",
        "performance",
        "behaviour",
        "is_person",
    ],
    "complaint": [
        "complaint_id",
        "target_name",
        "name_key",
        "uscc",
        "uscc_raw",
        "filed_on",
        "category",
        "status",
        "platform",
        "title",
    ],
    "phone": ["number", "uscc", "uscc_raw", "name", "name_key", "kind", "source_note"],
}

AGENCY_COLUMNS = [
    "agency_id",
    "uscc",
    "name",
    "name_key",
    "verified",
    "registered",
    "status",
    "district",
    "address",
    "legal_rep",
    "established_on",
    "registered_capital_cny",
    "business_scope",
    "parent_id",
]
EVENT_COLUMNS = [
    "record_id",
    "agency_id",
    "record_type",
    "match_method",
    "event_date",
    "category",
    "summary_zh",
    "summary_en",
    "source_id",
    "url",
    "fetched_at",
    "content_sha256",
    "publicity_end",
    "first_seen",
    "last_seen",
    "withdrawn_on",
]
UNLINKED_COLUMNS = ["record_id", "record_type", "name", "reason"]
CANDIDATE_COLUMNS = [
    "record_id",
    "record_type",
    "name",
    "agency_id",
    "agency_name",
    "similarity",
    "unlinked_reason",
]
WITHDRAWABLE = ("filing", "penalty", "abnormal_listing", "judgment", "dishonest_debtor",
                "complaint", "phone")  # fmt: skip
MENTION_COLUMNS = [
    "record_id",
    "record_type",
    "name",
    "name_key",
    "uscc",
    "is_person",
    "fetched_at",
]


@cache
def lookups() -> dict[str, Any]:
    """scoring.toml, shared with the scorer and the method page."""
    with LOOKUPS_PATH.open("rb") as f:
        return tomllib.load(f)


# --- reading ----------------------------------------------------------------------------------


def read_clean(paths: CityPaths, record_type: str) -> pd.DataFrame:
    """One clean table, newest fetch first, one row per record_id; empty if the source is absent.

    A missing table means the source gave nothing this run (the gates decide whether that is
    acceptable), so resolution still runs on the others.
    """
    columns = PROVENANCE + CLEAN_COLUMNS[record_type]
    path = paths.clean / f"{record_type}.parquet"
    df = pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=columns)
    for col in columns:
        if col not in df.columns:
            df[col] = None
    df = sorted_rows(df, ["fetched_at", "record_id"], descending=["fetched_at"])
    return df.drop_duplicates("record_id").reset_index(drop=True)


def records_path(paths: CityPaths, record_type: str) -> Path:
    """resolved/records/<type>.parquet: every record the sources gave, withdrawn ones included."""
    return paths.resolved / "records" / f"{record_type}.parquet"


def read_records(
    paths: CityPaths, record_type: str, columns: list[str] | None = None
) -> pd.DataFrame:
    """The records resolve last worked on (with `withdrawn_on`); the clean table before that.

    `columns` reads only those (a reader that needs a few columns of wide text tables saves
    most of the reading); a column the file lacks comes back empty either way.
    """
    path = records_path(paths, record_type)
    if not path.exists():
        df = read_clean(paths, record_type).assign(withdrawn_on=None)
        return df if columns is None else df[columns]
    wanted = columns or [*PROVENANCE, *CLEAN_COLUMNS[record_type], "withdrawn_on"]
    present = set(pq.read_schema(path).names)
    df = pd.read_parquet(path, columns=[c for c in wanted if c in present] if columns else None)
    for col in wanted:
        if col not in df.columns:
            df[col] = None
    return df


def with_withdrawn(
    now: pd.DataFrame, before: pd.DataFrame | None, record_type: str
) -> pd.DataFrame:
    """This run's records plus those a source has withdrawn since an earlier run.

    A record that was published and is gone while its source delivered this run was withdrawn
    (credit repair, a decision annulled): it stays, dated `withdrawn_on`, so the agency page can
    say it no longer counts and why. A source that delivered nothing withdraws nothing (a failed
    crawl is not a withdrawal), and registrations never are (a closed company has a status).
    """
    now = now.assign(withdrawn_on=None)
    if before is None or before.empty or record_type not in WITHDRAWABLE:
        return now
    delivered = now.groupby("source_id")["fetched_at"].max().astype(str).str[:10]
    gone = before[~isin(before["record_id"], now["record_id"])]
    if gone.empty:
        return now
    noticed = gone["source_id"].map(delivered)  # NaN: the source delivered nothing this run
    gone = gone.assign(
        withdrawn_on=gone["withdrawn_on"].where(gone["withdrawn_on"].notna(), noticed)
    )
    return pd.concat([now, gone.reindex(columns=now.columns)], ignore_index=True)


# --- names ------------------------------------------------------------------------------------


def unverified_id(city_slug: str, key: str) -> str:
    """Stable id of an agency known only by name: the same name in the same city, the same id."""
    return "u-" + hashlib.sha256((city_slug + key).encode("utf-8")).hexdigest()[:12]


def organisation_mask(keys: pd.Series) -> pd.Series:
    """Names that read as an organisation (company, studio, shop…), branch suffixes ignored."""
    return _per_distinct(keys, _organisation_mask)


def _per_distinct(keys: pd.Series, mask: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """mask(keys), computed once per distinct key: an agency's name recurs in all its records."""
    keys = keys.fillna("").astype(str)
    codes, uniques = pd.factorize(keys)
    if len(uniques) * 2 > len(keys):
        return mask(keys)
    hits = mask(pd.Series(uniques, dtype=keys.dtype)).to_numpy(dtype=bool)
    return pd.Series(hits[codes], index=keys.index)


def _organisation_mask(keys: pd.Series) -> pd.Series:
    cfg = lookups()["resolve"]
    base = keys.str.replace(r"[(（][^()（）]*[)）]$", "", regex=True)
    org = base.str.endswith(tuple(cfg["org_suffixes"]))
    for marker in cfg["org_markers"]:
        org |= keys.str.contains(marker, regex=False)
    return org & (base.str.len() > 2)


def person_mask(keys: pd.Series) -> pd.Series:
    """Names that read as a natural person: short Chinese names or masked ones (张某, 李*)."""
    return _per_distinct(keys, _person_mask)


def _person_mask(keys: pd.Series) -> pd.Series:
    cfg = lookups()["resolve"]
    short = keys.str.fullmatch(rf"[\u4e00-\u9fff]{{2,{cfg['person_max_len']}}}")
    masked = pd.Series(False, index=keys.index)
    for ch in cfg["person_mask_chars"]:
        masked |= keys.str.contains(ch, regex=False) & (keys.str.len() <= 5)
    return (short | masked) & ~_organisation_mask(keys)


# --- agencies ---------------------------------------------------------------------------------


def registered_agencies(registrations: pd.DataFrame, city_slug: str) -> pd.DataFrame:
    """One agency per registration: per valid code (newest fetch wins), else per name key."""
    reg = registrations[registrations["uscc"].notna() | _has_text(registrations["name_key"])]
    reg = reg.assign(
        agency_id=reg["uscc"].where(
            reg["uscc"].notna(),
            _unverified_ids(reg["name_key"].where(reg["uscc"].isna()), city_slug),
        )
    )
    reg = reg.drop_duplicates("agency_id")  # newest first already
    out = reg.assign(verified=reg["uscc"].notna(), registered=True)
    return out.reindex(columns=AGENCY_COLUMNS)


def _unverified_ids(keys: pd.Series, city_slug: str) -> pd.Series:
    """Ids per name key, hashed once per distinct key."""
    keys = keys.fillna("").astype(str)
    ids = {k: unverified_id(city_slug, k) for k in keys.unique()}
    return keys.map(ids)


def _has_text(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.len() > 0


def _judgment_mentions(judgments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Judgment parties on the side the judgment is against, one row per party.

    Judgments whose parties give no such side are returned apart, to be reported unlinked.
    Party names get their key from the normalize stage's own recipe, so they match alike.
    """
    roles = set(lookups()["resolve"]["judgment_party_roles"])
    rows = [
        (record_id, "judgment", party.get("name") or "", party.get("name_key"),
         _clean_uscc(party.get("uscc")), False, fetched_at)
        for record_id, fetched_at, parties in zip(
            judgments["record_id"].tolist(), judgments["fetched_at"].tolist(),
            judgments["parties"].tolist(), strict=True,
        )
        for party in _json_list(parties)
        if isinstance(party, dict) and party.get("role") in roles
    ]  # fmt: skip
    mentions = pd.DataFrame(rows, columns=MENTION_COLUMNS)
    if len(mentions):
        given = mentions["name_key"]
        mentions["name_key"] = given.where(given.notna(), values.name_keys(mentions["name"]))
    sideless = judgments.loc[~isin(judgments["record_id"], mentions["record_id"]), ["record_id"]]
    return mentions, sideless.assign(record_type="judgment", name=None, reason="no_match")


def _clean_uscc(raw: object) -> str | None:
    """values.clean_uscc, once per distinct code: the check digit costs a Python call each."""
    if raw is None or isinstance(raw, str):
        return _clean_uscc_text(raw)
    return values.clean_uscc(raw)


@lru_cache(maxsize=1 << 17)
def _clean_uscc_text(raw: str | None) -> str | None:
    return values.clean_uscc(raw)


def _json_list(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    if not isinstance(value, str) or not value.strip():
        return []
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return []
    return parsed if isinstance(parsed, list) else []


def mentions_of(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every (record, named entity) pair outside the registrations, plus sideless judgments."""
    frames = []
    for rt in ("filing", "penalty", "abnormal_listing", "dishonest_debtor", "complaint", "phone"):
        df = tables[rt]
        name_col = "target_name" if rt == "complaint" else "name"
        is_person = (
            df["is_person"].fillna(False).astype(bool)
            if rt == "dishonest_debtor"
            else pd.Series(False, index=df.index)
        )
        frames.append(
            pd.DataFrame(
                {
                    "record_id": df["record_id"],
                    "record_type": rt,
                    "name": df[name_col],
                    "name_key": df["name_key"],
                    "uscc": df["uscc"],
                    "is_person": is_person,
                    "fetched_at": df["fetched_at"],
                }
            )
        )
    judgment_mentions, sideless = _judgment_mentions(tables["judgment"])
    frames.append(judgment_mentions)
    nonempty = [f for f in frames if len(f)]
    mentions = (
        pd.concat(nonempty, ignore_index=True)
        if nonempty
        else pd.DataFrame(columns=MENTION_COLUMNS)
    )
    mentions["name_key"] = mentions["name_key"].fillna("").astype(str)
    mentions["is_person"] = mentions["is_person"].astype(bool)
    return mentions, sideless


def _first_per(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """The newest mention per key: its spelling is the agency's display name."""
    ordered = df.sort_values(["fetched_at", "record_id"], ascending=[False, True], kind="stable")
    return ordered.drop_duplicates(key)


def link(
    mentions: pd.DataFrame, registered: pd.DataFrame, city_slug: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Links (record_id, agency_id, match_method), unlinked rows, and the unverified agencies."""
    person = mentions["is_person"] | (mentions["uscc"].isna() & person_mask(mentions["name_key"]))
    coded = mentions[~person & mentions["uscc"].notna()]
    named = mentions[~person & mentions["uscc"].isna()]

    unknown_code = ~isin(coded["uscc"], registered["uscc"])
    coded_scope = _in_scope_by(coded[unknown_code], "uscc")
    out_coded = coded[unknown_code & ~isin(coded["uscc"], coded_scope)]
    coded = coded[~unknown_code | isin(coded["uscc"], coded_scope)]
    new_coded = _first_per(coded[~isin(coded["uscc"], registered["uscc"])], "uscc")
    coded_agencies = new_coded.assign(
        agency_id=new_coded["uscc"], verified=True, registered=False
    ).reindex(columns=AGENCY_COLUMNS)
    by_code = coded.assign(agency_id=coded["uscc"], match_method="uscc")

    known = pd.concat([registered, coded_agencies], ignore_index=True)
    known = known[_has_text(known["name_key"])]
    holders = known.groupby("name_key")["agency_id"].agg(["nunique", "first"])
    named = named.join(holders, on="name_key")
    unique = named["nunique"] == 1
    ambiguous = named["nunique"] > 1
    free = named["nunique"].isna()
    org = organisation_mask(named["name_key"])
    by_name = named[unique].assign(agency_id=named["first"], match_method="exact_name")

    candidates = named[free & org & _has_text(named["name_key"])]
    named_scope = _in_scope_by(candidates, "name_key")
    orphans = candidates[isin(candidates["name_key"], named_scope)]
    out_named = candidates[~isin(candidates["name_key"], named_scope)]
    by_new_name = orphans.assign(
        agency_id=_unverified_ids(orphans["name_key"], city_slug), match_method="exact_name"
    )
    named_agencies = (
        _first_per(by_new_name, "agency_id")
        .assign(uscc=None, verified=False, registered=False)
        .reindex(columns=AGENCY_COLUMNS)
    )

    links = pd.concat([by_code, by_name, by_new_name], ignore_index=True)
    links = links[["record_id", "record_type", "agency_id", "match_method"]]
    unlinked = pd.concat(
        [
            mentions[person].assign(name=None, reason="natural_person"),
            named[ambiguous].assign(reason="ambiguous_name"),
            named[free & ~(org & _has_text(named["name_key"]))].assign(reason="no_match"),
            pd.concat([out_coded, out_named]).assign(reason="not_an_agency"),
        ],
        ignore_index=True,
    )[UNLINKED_COLUMNS]
    extra = pd.concat([coded_agencies, named_agencies], ignore_index=True)
    return links.drop_duplicates(["record_id", "agency_id"]), unlinked, extra


def _in_scope_by(mentions: pd.DataFrame, key: str) -> set[str]:
    """Keys (codes or names) of unregistered organisations that are plausibly agencies.

    In scope when any mention's name reads like a collection business, or any mention comes
    from a collection-specific source (complaints, published phone lists).
    """
    cfg = lookups()["resolve"]
    names = mentions["name_key"].fillna("").astype(str)
    pattern = "|".join(re.escape(k) for k in cfg["agency_name_keywords"])
    hit = names.str.contains(pattern, regex=True)
    hit |= mentions["record_type"].isin(cfg["collection_record_types"])
    return set(mentions.loc[hit, key].dropna())


def registration_links(registrations: pd.DataFrame, city_slug: str) -> pd.DataFrame:
    """Every registration record links to the agency it defines (older fetches included)."""
    reg = registrations[registrations["uscc"].notna() | _has_text(registrations["name_key"])]
    coded = reg["uscc"].notna()
    return pd.DataFrame(
        {
            "record_id": reg["record_id"],
            "record_type": "registration",
            "agency_id": reg["uscc"].where(
                coded, _unverified_ids(reg["name_key"].where(~coded), city_slug)
            ),
            "match_method": coded.map({True: "uscc", False: "exact_name"}),
        }
    )


# --- events -----------------------------------------------------------------------------------


def _text(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str)


def _paren(s: pd.Series, zh: bool = True) -> pd.Series:
    """'（x）' / ' (x)' around non-empty values, '' otherwise."""
    s = _text(s)
    wrapped = "（" + s + "）" if zh else " (" + s + ")"
    return wrapped.where(s != "", "")


def _label(s: pd.Series, table: str, lang: int) -> pd.Series:
    words = {k: v[lang] for k, v in lookups()["labels"][table].items()}
    s = _text(s)
    return s.map(words).fillna(s).astype(str)


def _amount(v: object) -> str:
    if v is None or pd.isna(v):
        return ""
    return f"{float(v):,.2f}".rstrip("0").rstrip(".")


def _joined(value: object, sep: str) -> str:
    return sep.join(str(x) for x in _json_list(value))


def summaries(df: pd.DataFrame, rt: str) -> tuple[pd.Series, pd.Series]:
    """Short zh / en lines for the agency page's timeline."""
    return SUMMARIES[rt](df)


def _sum_registration(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    est = _text(df["established_on"])
    zh = (
        "企业登记："
        + _label(df["status"], "status", 0)
        + _paren("成立于 " + est).where(est != "", "")
    )
    en = (
        "Registration: "
        + _label(df["status"], "status", 1)
        + (" (established " + est + ")").where(est != "", "")
    )
    return zh, en


def _sum_filing(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    what = _text(df["filing_type"])
    zh = "备案：" + what + _paren(_text(df["filing_no"]))
    en = "Filing: " + what + _paren(_text(df["filing_no"]), zh=False)
    return zh, en


def _mapped(values: pd.Series, fn: Callable[[Any], Any]) -> pd.Series:
    """values.map(fn) with fn called once per distinct value: the same values and dtype
    (amounts and charges repeat a handful of values over tens of thousands of records).
    Floats are told apart by their bits, as 0.0 and -0.0 read differently."""
    keys = values.to_numpy().view(np.int64) if values.dtype == np.float64 else values
    codes = pd.factorize(keys, use_na_sentinel=False)[0]
    first = np.unique(codes, return_index=True)[1]
    mapped = values.iloc[first].map(fn)
    return pd.Series(mapped.array.take(codes), index=values.index, name=values.name)


def _sum_penalty(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    fine = _mapped(df["fine_cny"], _amount)
    what = _text(df["penalty"]).where(_text(df["penalty"]) != "", _text(df["violation"]))
    zh_what = ("罚款 " + fine.str.replace(",", "") + " 元").where(fine != "", what)
    en_what = ("fine of " + fine + " yuan").where(fine != "", what)
    zh = "行政处罚：" + zh_what + _paren(df["decision_no"])
    en = "Administrative penalty: " + en_what + _paren(df["decision_no"], zh=False)
    return zh, en


def _sum_abnormal(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    removed = _text(df["removed_on"])
    zh = (
        "列入"
        + _label(df["list_type"], "list_type", 0)
        + "："
        + _text(df["reason"])
        + ("（已于 " + removed + " 移出）").where(removed != "", "")
    )
    en = (
        "Listed on the "
        + _label(df["list_type"], "list_type", 1)
        + ": "
        + _text(df["reason"])
        + (" (removed " + removed + ")").where(removed != "", "")
    )
    return zh, en


def _sum_judgment(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    charges = _mapped(df["charges"], lambda v: _joined(v, "、"))
    what = charges.where(charges != "", _text(df["cause"]))
    zh = _label(df["case_type"], "case_type", 0) + "案件：" + what + _paren(df["case_no"])
    en = _label(df["case_type"], "case_type", 1) + " case: " + what + _paren(df["case_no"], False)
    return zh, en


def _sum_dishonest(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    zh = "失信被执行人：" + _text(df["performance"]) + _paren(df["case_no"])
    en = "Dishonest judgment debtor: " + _text(df["performance"]) + _paren(df["case_no"], False)
    return zh, en


def _sum_complaint(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The category and status part is made once per pair (a few pairs, 100,000 complaints)."""
    pairs = df[["category", "status"]]
    codes = pairs.groupby(["category", "status"], dropna=False, sort=False).ngroup().to_numpy()
    kinds = pairs.iloc[np.unique(codes, return_index=True)[1]]
    cat_zh = _label(kinds["category"], "complaint_category", 0)
    cat_en = _label(kinds["category"], "complaint_category", 1)
    st_zh = _label(kinds["status"], "complaint_status", 0)
    st_en = _label(kinds["status"], "complaint_status", 1)
    zh = _spread("投诉（" + cat_zh + "，" + st_zh + "）：", codes, df.index)
    en = _spread("Complaint (" + cat_en + ", " + st_en + "): ", codes, df.index)
    return zh + _text(df["title"]), en + _text(df["title"])


def _spread(per_kind: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Per row, its kind's value (codes number the kinds in per_kind's order)."""
    return pd.Series(per_kind.array.take(codes), index=index)


def _sum_phone(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    number = _text(df["number"])
    zh = _label(df["kind"], "phone_kind", 0) + "：" + number
    en = _label(df["kind"], "phone_kind", 1) + ": " + number
    return zh, en


SUMMARIES = {
    "registration": _sum_registration,
    "filing": _sum_filing,
    "penalty": _sum_penalty,
    "abnormal_listing": _sum_abnormal,
    "judgment": _sum_judgment,
    "dishonest_debtor": _sum_dishonest,
    "complaint": _sum_complaint,
    "phone": _sum_phone,
}


def event_rows(df: pd.DataFrame, rt: str) -> pd.DataFrame:
    """One record type's records with the event columns that do not depend on the link."""
    spec = lookups()["record_types"][rt]
    date = df[spec["date"]] if spec["date"] else pd.Series(None, index=df.index, dtype="str")
    if spec.get("fallback_date"):
        date = date.where(date.notna(), df[spec["fallback_date"]])
    zh, en = summaries(df, rt) if len(df) else (df["record_id"], df["record_id"])
    return pd.DataFrame(
        {
            "record_id": df["record_id"],
            "event_date": date,
            "category": df[spec["category"]],
            "summary_zh": zh,
            "summary_en": en,
            "source_id": df["source_id"],
            "url": df["url"],
            "fetched_at": df["fetched_at"],
            "content_sha256": df["content_sha256"],
            "publicity_end": df["publicity_end"] if rt == "penalty" else None,
            "withdrawn_on": df["withdrawn_on"] if "withdrawn_on" in df else None,
        }
    )


def seen_dates(events: pd.DataFrame, previous: Path) -> pd.DataFrame:
    """first_seen carried over from the previous run's events; last_seen is this fetch's date."""
    last = _text(events["fetched_at"]).str[:10]
    first = last
    if previous.exists():
        carried = _earliest_seen(previous, events["record_id"]).set_axis(events.index)
        first = carried.where(carried.notna() & (carried < last), last)
    return events.assign(first_seen=first, last_seen=last)


def _earliest_seen(previous: Path, record_ids: pd.Series) -> pd.Series:
    """Per record id, the earliest first_seen of the previous events (NaN if none): grouped
    and looked up by Arrow, since a province city carries 300,000 events."""
    before = pq.read_table(previous, columns=["record_id", "first_seen"])
    known = pc.and_(pc.is_valid(before["record_id"]), pc.is_valid(before["first_seen"]))
    before = before.filter(known)
    ids, seen = large_text(before["record_id"]), large_text(before["first_seen"])
    order = pc.sort_indices(pa.table({"id": ids, "seen": seen}), sort_keys=[("id", "ascending"),
                            ("seen", "ascending")])  # fmt: skip
    ids, seen = ids.take(order), seen.take(order)
    first = np.ones(len(ids), dtype=bool)  # the first row of each id holds its earliest date
    if len(ids) > 1:
        first[1:] = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
    at = pc.index_in(large_text(record_ids), value_set=ids.filter(first))
    return pd.Series(pc.take(seen.filter(first), at), dtype="str")


def build_events(
    tables: dict[str, pd.DataFrame], links: pd.DataFrame, previous: Path
) -> pd.DataFrame:
    rows = (
        pd.concat(
            [event_rows(tables[rt], rt) for rt in RECORD_TYPES if len(tables[rt])],
            ignore_index=True,
        )
        if any(len(tables[rt]) for rt in RECORD_TYPES)
        else pd.DataFrame(columns=EVENT_COLUMNS)
    )
    if not len(links) or not len(rows):
        events = lookup_join(links, rows, "record_id")
        events = seen_dates(events, previous)
        events = sorted_rows(events, ["agency_id", "event_date", "record_id"])
        return events.reindex(columns=EVENT_COLUMNS).reset_index(drop=True)
    return seen_dates(_joined_in_order(links, rows), previous).reindex(columns=EVENT_COLUMNS)


def _joined_in_order(links: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """lookup_join(links, rows, "record_id") sorted by agency, date and record: the order is
    found on the three keys alone, and every column is taken once, in that order (a province
    city's events are 300,000 rows of wide text)."""
    at_link, at_row = lookup_positions(links["record_id"], rows["record_id"])
    keys = pd.DataFrame({"agency_id": links["agency_id"].take(at_link).to_numpy(),
                         "event_date": rows["event_date"].take(at_row).array,
                         "record_id": links["record_id"].take(at_link).array})  # fmt: skip
    order = sort_order(keys, ["agency_id", "event_date", "record_id"])
    at_link, at_row = at_link[order], at_row[order]
    columns = {c: links[c].take(at_link) for c in links.columns}
    columns |= {c: rows[c].take(at_row) for c in rows.columns if c != "record_id"}
    return pd.DataFrame({c: v.reset_index(drop=True) for c, v in columns.items()})


# --- branches and possibly related records -------------------------------------------------


def parent_ids(agencies: pd.DataFrame) -> pd.Series:
    """A branch office (分公司) is its own entity; its parent is the agency its name extends.

    The parent is the longest name that the branch's name starts with and that exactly one agency
    carries (names keep no brackets, so 某公司（南浦区分公司） reads 某公司南浦区分公司).
    """
    suffixes = tuple(lookups()["resolve"]["branch_suffixes"])
    keys = agencies["name_key"].fillna("").astype(str).tolist()
    ids = agencies["agency_id"].tolist()
    counts = Counter(keys)
    holder = {k: a for k, a in zip(keys, ids, strict=True) if k and counts[k] == 1}

    def parent(key: str, own: str) -> str | None:
        if not key.endswith(suffixes):
            return None
        for end in range(len(key) - 1, 1, -1):
            found = holder.get(key[:end])
            if found is not None and found != own:
                return found
        return None

    return pd.Series(
        [parent(k, a) for k, a in zip(keys, ids, strict=True)],
        index=agencies.index,
        dtype=object,
    )


@lru_cache(maxsize=1 << 17)
def trade_name(key: str, prefixes: tuple[str, ...] = ()) -> str:
    """The distinctive part of a company name (字号): place, industry and legal form cut off.

    Chinese company names are place + trade name + industry + form; comparing whole names would
    call every 演示市…商务咨询有限公司 alike, so the possibly-related search compares trade names.
    Cached: a name's trade name is asked for once per agency and once per unlinked record.
    """
    for p in prefixes:
        if p and key.startswith(p):
            key = key[len(p) :]
            break
    if "公司" in key:
        key = key[: key.index("公司")]
    ends = _trade_name_ends()
    changed = True
    while changed:  # cut the longest known ending, again and again, never the whole name
        changed = False
        for length, words in ends:
            if len(key) > length and key[-length:] in words:
                key, changed = key[:-length], True
                break
    return key


@cache
def _trade_name_ends() -> tuple[tuple[int, frozenset[str]], ...]:
    """The endings trade_name cuts, grouped by length, longest first."""
    cfg = lookups()["resolve"]
    ends = {*cfg["org_suffixes"], *cfg["industry_words"], "有限", "有限责任", "股份有限"}
    lengths = sorted({len(e) for e in ends if e}, reverse=True)
    return tuple((n, frozenset(e for e in ends if len(e) == n)) for n in lengths)


def possibly_related(
    unlinked: pd.DataFrame,
    mentions: pd.DataFrame,
    agencies: pd.DataFrame,
    prefixes: tuple[str, ...],
) -> pd.DataFrame:
    """Unlinked records whose trade name is like an agency's: shown on its page, never counted.

    Only organisation names are compared (a natural person's name never links, not even as a
    candidate); ambiguous names appear on the page of every agency carrying the name. The
    comparison is partial (翠竹 is like 翠竹餐饮): an industry word the table does not know must
    not hide a shared trade name.
    """
    from rapidfuzz import fuzz, process

    cfg = lookups()["resolve"]
    pool = unlinked[unlinked["reason"].isin(cfg["candidate_reasons"])][["record_id", "reason"]]
    pool = pool.merge(
        mentions[["record_id", "record_type", "name", "name_key"]].drop_duplicates("record_id"),
        on="record_id",
    )
    named = agencies[_has_text(agencies["name_key"])]
    cores = [trade_name(k, prefixes) for k in named["name_key"]]
    rows = []
    for rec in pool.itertuples(index=False):
        core = trade_name(str(rec.name_key or ""), prefixes)
        if len(core) < cfg["candidate_min_trade_name"]:
            continue
        hits = process.extract(core, cores, scorer=fuzz.partial_ratio, limit=cfg["candidate_limit"],
                               score_cutoff=cfg["candidate_min_similarity"])  # fmt: skip
        for _, similarity, i in hits:
            agency = named.iloc[i]
            rows.append((rec.record_id, rec.record_type, rec.name, agency["agency_id"],
                         agency["name"], round(float(similarity), 1), rec.reason))  # fmt: skip
    out = pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)
    return out.sort_values(["agency_id", "record_id"]).reset_index(drop=True)


# --- the stage --------------------------------------------------------------------------------


class Resolved(NamedTuple):
    agencies: pd.DataFrame
    events: pd.DataFrame
    unlinked: pd.DataFrame
    candidates: pd.DataFrame
    corrections: pd.DataFrame


def resolve(
    tables: dict[str, pd.DataFrame], city_slug: str, previous_events: Path
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Agencies, events and unlinked records from the clean tables (pure apart from the history)."""
    out = resolve_all(tables, city_slug, previous_events)
    return out.agencies, out.events, out.unlinked


def resolve_all(
    tables: dict[str, pd.DataFrame],
    city_slug: str,
    previous_events: Path,
    fixes: list[corrections.Correction] | None = None,
    prefixes: tuple[str, ...] = (),
) -> Resolved:
    """Everything resolve writes: links by code and exact name, then the reviewed corrections."""
    registered = registered_agencies(tables["registration"], city_slug)
    mentions, sideless = mentions_of(tables)
    links, unlinked, extra = link(mentions, registered, city_slug)
    links = pd.concat([registration_links(tables["registration"], city_slug), links])
    agencies = pd.concat([registered, extra], ignore_index=True)
    agencies = agencies.sort_values("agency_id").reset_index(drop=True)
    agencies[["verified", "registered"]] = agencies[["verified", "registered"]].astype(bool)
    agencies["parent_id"] = parent_ids(agencies)
    unreg = tables["registration"]
    nameless = unreg[unreg["uscc"].isna() & ~_has_text(unreg["name_key"])]
    types = _record_types(tables)
    links, audit = corrections.apply(links, types, set(agencies["agency_id"]), fixes or [])
    relinked = audit.loc[audit["applied"] & audit["agency_id"].notna(), "record_id"]
    removed = corrections.removed_records(audit)
    removed = removed.assign(record_type=removed["record_id"].map(types))
    unlinked = pd.concat(
        [
            unlinked[~isin(unlinked["record_id"], relinked)],
            sideless,
            nameless.assign(reason="no_match")[UNLINKED_COLUMNS],
            removed[UNLINKED_COLUMNS],
        ],
        ignore_index=True,
    )
    unlinked = sorted_rows(unlinked, ["record_type", "record_id", "reason"]).reset_index(drop=True)
    events = build_events(tables, links, previous_events)
    candidates = possibly_related(unlinked, mentions, agencies, prefixes)
    return Resolved(agencies, events, unlinked, candidates, audit)


def _record_types(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """record_id → record_type over every clean table."""
    parts = [t.set_index("record_id")["record_type"] for t in tables.values() if len(t)]
    if not parts:
        return pd.Series(dtype=object)
    both = pd.concat(parts)
    return both[~both.index.duplicated()]


TABLES = ("agencies", "events", "unlinked", "candidates", "corrections_applied")  # resolved/*


def run(city: City, paths: CityPaths) -> dict[str, Any]:
    """Read clean/*.parquet (and the records kept from earlier runs), write resolved/*."""
    out = paths.resolved
    out.mkdir(parents=True, exist_ok=True)
    tables = {rt: current_records(paths, rt) for rt in RECORD_TYPES}
    fixes = corrections.load(city)
    prefixes = tuple(p for p in (values.name_key(city.name), values.name_key(city.province)) if p)
    res = resolve_all(tables, city.slug, out / "events.parquet", fixes, prefixes)
    (out / "records").mkdir(exist_ok=True)
    for rt, df in tables.items():
        write_table(df, records_path(paths, rt))
    written = (res.agencies, res.events, res.unlinked, res.candidates, res.corrections)
    for name, df in zip(TABLES, written, strict=True):
        write_table(df, out / f"{name}.parquet")
    return {
        "agencies": len(res.agencies),
        "verified": int(res.agencies["verified"].sum()),
        "events": len(res.events),
        "withdrawn": int(res.events["withdrawn_on"].notna().sum()),
        "corrections_applied": int(res.corrections["applied"].sum()),
        "unlinked_by_reason": {
            str(k): int(v) for k, v in res.unlinked["reason"].value_counts().items()
        },
    }


def current_records(paths: CityPaths, record_type: str) -> pd.DataFrame:
    """This run's clean records plus the ones withdrawn since earlier runs.

    The earlier records are read in full only when some of them are gone from this run's
    (their ids are read first): on most runs nothing was withdrawn since.
    """
    now = read_clean(paths, record_type)
    path = records_path(paths, record_type)
    before = None
    if path.exists() and record_type in WITHDRAWABLE:
        ids = pd.read_parquet(path, columns=["record_id"])["record_id"]
        if (~isin(ids, now["record_id"])).any():
            before = pd.read_parquet(path)
    return with_withdrawn(now, before, record_type)
