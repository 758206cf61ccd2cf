"""Release circuit breaker: compared with the live release, too big a move is held for review."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from agencywatch.config import parse_city
from agencywatch.paths import CityPaths
from expectations.gate import GateFailed
from transforms import breaker, publish

CITY = """
slug = "demo"
name = "演示市"
contact_url = "https://example.org/contact"
{release}
[[sources]]
id = "phones"
title = "phones"
record_type = "phone"
kind = "manual"
"""


def city(release: str = ""):
    return parse_city(CITY.format(release=release), Path("cities/demo.toml"))


def lists(n_black: int, n_other: int, prefix: str = "a") -> pd.DataFrame:
    ids = [f"{prefix}{i:03d}" for i in range(n_black + n_other)]
    return pd.DataFrame(
        {"agency_id": ids, "list": ["blacklist"] * n_black + ["no_adverse_record"] * n_other}
    )


def setup(tmp_path: Path, previous: pd.DataFrame | None, current: pd.DataFrame) -> CityPaths:
    """A live release (published as the pipeline does) and the scorer's new lists."""
    paths = CityPaths(tmp_path, "demo")
    if previous is not None:
        release = paths.release("2026-11-01")
        release.mkdir(parents=True)
        previous.to_parquet(release / "agencies.parquet")
        build = paths.builds / "demo-2026-11-01-x"
        build.mkdir(parents=True)
        publish.run(build, paths.site, release)
    paths.scored.mkdir(parents=True)
    current.to_parquet(paths.scored / "scores.parquet")
    return paths


def test_an_ordinary_day_passes(tmp_path: Path) -> None:
    paths = setup(tmp_path, lists(5, 95), lists(6, 95))
    result = breaker.check_release(city(), paths, "2026-11-02")
    assert result["success"] and result["failed_expectations"] == []
    assert result["statistics"]["previous_release"] == "2026-11-01"
    assert result["statistics"]["blacklist_gain_share"] == 0.01


def test_the_first_release_has_nothing_to_compare_with(tmp_path: Path) -> None:
    result = breaker.check_release(city(), setup(tmp_path, None, lists(50, 0)), "2026-11-01")
    assert result["success"] and result["statistics"]["previous_release"] is None


def test_losing_too_many_agencies_holds_the_release(tmp_path: Path) -> None:
    paths = setup(tmp_path, lists(5, 95), lists(5, 70))  # 25 of 100 gone, limit 20 %
    result = breaker.check_release(city(), paths, "2026-11-02")
    assert not result["success"]
    [failure] = result["failed_expectations"]
    assert "agencies lost" in failure["expectation"] and "25 of 100" in failure["observed"]
    assert failure["unexpected_examples"][0] == "a075"
    written = json.loads((paths.gates / "release_breaker.json").read_text("utf-8"))
    assert written == result
    assert "release_breaker" in str(GateFailed([result]))


def test_a_wave_onto_the_blacklist_holds_the_release(tmp_path: Path) -> None:
    current = lists(20, 80)  # 15 more blacklisted of 100, limit 10 %
    result = breaker.check_release(city(), setup(tmp_path, lists(5, 95), current), "2026-11-02")
    [failure] = result["failed_expectations"]
    assert "newly on the blacklist" in failure["expectation"]
    assert "15 of 100" in failure["observed"]


def test_thresholds_come_from_the_city_config(tmp_path: Path) -> None:
    paths = setup(tmp_path, lists(5, 95), lists(20, 80))
    loose = city("[release]\nmax_blacklist_gain_share = 0.5\n")
    assert breaker.check_release(loose, paths, "2026-11-02")["success"]
    with pytest.raises(Exception, match="unknown key"):
        city("[release]\nmax_blacklist_gain = 0.5\n")


def test_a_reviewed_release_of_that_date_passes(tmp_path, monkeypatch) -> None:
    paths = setup(tmp_path, lists(5, 95), lists(20, 80))
    monkeypatch.setenv(breaker.REVIEWED_ENV, "2026-11-03")  # another day's review
    assert not breaker.check_release(city(), paths, "2026-11-02")["success"]
    monkeypatch.setenv(breaker.REVIEWED_ENV, "2026-11-02")
    result = breaker.check_release(city(), paths, "2026-11-02")
    assert result["success"] and result["statistics"]["accepted_after_review"]


def test_the_live_release_is_compared_not_the_newest_folder(tmp_path: Path) -> None:
    """A release written by a run that then failed to publish is not the public's baseline."""
    paths = setup(tmp_path, lists(5, 95), lists(5, 95))
    unpublished = paths.release("2026-11-02")
    unpublished.mkdir()
    lists(5, 10).to_parquet(unpublished / "agencies.parquet")
    result = breaker.check_release(city(), paths, "2026-11-03")
    assert result["success"] and result["statistics"]["previous_release"] == "2026-11-01"


def held_wave(tmp_path: Path) -> CityPaths:
    """A release held for a wave onto the blacklist, with resolve's names beside the lists."""
    paths = setup(tmp_path, lists(5, 95), lists(30, 75))
    names = pd.DataFrame({"agency_id": [f"a{i:03d}" for i in range(105)],
                          "name": [f"演示第{i}号商务咨询有限公司（虚构）" for i in range(105)]})  # fmt: skip
    paths.resolved.mkdir(parents=True)
    names.to_parquet(paths.resolved / "agencies.parquet")
    assert not breaker.check_release(city(), paths, "2026-11-02")["success"]
    return paths


def test_a_held_release_is_described_for_review_by_name(tmp_path: Path) -> None:
    held = breaker.held_release(held_wave(tmp_path))
    assert held is not None
    assert held["as_of"] == "2026-11-02" and held["previous_release"] == "2026-11-01"
    assert [c["observed"] for c in held["checks"]] == ["25% (25 of 100)"]
    assert len(held["onto_blacklist"]) == 25
    first = held["onto_blacklist"][0]
    assert first == {
        "agency_id": "a005",
        "list": "blacklist",
        "name": "演示第5号商务咨询有限公司（虚构）",
    }
    assert held["lost"] == []


def test_nothing_is_held_after_an_ordinary_day(tmp_path: Path) -> None:
    paths = setup(tmp_path, lists(5, 95), lists(6, 95))
    breaker.check_release(city(), paths, "2026-11-02")
    assert breaker.held_release(paths) is None
    assert breaker.held_release(CityPaths(tmp_path / "never-run", "demo")) is None


def test_review_command_names_the_agencies_and_the_command_that_publishes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agencywatch.cli import main

    held_wave(tmp_path)
    out = CliRunner().invoke(main, ["review", "demo", "--root", str(tmp_path), "--limit", "3"])
    assert out.exit_code == 0, out.output
    assert "the release of 2026-11-02 is held" in out.output
    assert "25 newly on the blacklist (first 3)" in out.output
    assert "演示第5号商务咨询有限公司（虚构）" in out.output
    assert "演示第8号" not in out.output  # beyond --limit
    assert (
        f"AGENCYWATCH_RELEASE_REVIEWED=2026-11-02 agencywatch run demo --date 2026-11-02 --root {tmp_path}"
        in out.output.replace("\n", "")
    )
    as_json = CliRunner().invoke(main, ["review", "demo", "--root", str(tmp_path), "--json"])
    assert json.loads(as_json.output)["as_of"] == "2026-11-02"


def test_a_gate_file_without_its_date_takes_the_scorers(tmp_path: Path) -> None:
    paths = held_wave(tmp_path)
    scores = pd.read_parquet(paths.scored / "scores.parquet")
    scores["as_of"] = "2026-11-02"
    scores.to_parquet(paths.scored / "scores.parquet")
    gate = json.loads((paths.gates / "release_breaker.json").read_text("utf-8"))
    del gate["statistics"]["as_of"]  # as written before the breaker recorded its run date
    (paths.gates / "release_breaker.json").write_text(json.dumps(gate), "utf-8")
    assert breaker.held_release(paths)["as_of"] == "2026-11-02"
