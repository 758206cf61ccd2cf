"""The demo pipeline run again and again on one output root: incremental crawls, blocked sources.

1. A first run fetches every page.
2. A second run on the unchanged mirror only revalidates (304s): no listing page is fetched
   again, and the release is byte-identical.
3. A third run, with the mirror answering the penalty list with a WAF challenge page, still
   publishes: the penalty source is stale, its previous records are still in the release, and
   the sources page says so.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agencywatch.config import load_city
from agencywatch.pipeline import run_city

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-01"
pytestmark = pytest.mark.slow


def release_bytes(root: Path) -> dict[str, bytes]:
    folder = root / "releases" / "demo" / AS_OF
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    project = tmp_path_factory.mktemp("project")
    (project / "cities").mkdir()
    shutil.copy(REPO / "cities" / "demo.toml", project / "cities" / "demo.toml")
    shutil.copytree(REPO / "mirrors" / "demo", project / "mirrors" / "demo")
    root = project / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENCYWATCH_CITIES_DIR", str(project / "cities"))
        mp.delenv("AGENCYWATCH_MIRROR_FAULTS", raising=False)
        first = run_city("demo", root=str(root), as_of=AS_OF)
        first_release = release_bytes(root)
        second = run_city("demo", root=str(root), as_of=AS_OF)
        second_release = release_bytes(root)
        mp.setenv("AGENCYWATCH_MIRROR_FAULTS", json.dumps({"/credit/penalty/": "challenge"}))
        third = run_city("demo", root=str(root), as_of=AS_OF)
        city = load_city("demo")
    return {
        "root": root,
        "city": city,
        "summaries": [first, second, third],
        "releases": [first_release, second_release, release_bytes(root)],
    }


def test_first_run_fetches_every_page(runs) -> None:
    first = runs["summaries"][0]
    assert first["status"] == "published"
    for sid, source in first["sources"].items():
        assert source["pages_fetched"] > 0 and source["pages_not_modified"] == 0, sid


def test_second_run_only_revalidates(runs) -> None:
    second = runs["summaries"][1]
    assert second["status"] == "published"
    for s in runs["city"].sources:
        got = second["sources"][s.id]
        assert got["status"] == "ok", (s.id, got)
        assert got["pages_fetched"] == 0, (s.id, got)
        assert got["pages_not_modified"] >= 1, (s.id, got)
        assert got["rows"] == runs["summaries"][0]["sources"][s.id]["rows"], s.id


def test_second_run_release_is_byte_identical(runs) -> None:
    first, second = runs["releases"][:2]
    assert first and first.keys() == second.keys()
    changed = [name for name in first if first[name] != second[name]]
    assert not changed


def test_listing_crawl_stopped_at_the_first_known_page(runs) -> None:
    """The penalty list has several pages; an unchanged page 1 is as far as the crawl goes."""
    first, second = runs["summaries"][0], runs["summaries"][1]
    assert first["sources"]["penalties"]["pages_fetched"] > 1
    assert second["sources"]["penalties"]["pages_not_modified"] == 1
    assert "only known records" in second["sources"]["penalties"]["message"]


def test_challenge_page_leaves_the_source_stale_and_its_records_published(runs) -> None:
    third = runs["summaries"][2]
    assert third["status"] == "published", third.get("error")
    penalties = third["sources"]["penalties"]
    assert penalties["status"] == "stale", penalties
    assert "412" in penalties["message"] or "challenge" in penalties["message"]
    assert all(third["sources"][s]["status"] == "ok" for s in third["sources"] if s != "penalties")
    events = runs["releases"][2]["events.csv"].decode("utf-8-sig")
    before = runs["releases"][1]["events.csv"].decode("utf-8-sig")
    assert events.count(",penalties,") == before.count(",penalties,") > 0


def test_sources_page_shows_the_stale_source(runs) -> None:
    page = (runs["root"] / "public" / "demo" / "sources.html").read_text(encoding="utf-8")
    row = page[page.index('id="source-penalties"') :]
    row = row[: row.index("</tr>")]
    assert "status-stale" in row
    assert "沿用" in row  # "last good data reused"
    assert "成绩规则" in page  # the grading rules are printed beside the grades
