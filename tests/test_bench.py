"""A tiny version of every benchmark, so the suite cannot rot: each script must still produce
its result file with the keys BENCHMARKS.md quotes. No timing is asserted here; figures are
the scripts' job (bench/), not the tests'."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from stdnum.cn import uscc

from agencywatch.config import load_city
from agencywatch.mirror.province import permuted, synth_province, uscc_codes
from agencywatch.mirror.synth import LABELS
from crawlers.items import RAW_ITEM_KEYS, raw_line

MACHINE_KEYS = {"cpu_count", "cpu_model", "memory_gb", "python", "load_average", "git_commit"}


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("province")
    return out, synth_province(out, n_cities=2, n_agencies=200, n_records=2000, seed=7)


def result(folder: Path, name: str) -> dict:
    doc = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    assert MACHINE_KEYS <= set(doc["machine"])
    return doc


# --- the generator ---------------------------------------------------------------------------


def test_province_has_the_sizes_asked_for(province: tuple[Path, dict]) -> None:
    out, summary = province
    assert summary["agencies"] == 200
    assert summary["evidence_records"] == 2000
    assert len(summary["cities"]) == 2
    assert sorted(p.stem for p in (out / "cities").glob("*.toml")) == sorted(summary["cities"])


def test_raw_lines_are_written_exactly_as_the_crawler_writes_them(
    province: tuple[Path, dict],
) -> None:
    out, _ = province
    files = sorted((out / "data").glob("*/raw/*.jsonl"))
    assert files
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            item = json.loads(line)
            assert tuple(sorted(item)) == tuple(sorted(RAW_ITEM_KEYS))
            assert raw_line(item) == line
            assert all(isinstance(v, str) for v in item["fields"].values())


def test_raw_labels_are_the_demo_mirrors(province: tuple[Path, dict]) -> None:
    out, _ = province
    for source, labels in LABELS.items():
        path = next((out / "data").glob(f"*/raw/{source}.jsonl"))
        first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        assert sorted(first["fields"]) == sorted(labels)


def test_registration_codes_pass_the_check_character(province: tuple[Path, dict]) -> None:
    out, _ = province
    path = next((out / "data").glob("*/raw/registrations.jsonl"))
    codes = [json.loads(x)["fields"]["统一社会信用代码"] for x in path.read_text().splitlines()]
    assert codes and all(uscc.is_valid(c) for c in codes)
    assert len(set(codes)) == len(codes)


def test_uscc_codes_match_python_stdnum() -> None:
    codes = uscc_codes("91991000", np.array([0, 123456789, 999999999]))
    assert all(uscc.is_valid(c) for c in codes)


def test_permuted_numbers_are_distinct() -> None:
    drawn = permuted(5000, 10**7, np.random.default_rng(1))
    assert len(set(drawn.tolist())) == 5000 and drawn.max() < 10**7


def test_most_agencies_are_clean_and_a_few_hold_many_records(
    province: tuple[Path, dict],
) -> None:
    out, summary = province
    slug = max(summary["cities"], key=lambda s: summary["cities"][s]["agencies"])
    path = out / "data" / slug / "raw" / "complaints.jsonl"
    targets = [
        json.loads(x)["fields"]["target"].replace(" ", "") for x in path.read_text().splitlines()
    ]
    counts = sorted(np.unique(targets, return_counts=True)[1].tolist(), reverse=True)
    agencies = summary["cities"][slug]["agencies"]
    assert len(counts) < agencies / 2  # most agencies have no complaint
    assert counts[0] >= 5 * np.median(counts)  # a long tail


def test_generated_city_configs_validate(province: tuple[Path, dict]) -> None:
    out, summary = province
    for slug in summary["cities"]:
        city = load_city(out / "cities" / f"{slug}.toml")
        assert city.mirror is None
        assert city.name == summary["cities"][slug]["name"]


# --- the benchmark scripts (tiny sizes) --------------------------------------------------------


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The province benchmark at test size; its output root is reused by the render comparison."""
    from bench import province_bench

    work, results = tmp_path_factory.mktemp("work"), tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENCYWATCH_CITIES_DIR", str(work / "province" / "cities"))  # undone after
        argv = ["--cities", "2", "--agencies", "60", "--records", "400", "--workers", "1"]
        province_bench.main([*argv, "--work", str(work), "--results", str(results)])
        yield work, results


@pytest.mark.slow
def test_province_benchmark_writes_stage_timings_and_memory(bench_run: tuple[Path, Path]) -> None:
    _, results = bench_run
    doc = result(results, "province")
    stages = doc["after_crawl"]["stage_seconds_summed_over_cities"]
    assert set(stages) == {"validate", "normalize", "resolve", "score", "release", "render",
                           "publish"}  # fmt: skip
    assert set(doc["after_crawl"]["statuses"].values()) == {"published"}
    assert doc["after_crawl"]["peak_rss_mb_all_processes"] > 0
    assert {"after_crawl_seconds", "peak_memory_mb", "synth_seconds"} <= set(doc["budgets"])


@pytest.mark.slow
def test_rerun_benchmark_counts_files_rewritten(bench_run: tuple[Path, Path]) -> None:
    _, results = bench_run
    doc = result(results, "rerun")
    assert doc["files_before"] > 0
    assert {"files_rewritten", "files_content_changed", "rerun_share_of_full"} <= set(doc)
    assert {"rerun_share_of_full", "files_rewritten"} <= set(doc["budgets"])
    assert set(doc["stages_reused"]) == {"validate_raw", "prepare", "score", "release"}


@pytest.mark.slow
def test_render_comparison_renders_the_same_pages_on_both_sides(
    bench_run: tuple[Path, Path],
) -> None:
    from bench import render_vs_hugo

    work, results = bench_run
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENCYWATCH_CITIES_DIR", str(work / "province" / "cities"))
        render_vs_hugo.main(["--work", str(work), "--results", str(results)])
    doc = result(results, "render_hugo")
    assert doc["ours"]["agency_pages"] == 60
    assert doc["ours_whole_site"]["agency_pages"] == 120  # both languages
    assert "hugo_over_ours" in doc["budgets"]
    if doc.get("hugo_all_cores"):
        assert doc["hugo_all_cores"]["agency_pages"] == doc["ours"]["agency_pages"]


@pytest.mark.slow
def test_demo_benchmark_reports_stage_medians(tmp_path: Path) -> None:
    from bench import demo_e2e

    argv = ["--runs", "1", "--mirror-agencies", "20", "--work", str(tmp_path / "w")]
    demo_e2e.main([*argv, "--results", str(tmp_path)])
    doc = result(tmp_path, "demo")
    assert doc["runs"] == 1
    assert {"crawl", "normalize", "render"} <= set(doc["stage_seconds_median"])
    assert "end_to_end_seconds" in doc["budgets"]

    # its own process: the browser tests keep a session-wide Playwright running in this one
    root = str(tmp_path / "w" / "demo" / "run0")
    args = ["-m", "bench.lookup_bytes", "--root", root, "--results", str(tmp_path)]
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lookup = result(tmp_path, "lookup")
    assert lookup["status"] in ("measured", "not yet measurable")
    assert "lookup_bytes" in lookup["budgets"]


@pytest.mark.slow
def test_incremental_benchmark_reports_pages_fetched(tmp_path: Path) -> None:
    from bench import incremental

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENCYWATCH_CITIES_DIR", str(tmp_path / "w" / "incremental" / "cities"))
        incremental.main(["--agencies", "20", "--work", str(tmp_path / "w"),
                          "--results", str(tmp_path)])  # fmt: skip
    doc = result(tmp_path, "incremental")
    assert doc["new_records"] > 0
    assert doc["pages_fetched_full"] > 0
    assert {"pages_fetched_incremental", "pages_not_modified_incremental"} <= set(doc)
    assert doc["every_new_record_brought"], doc["new_records_brought"]
    appended = doc["oldest_first_appended"]
    assert appended["new_records"] > 0 and appended["every_new_record_brought"], appended


def test_report_lists_every_budget(tmp_path: Path) -> None:
    from bench import report

    doc = {"machine": {"load_average": [1.0, 1.0, 1.0]},
           "budgets": {"end_to_end_seconds": {"value": 70.0, "budget": 60.0, "met": False,
                                              "missed_by": 10.0}}}  # fmt: skip
    (tmp_path / "demo.json").write_text(json.dumps(doc))
    text = report.table(tmp_path)
    assert "| demo city end to end (median) | 70.0 s | ≤ 60.0 s | **no** | 10.0 s |" in text
    assert text.count("not run") == len(report.ROWS) - 1


def test_fs_cost_measures_folders_and_files(tmp_path: Path) -> None:
    from bench import fs_cost

    fs_cost.main(["--work", str(tmp_path / "work"), "--files", "20", "--results", str(tmp_path)])
    doc = result(tmp_path, "fs_cost")
    for where in doc["file_system"].values():
        assert where["mkdir_us"]["wall"] > 0 and where["write_16kb_file_us"]["wall"] > 0
    assert list((tmp_path / "work").iterdir()) == []  # its files are removed again


def test_discarded_folders_are_deleted_only_when_the_trash_is_emptied(
    tmp_path, monkeypatch
) -> None:
    from bench.common import KEEP_TRASH_ENV, discard, empty_trash

    deep = tmp_path / "province" / "public" / ".builds" / "p01-2026-11-01-x"
    deep.mkdir(parents=True)
    (deep / "index.html").write_text("x")
    top = tmp_path / "ours-agency-pages"
    top.mkdir()
    discard(deep)
    discard(top)
    discard(tmp_path / "never-made")  # nothing to move
    assert not deep.exists() and not top.exists()
    monkeypatch.setenv(KEEP_TRASH_ENV, "1")  # run_all: not between two benchmarks
    assert empty_trash(tmp_path) == 0
    assert len(list(tmp_path.glob("**/.aw-trash/*"))) == 2
    monkeypatch.delenv(KEEP_TRASH_ENV)
    assert empty_trash(tmp_path) == 2
    assert list(tmp_path.glob("**/.aw-trash")) == []
