"""A rerun reuses the stages whose inputs did not change and writes no published file again;
a change to a raw record, a config value or the run date makes exactly the stages it reaches
run again (each test below fails if a stage's earlier result were wrongly reused)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agencywatch import fingerprint, pipeline
from agencywatch.mirror.province import synth_province
from bench.province_bench import snapshot
from expectations.gate import GateFailed

AS_OF = "2026-11-01"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic city as after a crawl (raw files and config), run once in full."""
    root = tmp_path_factory.mktemp("rerun")
    synth_province(root, n_cities=1, n_agencies=80, n_records=800, seed=11)
    return root


@pytest.fixture()
def root(pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the pristine city per test (tests change its sources and config)."""
    out = tmp_path / "root"
    shutil.copytree(pristine, out, symlinks=True)
    monkeypatch.setenv("AGENCYWATCH_CITIES_DIR", str(out / "cities"))
    monkeypatch.delenv(fingerprint.REUSE_ENV, raising=False)
    return out


def slug(root: Path) -> str:
    return next((root / "cities").glob("*.toml")).stem


def run(root: Path, run_id: str, as_of: str = AS_OF, site: bool = True) -> dict[str, Any]:
    """Every stage after the crawl, as the benchmark and the DAG call them."""
    city = slug(root)
    pipeline.validate_raw(city, run_id, str(root))
    pipeline.build(city, run_id, as_of, str(root))
    pipeline.release(city, run_id, as_of, str(root))
    if site:
        pipeline.render(city, run_id, str(root))
        pipeline.publish(city, run_id, str(root))
    return pipeline.finish(city, run_id, str(root), status="published" if site else None)


def stage(root: Path, run_id: str, name: str) -> dict[str, Any]:
    path = root / "data" / slug(root) / "work" / run_id / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def reused(root: Path, run_id: str) -> dict[str, bool]:
    """Which skippable stages the run reused."""
    build = stage(root, run_id, "build")["reused"]
    return {
        "validate_raw": "reused_from" in stage(root, run_id, "validate_raw"),
        "prepare": "reused_from" in build["prepare"],
        "score": "reused_from" in build["score"],
        "release": "reused_from" in stage(root, run_id, "release"),
    }


def facts(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without what differs from run to run by nature (id, timings, memory)."""
    return {k: v for k, v in summary.items() if k not in ("run_id", "timings_s", "peak_rss_mb")}


def test_a_rerun_without_changes_reuses_every_stage_and_writes_nothing(root: Path) -> None:
    first = run(root, "r1")
    before = snapshot(root)
    second = run(root, "r2")
    assert reused(root, "r2") == dict.fromkeys(reused(root, "r2"), True)
    assert stage(root, "r2", "validate_raw")["reused_from"] == "r1"
    assert snapshot(root) == before  # not one file rewritten or touched
    assert facts(second) == facts(first)  # lists, gates, quarantine counts, release, site
    assert set(second["timings_s"]) == set(first["timings_s"])
    assert second["lists"]["blacklist"] + second["lists"]["whitelist"] > 0


def test_the_first_run_says_why_each_stage_ran(root: Path) -> None:
    run(root, "r1", site=False)
    assert stage(root, "r1", "validate_raw")["ran_because"] == ["no record"]
    assert not any(reused(root, "r1").values())


def test_a_changed_raw_record_runs_everything_again(root: Path) -> None:
    city = slug(root)
    run(root, "r1", site=False)
    raw = root / "data" / city / "raw" / "registrations.jsonl"
    lines = raw.read_text(encoding="utf-8").splitlines(keepends=True)
    item = json.loads(lines[0])
    name_label = next(k for k, v in item["fields"].items() if v.endswith("公司"))
    item["fields"][name_label] = "演示市改名测试商务咨询有限公司"
    lines[0] = json.dumps(item, ensure_ascii=False) + "\n"
    raw.write_text("".join(lines), encoding="utf-8")
    run(root, "r2", site=False)
    assert reused(root, "r2") == dict.fromkeys(reused(root, "r2"), False)
    assert stage(root, "r2", "validate_raw")["ran_because"] == ["raw"]
    agencies = pd.read_parquet(root / "data" / city / "resolved" / "agencies.parquet")
    assert "演示市改名测试商务咨询有限公司" in set(agencies["name"])
    released = (root / "releases" / city / AS_OF / "agencies.csv").read_text("utf-8-sig")
    assert "演示市改名测试商务咨询有限公司" in released


def test_a_changed_config_value_runs_everything_again(root: Path) -> None:
    city = slug(root)
    first = run(root, "r1", site=False)
    config = root / "cities" / f"{city}.toml"
    text = config.read_text(encoding="utf-8")
    assert "warning_threshold = 60" in text
    config.write_text(text.replace("warning_threshold = 60", "warning_threshold = 99.5"))
    second = run(root, "r2", site=False)
    assert not any(reused(root, "r2").values())
    assert "config" in stage(root, "r2", "validate_raw")["ran_because"]
    warned = second["lists"]["warning"]
    assert warned > first["lists"]["warning"]  # a reused score would keep the old lists
    agencies = pd.read_parquet(root / "releases" / city / AS_OF / "agencies.parquet")
    assert (agencies["list"] == "warning").sum() == warned


def test_a_new_run_date_reuses_the_sources_work_and_scores_again(root: Path) -> None:
    city = slug(root)
    run(root, "r1", site=False)
    run(root, "r2", as_of="2026-11-02", site=False)
    assert reused(root, "r2") == {
        "validate_raw": True,
        "prepare": True,
        "score": False,
        "release": False,
    }
    scores = pd.read_parquet(root / "data" / city / "scored" / "scores.parquet")
    assert set(scores["as_of"]) == {"2026-11-02"}
    manifest = root / "releases" / city / "2026-11-02" / "manifest.json"
    assert json.loads(manifest.read_text(encoding="utf-8"))["previous_release"] == AS_OF


def test_an_output_changed_since_is_made_again(root: Path) -> None:
    city = slug(root)
    run(root, "r1", site=False)
    scores = root / "data" / city / "scored" / "scores.parquet"
    pd.read_parquet(scores).head(3).to_parquet(scores, index=False)  # a failed run's leftovers
    run(root, "r2", site=False)
    assert reused(root, "r2")["prepare"] and not reused(root, "r2")["score"]
    assert stage(root, "r2", "build")["reused"]["score"]["ran_because"] == ["outputs"]
    assert len(pd.read_parquet(scores)) > 3


def test_a_failed_gate_is_never_reused_as_a_success(root: Path) -> None:
    city = slug(root)
    config = root / "cities" / f"{city}.toml"
    text = config.read_text(encoding="utf-8")
    too_few = re.sub(r"max_rows = \d+", "max_rows = 1", text, count=1)  # registrations: 80 rows
    config.write_text(too_few, encoding="utf-8")
    for run_id in ("r1", "r2"):
        with pytest.raises(GateFailed):
            pipeline.validate_raw(city, run_id, str(root))
        assert "ran_because" in stage(root, run_id, "validate_raw")
    assert not fingerprint.record_path(pipeline.city_paths(city, root), "validate_raw").exists()


def test_reuse_can_be_turned_off(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(root, "r1", site=False)
    monkeypatch.setenv(fingerprint.REUSE_ENV, "0")
    run(root, "r2", site=False)
    assert not any(reused(root, "r2").values())


def test_write_if_changed_keeps_an_equal_file(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    assert fingerprint.write_if_changed(path, b"one")
    inode = path.stat().st_ino
    assert not fingerprint.write_if_changed(path, b"one")
    assert path.stat().st_ino == inode
    assert fingerprint.write_if_changed(path, b"two")
    assert path.read_bytes() == b"two"
