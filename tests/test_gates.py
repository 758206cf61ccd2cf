"""The validation gates: each passes clean data and stops the failure it exists for.

Frames are built here with canonical columns (the contract of transforms.labels); the raw gate's
own label mapping is exercised with the real canonical_table when it is importable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from stdnum.cn import uscc as uscc_check

from agencywatch.config import RECORD_TYPES, City, load_city
from agencywatch.paths import CityPaths
from expectations import gate
from expectations.gate import GateFailed, check_clean, check_raw, check_scores
from transforms.labels import Canonical
from transforms.rawfile import RawTable

GATE_KEYS = {"name", "success", "failed_expectations", "statistics"}
FAILURE_KEYS = {"expectation", "column", "expected", "observed", "unexpected_examples"}


def code(n: int) -> str:
    """A fictional code with a valid GB 32100 check character (region 999900 does not exist)."""
    body = f"91999900MA{n:07d}"
    return body + uscc_check.calc_check_digit(body)


@pytest.fixture(scope="module")
def demo() -> City:
    return load_city("demo")


@pytest.fixture
def paths(tmp_path: Path) -> CityPaths:
    return CityPaths(root=tmp_path, city="demo")


@pytest.fixture
def passthrough_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Raw fields already carry canonical names, so the gate sees exactly what the test wrote."""

    def canonical_table(table: RawTable, record_type: str, city: City, **_: object) -> Canonical:
        return Canonical(table.fields.astype("str"))

    monkeypatch.setattr("transforms.labels.canonical_table", canonical_table)


def write_raw(paths: CityPaths, source_id: str, record_type: str, rows: list[dict]) -> None:
    paths.raw.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {"source_id": source_id, "record_type": record_type, "place": f"row {i}", "fields": r},
            ensure_ascii=False,
        )
        for i, r in enumerate(rows, 1)
    ]
    (paths.raw / f"{source_id}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def penalty_rows(n: int, dirty_codes: int = 0) -> list[dict]:
    rows = [
        {
            "name": f"演示市测试{i}号商务咨询有限公司",
            "uscc": code(i),
            "decision_no": f"演市监罚〔2025〕{i}号",
        }
        for i in range(n)
    ]
    for row in rows[:dirty_codes]:
        row["uscc"] = row["uscc"].replace("9", "９")  # full-width digit, as sources do
    return rows


def failed_expectations(result: dict) -> set[tuple[str, str | None]]:
    return {(f["expectation"], f["column"]) for f in result["failed_expectations"]}


# --- raw gate --------------------------------------------------------------------------------


def test_raw_gate_passes_plausible_source_and_writes_result(demo, paths, passthrough_labels):
    write_raw(paths, "penalties", "penalty", penalty_rows(30, dirty_codes=3))
    [result] = check_raw(demo, paths)
    assert result["success"], result["failed_expectations"]
    assert result["name"] == "raw_penalties"
    written = json.loads((paths.gates / "raw_penalties.json").read_text(encoding="utf-8"))
    assert set(written) >= GATE_KEYS
    assert written["statistics"]["rows"]["raw_penalty"] == 30
    assert written["statistics"]["unreadable_lines"] == 0


def test_raw_gate_stops_a_source_below_its_row_bounds(demo, paths, passthrough_labels):
    write_raw(paths, "penalties", "penalty", penalty_rows(3))
    [result] = check_raw(demo, paths)
    assert not result["success"]
    [failure] = result["failed_expectations"]
    assert set(failure) == FAILURE_KEYS
    assert (failure["expected"], failure["observed"]) == ("20–5000", 3)
    message = str(GateFailed([result]))
    assert "gate raw_penalties failed: expect_table_row_count_to_be_between" in message
    assert "expected 20–5000, observed 3" in message


def test_raw_gate_bounds_come_from_the_city_config(demo, paths, passthrough_labels):
    penalties = demo.source("penalties").model_copy(update={"min_rows": 2, "max_rows": 4})
    city = demo.model_copy(update={"sources": [penalties]})
    write_raw(paths, "penalties", "penalty", penalty_rows(3))
    assert check_raw(city, paths)[0]["success"]
    write_raw(paths, "penalties", "penalty", penalty_rows(5))
    assert failed_expectations(check_raw(city, paths)[0]) == {
        ("expect_table_row_count_to_be_between", None)
    }


def test_an_empty_source_is_judged_by_its_row_bounds_alone(demo, paths, passthrough_labels):
    """Zero rows where zero are allowed passes; where rows are required, only the count fails."""
    optional = demo.source("penalties").model_copy(update={"min_rows": 0})
    write_raw(paths, "penalties", "penalty", [])
    assert check_raw(demo.model_copy(update={"sources": [optional]}), paths)[0]["success"]
    assert failed_expectations(check_raw(demo, paths)[0]) == {
        ("expect_table_row_count_to_be_between", None)
    }


def test_raw_gate_catches_a_layout_shift(demo, paths, passthrough_labels):
    """Names blank on every row and the code column gone: the page changed, not the data."""
    rows = [{"name": "  ", "decision_no": r["decision_no"]} for r in penalty_rows(25)]
    write_raw(paths, "penalties", "penalty", rows)
    [result] = check_raw(demo, paths)
    failed = failed_expectations(result)
    assert ("expect_column_values_to_not_be_null", "name") in failed
    assert ("expect_column_to_exist", "uscc") in failed
    assert "on name expected not null" in str(GateFailed([result]))


def test_raw_gate_catches_codes_shifted_into_another_column(demo, paths, passthrough_labels):
    rows = [dict(r, uscc=r["name"]) for r in penalty_rows(25)]
    write_raw(paths, "penalties", "penalty", rows)
    [failure] = check_raw(demo, paths)[0]["failed_expectations"]
    assert (failure["expectation"], failure["column"]) == (
        "expect_column_values_to_match_regex",
        "uscc",
    )
    assert failure["unexpected_examples"][0].startswith("演示市测试")


def test_raw_gate_skips_sources_without_raw_file(demo, paths, passthrough_labels):
    write_raw(paths, "penalties", "penalty", penalty_rows(25))
    assert [r["name"] for r in check_raw(demo, paths)] == ["raw_penalties"]


def test_raw_gate_reads_source_labels_through_canonical_table(demo, paths):
    """With the real label table: 双公示 Chinese labels reach the suite as canonical columns."""
    rows = [
        {
            "行政相对人名称": r["name"],
            "行政相对人代码_1(统一社会信用代码)": r["uscc"],
            "行政处罚决定书文号": r["decision_no"],
        }
        for r in penalty_rows(25)
    ]
    write_raw(paths, "penalties", "penalty", rows)
    [result] = check_raw(demo, paths)
    assert result["success"], result["failed_expectations"]


# --- clean gate ------------------------------------------------------------------------------


def write_parquet(paths: CityPaths, table: str, frame: pd.DataFrame) -> None:
    target = paths.data / table
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(target)


def agencies(n: int = 4) -> pd.DataFrame:
    codes = [code(i) for i in range(n - 1)]
    return pd.DataFrame(
        {
            "agency_id": [*codes, "u-0123456789ab"],
            "uscc": [*codes, None],
            "name": [f"演示市测试{i}号商务咨询有限公司" for i in range(n)],
            "verified": [True] * (n - 1) + [False],
            "registered": [True] * (n - 1) + [False],
        }
    )


def events(agency_ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": [f"penalties:{i}" for i in range(len(agency_ids))],
            "agency_id": agency_ids,
            "record_type": "penalty",
            "match_method": ["uscc"] * (len(agency_ids) - 1) + ["exact_name"],
        }
    )


def write_resolved(paths: CityPaths, agencies_frame: pd.DataFrame, events_frame: pd.DataFrame):
    write_parquet(paths, "resolved/agencies.parquet", agencies_frame)
    write_parquet(paths, "resolved/events.parquet", events_frame)


def test_clean_gate_passes_consistent_tables(demo, paths):
    a = agencies()
    write_resolved(paths, a, events(list(a["agency_id"])))
    result = check_clean(demo, paths)
    assert result["success"], result["failed_expectations"]
    assert json.loads((paths.gates / "clean.json").read_text(encoding="utf-8"))["success"]


def test_clean_gate_finds_orphan_events(demo, paths):
    a = agencies()
    write_resolved(paths, a, events([*a["agency_id"][:2], "u-ffffffffffff"]))
    result = check_clean(demo, paths)
    assert failed_expectations(result) == {("expect_column_values_to_be_in_set", "agency_exists")}


@pytest.mark.parametrize(
    ("spoil", "column"),
    [
        (lambda a, e: (a.assign(agency_id=a["agency_id"].iloc[0]), e), "agency_id"),
        (lambda a, e: (a.assign(uscc=a["uscc"].str.replace("1", "I")), e), "uscc"),
        (lambda a, e: (a.assign(verified=["yes"] * len(a)), e), "verified"),
        (lambda a, e: (a, e.assign(match_method="fuzzy")), "match_method"),
    ],
    ids=["duplicate-id", "bad-code-charset", "verified-not-bool", "fuzzy-match"],
)
def test_clean_gate_stops_broken_resolution(demo, paths, spoil, column):
    a = agencies()
    a, e = spoil(a, events(list(a["agency_id"])))
    write_resolved(paths, a, e)
    result = check_clean(demo, paths)
    assert not result["success"]
    assert column in {f["column"] for f in result["failed_expectations"]}


# --- score gate ------------------------------------------------------------------------------


def scored(ids: list[str], version: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    scores = pd.DataFrame(
        {
            "agency_id": ids,
            "score": [35.0, 72.5, 90.0, None],
            "list": ["blacklist", "warning", "whitelist", "not_rated"],
            "method_version": version,
        }
    )
    reasons = pd.DataFrame(
        {
            "agency_id": [ids[0], ids[1]],
            "code": ["criminal_judgment", "penalty"],
            "component": ["flag", "compliance"],
            "evidence": ["judgments:(2025)演0101刑初1号", "penalties:演市监罚〔2025〕1号"],
        }
    )
    return scores, reasons


def write_scored(paths: CityPaths, scores: pd.DataFrame, reasons: pd.DataFrame) -> None:
    write_parquet(paths, "scored/scores.parquet", scores)
    write_parquet(paths, "scored/reasons.parquet", reasons)


@pytest.fixture
def resolved(paths: CityPaths) -> list[str]:
    a = agencies()
    write_resolved(paths, a, events(list(a["agency_id"])))
    return list(a["agency_id"])


def test_score_gate_passes_a_sound_scoring(demo, paths, resolved):
    write_scored(paths, *scored(resolved, demo.scoring.method_version))
    result = check_scores(demo, paths)
    assert result["success"], result["failed_expectations"]


def test_score_gate_allows_an_unregistered_blacklisted_outfit_without_score(demo, paths, resolved):
    scores, reasons = scored(resolved, demo.scoring.method_version)
    write_scored(paths, scores.assign(score=[None, 72.5, 90.0, None]), reasons)
    result = check_scores(demo, paths)
    assert result["success"], result["failed_expectations"]


def test_score_gate_refuses_a_blacklisting_without_evidence(demo, paths, resolved):
    scores, reasons = scored(resolved, demo.scoring.method_version)
    write_scored(paths, scores, reasons.assign(evidence=["", "penalties:x"]))
    result = check_scores(demo, paths)
    assert failed_expectations(result) == {
        ("expect_column_values_to_be_in_set", "blacklist_has_evidence")
    }


@pytest.mark.parametrize(
    ("spoil", "column"),
    [
        (lambda s: s.assign(score=[135.0, 72.5, 90.0, None]), "score"),
        (lambda s: s.assign(score=[35.0, None, 90.0, None]), "score_null_only_when_unscorable"),
        (lambda s: s.assign(list=["blacklist", "grey", "whitelist", "not_rated"]), "list"),
        (lambda s: s.assign(method_version="0.9"), "method_version"),
        (lambda s: s.iloc[:3], None),
    ],
    ids=["score-over-100", "null-score-rated", "unknown-list", "old-method", "agency-unscored"],
)
def test_score_gate_stops_broken_scores(demo, paths, resolved, spoil, column):
    scores, reasons = scored(resolved, demo.scoring.method_version)
    write_scored(paths, spoil(scores), reasons)
    result = check_scores(demo, paths)
    assert not result["success"]
    assert column in {f["column"] for f in result["failed_expectations"]}


def test_row_count_mismatch_is_reported_with_both_counts(demo, paths, resolved):
    scores, reasons = scored(resolved, demo.scoring.method_version)
    write_scored(paths, scores.iloc[:3], reasons)
    with pytest.raises(GateFailed, match="expect_table_row_count_to_equal expected 4, observed 3"):
        raise GateFailed([check_scores(demo, paths)])


# --- the suites themselves -------------------------------------------------------------------


def test_every_record_type_has_a_raw_suite_with_city_bounds():
    for record_type in RECORD_TYPES:
        [suite] = gate._load_suites(f"raw_{record_type}")
        kinds = {e.type for e in suite.expectation_configurations}
        assert "expect_table_row_count_to_be_between" in kinds, record_type


@pytest.mark.parametrize("name", ["clean", "scores"])
def test_table_suites_name_the_file_they_check(name):
    suites = gate._load_suites(name)
    assert suites and all(s.meta["table"].endswith(".parquet") for s in suites)


def test_raw_gate_names_the_labels_a_redesigned_page_introduced(demo, paths):
    rows = [
        {"当事人全称": r["name"], "行政处罚决定书文号": r["decision_no"]} for r in penalty_rows(25)
    ]
    write_raw(paths, "penalties", "penalty", rows)
    [result] = check_raw(demo, paths)
    assert ("expect_column_to_exist", "name") in failed_expectations(result)
    assert "当事人全称" in result["statistics"]["unmapped_labels"]


# --- what the gates hand Great Expectations ---------------------------------------------------


def test_blank_as_null_is_the_regex_it_replaces():
    """Blank text becomes missing as `replace(r"^\\s*$", None, regex=True)` would make it."""
    cells = ["", " ", "\t\n", "\u3000", "\x1c", "\u200b", " a ", "a\n", "无", None, "0"]
    frame = pd.DataFrame(
        {
            "text": pd.Series(cells, dtype=object),
            "arrow": pd.Series(cells, dtype="str"),
            "number": [1.0] * len(cells),
            "flag": [True] * len(cells),
        }
    )
    expected = frame.replace(r"^\s*$", None, regex=True)
    pd.testing.assert_frame_equal(gate._blank_as_null(frame), expected)


def test_each_suite_sees_only_the_columns_it_checks():
    [suite] = gate._load_suites("raw_penalty")
    frame = pd.DataFrame({"name": ["x"], "uscc": ["y"], "place": ["z"], "url": ["u"]})
    assert list(gate._suite_frame(suite, frame).columns) == ["name", "uscc"]
    assert gate._suite_columns(suite) == ["name", "uscc", "decision_no"]


def test_raw_gate_hands_its_parse_to_normalize(demo, paths, passthrough_labels):
    write_raw(paths, "penalties", "penalty", penalty_rows(25))
    check_raw(demo, paths)
    assert (paths.data / "work" / "parsed" / "penalties.parquet").exists()


def test_objects_blank_as_null_is_the_two_steps_it_replaces():
    cells = ["", " ", "\t\n", "\u3000", "\x1c", "\u200b", " a ", "a\n", "无", None, "0", "a"]
    frame = pd.DataFrame(
        {
            "text": pd.Series(cells, dtype=object),
            "arrow": pd.Series(cells, dtype="str"),
            "number": [1.0] * len(cells),
            "flag": [True] * len(cells),
        }
    )
    frame.attrs["unmapped_labels"] = ["x"]
    got = gate._objects_blank_as_null(frame)
    pd.testing.assert_frame_equal(got, gate._blank_as_null(gate._as_objects(frame)))
    assert got.attrs == {"unmapped_labels": ["x"]}


def test_a_validation_reports_what_the_batch_api_reports():
    [suite] = gate._load_suites("raw_penalty")
    rows = penalty_rows(30)
    for row in rows[:12]:  # a layout shift: names in the code column, numbers missing
        row.update(uscc=row["name"], decision_no=None)
    frame = pd.DataFrame(rows, dtype=object)
    params = {"min_rows": 0, "max_rows": 100}
    batch = gate._batch_definition().get_batch(batch_parameters={"dataframe": frame})
    expected = batch.validate(suite, result_format=gate.RESULT_FORMAT,
                              expectation_parameters=params)  # fmt: skip
    got = gate._validation(suite, frame, params)
    assert got.success == expected.success and not got.success
    assert got.statistics == expected.statistics
    assert [gate._failure(r) for r in got.results if not r.success] == [
        gate._failure(r) for r in expected.results if not r.success
    ]
