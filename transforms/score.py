"""Scoring method v1: three components, a weighted score, and the list each agency is on.

A list that names companies must never blacklist one wrongly, so every deduction and every flag
is a reason row carrying the record ids it rests on, and a red flag needs a record that is
current: inside the window, not past the source's publicity period, not removed. Records that no
longer count stay as reason rows marked with why (the agency page shows them as expired).
Points, texts and the collection-related lists are data (lookups/scoring.toml), overridable per
city; `method_description` hands the same values to the method page.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta

from agencywatch.config import RECORD_TYPES, City
from agencywatch.paths import CityPaths
from transforms import related, values
from transforms.frames import isin, lookup_join, sorted_rows, write_table
from transforms.resolve import lookups, read_records

COMPONENTS = ("compliance", "courts", "complaints")
SCORE_COLUMNS = [
    "agency_id",
    "score",
    "compliance",
    "courts",
    "complaints",
    "list",
    "list_reason_code",
    "list_reason_zh",
    "list_reason_en",
    "method_version",
    "as_of",
]
REASON_COLUMNS = [
    "agency_id",
    "code",
    "component",
    "points",
    "text_zh",
    "text_en",
    "evidence",
    "counts",
    "expired_reason",
]
CANDIDATE_COLUMNS = ["agency_id", "code", "record_id", "counts", "expired_reason", "current"]
# a reviewed correction (transforms/corrections.py) links like a code; fuzzy candidates never do
LINKED_METHODS = ("uscc", "exact_name", "correction")
# the only columns the scorer and transforms/related.py read (the tables are wide with text)
EVENT_READS = ["record_id", "agency_id", "record_type", "match_method"]
RECORD_READS: dict[str, list[str]] = {
    "registration": [],
    "filing": ["issued_on", "expires_on"],
    "penalty": ["decided_on", "publicity_end"],
    "abnormal_listing": ["list_type", "listed_on", "removed_on"],
    "judgment": ["judged_on", "charges", "outcome", "case_type", "cause"],
    "dishonest_debtor": ["published_on", "filed_on", "performance"],
    "complaint": ["filed_on", "category", "status"],
    "phone": ["number", "kind"],
}


# --- the method, as data ----------------------------------------------------------------------


def reason_codes(city: City) -> dict[str, dict[str, Any]]:
    """Every reason code with its component, points (city overrides applied) and texts."""
    codes = {code: dict(spec) for code, spec in lookups()["codes"].items()}
    for code, points in city.scoring.points.items():
        if code not in codes:
            raise ValueError(
                f"city {city.slug!r}: [scoring.points] names unknown reason code {code!r}; "
                f"known codes: {', '.join(sorted(codes))}"
            )
        if points < 0:
            raise ValueError(f"city {city.slug!r}: points for {code!r} must not be negative")
        codes[code]["points"] = float(points)
    return codes


def method_description(city: City) -> dict[str, Any]:
    """Everything the method page shows, from the values the scorer itself uses."""
    sc = city.scoring
    cfg = lookups()["scoring"]
    return {
        "method_version": sc.method_version,
        "window_months": sc.window_months,
        "weights": sc.weights.model_dump(),
        "whitelist_threshold": sc.whitelist_threshold,
        "warning_threshold": sc.warning_threshold,
        "red_flag_charges": list(sc.red_flag_charges),
        "codes": [
            {
                "code": code,
                "component": spec["component"],
                "points": float(spec["points"]),
                "list": spec.get("list"),
                "zh": spec["zh"],
                "en": spec["en"],
            }
            for code, spec in reason_codes(city).items()
        ],
        "lists": {k: dict(v) for k, v in lookups()["lists"].items()},
        "expired_reasons": {k: {"zh": v[0], "en": v[1]} for k, v in lookups()["expired"].items()},
        "expiry_rules": {k: {"zh": v[0], "en": v[1]} for k, v in lookups()["expiry"].items()},
        "warning_dimensions": list(COMPONENTS),
        "scope": {
            "agency_name_keywords": list(lookups()["resolve"]["agency_name_keywords"]),
            "collection_record_types": list(lookups()["resolve"]["collection_record_types"]),
            "branch_suffixes": list(lookups()["resolve"]["branch_suffixes"]),
        },
        "rules": {k: {"zh": v[0], "en": v[1]} for k, v in lookups()["rules"].items()},
        "related": dict(lookups()["related"]),
        "collection_causes": list(cfg["collection_causes"]),
        "performed": list(cfg["performed"]),
        "acquittal_words": list(cfg["acquittal_words"]),
    }


# --- candidate reasons, one per record --------------------------------------------------------


class Clock:
    """as_of and the window's first day, as ISO strings (clean dates are ISO strings)."""

    def __init__(self, as_of: date, window_months: int) -> None:
        self.as_of = as_of.isoformat()
        self.start = (as_of - relativedelta(months=window_months)).isoformat()

    def expiry(
        self, dates: pd.Series, removed: pd.Series | None = None, ended: pd.Series | None = None
    ) -> pd.Series:
        """Why each record no longer counts (None: it counts)."""
        d = _dates(dates)
        no = pd.Series(False, index=d.index)
        conditions = [
            (removed if removed is not None else no).to_numpy(dtype=bool),
            (ended if ended is not None else no).to_numpy(dtype=bool),
            d.isna().to_numpy(),
            (d < self.start).fillna(False).to_numpy(dtype=bool),
        ]
        choices = ["removed", "publicity_ended", "no_date", "window_passed"]
        return pd.Series(np.select(conditions, choices, default=None), index=d.index)

    def happened(self, dates: pd.Series) -> pd.Series:
        """Records dated after as_of did not exist yet on that day (score history reruns)."""
        d = _dates(dates)
        return d.isna() | (d <= self.as_of)


def _dates(s: pd.Series) -> pd.Series:
    return s.astype("str").str[:10]


def _text(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str)


def linked(events: pd.DataFrame, table: pd.DataFrame, record_type: str) -> pd.DataFrame:
    """A clean table's records with the agency each is linked to (one row per link)."""
    return linked_by_type(events, {record_type: table})[record_type]


def linked_by_type(
    events: pd.DataFrame, tables: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """linked() for every table: the events are filtered and split by record type once
    (each split in the events' order), not once per type."""
    kept = events[events["match_method"].isin(LINKED_METHODS)]
    ids = kept[["record_id", "agency_id"]]
    groups = kept.groupby("record_type", sort=False).indices
    empty = np.empty(0, dtype=np.int64)
    return {
        rt: lookup_join(ids.iloc[groups.get(rt, empty)], table, "record_id", validate=False)
        for rt, table in tables.items()
    }


def _candidates(
    df: pd.DataFrame, code: pd.Series | str, expired: pd.Series, current: Any = True
) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "agency_id": df["agency_id"],
            "code": code,
            "record_id": df["record_id"],
            "counts": expired.isna(),
            "expired_reason": expired,
            "current": current,
        }
    )
    return out.reindex(columns=CANDIDATE_COLUMNS)


def penalty_candidates(df: pd.DataFrame, clock: Clock) -> pd.DataFrame:
    """Penalties: inside the window and before the source's publicity end date (公示截止期)."""
    df = df[clock.happened(df["decided_on"])]
    end = _dates(df["publicity_end"])
    expired = clock.expiry(df["decided_on"], ended=(end < clock.as_of).fillna(False))
    return _candidates(df, "penalty", expired)


def abnormal_candidates(df: pd.DataFrame, clock: Clock) -> pd.DataFrame:
    """Abnormal and serious-violation listings; a removal (移出) ends them."""
    df = df[clock.happened(df["listed_on"])]
    removed = (_dates(df["removed_on"]) <= clock.as_of).fillna(False)
    code = np.where(df["list_type"] == "serious_violation", "serious_violation", "abnormal_listing")
    expired = clock.expiry(df["listed_on"], removed=removed)
    return _candidates(df, pd.Series(code, index=df.index), expired, current=~removed)


def judgment_candidates(df: pd.DataFrame, clock: Clock, red_charges: list[str]) -> pd.DataFrame:
    """Convictions for an illegal-collection charge, and collection-related civil cases.

    The agency is on the side the judgment is against (resolve links only those parties);
    acquittals and withdrawn prosecutions never count.
    """
    cfg = lookups()["scoring"]
    df = df[clock.happened(df["judged_on"])]
    red = _red_charged(df["charges"], set(red_charges))
    outcome = _text(df["outcome"])
    acquitted = pd.Series(False, index=df.index)
    for word in cfg["acquittal_words"]:
        acquitted |= outcome.str.contains(word, regex=False)
    criminal = (df["case_type"] == "criminal") & red & ~acquitted
    civil = (df["case_type"] != "criminal") & _text(df["cause"]).isin(cfg["collection_causes"])
    code = pd.Series(
        np.where(criminal, "criminal_collection", "civil_collection_judgment"), df.index
    )
    keep = criminal | civil
    return _candidates(df[keep], code[keep], clock.expiry(df.loc[keep, "judged_on"]))


def _red_charged(charges: pd.Series, red: set[str]) -> pd.Series:
    """Whether any of a judgment's charges is a red-flag one, decided once per distinct
    charges text (the JSON lists repeat: a few charges make up every judgment's)."""
    try:
        hit = values.map_unique(charges, lambda v: bool(_charge_set(v) & red))[0]
    except TypeError:  # lists rather than JSON text: not hashable, looked at one by one
        return charges.map(lambda v: bool(_charge_set(v) & red)).astype(bool)
    missing = bool(_charge_set(None) & red)  # a missing cell has no charges
    return hit.where(charges.notna(), missing).astype(bool)


def _charge_set(value: object) -> set[str]:
    if isinstance(value, list | np.ndarray):
        return {str(x).strip() for x in value}
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value.replace("；", ";").split(";")
        if isinstance(parsed, list):
            return {str(x).strip() for x in parsed}
    return set()


def dishonest_candidates(df: pd.DataFrame, clock: Clock) -> pd.DataFrame:
    """A current listing counts whatever its age; a performed one only inside the window."""
    date_col = df["published_on"].where(df["published_on"].notna(), df["filed_on"])
    df = df.assign(main_date=date_col)[clock.happened(date_col)]
    performed = _text(df["performance"]).str.strip().isin(lookups()["scoring"]["performed"])
    code = pd.Series(
        np.where(performed, "dishonest_debtor_performed", "dishonest_debtor"), df.index
    )
    expired = clock.expiry(df["main_date"]).where(performed, None)
    return _candidates(df, code, expired, current=~performed)


def complaint_candidates(df: pd.DataFrame, clock: Clock, codes: dict[str, Any]) -> pd.DataFrame:
    """Complaints in the window, by category; a resolved one weighs less."""
    df = df[clock.happened(df["filed_on"])]
    code = "complaint_" + _text(df["category"])
    code = code.where(code.isin(codes), "complaint_other")
    code = code + np.where(df["status"] == "resolved", "_resolved", "")
    return _candidates(df, code, clock.expiry(df["filed_on"]))


def registration_candidates(agencies: pd.DataFrame, registrations: pd.DataFrame) -> pd.DataFrame:
    """Revoked or cancelled registrations: current facts, no window."""
    bad = agencies[agencies["registered"] & agencies["status"].isin(["revoked", "cancelled"])]
    reg = registrations[isin(registrations["agency_id"], bad["agency_id"])]
    reg = reg[["agency_id", "record_id"]].merge(bad[["agency_id", "status"]], on="agency_id")
    none = pd.Series(None, index=reg.index, dtype=object)
    return _candidates(reg, "registration_" + reg["status"].astype(str), none)


def withdrawn_ids(tables: dict[str, pd.DataFrame]) -> set[str]:
    """Records their source has withdrawn (resolve dates them `withdrawn_on`)."""
    return {
        rid
        for t in tables.values()
        if "withdrawn_on" in t.columns
        for rid in t.loc[t["withdrawn_on"].notna(), "record_id"]
    }


def withdrawn_expired(candidates: pd.DataFrame, gone: set[str]) -> pd.DataFrame:
    """A withdrawn record no longer counts and is no longer current, whatever its dates say."""
    hit = isin(candidates["record_id"], gone)
    if not hit.any():
        return candidates
    out = candidates.copy()
    out["counts"] = out["counts"].astype(bool) & ~hit
    out["current"] = out["current"].astype(bool) & ~hit
    out["expired_reason"] = out["expired_reason"].where(~hit, "withdrawn")
    return out


# --- flags ------------------------------------------------------------------------------------


def _flag(rows: pd.DataFrame, code: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "agency_id": rows["agency_id"],
            "code": code,
            "record_id": rows["record_id"],
            "counts": True,
            "expired_reason": None,
            "current": True,
        }
    ).reindex(columns=CANDIDATE_COLUMNS)


def flags(
    candidates: pd.DataFrame, agencies: pd.DataFrame, records: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Red flags (blacklist) and the current-abnormal warning, each row one piece of evidence."""
    c = candidates
    current = c["current"].astype(bool)
    status = agencies.set_index("agency_id")["status"]
    published = records["phone"][records["phone"]["kind"] == "published_by_agency"]
    revoked = status[status.isin(["revoked", "cancelled"])].index
    revoked_phones = published[isin(published["agency_id"], revoked)]
    revoked_regs = c[
        (c["code"].str.startswith("registration_"))
        & isin(c["agency_id"], revoked_phones["agency_id"])
    ]
    parts = [
        _flag(c[(c["code"] == "criminal_collection") & c["counts"]], "flag_criminal_collection"),
        _flag(c[(c["code"] == "serious_violation") & current], "flag_serious_violation"),
        _flag(c[(c["code"] == "dishonest_debtor") & current], "flag_dishonest_debtor"),
        _flag(pd.concat([revoked_regs, revoked_phones]), "flag_revoked_advertising"),
        _flag(unregistered_advertising(agencies, published), "flag_unregistered_advertising"),
        _flag(c[(c["code"] == "abnormal_listing") & current], "flag_abnormal_listing"),
    ]
    return pd.concat(parts, ignore_index=True)


def unregistered_advertising(agencies: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Evidence that an outfit with no registration and no valid code advertises collection.

    Only a phone number it publishes counts. Complaints alone do not: a complainant may name
    the wrong firm, and a wrong blacklisting is the worst error this list can make. An outfit
    with a valid code but no registration here is registered somewhere else: not flagged.
    """
    outfits = agencies.loc[~agencies["registered"] & ~agencies["verified"], "agency_id"]
    phones = published[isin(published["agency_id"], outfits)]
    return phones[["agency_id", "record_id"]]


# --- reasons, components, lists ---------------------------------------------------------------


def _fold(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per key with its record ids joined by ';' (sorted) and their number.

    A string sum per group is vectorized; ';'.join per group is a Python call per agency.
    """
    rows = rows.sort_values("record_id")
    grouped = (rows["record_id"] + ";").groupby([rows[k] for k in keys], dropna=False, sort=False)
    out = pd.DataFrame({"evidence": grouped.sum().str[:-1], "n": grouped.size()})
    return out.reset_index()


def reasons_table(rows: pd.DataFrame, codes: dict[str, Any]) -> pd.DataFrame:
    """One reason row per record; complaints folded per agency, code and expiry."""
    spec = pd.DataFrame.from_dict(codes, orient="index")[["component", "points", "zh", "en"]]
    rows = rows.merge(spec, left_on="code", right_index=True, how="left", validate="many_to_one")
    complaint = rows["component"] == "complaints"
    keys = ["agency_id", "code", "component", "counts", "expired_reason", "points", "zh", "en"]
    folded = _fold(rows[complaint], keys)
    folded["zh"] = folded["zh"] + "（" + folded["n"].astype(str) + " 件）"
    folded["en"] = folded["en"] + " (" + folded["n"].astype(str) + ")"
    folded["points"] = folded["points"] * folded["n"]
    flag = rows["component"] == "flag"
    flag_rows = _fold(rows[flag].drop_duplicates(["agency_id", "code", "record_id"]), keys)
    flag_rows = flag_rows.drop(columns="n")
    single = rows[~complaint & ~flag].rename(columns={"record_id": "evidence"})
    out = pd.concat([single, folded, flag_rows], ignore_index=True)
    out["points"] = out["points"].astype(float).where(out["counts"].astype(bool), 0.0)
    out = out.rename(columns={"zh": "text_zh", "en": "text_en"})
    order = {code: i for i, code in enumerate(codes)}
    out["_order"] = out["code"].map(order)
    out = sorted_rows(out, ["agency_id", "_order", "evidence", "expired_reason"], na_first=True)
    out["counts"] = out["counts"].astype(bool)
    return out.reindex(columns=REASON_COLUMNS).reset_index(drop=True)


def components(reasons: pd.DataFrame, agency_ids: pd.Index) -> pd.DataFrame:
    """Each component is 100 minus the points that count, never below 0."""
    counting = reasons[reasons["counts"] & reasons["component"].isin(COMPONENTS)]
    lost = counting.pivot_table(
        index="agency_id", columns="component", values="points", aggfunc="sum", fill_value=0.0
    )
    lost = lost.reindex(index=agency_ids, columns=list(COMPONENTS), fill_value=0.0).fillna(0.0)
    return (100.0 - lost).clip(lower=0.0, upper=100.0)


def lists(
    agencies: pd.DataFrame,
    comps: pd.DataFrame,
    reasons: pd.DataFrame,
    has_filing: pd.Series,
    city: City,
    codes: dict[str, Any],
) -> pd.DataFrame:
    """The list of each agency and the reason that decided it."""
    sc = city.scoring
    a = agencies.set_index("agency_id")
    w = sc.weights
    score = (
        comps["compliance"] * w.compliance
        + comps["courts"] * w.courts
        + comps["complaints"] * w.complaints
    ).round(1)
    flagged = reasons[reasons["component"] == "flag"]
    red_codes = [c for c, s in codes.items() if s.get("list") == "blacklist"]
    red = flagged[flagged["code"].isin(red_codes)].copy()
    red["_order"] = red["code"].map({c: i for i, c in enumerate(red_codes)})
    first_red = red.sort_values("_order").groupby("agency_id")["code"].first()
    first_red = first_red.reindex(a.index)
    abnormal = a.index.isin(flagged.loc[flagged["code"] == "flag_abnormal_listing", "agency_id"])
    registered = a["registered"].astype(bool)
    low = score < sc.warning_threshold
    weak = weakest_failing(comps, sc.warning_threshold).reindex(a.index)
    white = (
        registered
        & a["verified"].astype(bool)
        & (a["status"] == "active")
        & has_filing.reindex(a.index, fill_value=False)
        & (score >= sc.whitelist_threshold)
    )
    conditions = [first_red.notna(), ~registered, low | abnormal | weak.notna(), white]
    names = ["blacklist", "not_rated", "warning", "whitelist"]
    chosen = pd.Series(np.select(conditions, names, default="no_adverse_record"), index=a.index)
    warn_code = np.select(
        [low, pd.Series(abnormal, index=a.index)],
        ["warning_low_score", "flag_abnormal_listing"],
        default="warning_low_" + weak.fillna("score"),
    )
    reason_code = np.select(
        [chosen == "blacklist", chosen == "warning"], [first_red, warn_code], default=chosen
    )
    texts = {c: (s["zh"], s["en"]) for c, s in codes.items()}
    texts |= {k: (v["zh"], v["en"]) for k, v in lookups()["lists"].items()}
    out = pd.DataFrame({"list": chosen, "list_reason_code": reason_code}, index=a.index)
    out["list_reason_zh"] = out["list_reason_code"].map(lambda c: texts[c][0])
    out["list_reason_en"] = out["list_reason_code"].map(lambda c: texts[c][1])
    out["score"] = score.where(registered)
    for comp in COMPONENTS:
        out[comp] = comps[comp].round(1).where(registered)
    return out


def weakest_failing(comps: pd.DataFrame, threshold: float) -> pd.Series:
    """Per agency, the lowest dimension when it is below the warning line, else NA."""
    dims = comps[list(COMPONENTS)]
    weakest = dims.idxmin(axis=1)
    return weakest.where(dims.min(axis=1) < threshold)


def valid_filings(filings: pd.DataFrame, clock: Clock) -> pd.Series:
    """Agencies holding a filing or certification that is issued and not expired on as_of."""
    issued = _dates(filings["issued_on"])
    expires = _dates(filings["expires_on"])
    ok = (issued.isna() | (issued <= clock.as_of)) & (expires.isna() | (expires >= clock.as_of))
    holders = set(filings.loc[ok, "agency_id"])
    return pd.Series(True, index=sorted(holders), dtype=bool)


# --- the stage --------------------------------------------------------------------------------


def score(
    agencies: pd.DataFrame,
    events: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    city: City,
    as_of: date,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and reasons from resolved agencies, their events and the clean records."""
    codes = reason_codes(city)
    clock = Clock(as_of, city.scoring.window_months)
    agencies = agencies.assign(
        registered=agencies["registered"].astype(bool), verified=agencies["verified"].astype(bool)
    )
    rec = linked_by_type(events, tables)
    gone = withdrawn_ids(tables)
    for rt in ("phone", "filing"):  # a withdrawn number or filing is simply no longer there
        rec[rt] = rec[rt][~isin(rec[rt]["record_id"], gone)]
    candidates = pd.concat(
        [
            registration_candidates(agencies, rec["registration"]),
            penalty_candidates(rec["penalty"], clock),
            abnormal_candidates(rec["abnormal_listing"], clock),
            judgment_candidates(rec["judgment"], clock, list(city.scoring.red_flag_charges)),
            dishonest_candidates(rec["dishonest_debtor"], clock),
            complaint_candidates(rec["complaint"], clock, codes),
        ],
        ignore_index=True,
    )
    candidates = withdrawn_expired(candidates, withdrawn_ids(tables))
    candidates["code"] = candidates["code"].astype(str)
    candidates["counts"] = candidates["counts"].astype(bool)
    everything = pd.concat([candidates, flags(candidates, agencies, rec)], ignore_index=True)
    reasons = reasons_table(everything, codes)
    ids = pd.Index(agencies["agency_id"], name="agency_id")
    comps = components(reasons, ids)
    out = lists(agencies, comps, reasons, valid_filings(rec["filing"], clock), city, codes)
    out = out.reset_index(names="agency_id").assign(
        method_version=city.scoring.method_version, as_of=clock.as_of
    )
    scores = out.sort_values("agency_id").reindex(columns=SCORE_COLUMNS).reset_index(drop=True)
    return scores, reasons


def run(city: City, paths: CityPaths, as_of: date) -> dict[str, Any]:
    """Read resolved/ and clean/, write scored/{scores,reasons}.parquet."""
    agencies = pd.read_parquet(paths.resolved / "agencies.parquet")
    events = pd.read_parquet(paths.resolved / "events.parquet", columns=EVENT_READS)
    tables = {rt: read_records(paths, rt, ["record_id", *RECORD_READS[rt], "withdrawn_on"])
              for rt in RECORD_TYPES}  # fmt: skip
    scores, reasons = score(agencies, events, tables, city, as_of)
    paths.scored.mkdir(parents=True, exist_ok=True)
    write_table(scores, paths.scored / "scores.parquet")
    write_table(reasons, paths.scored / "reasons.parquet")
    links = related.related_parties(agencies, events, tables["phone"], scores)
    write_table(links, paths.resolved / "related.parquet")
    counts = scores["list"].value_counts()
    return {
        "agencies": len(scores),
        "reasons": len(reasons),
        "lists": {
            k: int(counts.get(k, 0))
            for k in ("blacklist", "warning", "whitelist", "no_adverse_record", "not_rated")
        },
        "method_version": city.scoring.method_version,
        "as_of": as_of.isoformat(),
        "related": {str(k): int(v) for k, v in links["kind"].value_counts().items()},
    }
