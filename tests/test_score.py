"""Scoring method v1: a red flag needs current evidence, expired records stay but never count.

All names and codes are fictional; see tests/test_resolve.py for the fixture builders.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agencywatch.config import City
from tests.test_resolve import (
    COLUMNS,
    PROVENANCE,
    city,
    code,
    parties,
    registration,
    row,
    write_clean,
)
from transforms import resolve, score

AS_OF = date(2026, 11, 22)
INSIDE = "2025-06-01"
OUTSIDE = "2023-06-01"  # more than 36 months before AS_OF
NAME = "演示市甲乙商务咨询有限公司"
AGENCY = code(1)


def day(offset: int) -> str:
    return (AS_OF - timedelta(days=offset)).isoformat()


def tables_of(records: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    out = {}
    for rt, cols in COLUMNS.items():
        df = pd.DataFrame(
            [r for r in records if r["record_type"] == rt], columns=PROVENANCE + cols.split()
        )
        if rt == "dishonest_debtor":
            df["is_person"] = df["is_person"].fillna(False).astype(bool)
        out[rt] = df
    return out


def scored(
    records: list[dict[str, Any]], cfg: City | None = None, as_of: date = AS_OF
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Resolve and score in memory (no files), for speed in the property tests."""
    tables = tables_of(records)
    agencies, events, _ = resolve.resolve(tables, "demo", Path("/nonexistent/events.parquet"))
    return score.score(agencies, events, tables, cfg or city(), as_of)


def verdict(records: list[dict[str, Any]], agency: str = AGENCY, **kw: Any) -> pd.Series:
    scores, _ = scored(records, **kw)
    return scores.set_index("agency_id").loc[agency]


def reasons_of(records: list[dict[str, Any]], agency: str = AGENCY) -> pd.DataFrame:
    _, reasons = scored(records)
    return reasons[reasons["agency_id"] == agency]


def criminal(key: str, judged_on: str, charge: str = "催收非法债务罪", outcome: str = "") -> dict:
    return row(
        "judgment",
        key,
        case_no=key,
        judged_on=judged_on,
        case_type="criminal",
        court="演示市第一人民法院",
        doc_type="判决书",
        outcome=outcome,
        parties=parties((NAME, "defendant_org", AGENCY), ("张某", "defendant_person", None)),
        charges=json.dumps([charge], ensure_ascii=False),
    )


def penalty(key: str, decided_on: str, publicity_end: str | None = None) -> dict:
    return row(
        "penalty",
        key,
        decision_no=key,
        uscc=AGENCY,
        name=NAME,
        name_key=NAME,
        penalty="罚款",
        fine_cny=5000.0,
        decided_on=decided_on,
        publicity_end=publicity_end,
    )


def listing(key: str, list_type: str, listed_on: str, removed_on: str | None = None) -> dict:
    return row(
        "abnormal_listing",
        key,
        uscc=AGENCY,
        name=NAME,
        name_key=NAME,
        list_type=list_type,
        reason="通过登记的住所无法联系",
        listed_on=listed_on,
        removed_on=removed_on,
    )


def dishonest(key: str, performance: str, published_on: str = INSIDE) -> dict:
    return row(
        "dishonest_debtor",
        key,
        case_no=key,
        uscc=AGENCY,
        name=NAME,
        name_key=NAME,
        is_person=False,
        performance=performance,
        published_on=published_on,
    )


def complaint(
    key: str,
    category: str = "harassment",
    status: str = "unresolved",
    filed_on: str = INSIDE,
    target: str = NAME,
    uscc: str | None = AGENCY,
) -> dict:
    return row(
        "complaint",
        key,
        complaint_id=key,
        target_name=target,
        name_key=target,
        uscc=uscc,
        filed_on=filed_on,
        category=category,
        status=status,
        title="催收电话骚扰",
    )


def filing(key: str, expires_on: str | None = "2028-01-01") -> dict:
    return row(
        "filing",
        key,
        filing_no=key,
        uscc=AGENCY,
        name=NAME,
        name_key=NAME,
        filing_type="企业征信机构备案",
        issued_on="2022-01-01",
        expires_on=expires_on,
    )


def phone(
    number: str, kind: str = "published_by_agency", name: str = NAME, uscc: str | None = AGENCY
) -> dict:
    return row("phone", number, number=number, uscc=uscc, name=name, name_key=name, kind=kind)


def base(status: str = "active") -> list[dict[str, Any]]:
    return [registration(1, NAME, status=status)]


# --- red flags --------------------------------------------------------------------------------


def test_criminal_collection_judgment_inside_the_window_blacklists_with_evidence() -> None:
    records = [*base(), criminal("j1", INSIDE)]
    v = verdict(records)
    assert v["list"] == "blacklist"
    assert v["list_reason_code"] == "flag_criminal_collection"
    flag = reasons_of(records).set_index("code").loc["flag_criminal_collection"]
    assert flag["evidence"] == "judgments:j1" and flag["component"] == "flag"


def test_the_same_judgment_just_outside_the_window_is_expired_not_a_flag() -> None:
    window_start = "2023-11-22"  # 36 months before AS_OF
    inside = verdict([*base(), criminal("j1", window_start)])
    outside_records = [*base(), criminal("j1", "2023-11-21")]
    outside = verdict(outside_records)
    assert inside["list"] == "blacklist"
    assert outside["list"] != "blacklist"
    r = reasons_of(outside_records).set_index("code")
    assert "flag_criminal_collection" not in r.index
    assert not r.loc["criminal_collection", "counts"]
    assert r.loc["criminal_collection", "expired_reason"] == "window_passed"
    assert outside["courts"] == 100.0


def test_acquittal_and_unrelated_charges_never_flag() -> None:
    assert verdict([*base(), criminal("j1", INSIDE, outcome="被告单位无罪")])["list"] != "blacklist"
    assert verdict([*base(), criminal("j2", INSIDE, charge="虚开发票罪")])["list"] != "blacklist"


def test_red_flag_charges_come_from_the_city_config() -> None:
    cfg = city()
    narrow = cfg.model_copy(
        update={"scoring": cfg.scoring.model_copy(update={"red_flag_charges": ["非法拘禁罪"]})}
    )
    assert verdict([*base(), criminal("j1", INSIDE)], cfg=narrow)["list"] != "blacklist"
    assert (
        verdict([*base(), criminal("j1", INSIDE, "非法拘禁罪")], cfg=narrow)["list"] == "blacklist"
    )


def test_serious_violation_blacklists_until_removed() -> None:
    on = verdict([*base(), listing("a1", "serious_violation", INSIDE)])
    off_records = [*base(), listing("a1", "serious_violation", INSIDE, removed_on=day(10))]
    assert on["list"] == "blacklist" and on["list_reason_code"] == "flag_serious_violation"
    assert verdict(off_records)["list"] != "blacklist"
    r = reasons_of(off_records).set_index("code")
    assert r.loc["serious_violation", "expired_reason"] == "removed"


def test_current_dishonest_debtor_blacklists_but_fully_performed_does_not() -> None:
    current = verdict([*base(), dishonest("d1", "全部未履行")])
    performed_records = [*base(), dishonest("d1", "全部履行")]
    assert current["list"] == "blacklist" and current["list_reason_code"] == "flag_dishonest_debtor"
    assert verdict(performed_records)["list"] != "blacklist"
    assert "flag_dishonest_debtor" not in set(reasons_of(performed_records)["code"])


def test_revoked_with_a_published_phone_blacklists_but_a_reported_one_does_not() -> None:
    flagged_records = [*base("revoked"), phone("05990000001")]
    flagged = verdict(flagged_records)
    assert flagged["list"] == "blacklist"
    assert flagged["list_reason_code"] == "flag_revoked_advertising"
    evidence = (
        reasons_of(flagged_records).set_index("code").loc["flag_revoked_advertising", "evidence"]
    )
    assert set(evidence.split(";")) == {f"registrations:{AGENCY}", "phones:05990000001"}
    assert verdict([*base("revoked"), phone("05990000001", kind="reported")])["list"] != "blacklist"
    assert verdict([*base("active"), phone("05990000001")])["list"] != "blacklist"


# --- unregistered outfits ---------------------------------------------------------------------

OUTFIT = "演示市无照催收工作室"
OUTFIT_ID = resolve.unverified_id("demo", OUTFIT)


def test_unregistered_with_one_complaint_is_not_rated() -> None:
    v = verdict([complaint("c1", target=OUTFIT, uscc=None)], agency=OUTFIT_ID)
    assert v["list"] == "not_rated" and pd.isna(v["score"])


def test_complaints_alone_never_blacklist_an_unregistered_outfit() -> None:
    """A complainant may name the wrong firm: only a published phone shows advertising."""
    records = [complaint(f"c{i}", "harassment", target=OUTFIT, uscc=None) for i in range(5)]
    v = verdict(records, agency=OUTFIT_ID)
    assert v["list"] == "not_rated"
    with_phone = [*records, phone("4000000002", name=OUTFIT, uscc=None)]
    assert verdict(with_phone, agency=OUTFIT_ID)["list"] == "blacklist"


def test_one_failing_dimension_gives_a_warning() -> None:
    """Penalties alone cannot pull the total below 60, yet they must not read as clean."""
    fined = [*base(), *[penalty(f"p{i}", INSIDE) for i in range(4)]]
    v = verdict(fined)
    assert v["score"] >= 60
    assert v["compliance"] < 60
    assert v["list"] == "warning" and v["list_reason_code"] == "warning_low_compliance"
    assert verdict(fined[:2])["list"] == "no_adverse_record"


def test_unregistered_publishing_a_phone_is_blacklisted() -> None:
    v = verdict([phone("4000000002", name=OUTFIT, uscc=None)], agency=OUTFIT_ID)
    assert v["list"] == "blacklist"
    reported = [phone("4000000002", kind="reported", name=OUTFIT, uscc=None)]
    assert verdict(reported, agency=OUTFIT_ID)["list"] == "not_rated"


def test_a_valid_code_without_a_local_registration_is_never_called_unregistered() -> None:
    coded = code(40)
    records = [
        phone("4000000003", name=OUTFIT, uscc=coded),
        *[complaint(f"c{i}", target=OUTFIT, uscc=coded) for i in range(3)],
    ]
    assert verdict(records, agency=coded)["list"] == "not_rated"


# --- expiry, warning, whitelist ---------------------------------------------------------------


def test_penalty_past_publicity_end_is_kept_as_expired_but_not_counted() -> None:
    records = [*base(), penalty("p1", INSIDE, publicity_end=day(30))]
    v = verdict(records)
    r = reasons_of(records).set_index("code").loc["penalty"]
    assert not r["counts"] and r["expired_reason"] == "publicity_ended" and r["points"] == 0
    assert v["compliance"] == 100.0
    live = verdict([*base(), penalty("p1", INSIDE, publicity_end=day(-30))])
    assert live["compliance"] < 100.0


def test_current_abnormal_listing_warns_and_a_removed_one_does_not() -> None:
    on = verdict([*base(), listing("a1", "abnormal", INSIDE)])
    off = verdict([*base(), listing("a1", "abnormal", INSIDE, removed_on=day(5))])
    assert on["list"] == "warning" and on["list_reason_code"] == "flag_abnormal_listing"
    assert off["list"] == "no_adverse_record"


def test_low_score_warns() -> None:
    records = [
        *base(),
        *[complaint(f"c{i}", "violence") for i in range(5)],
        *[penalty(f"p{i}", INSIDE) for i in range(5)],
        dishonest("d1", "全部履行"),
    ]
    v = verdict(records)
    assert v["score"] < 60 and v["list"] == "warning"
    assert v["list_reason_code"] == "warning_low_score"


def test_whitelist_needs_active_registration_valid_filing_and_a_high_score() -> None:
    assert verdict([*base(), filing("f1")])["list"] == "whitelist"
    assert verdict(base())["list"] == "no_adverse_record"  # no filing
    assert verdict([*base(), filing("f1", expires_on=day(1))])["list"] == "no_adverse_record"
    assert verdict([*base("cancelled"), filing("f1")])["list"] != "whitelist"
    # every dimension stays at or above 60; only the total moves across the line:
    # 1 penalty + 2 complaints → 34 + 30 + 22.8 = 86.8; 2 penalties + 1 complaint → 84.4
    at = verdict([*base(), filing("f1"), penalty("p1", INSIDE), complaint("c1"), complaint("c2")])
    two = [penalty("p1", INSIDE), penalty("p2", INSIDE)]
    below = verdict([*base(), filing("f1"), *two, complaint("c1")])
    assert at["score"] == 86.8 and at["list"] == "whitelist"
    assert below["score"] == 84.4 and below["list"] == "no_adverse_record"


def test_resolved_complaints_weigh_less_and_fold_into_one_reason() -> None:
    unresolved = verdict([*base(), complaint("c1"), complaint("c2")])
    resolved_ = verdict(
        [*base(), complaint("c1", status="resolved"), complaint("c2", status="resolved")]
    )
    assert unresolved["complaints"] < resolved_["complaints"] < 100
    r = reasons_of([*base(), complaint("c1"), complaint("c2")])
    row_ = r.set_index("code").loc["complaint_harassment"]
    assert row_["evidence"] == "complaints:c1;complaints:c2" and "2" in row_["text_zh"]


def test_city_points_override_and_unknown_code_is_an_error() -> None:
    cfg = city()
    heavier = cfg.model_copy(
        update={"scoring": cfg.scoring.model_copy(update={"points": {"penalty": 30.0}})}
    )
    assert verdict([*base(), penalty("p1", INSIDE)], cfg=heavier)["compliance"] == 70.0
    typo = cfg.model_copy(
        update={"scoring": cfg.scoring.model_copy(update={"points": {"penalti": 30.0}})}
    )
    with pytest.raises(ValueError, match="penalti"):
        scored(base(), cfg=typo)


def test_method_description_agrees_with_the_scorer() -> None:
    cfg = city()
    custom = cfg.model_copy(
        update={"scoring": cfg.scoring.model_copy(update={"points": {"penalty": 25.0}})}
    )
    desc = score.method_description(custom)
    points = {c["code"]: c["points"] for c in desc["codes"]}
    assert points["penalty"] == 25.0
    lost = 100 - verdict([*base(), penalty("p1", INSIDE)], cfg=custom)["compliance"]
    assert lost == points["penalty"]
    assert desc["weights"] == {"compliance": 0.4, "courts": 0.3, "complaints": 0.3}
    assert desc["window_months"] == 36 and "催收非法债务罪" in desc["red_flag_charges"]


def test_run_writes_contract_columns_and_every_adverse_row_has_evidence(tmp_path: Path) -> None:
    paths = write_clean(
        tmp_path,
        [
            *base(),
            criminal("j1", INSIDE),
            penalty("p1", OUTSIDE),
            complaint("c1"),
            registration(2, "演示市丙丁商务咨询有限公司"),
        ],
    )
    resolve.run(city(), paths)
    counts = score.run(city(), paths, AS_OF)
    scores = pd.read_parquet(paths.scored / "scores.parquet")
    reasons = pd.read_parquet(paths.scored / "reasons.parquet")
    assert list(scores.columns) == score.SCORE_COLUMNS
    assert list(reasons.columns) == score.REASON_COLUMNS
    assert counts["lists"]["blacklist"] == 1 and counts["lists"]["no_adverse_record"] == 1
    assert (reasons["evidence"].str.len() > 0).all()
    assert set(scores["as_of"]) == {"2026-11-22"} and set(scores["method_version"]) == {"1.0"}
    again = score.run(city(), paths, AS_OF)
    assert again == counts
    assert pd.read_parquet(paths.scored / "reasons.parquet").equals(reasons)


# --- properties -------------------------------------------------------------------------------

adverse = st.one_of(
    st.builds(lambda d, e: ("penalty", d, e), st.integers(0, 2000), st.integers(-400, 400)),
    st.builds(
        lambda d, t, r: ("listing", d, t, r),
        st.integers(0, 2000),
        st.sampled_from(["abnormal", "serious_violation"]),
        st.booleans(),
    ),
    st.builds(
        lambda d, c: ("judgment", d, c),
        st.integers(0, 2000),
        st.sampled_from(["催收非法债务罪", "寻衅滋事罪", "盗窃罪"]),
    ),
    st.builds(
        lambda d, p: ("dishonest", d, p),
        st.integers(0, 2000),
        st.sampled_from(["全部未履行", "全部履行", "部分未履行"]),
    ),
    st.builds(
        lambda d, c, s: ("complaint", d, c, s),
        st.integers(0, 2000),
        st.sampled_from(
            ["harassment", "violence", "privacy", "third_party_contact", "fees", "other"]
        ),
        st.sampled_from(["resolved", "unresolved"]),
    ),
)


def as_record(i: int, spec: tuple) -> dict[str, Any]:
    kind, d, *rest = spec
    key = f"k{i}"
    if kind == "penalty":
        return penalty(key, day(d), publicity_end=day(rest[0]))
    if kind == "listing":
        return listing(key, rest[0], day(d), removed_on=day(d // 2) if rest[1] else None)
    if kind == "judgment":
        return criminal(key, day(d), charge=rest[0])
    if kind == "dishonest":
        return dishonest(key, rest[0], published_on=day(d))
    return complaint(key, rest[0], rest[1], filed_on=day(d))


def score_of(specs: list[tuple]) -> float:
    return float(verdict([*base(), *(as_record(i, s) for i, s in enumerate(specs))])["score"])


PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.lists(adverse, max_size=8))
def test_scores_stay_within_0_and_100(specs: list[tuple]) -> None:
    v = verdict([*base(), *(as_record(i, s) for i, s in enumerate(specs))])
    for col in ("score", "compliance", "courts", "complaints"):
        assert 0.0 <= v[col] <= 100.0


@PROPERTY
@given(st.lists(adverse, min_size=1, max_size=10), st.data())
def test_removing_an_adverse_record_never_lowers_a_score(specs: list[tuple], data: Any) -> None:
    drop = data.draw(st.integers(0, len(specs) - 1))
    assert score_of(specs[:drop] + specs[drop + 1 :]) >= score_of(specs)


@PROPERTY
@given(st.lists(adverse, max_size=10), adverse)
def test_adding_an_adverse_record_never_raises_a_score(specs: list[tuple], extra: tuple) -> None:
    assert score_of([*specs, extra]) <= score_of(specs)
