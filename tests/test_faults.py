"""Fault injection: each way a real source breaks, served by the demo mirror, crawled for real.

Every fault must end as a crawl that is not trusted (retried first where a retry can help), with
a message that says what happened, and with the last good raw file kept (the source is stale),
never as "no records". All crawls of this module run side by side, each against its own mirror
server, so the module costs about as much as its slowest crawl.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agencywatch.config import City, load_city
from agencywatch.mirror.server import FAULTS, MirrorServer
from agencywatch.paths import CityPaths
from crawlers.run import crawl_source

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO / "mirrors" / "demo"
TIMEOUT_S = 5.0  # the test city's download timeout; the mirror stalls longer than this
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    source: str
    prefix: str
    fault: str
    status: str  # what the crawl alone would say: blocked or failed
    words: str  # what the message must say
    attempts: int | None = None  # requests to the page: 3 when retried, 1 when not
    fresh: bool = False  # crawled with no earlier data (an incremental crawl would stop early)


CASES = {
    "http500": Case("filings", "/pbc/", "http500", "failed", "HTTP 500", attempts=3),
    "timeout": Case(
        "filings", "/pbc/", "timeout", "failed", "no answer within the download timeout", 3
    ),
    "truncated": Case("filings", "/pbc/", "truncated", "failed", "truncated", attempts=3),
    "challenge": Case(
        "filings", "/pbc/", "challenge", "blocked", "HTTP 412 challenge page", attempts=1
    ),
    "error_body": Case("filings", "/pbc/", "error_body", "blocked", "the body is just 'error'"),
    "zero_rows": Case("filings", "/pbc/", "zero_rows", "blocked", "only 0 rows"),
    "zero_rows_json": Case("dishonest", "/zxgk/", "zero_rows", "blocked", "only 0 rows"),
    "zero_rows_xlsx": Case("registrations", "/opendata/", "zero_rows", "blocked", "only 0 rows"),
    "oversized": Case(
        "filings", "/pbc/", "oversized", "failed", "larger than the download size limit"
    ),
    "offsite_redirect": Case(
        "filings", "/pbc/", "offsite_redirect", "blocked", "redirected to another site"
    ),
    "malformed_json": Case("dishonest", "/zxgk/", "malformed_json", "blocked", "not JSON"),
    "same_page_html": Case(
        "penalties", "/credit/penalty/", "same_page", "failed", "loops", fresh=True
    ),
    "same_page_json": Case("dishonest", "/zxgk/", "same_page", "failed", "loops", fresh=True),
}
# These two do not break the crawl itself: the label gate and the decoder deal with them.
READABLE = {
    "renamed_column": Case("penalties", "/credit/penalty/", "renamed_column", "ok", ""),
    "gbk_as_utf8": Case("filings", "/pbc/", "gbk_as_utf8", "ok", ""),
    "gbk_as_utf8_paged": Case("penalties", "/credit/penalty/", "gbk_as_utf8", "ok", ""),
}
BASELINE_SOURCES = ("filings", "dishonest", "registrations", "penalties")


def test_every_fault_of_the_issue_is_injectable() -> None:
    wanted = {
        "http500", "timeout", "truncated", "challenge", "error_body", "zero_rows",
        "renamed_column", "gbk_as_utf8", "oversized", "offsite_redirect", "malformed_json",
        "same_page",
    }  # fmt: skip
    assert wanted <= set(FAULTS)
    assert wanted == {c.fault for c in [*CASES.values(), *READABLE.values()]}


def city_for_tests() -> City:
    city = load_city(REPO / "cities" / "demo.toml")
    sources = [s.model_copy(update={"download_timeout_s": TIMEOUT_S}) for s in city.sources]
    return city.model_copy(update={"sources": sources})


def crawl(city: City, source_id: str, root: Path, faults: dict[str, str]) -> dict[str, Any]:
    """One crawl against a mirror server of its own; the log plus the server's hit counts."""
    with MirrorServer(MIRROR) as server:
        server.stall_s = TIMEOUT_S * 2
        server.faults.update(faults)
        log = crawl_source(city, city.source(source_id), CityPaths(root, "demo"), server.url)
        return {**log, "hits": dict(server.hits)}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One good crawl of each source the faults hit: the data a broken crawl must not lose."""
    root = tmp_path_factory.mktemp("baseline")
    city = city_for_tests()
    with ThreadPoolExecutor(max_workers=4) as pool:
        logs = list(pool.map(lambda sid: crawl(city, sid, root, {}), BASELINE_SOURCES))
    assert [log["status"] for log in logs] == ["ok"] * len(BASELINE_SOURCES), logs
    return root


@pytest.fixture(scope="module")
def outcomes(baseline: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every fault crawled on top of a copy of the baseline, all at once."""
    city = city_for_tests()

    def run(name: str, case: Case) -> tuple[str, dict[str, Any]]:
        root = tmp_path_factory.mktemp(name)
        if not case.fresh:
            shutil.copytree(baseline / "data", root / "data")
        return name, crawl(city, case.source, root, {case.prefix: case.fault}) | {"root": root}

    cases = {**CASES, **READABLE}
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(lambda item: run(*item), cases.items()))


def raw_bytes(root: Path, source: str) -> bytes:
    return (root / "data" / "demo" / "raw" / f"{source}.jsonl").read_bytes()


@pytest.mark.parametrize("name", sorted(CASES))
def test_fault_keeps_the_last_good_crawl_and_says_why(
    name: str, outcomes: dict[str, Any], baseline: Path
) -> None:
    case, log = CASES[name], outcomes[name]
    if case.fresh:
        assert log["status"] == case.status and case.words in log["message"], log
        assert not (log["root"] / "data" / "demo" / "raw" / f"{case.source}.jsonl").exists()
        return
    assert log["status"] == "stale", log
    assert log["message"].startswith(f"{case.status}: "), log["message"]
    assert case.words in log["message"], log["message"]
    assert "reusing the last good crawl" in log["message"]
    assert raw_bytes(log["root"], case.source) == raw_bytes(baseline, case.source)
    written = json.loads(
        (log["root"] / "data" / "demo" / "raw" / f"{case.source}.crawl.json").read_text("utf-8")
    )
    assert written["status"] == "stale" and written["message"] == log["message"]


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.attempts))
def test_transient_faults_are_retried_and_refusals_are_not(
    name: str, outcomes: dict[str, Any]
) -> None:
    case, hits = CASES[name], outcomes[name]["hits"]
    page = next(t for t in hits if t.startswith(case.prefix))
    assert hits[page] == case.attempts, hits


def test_a_page_loop_stops_at_the_first_repeat(outcomes: dict[str, Any]) -> None:
    hits = outcomes["same_page_html"]["hits"]
    assert sum(n for t, n in hits.items() if t.startswith("/credit/penalty/")) == 2, hits


def test_a_fault_without_earlier_data_leaves_no_raw_file(tmp_path: Path) -> None:
    log = crawl(city_for_tests(), "filings", tmp_path, {"/pbc/": "http500"})
    assert log["status"] == "failed" and "HTTP 500" in log["message"]
    assert not (tmp_path / "data" / "demo" / "raw" / "filings.jsonl").exists()


def test_gbk_labelled_as_utf8_is_read_as_what_it_is(
    outcomes: dict[str, Any], baseline: Path
) -> None:
    """The decoder notices the label lies: the same records as the honest page, no mojibake."""
    for name, source in (("gbk_as_utf8", "filings"), ("gbk_as_utf8_paged", "penalties")):
        log = outcomes[name]
        assert log["status"] == "ok", log

        def fields(root: Path, source: str = source) -> list[dict[str, str]]:
            lines = raw_bytes(root, source).decode("utf-8").splitlines()
            return [json.loads(line)["fields"] for line in lines]

        assert fields(log["root"]) == fields(baseline)
        assert not any("\ufffd" in k for row in fields(log["root"]) for k in row)


def test_a_renamed_column_is_stopped_by_the_raw_gate(outcomes: dict[str, Any]) -> None:
    """The crawl cannot know a label's meaning; the raw gate does, and names the new label."""
    from expectations.gate import check_raw

    log = outcomes["renamed_column"]
    assert log["status"] == "ok"
    city = city_for_tests()
    only = city.model_copy(update={"sources": [city.source("penalties")]})
    [gate] = check_raw(only, CityPaths(log["root"], "demo"))
    assert not gate["success"]
    assert "相对人" in gate["statistics"]["unmapped_labels"]


# --- whole runs: a faulty source never makes a bad release ----------------------------------

AS_OF = "2026-11-01"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project of its own (the demo config, a copy of its mirror) with one published run."""
    from agencywatch.pipeline import run_city

    root = tmp_path_factory.mktemp("project")
    (root / "cities").mkdir()
    shutil.copy(REPO / "cities" / "demo.toml", root / "cities" / "demo.toml")
    shutil.copytree(MIRROR, root / "mirrors" / "demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENCYWATCH_CITIES_DIR", str(root / "cities"))
        assert run_city("demo", root=str(root), as_of=AS_OF)["status"] == "published"
    return root


def released_lists(root: Path, day: str) -> dict[str, str]:
    import pandas as pd

    df = pd.read_parquet(root / "releases" / "demo" / day / "agencies.parquet")
    return dict(zip(df["agency_id"], df["list"], strict=True))


def test_broken_sources_publish_yesterdays_facts_and_say_why(project: Path) -> None:
    from agencywatch.pipeline import run_city

    faults = {"/pbc/": "http500", "/zxgk/": "challenge"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENCYWATCH_CITIES_DIR", str(project / "cities"))
        mp.setenv("AGENCYWATCH_MIRROR_FAULTS", json.dumps(faults))
        summary = run_city("demo", root=str(project), as_of="2026-11-02")
    assert summary["status"] == "published", summary.get("error")
    sources = summary["sources"]
    assert sources["filings"]["status"] == "stale" and "HTTP 500" in sources["filings"]["message"]
    assert sources["dishonest"]["status"] == "stale"
    assert "HTTP 412 challenge page" in sources["dishonest"]["message"]
    assert released_lists(project, "2026-11-02") == released_lists(project, AS_OF)
    page = (project / "public" / "demo" / "sources.html").read_text("utf-8")
    assert "HTTP 500" in page and "HTTP 412 challenge page" in page


def test_a_release_that_moves_too_much_is_held(project: Path) -> None:
    """A register that shrank within its row bounds: the breaker holds the release, exit 2.

    210 of 295 registrations are left; about a tenth of the agencies drop out, so this city's
    limit is set below that (the default 20 % is meant for real cities' daily runs).
    """
    import subprocess
    import sys

    from openpyxl import load_workbook

    xlsx = project / "mirrors" / "demo" / "opendata" / "registrations.xlsx"
    book = load_workbook(xlsx)
    sheet = book.worksheets[0]
    sheet.delete_rows(212, sheet.max_row)  # 210 of 295 rows left; min_rows is 200
    book.save(xlsx)
    config = project / "cities" / "demo.toml"
    config.write_text(
        config.read_text("utf-8") + "\n[release]\nmax_agency_loss_share = 0.05\n", "utf-8"
    )
    live_before = (project / "public" / "demo").resolve()
    done = subprocess.run(
        [sys.executable, "-m", "agencywatch.cli", "run", "demo", "--root", str(project),
         "--date", "2026-11-03"],
        capture_output=True, text=True, timeout=900, cwd=REPO,
        env={**__import__("os").environ, "AGENCYWATCH_CITIES_DIR": str(project / "cities")},
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "release_breaker" in done.stdout + done.stderr
    assert "held for review" in done.stdout + done.stderr
    summary = json.loads((project / "data" / "demo" / "last-run.json").read_text("utf-8"))
    assert summary["status"] == "blocked"
    assert not (project / "releases" / "demo" / "2026-11-03").exists()
    assert (project / "public" / "demo").resolve() == live_before
