"""The whole pipeline on the demo city, through the CLI, as `make demo` runs it.

One published run is shared by the tests of this module (it takes a while); the gate test then
breaks a page of a copy of the mirror and checks that publication stops with the old site intact.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-01"  # the date the committed mirror is generated as of
pytestmark = pytest.mark.slow


def agencywatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agencywatch.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder of its own: the demo city config and a copy of its mirror."""
    root = tmp_path_factory.mktemp("project")
    (root / "cities").mkdir()
    shutil.copy(REPO / "cities" / "demo.toml", root / "cities" / "demo.toml")
    shutil.copytree(REPO / "mirrors" / "demo", root / "mirrors" / "demo")
    return root


@pytest.fixture(scope="module")
def env(project: Path) -> dict[str, str]:
    return {"AGENCYWATCH_CITIES_DIR": str(project / "cities")}


@pytest.fixture(scope="module")
def published(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = agencywatch("run", "demo", "--root", str(project), "--date", AS_OF, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_run_prints_a_summary(published: subprocess.CompletedProcess) -> None:
    out = published.stdout
    assert "published" in out
    for heading in ("sources", "gates", "lists and timings"):
        assert heading in out
    assert "penalties" in out


def test_run_summary_json_has_the_design_fields(published, project: Path) -> None:
    summary = json.loads((project / "data" / "demo" / "last-run.json").read_text("utf-8"))
    assert summary["status"] == "published"
    assert summary["city"] == "demo"
    assert set(summary["timings_s"]) == {
        "crawl", "normalize", "resolve", "validate", "score", "release", "render", "publish",
    }  # fmt: skip
    assert set(summary["lists"]) == {
        "blacklist", "warning", "whitelist", "no_adverse_record", "not_rated",
    }  # fmt: skip
    assert summary["lists"]["blacklist"] > 0 and summary["lists"]["whitelist"] > 0
    for sid, source in summary["sources"].items():
        assert source["status"] == "ok", (sid, source)
        assert source["rows"] > 0 and source["pages_fetched"] > 0
    assert all(g["success"] for g in summary["gates"])
    assert summary["release"] == f"releases/demo/{AS_OF}"
    assert summary["site"] == "public/demo"
    assert summary["peak_rss_mb"] > 0
    run_file = project / "data" / "demo" / "runs" / f"{summary['run_id']}.json"
    assert json.loads(run_file.read_text("utf-8")) == summary


def test_every_agency_lands_on_the_list_the_mirror_planted(published, project: Path) -> None:
    """The generator records the list each fictional agency should get; the pipeline must agree."""
    import pandas as pd

    from transforms.values import name_key

    truth = json.loads((project / "mirrors" / "demo" / "_truth.json").read_text("utf-8"))
    expected = {}
    for agency in truth["agencies"]:
        expected[agency["uscc"] or name_key(agency["name"])] = agency["expected_list"]
    agencies = pd.read_csv(project / "releases" / "demo" / AS_OF / "agencies.csv", dtype=str)
    got = {}
    for row in agencies.itertuples():
        key = row.uscc if isinstance(row.uscc, str) and row.uscc in expected else name_key(row.name)
        got[key] = row.list
    assert set(got) == set(expected)
    wrong = {k: (got[k], expected[k]) for k in expected if got[k] != expected[k]}
    assert not wrong


def test_site_has_home_lists_and_one_page_per_agency(published, project: Path) -> None:
    import pandas as pd

    site = project / "public" / "demo"
    assert (site / "index.html").is_file()
    for page in ("blacklist.html", "warning.html", "whitelist.html", "method.html"):
        assert (site / page).is_file(), page
    agencies = pd.read_csv(project / "releases" / "demo" / AS_OF / "agencies.csv")
    for agency_id in agencies["agency_id"]:
        assert (site / "agency" / f"{agency_id}.html").is_file(), agency_id


def test_release_datapackage_passes_frictionless(published, project: Path) -> None:
    package = project / "releases" / "demo" / AS_OF / "datapackage.json"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "frictionless"), "validate", str(package)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_published_release_verifies_and_has_changes_history_and_feeds(
    published, project: Path, env: dict[str, str]
) -> None:
    release_dir = project / "releases" / "demo" / AS_OF
    result = agencywatch("verify", str(release_dir), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("changes.csv", "history.csv", "README.zh.md", "README.en.md"):
        assert (release_dir / name).is_file(), name
    site = project / "public" / "demo"
    assert (site / "changes.html").is_file()
    assert (site / "feeds" / "blacklist.atom").is_file()
    assert (site / "downloads" / AS_OF / "changes.csv").is_file()


def _break_penalty_pages(mirror: Path) -> None:
    """A site redesign: the party-name column is renamed on every penalty page."""
    pages = sorted((mirror / "credit" / "penalty").glob("list_*.html"))
    assert pages
    for page in pages:
        text = page.read_bytes().decode("gb18030")
        assert "行政相对人名称" in text
        page.write_bytes(text.replace("行政相对人名称", "相对人").encode("gb18030"))


def test_broken_page_blocks_publication_and_keeps_old_site(published, project, env) -> None:
    site = project / "public" / "demo"
    before_target = os.readlink(site) if site.is_symlink() else None
    before_index = (site / "index.html").read_bytes()
    releases_before = sorted(p.name for p in (project / "releases" / "demo").iterdir())

    _break_penalty_pages(project / "mirrors" / "demo")
    result = agencywatch("run", "demo", "--root", str(project), "--date", "2026-11-02", env=env)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "blocked" in result.stdout
    assert "raw_penalties" in result.stdout + result.stderr
    assert "previous release and site stay live" in result.stderr
    assert (site / "index.html").read_bytes() == before_index
    if before_target is not None:
        assert os.readlink(site) == before_target
    assert sorted(p.name for p in (project / "releases" / "demo").iterdir()) == releases_before
    summary = json.loads((project / "data" / "demo" / "last-run.json").read_text("utf-8"))
    assert summary["status"] == "blocked"
    failed = [g for g in summary["gates"] if not g["success"]]
    assert [g["name"] for g in failed] == ["raw_penalties"]
    assert failed[0]["failed_expectations"][0]["observed"] is not None
