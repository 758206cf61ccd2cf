"""Related parties and impersonation: marked on the page, never a list change by themselves."""

from __future__ import annotations

import pandas as pd

from tests.test_cases import judged
from transforms import related


def agencies(*rows: tuple[str, bool, str | None, str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"agency_id": a, "name": f"机构{a}", "registered": r, "address": ad, "legal_rep": lr}
            for a, r, ad, lr in rows
        ]  # fmt: skip
    )


def numbers(*rows: tuple[str, str, str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """events and phone records for (record_id, agency_id, number, kind)."""
    events = pd.DataFrame(
        [
            {"record_id": r, "agency_id": a, "record_type": "phone", "match_method": "exact_name"}
            for r, a, _, _ in rows
        ],  # fmt: skip
        columns=["record_id", "agency_id", "record_type", "match_method"],
    )
    phones = pd.DataFrame(
        [{"record_id": r, "number": n, "kind": k, "withdrawn_on": None} for r, _, n, k in rows],
        columns=["record_id", "number", "kind", "withdrawn_on"],
    )
    return events, phones


def scores(**lists: str) -> pd.DataFrame:
    return pd.DataFrame({"agency_id": list(lists), "list": list(lists.values())})


def test_shared_legal_rep_marks_the_other_agency_with_the_fact() -> None:
    ag = agencies(("A", True, None, "赵一"), ("B", True, None, "赵一"), ("C", True, None, "钱二"))
    ev, ph = numbers()
    out = related.related_parties(ag, ev, ph, scores(A="blacklist", B="whitelist", C="warning"))
    row = out[out["agency_id"] == "B"].iloc[0]
    assert (row["kind"], row["via"], row["shared"], row["other_agency_id"]) == (
        "related_to_blacklisted", "legal_rep", "赵一", "A",
    )  # fmt: skip
    assert "C" not in set(out["agency_id"])


def test_nothing_is_related_when_no_agency_is_blacklisted() -> None:
    ag = agencies(
        ("A", True, "演示市东湖区示例路8号", "赵一"), ("B", True, "演示市东湖区示例路8号", "赵一")
    )
    ev, ph = numbers(("p1", "A", "059960001111", "published_by_agency"),
                     ("p2", "B", "059960001111", "published_by_agency"))  # fmt: skip
    out = related.related_parties(ag, ev, ph, scores(A="warning", B="no_adverse_record"))
    assert out[out["kind"] == "related_to_blacklisted"].empty


def test_a_withdrawn_number_relates_nobody() -> None:
    ag = agencies(("A", True, None, None), ("B", True, None, None))
    ev, ph = numbers(("p1", "A", "059960001111", "published_by_agency"),
                     ("p2", "B", "059960001111", "published_by_agency"))  # fmt: skip
    ph.loc[ph["record_id"] == "p2", "withdrawn_on"] = "2026-10-01"
    out = related.related_parties(ag, ev, ph, scores(A="blacklist", B="no_adverse_record"))
    assert out.empty


def test_the_demo_impersonation_shape_warns_the_victim_only() -> None:
    """The demo plants it so: a phone list and the complaints name the victim, from a number
    the victim does not publish (mirrors/demo/_truth.json, kind "impersonation")."""
    ag = agencies(("V", True, None, None), ("W", True, None, None))
    ev, ph = numbers(
        ("phones:own", "V", "059961413613", "published_by_agency"),
        ("phones:rep", "V", "059968583788", "reported"),
        ("complaints:rep", "V", "059968583788", "reported"),
        ("phones:w", "W", "059961000000", "published_by_agency"),
        ("complaints:w", "W", "059962000000", "reported"),
    )
    out = related.related_parties(ag, ev, ph, scores(V="no_adverse_record", W="no_adverse_record"))
    assert list(out["agency_id"]) == ["V"]
    assert out.iloc[0]["shared"] == "059968583788"
    assert out.iloc[0]["evidence"] == "complaints:rep;phones:rep"


def test_related_parties_never_change_a_list() -> None:
    case = {
        "records": [
            {"type": "registration", "key": "@1", "name": "演示市甲木商务咨询有限公司", "legal_rep": "孙三"},
            {"type": "registration", "key": "@2", "name": "演示市乙木商务咨询有限公司", "legal_rep": "孙三"},
            {"type": "abnormal_listing", "key": "a1", "name": "演示市甲木商务咨询有限公司",
             "uscc": "@1", "list_type": "serious_violation", "listed_on": "d-10"},
        ]
    }  # fmt: skip
    out = judged(case)
    lists = out["scores"].set_index("agency_id")["list"]
    assert sorted(lists) == ["blacklist", "no_adverse_record"]
    assert set(out["related"]["kind"]) == {"related_to_blacklisted"}
