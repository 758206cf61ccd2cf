"""Entity resolution: link only on a valid code or an unambiguous exact name, never a person.

Every name, code and number here is fictional (演示市, region code 990000 which does not exist).
Fixtures are clean tables with exactly the columns docs/architecture.md gives, written to a
temporary root; name_key is given as the normalize stage would compute it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from stdnum.cn import uscc

from agencywatch.config import City, Source
from agencywatch.paths import CityPaths
from transforms import resolve

PROVENANCE = [
    "record_id",
    "source_id",
    "record_type",
    "url",
    "fetched_at",
    "content_sha256",
    "place",
]
COLUMNS = {
    "registration": "uscc uscc_raw name name_key legal_rep registered_capital_cny established_on "
    "status address district business_scope authority",
    "filing": "filing_no uscc uscc_raw name name_key filing_type issued_on expires_on issuer",
    "penalty": "decision_no uscc uscc_raw name name_key violation penalty fine_cny decided_on "
    "publicity_end authority",
    "abnormal_listing": "uscc uscc_raw name name_key list_type reason listed_on removed_on authority",
    "judgment": "case_no court judged_on cause doc_type case_type parties charges outcome",
    "dishonest_debtor": "case_no uscc uscc_raw name name_key court filed_on published_on "
    "obligation performance behaviour is_person",
    "complaint": "complaint_id target_name name_key uscc uscc_raw filed_on category status "
    "platform title",
    "phone": "number uscc uscc_raw name name_key kind source_note",
}
SOURCE_OF = {
    "registration": "registrations",
    "filing": "filings",
    "penalty": "penalties",
    "abnormal_listing": "abnormal",
    "judgment": "judgments",
    "dishonest_debtor": "dishonest",
    "complaint": "complaints",
    "phone": "phones",
}
FETCHED = "2026-11-22T02:00:00Z"


def code(n: int) -> str:
    """A fictional code that passes the GB 32100-2015 check (region 990000 does not exist)."""
    body = f"91990000MA{n:07d}"
    return body + uscc.calc_check_digit(body)


def bad_code(n: int) -> str:
    good = code(n)
    wrong = "0" if good[-1] != "0" else "1"
    return good[:-1] + wrong


def city() -> City:
    return City(
        slug="demo",
        name="演示市",
        contact_url="https://agencywatch.example.org/contact",
        base_url="https://credit.demo-city.example",
        sources=[
            Source(
                id="registrations",
                title="登记",
                record_type="registration",
                kind="manual",
                file_format="csv",
            ),
        ],
    )


def row(record_type: str, key: str, fetched_at: str = FETCHED, **fields: Any) -> dict[str, Any]:
    """One clean record: provenance plus the given columns (the rest null)."""
    source = SOURCE_OF[record_type]
    out: dict[str, Any] = {c: None for c in COLUMNS[record_type].split()}
    out.update(
        record_id=f"{source}:{key}",
        source_id=source,
        record_type=record_type,
        url=f"https://credit.demo-city.example/{source}/{key}",
        fetched_at=fetched_at,
        content_sha256="0" * 64,
        place="row 1",
    )
    out.update(fields)
    return out


def registration(n: int, name: str, status: str = "active", **kw: Any) -> dict[str, Any]:
    c = code(n)
    return row(
        "registration",
        c,
        uscc=c,
        uscc_raw=c,
        name=name,
        name_key=kw.pop("name_key", name),
        status=status,
        established_on="2019-03-01",
        district="演示区",
        **kw,
    )


def parties(*entries: tuple[str, str, str | None]) -> str:
    return json.dumps(
        [{"name": n, "role": r, "uscc": u} for n, r, u in entries], ensure_ascii=False
    )


def write_clean(root: Path, records: list[dict[str, Any]]) -> CityPaths:
    paths = CityPaths(root=root, city="demo")
    paths.clean.mkdir(parents=True, exist_ok=True)
    for rt, cols in COLUMNS.items():
        rows = [r for r in records if r["record_type"] == rt]
        df = pd.DataFrame(rows, columns=PROVENANCE + cols.split())
        if rt == "dishonest_debtor":
            df["is_person"] = df["is_person"].fillna(False).astype(bool)
        if rt == "penalty":
            df["fine_cny"] = df["fine_cny"].astype(float)
        if rt == "registration":
            df["registered_capital_cny"] = df["registered_capital_cny"].astype(float)
        df.to_parquet(paths.clean / f"{rt}.parquet", index=False)
    return paths


def resolved(tmp_path: Path, records: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    paths = write_clean(tmp_path, records)
    resolve.run(city(), paths)
    return {
        name: pd.read_parquet(paths.resolved / f"{name}.parquet")
        for name in ("agencies", "events", "unlinked")
    }


def links_of(out: dict[str, pd.DataFrame], record_id: str) -> list[str]:
    ev = out["events"]
    return sorted(ev.loc[ev["record_id"] == record_id, "agency_id"])


def unlinked_reason(out: dict[str, pd.DataFrame], record_id: str) -> list[str]:
    un = out["unlinked"]
    return sorted(un.loc[un["record_id"] == record_id, "reason"])


# --- cases ------------------------------------------------------------------------------------


def test_same_name_different_codes_are_two_agencies_and_a_name_only_record_is_ambiguous(
    tmp_path: Path,
) -> None:
    name = "演示市同名商务咨询有限公司"
    out = resolved(
        tmp_path,
        [
            registration(1, name),
            registration(2, name),
            row(
                "penalty",
                "p1",
                name=name,
                name_key=name,
                decision_no="演市监罚〔2025〕1号",
                decided_on="2025-05-01",
            ),
            row("penalty", "p2", uscc=code(2), name=name, name_key=name, decided_on="2025-05-01"),
        ],
    )
    assert sorted(out["agencies"]["agency_id"]) == [code(1), code(2)]
    assert links_of(out, "penalties:p1") == []
    assert unlinked_reason(out, "penalties:p1") == ["ambiguous_name"]
    assert links_of(out, "penalties:p2") == [code(2)]


def test_traditional_name_links_through_the_name_key(tmp_path: Path) -> None:
    key = "演示市甲乙商务咨询有限公司"
    out = resolved(
        tmp_path,
        [
            registration(3, key),
            row(
                "complaint",
                "c1",
                target_name="演示市甲乙商務諮詢有限公司",
                name_key=key,
                filed_on="2026-01-05",
                category="harassment",
                status="unresolved",
            ),
        ],
    )
    ev = out["events"].set_index("record_id")
    assert ev.loc["complaints:c1", "agency_id"] == code(3)
    assert ev.loc["complaints:c1", "match_method"] == "exact_name"


def test_invalid_code_falls_back_to_the_name(tmp_path: Path) -> None:
    name = "演示市丙丁信息咨询有限公司"
    out = resolved(
        tmp_path,
        [
            registration(4, name),
            row(
                "phone",
                "05990000001",
                number="05990000001",
                uscc=None,
                uscc_raw=bad_code(9),
                name=name,
                name_key=name,
                kind="published_by_agency",
            ),
        ],
    )
    ev = out["events"].set_index("record_id")
    assert ev.loc["phones:05990000001", "agency_id"] == code(4)
    assert ev.loc["phones:05990000001", "match_method"] == "exact_name"


def test_valid_code_wins_over_a_different_name(tmp_path: Path) -> None:
    out = resolved(
        tmp_path,
        [
            registration(5, "演示市戊己商务咨询有限公司"),
            registration(6, "演示市庚辛商务咨询有限公司"),
            row(
                "penalty",
                "p3",
                uscc=code(5),
                name="演示市庚辛商务咨询有限公司",
                name_key="演示市庚辛商务咨询有限公司",
                decided_on="2025-01-01",
            ),
        ],
    )
    assert links_of(out, "penalties:p3") == [code(5)]


def test_person_judgment_party_never_links_but_the_company_defendant_does(tmp_path: Path) -> None:
    company = "演示市壬癸商务咨询有限公司"
    out = resolved(
        tmp_path,
        [
            registration(7, company),
            registration(8, "张三"),  # a registration that happens to carry a person-like name
            row(
                "judgment",
                "(2025)演0101刑初1号",
                case_no="(2025)演0101刑初1号",
                judged_on="2025-06-01",
                case_type="criminal",
                parties=parties(
                    ("演示市人民检察院", "prosecutor", None),
                    (company, "defendant_org", None),
                    ("张三", "defendant", None),
                ),
                charges=json.dumps(["催收非法债务罪"], ensure_ascii=False),
            ),
        ],
    )
    rid = "judgments:(2025)演0101刑初1号"
    assert links_of(out, rid) == [code(7)]
    assert unlinked_reason(out, rid) == ["natural_person"]
    person_rows = out["unlinked"][out["unlinked"]["reason"] == "natural_person"]
    assert person_rows["name"].isna().all()  # a person's name is not kept


def test_judgment_party_with_a_valid_code_links_by_code(tmp_path: Path) -> None:
    out = resolved(
        tmp_path,
        [
            registration(9, "演示市子丑商务咨询有限公司"),
            row(
                "judgment",
                "j2",
                case_no="j2",
                judged_on="2025-06-01",
                case_type="civil",
                cause="隐私权纠纷",
                parties=parties(
                    ("演示市子丑商務諮詢有限公司", "被告", code(9)), ("李某", "原告", None)
                ),
            ),
        ],
    )
    ev = out["events"].set_index("record_id")
    assert ev.loc["judgments:j2", "agency_id"] == code(9)
    assert ev.loc["judgments:j2", "match_method"] == "uscc"


def test_dishonest_person_never_becomes_an_agency(tmp_path: Path) -> None:
    out = resolved(
        tmp_path,
        [
            row(
                "dishonest_debtor",
                "d1",
                name="王某某",
                name_key="王某某",
                is_person=True,
                performance="全部未履行",
                published_on="2025-01-01",
            ),
            row(
                "dishonest_debtor",
                "d2",
                name="演示市寅卯商务咨询有限公司",
                name_key="演示市寅卯商务咨询有限公司",
                is_person=False,
                performance="全部未履行",
                published_on="2025-01-01",
            ),
        ],
    )
    assert unlinked_reason(out, "dishonest:d1") == ["natural_person"]
    assert "王某某" not in set(out["agencies"]["name"])
    agencies = out["agencies"].set_index("name")
    unverified = agencies.loc["演示市寅卯商务咨询有限公司"]
    assert unverified["agency_id"] == resolve.unverified_id("demo", "演示市寅卯商务咨询有限公司")
    assert not unverified["verified"] and not unverified["registered"]


def test_unregistered_code_becomes_a_verified_but_unregistered_agency(tmp_path: Path) -> None:
    out = resolved(
        tmp_path,
        [
            row(
                "complaint",
                "c2",
                target_name="演示市辰巳商务咨询有限公司",
                name_key="演示市辰巳商务咨询有限公司",
                uscc=code(10),
                filed_on="2026-02-01",
                category="violence",
                status="unresolved",
            ),
            row(
                "phone",
                "4000000001",
                number="4000000001",
                name="演示市辰巳商务咨询有限公司",
                name_key="演示市辰巳商务咨询有限公司",
                kind="published_by_agency",
            ),
        ],
    )
    agencies = out["agencies"].set_index("agency_id")
    assert agencies.loc[code(10), "verified"]
    assert not agencies.loc[code(10), "registered"]
    assert len(agencies) == 1  # the phone's name-only record joins the coded outfit
    assert links_of(out, "phones:4000000001") == [code(10)]


def test_unknown_non_organisation_name_is_no_match_and_creates_nothing(tmp_path: Path) -> None:
    out = resolved(
        tmp_path,
        [
            row(
                "complaint",
                "c3",
                target_name="速借宝借款平台APP",
                name_key="速借宝借款平台APP",
                filed_on="2026-02-01",
                category="other",
                status="unresolved",
            ),
        ],
    )
    assert out["agencies"].empty
    assert unlinked_reason(out, "complaints:c3") == ["no_match"]


def test_duplicate_registration_keeps_the_most_recent_fetch(tmp_path: Path) -> None:
    old = registration(11, "演示市午未商务咨询有限公司", status="active")
    new = registration(11, "演示市午未商务咨询有限公司", status="revoked")
    old.update(
        record_id="old_registry:x", source_id="old_registry", fetched_at="2026-01-01T00:00:00Z"
    )
    out = resolved(tmp_path, [old, new])
    agencies = out["agencies"]
    assert len(agencies) == 1
    assert agencies.iloc[0]["status"] == "revoked"


def test_first_seen_is_kept_across_runs(tmp_path: Path) -> None:
    name = "演示市申酉商务咨询有限公司"
    first = [registration(12, name, fetched_at="2026-10-01T00:00:00Z")]
    resolved(tmp_path, first)
    second = [
        registration(12, name, fetched_at="2026-11-22T00:00:00Z"),
        row("penalty", "p9", uscc=code(12), name=name, name_key=name, decided_on="2026-11-01"),
    ]
    ev = resolved(tmp_path, second)["events"].set_index("record_id")
    reg_id = f"registrations:{code(12)}"
    assert ev.loc[reg_id, "first_seen"] == "2026-10-01"
    assert ev.loc[reg_id, "last_seen"] == "2026-11-22"
    assert ev.loc["penalties:p9", "first_seen"] == "2026-11-22"


def test_events_carry_provenance_and_summaries(tmp_path: Path) -> None:
    name = "演示市戌亥商务咨询有限公司"
    out = resolved(
        tmp_path,
        [
            registration(13, name),
            row(
                "penalty",
                "p10",
                uscc=code(13),
                name=name,
                name_key=name,
                penalty="罚款",
                fine_cny=5000.0,
                decision_no="演市监罚〔2024〕12号",
                decided_on="2024-04-01",
                publicity_end="2025-04-01",
            ),
        ],
    )
    ev = out["events"]
    assert list(ev.columns) == resolve.EVENT_COLUMNS
    p = ev.set_index("record_id").loc["penalties:p10"]
    assert p["summary_zh"] == "行政处罚：罚款 5000 元（演市监罚〔2024〕12号）"
    assert "5,000 yuan" in p["summary_en"]
    assert p["event_date"] == "2024-04-01" and p["publicity_end"] == "2025-04-01"
    assert p["url"].startswith("https://") and len(p["content_sha256"]) == 64
    assert list(out["agencies"].columns) == resolve.AGENCY_COLUMNS


def test_run_returns_counts(tmp_path: Path) -> None:
    name = "演示市同名商务咨询有限公司"
    paths = write_clean(
        tmp_path,
        [
            registration(14, name),
            registration(15, name),
            row("penalty", "p11", name=name, name_key=name, decided_on="2025-05-01"),
            row("dishonest_debtor", "d3", name="赵某", name_key="赵某", is_person=True),
        ],
    )
    counts = resolve.run(city(), paths)
    assert counts["agencies"] == 2 and counts["verified"] == 2
    assert counts["events"] == 2
    assert counts["unlinked_by_reason"] == {"ambiguous_name": 1, "natural_person": 1}


@pytest.mark.parametrize(
    ("name", "org", "person"),
    [
        ("演示市某某商务咨询有限公司", True, False),
        ("演示市某某商务咨询有限公司(分公司)", True, False),
        ("演示市小明信息工作室", True, False),
        ("张三", False, True),
        ("李*", False, True),
        ("王某某", False, True),
        ("速借宝借款平台APP", False, False),
    ],
)
def test_organisation_and_person_names(name: str, org: bool, person: bool) -> None:
    s = pd.Series([name])
    assert bool(resolve.organisation_mask(s).iloc[0]) is org
    assert bool(resolve.person_mask(s).iloc[0]) is person


def test_a_record_the_source_withdrew_is_kept_dated_and_a_failed_source_withdraws_nothing(
    tmp_path: Path,
) -> None:
    name = "演示市乙丑商务咨询有限公司"
    pen = {"decision_no": "p1", "uscc": code(3), "name": name, "name_key": name,
           "decided_on": "2026-01-01"}  # fmt: skip
    first = [registration(3, name), row("penalty", "p1", **pen),
             row("penalty", "p2", **{**pen, "decision_no": "p2"})]  # fmt: skip
    resolved(tmp_path, first)
    later = "2026-11-29T02:00:00Z"
    out = resolved(tmp_path, [registration(3, name),
                              row("penalty", "p2", fetched_at=later, **{**pen, "decision_no": "p2"})])  # fmt: skip
    ev = out["events"].set_index("record_id")
    assert ev.loc["penalties:p1", "withdrawn_on"] == "2026-11-29"
    assert ev.loc["penalties:p1", "last_seen"] == FETCHED[:10]
    assert pd.isna(ev.loc["penalties:p2", "withdrawn_on"])
    # the penalty source then delivers nothing (a failed crawl): nothing more is withdrawn
    out = resolved(tmp_path, [registration(3, name)])
    ev = out["events"].set_index("record_id")
    assert pd.isna(ev.loc["penalties:p2", "withdrawn_on"])
    assert ev.loc["penalties:p1", "withdrawn_on"] == "2026-11-29"


def test_branch_gets_its_parent_and_keeps_its_own_records(tmp_path: Path) -> None:
    parent, branch = "演示市丙寅商务咨询有限公司", "演示市丙寅商务咨询有限公司南浦区分公司"
    out = resolved(tmp_path, [registration(4, parent), registration(5, branch)])
    ag = out["agencies"].set_index("agency_id")
    assert ag.loc[code(5), "parent_id"] == code(4)
    assert pd.isna(ag.loc[code(4), "parent_id"])
