"""The site model built column-wise gives what the plain row-by-row construction gives: each
agency's timeline (newest first), its reasons (flags first) citing the timeline's own views,
and the expiry of records; duplicates, unknown agencies and missing values included."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from transforms import render_model

AS_OF = "2026-11-01"
TITLES = {"penalties": "处罚公示", "phones": "电话"}


def events_table() -> pd.DataFrame:
    """Events with the cases the model must keep apart: a record under two agencies, a record
    twice in one agency's timeline, an agency not released, no date, ties on the date."""
    rows = [
        ("penalties:1", "A", "2026-01-02", "https://x.example/p1", "2026-12-31"),
        ("penalties:2", "A", None, "javascript:alert(1)", "2026-01-01"),
        ("penalties:3", "A", "2026-01-02", " https://x.example/p3 ", None),
        ("shared:1", "A", "2025-05-05", "https://x.example/s", None),
        ("shared:1", "B", "2025-06-06", "https://x.example/s", None),
        ("twice:1", "B", "2024-01-01", "manual-import:a.csv", None),
        ("twice:1", "B", "2024-02-02", "https://x.example/t", None),
        ("penalties:9", "Z", "2026-03-03", "https://x.example/z", None),  # not released
        ("penalties:4", None, "2026-03-03", "https://x.example/n", None),
    ]
    return pd.DataFrame(
        {
            "record_id": [r[0] for r in rows],
            "agency_id": [r[1] for r in rows],
            "record_type": "penalty",
            "match_method": "uscc",
            "event_date": [r[2] for r in rows],
            "summary_zh": [f"摘要{k}" for k in range(len(rows))],
            "summary_en": [f"summary {k}" for k in range(len(rows))],
            "source_id": ["penalties", "phones", "other", *["penalties"] * 6],
            "url": [r[3] for r in rows],
            "fetched_at": "2026-11-01T02:00:00Z",
            "content_sha256": "ab" * 32,
            "publicity_end": [r[4] for r in rows],
        }
    ).astype("str")


def reasons_table() -> pd.DataFrame:
    rows = [
        ("A", "points_penalty", "compliance", 5.0, "penalties:1;penalties:2", True, None),
        ("A", "flag_x", "flag", None, "shared:1;;missing:1", True, None),
        ("A", "old", "compliance", 1.0, "penalties:3", False, "window_passed"),
        ("A", "old2", "compliance", 1.0, "penalties:3;penalties:1", False, "removed"),
        ("B", "points_penalty", "compliance", 2.0, "shared:1;twice:1", True, None),
        ("B", "a_code", "courts", 2.0, "", None, None),
        ("B", "b_code", "courts", 2.0, None, False, None),
        ("Z", "points_penalty", "compliance", 2.0, "penalties:9", True, None),
    ]
    table = pd.DataFrame(rows, columns=["agency_id", "code", "component", "points", "evidence",
                                        "counts", "expired_reason"])  # fmt: skip
    table.insert(4, "text_zh", "理由")
    table.insert(5, "text_en", "reason")
    return table.astype({c: "str" for c in ("agency_id", "code", "component", "evidence",
                                            "expired_reason", "text_zh", "text_en")}).astype(
        {"counts": "boolean"}
    )  # fmt: skip


def agencies() -> dict[str, dict[str, Any]]:
    return {aid: {"agency_id": aid, "reasons": [], "events": []} for aid in ("A", "B", "C")}


# --- the row-by-row construction the model replaced, as the reference --------------------


def reference_http_url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        if not render_model.NOT_IN_URL.search(text):
            return text
    return None


def reference_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    return df.astype(object).where(df.notna(), None).to_dict("records")


def reference_expired(reasons: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in reasons:
        if r.get("counts") is not None and not r["counts"] and r.get("expired_reason"):
            for i in (r.get("evidence") or "").split(";"):
                if i:
                    out.setdefault(i, r["expired_reason"])
    return out


def reference_model(events: pd.DataFrame, reasons: pd.DataFrame) -> dict[str, dict[str, Any]]:
    by_id = agencies()
    reason_rows = reference_rows(reasons)
    expired = reference_expired(reason_rows)
    rows = reference_rows(events)
    rows.sort(key=lambda e: (e["event_date"] or "", e["record_id"]), reverse=True)
    views: dict[tuple[str, str], dict[str, Any]] = {}
    for e in rows:
        end = e["publicity_end"]
        view = {
            **{k: e[k] for k in render_model.VIEW_FIELDS},
            "href": reference_http_url(e["url"]),
            "source_title": TITLES.get(e["source_id"], e["source_id"]),
            "sha_prefix": (e["content_sha256"] or "")[:12],
            "fetched_on": str(e["fetched_at"] or "")[:10],
            "expired_reason": expired.get(e["record_id"])
            or ("publicity_ended" if end and end < AS_OF else None),
            "missing": False,
        }
        views[(e["agency_id"], e["record_id"])] = view
        if e["agency_id"] in by_id:
            by_id[e["agency_id"]]["events"].append(view)
    for r in reason_rows:
        if r["agency_id"] in by_id:
            ids = [i for i in (r["evidence"] or "").split(";") if i]
            r["evidence_records"] = [
                views.get((r["agency_id"], i)) or {"record_id": i, "missing": True} for i in ids
            ]
            by_id[r["agency_id"]]["reasons"].append(r)
    for a in by_id.values():
        a["reasons"].sort(key=lambda r: (r["component"] != "flag", not r["counts"], r["code"]))
    return by_id


def built_model(events: pd.DataFrame, reasons: pd.DataFrame) -> dict[str, dict[str, Any]]:
    by_id = agencies()
    expired = render_model.expired_records(reasons)
    timelines = render_model.attach_events(by_id, events, TITLES, AS_OF, expired)
    render_model.attach_reasons(by_id, reasons, timelines)
    return by_id


def test_timelines_and_reasons_match_the_row_by_row_construction() -> None:
    expected = reference_model(events_table(), reasons_table())
    got = built_model(events_table(), reasons_table())
    assert got == expected
    assert [e["record_id"] for e in got["B"]["events"]] == ["shared:1", "twice:1", "twice:1"]
    assert [r["code"] for r in got["A"]["reasons"]] == ["flag_x", "points_penalty", "old", "old2"]


def test_evidence_is_the_timeline_entry_itself_else_missing() -> None:
    got = built_model(events_table(), reasons_table())
    for agency in got.values():
        timeline = {id(e) for e in agency["events"]}
        for reason in agency["reasons"]:
            for cited in reason["evidence_records"]:
                assert cited["missing"] or id(cited) in timeline
    flag = got["A"]["reasons"][0]
    assert [c["record_id"] for c in flag["evidence_records"]] == ["shared:1", "missing:1"]
    assert flag["evidence_records"][0]["agency_id"] == "A"  # its own entry, not B's
    twice = got["B"]["reasons"][0]["evidence_records"][1]
    assert twice["event_date"] == "2024-01-01"  # the last of the two in the timeline


def test_the_first_reason_naming_a_record_says_why_it_expired() -> None:
    expired = render_model.expired_records(reasons_table())
    assert expired == {"penalties:3": "window_passed", "penalties:1": "removed"}
    views = {e["record_id"]: e for e in built_model(events_table(), reasons_table())["A"]["events"]}
    assert views["penalties:1"]["expired_reason"] == "removed"
    assert views["penalties:2"]["expired_reason"] == "publicity_ended"
    assert views["penalties:3"]["href"] == "https://x.example/p3"
    assert views["penalties:2"]["href"] is None and views["penalties:2"]["event_date"] is None


def test_no_events_and_no_reasons_leave_empty_lists() -> None:
    by_id = agencies()
    timelines = render_model.attach_events(by_id, pd.DataFrame(), TITLES, AS_OF, {})
    render_model.attach_reasons(by_id, pd.DataFrame(), timelines)
    assert all(a["events"] == [] and a["reasons"] == [] for a in by_id.values())
    render_model.attach_reasons(by_id, reasons_table(), timelines)
    assert all(c["missing"] for r in by_id["A"]["reasons"] for c in r["evidence_records"])


@given(
    st.text(alphabet=st.sampled_from(list("hHtTpPsS:/.-_~%+=&?#[]@ 0123456789aZ\t中\x00")))
    | st.builds(
        lambda p, s: p + s,
        st.sampled_from(["http://", "https://", "HTTP://", "hTtPs://", " http://", "ftp://"]),
        st.text(alphabet=st.sampled_from(list("a.-_~%+=&?#[]@:/0123456789 \n中")), max_size=25),
    )
)
def test_http_url_keeps_what_urlsplit_accepts(url: str) -> None:
    render_model._http_url.cache_clear()
    assert render_model.http_url(url) == reference_http_url(url)
