"""Related parties: who shares a fact with a blacklisted agency, and whose name is being used.

Neither finding changes a list. A company that shares a phone number, an address or a legal
representative's name with a blacklisted agency is not blacklisted for it (two firms in one
serviced office, two people with one common name), but a reader deciding whether to trust it
should know, so its page says "related to a blacklisted agency" with the shared fact. An agency
whose published number, or whose name, is used by someone else gets an impersonation warning,
as regulators' clone-firm warnings do: the page tells callers which numbers are really its own.

Output: resolved/related.parquet, one row per (agency, kind, via, shared fact, other agency).
"""

from __future__ import annotations

import re

import pandas as pd

from transforms import values
from transforms.frames import isin, sorted_rows
from transforms.resolve import lookups

RELATED_COLUMNS = [
    "agency_id",
    "kind",
    "via",
    "shared",
    "other_agency_id",
    "other_name",
    "evidence",
]
LINKED_METHODS = ("uscc", "exact_name", "correction")


def related_parties(
    agencies: pd.DataFrame, events: pd.DataFrame, phones: pd.DataFrame, scores: pd.DataFrame
) -> pd.DataFrame:
    """Both kinds of relation, sorted for byte-stable output."""
    numbers = agency_numbers(events, phones)
    blacklisted = set(scores.loc[scores["list"] == "blacklist", "agency_id"].tolist())
    parts = [
        shared_with_blacklisted(agencies, numbers, blacklisted),
        number_used_by_unregistered(agencies, numbers),
        name_used_from_other_numbers(agencies, numbers),
    ]
    out = pd.concat([p for p in parts if len(p)] or [_empty()], ignore_index=True)
    names = agencies.set_index("agency_id")["name"]
    out["other_name"] = out["other_agency_id"].map(names)
    out = out.drop_duplicates(["agency_id", "kind", "via", "shared", "other_agency_id"])
    order = ["agency_id", "kind", "via", "shared", "other_agency_id"]
    return sorted_rows(out, order, na_first=True).reindex(columns=RELATED_COLUMNS)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=RELATED_COLUMNS)


def agency_numbers(events: pd.DataFrame, phones: pd.DataFrame) -> pd.DataFrame:
    """(agency_id, number, kind, record_id) for every linked, not withdrawn phone record."""
    ev = events[(events["record_type"] == "phone") & events["match_method"].isin(LINKED_METHODS)]
    ph = phones
    if "withdrawn_on" in ph.columns:
        ph = ph[ph["withdrawn_on"].isna()]
    return ev[["record_id", "agency_id"]].merge(
        ph[["record_id", "number", "kind"]], on="record_id", how="inner"
    )


def _fold(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per key, the record ids behind it joined by ';'."""
    if df.empty:
        return df.reindex(columns=[*keys, "evidence"])
    rows = df.sort_values("record_id").drop_duplicates([*keys, "record_id"])
    # a string sum per group is vectorized; a ';'.join per group is a Python call per agency
    joined = (rows["record_id"] + ";").groupby([rows[k] for k in keys], sort=True).sum()
    return joined.str[:-1].rename("evidence").reset_index()


def facts(agencies: pd.DataFrame, numbers: pd.DataFrame) -> pd.DataFrame:
    """(agency_id, via, shared, record_id): the facts two agencies can have in common."""
    cfg = lookups()["related"]
    reg = agencies[["agency_id", "address", "legal_rep"]]
    address = reg.assign(via="address", shared=values.name_keys(reg["address"]))
    address = address[address["shared"].fillna("").str.len() >= cfg["min_address_chars"]]
    rep = reg.assign(via="legal_rep", shared=reg["legal_rep"].fillna("").str.strip())
    masked = rep["shared"].str.contains("|".join(map(re.escape, cfg["masked_chars"])), regex=True)
    rep = rep[(rep["shared"].str.len() >= 2) & ~masked]
    phone = numbers[numbers["kind"].isin(cfg["phone_kinds"])]
    phone = phone.assign(via="phone", shared=phone["number"])
    regs = pd.concat([address, rep]).assign(record_id=lambda d: _reg_records(d["agency_id"]))
    cols = ["agency_id", "via", "shared", "record_id"]
    return pd.concat([regs[cols], phone[cols]], ignore_index=True)


def _reg_records(agency_ids: pd.Series) -> pd.Series:
    """_reg_record of each id, as one string operation (ids are never missing; a column
    with a missing one is spelled id by id)."""
    if agency_ids.isna().any():
        return agency_ids.map(_reg_record)
    return ("agency:" + agency_ids).astype("str")  # what map gives: text only


def _reg_record(agency_id: str) -> str:
    """The registration fact's evidence is the agency itself (its registration record)."""
    return f"agency:{agency_id}"


def shared_with_blacklisted(
    agencies: pd.DataFrame, numbers: pd.DataFrame, blacklisted: set[str]
) -> pd.DataFrame:
    """Agencies sharing a phone number, address or legal representative with a blacklisted one."""
    f = facts(agencies, numbers)
    bad = f[isin(f["agency_id"], blacklisted)]
    pairs = f.merge(bad, on=["via", "shared"], suffixes=("", "_other"))
    pairs = pairs[pairs["agency_id"] != pairs["agency_id_other"]]
    pairs = pairs.assign(
        other_agency_id=pairs["agency_id_other"],
        record_id=pairs["record_id"] + ";" + pairs["record_id_other"],
    )
    folded = _fold(pairs, ["agency_id", "via", "shared", "other_agency_id"])
    folded["evidence"] = folded["evidence"].map(_phone_records)
    return folded.assign(kind="related_to_blacklisted")


def _phone_records(joined: object) -> str:
    """Only real record ids are evidence; registration facts are on the agencies' own pages."""
    ids = [i for i in str(joined or "").split(";") if i and not i.startswith("agency:")]
    return ";".join(sorted(set(ids)))


def number_used_by_unregistered(agencies: pd.DataFrame, numbers: pd.DataFrame) -> pd.DataFrame:
    """A number a registered agency publishes, seen in records about an unregistered outfit."""
    registered = set(agencies.loc[agencies["registered"].astype(bool), "agency_id"].tolist())
    own = numbers[
        (numbers["kind"] == "published_by_agency") & isin(numbers["agency_id"], registered)
    ]
    others = numbers[~isin(numbers["agency_id"], registered)]
    hits = own[["agency_id", "number"]].merge(others, on="number", suffixes=("", "_other"))
    hits = hits.assign(via="phone", shared=hits["number"], other_agency_id=hits["agency_id_other"])
    return _fold(hits, ["agency_id", "via", "shared", "other_agency_id"]).assign(
        kind="impersonation"
    )


def name_used_from_other_numbers(agencies: pd.DataFrame, numbers: pd.DataFrame) -> pd.DataFrame:
    """A registered agency named in reports about a number it does not publish.

    Counted only for an agency that publishes numbers (otherwise no number is known to be its
    own), for numbers no registered agency publishes, and when at least `min_reports` records
    (a phone list's report, the complaints about it) agree.
    """
    cfg = lookups()["related"]
    registered = set(agencies.loc[agencies["registered"].astype(bool), "agency_id"].tolist())
    published = numbers[numbers["kind"] == "published_by_agency"]
    own = set(zip(published["agency_id"].tolist(), published["number"].tolist(), strict=True))
    anyone = set(published.loc[isin(published["agency_id"], registered), "number"].tolist())
    reported = numbers[
        (numbers["kind"] == "reported")
        & isin(numbers["agency_id"], registered)
        & isin(numbers["agency_id"], published["agency_id"])
        & ~isin(numbers["number"], anyone)
    ]
    pairs = zip(reported["agency_id"].tolist(), reported["number"].tolist(), strict=True)
    theirs = [(a, n) not in own for a, n in pairs]
    reported = reported[pd.Series(theirs, index=reported.index, dtype=bool)]
    enough = reported.groupby(["agency_id", "number"])["record_id"].transform("nunique")
    reported = reported[enough >= cfg["impersonation_min_reports"]]
    hits = reported.assign(via="name", shared=reported["number"], other_agency_id=None)
    return _fold(hits, ["agency_id", "via", "shared"]).assign(
        kind="impersonation", other_agency_id=None
    )
