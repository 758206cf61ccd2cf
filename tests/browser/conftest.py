"""A small fictional site, rendered once per session and served on 127.0.0.1, and a headless
Chromium from Debian (a browser download is not possible here) driven by Playwright."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from agencywatch.paths import CityPaths
from tests.test_release import AS_OF, fictional_city, write_inputs
from transforms import portal, release, render

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"

# Fictional numbers on the demo's fictional area code 0599.
AGENCY_PHONE = "059961234567"
REPORTED_PHONE = "059967654321"
UNKNOWN_PHONE = "0599-6000 0001"
FILING_NO = "99910120140007"
WHITELISTED = "91990000MA00000001"


def _extra_events(ids: list[str]) -> pd.DataFrame:
    """A published phone, a reported phone and a filing, linked to the fixture's agencies."""
    rows = [
        ("phones:" + AGENCY_PHONE, ids[0], "phone", "published_by_agency", "机构公布电话"),
        ("complaints:" + REPORTED_PHONE, ids[-1], "phone", "reported", "被举报电话"),
        ("filings:" + FILING_NO, ids[0], "filing", "credit_reporting", "征信机构备案"),
    ]
    return pd.DataFrame(
        {
            "record_id": [r[0] for r in rows],
            "agency_id": [r[1] for r in rows],
            "record_type": [r[2] for r in rows],
            "match_method": ["uscc"] * 3,
            "event_date": [None, None, "2014-06-25"],
            "category": [r[3] for r in rows],
            "summary_zh": [r[4] for r in rows],
            "summary_en": ["Published phone", "Reported phone", "Credit-reporting filing"],
            "source_id": ["registrations", "penalties", "registrations"],
            "url": ["https://credit.demo-city.example/association/phones.csv"] * 3,
            "fetched_at": ["2026-11-22T02:00:03Z"] * 3,
            "content_sha256": ["e" * 64] * 3,
            "publicity_end": [None] * 3,
            "first_seen": ["2026-10-01"] * 3,
            "last_seen": ["2026-11-22"] * 3,
        }
    )


def _gates(paths: CityPaths) -> None:
    gates = paths.data / "gates"
    gates.mkdir(parents=True, exist_ok=True)
    (gates / "clean.json").write_text(
        json.dumps(
            {
                "name": "clean",
                "success": True,
                "failed_expectations": [],
                "statistics": {"evaluated_expectations": 4, "successful_expectations": 4},
            }
        )
    )
    (gates / "raw_penalties.json").write_text(
        json.dumps(
            {
                "name": "raw_penalties",
                "success": False,
                "failed_expectations": [
                    {
                        "expectation": "expect_table_row_count_to_be_between",
                        "column": None,
                        "expected": {"min_value": 5},
                        "observed": 1,
                        "unexpected_examples": ["<script>alert(1)</script>"],
                    }
                ],
                "statistics": {"evaluated_expectations": 3, "successful_expectations": 2},
            }
        )
    )


@pytest.fixture(scope="session")
def site_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root/public/ holding the portal and the demo city's site (a copy of its build)."""
    root = tmp_path_factory.mktemp("browser-site")
    city = fictional_city()
    paths = CityPaths(root=root, city="demo")
    write_inputs(paths)
    events = pd.read_parquet(paths.resolved / "events.parquet")
    ids = pd.read_parquet(paths.resolved / "agencies.parquet")["agency_id"].tolist()
    pd.concat([events, _extra_events(ids)]).to_parquet(
        paths.resolved / "events.parquet", index=False
    )
    _gates(paths)
    build = render.run(city, paths, release.run(city, paths, AS_OF), {})
    shutil.copytree(build, root / "public" / "demo")
    (paths.data / "last-run.json").write_text(
        json.dumps({"city": "demo", "status": "published", "lists": {"blacklist": 1}})
    )
    portal.run(root)
    return root / "public"


@pytest.fixture(scope="session")
def base_url(site_root: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site_root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Watched:
    """A page whose requests and CSP complaints are recorded, for the no-other-origin checks."""

    def __init__(self, page: object, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.requests: list[str] = []
        self.csp_errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))  # type: ignore[attr-defined]
        page.on(  # type: ignore[attr-defined]
            "console",
            lambda m: (
                self.csp_errors.append(m.text) if "Content Security Policy" in m.text else None
            ),
        )

    def foreign(self) -> list[str]:
        return [
            u
            for u in self.requests
            if not (u.startswith(self.origin + "/") or u.startswith(("blob:", "data:")))
        ]


@pytest.fixture
def open_page(browser, base_url: str) -> Iterator:
    """open_page(path, width=1280, js=True, bypass_csp=False) → Watched; every page opened is
    checked afterwards: nothing requested from another origin, no CSP violation."""
    contexts = []
    watched: list[Watched] = []

    def _open(path: str, width: int = 1280, js: bool = True, bypass_csp: bool = False) -> Watched:
        ctx = browser.new_context(  # type: ignore[attr-defined]
            viewport={"width": width, "height": 900},
            java_script_enabled=js,
            bypass_csp=bypass_csp,
            accept_downloads=True,
            service_workers="block",
        )
        contexts.append(ctx)
        page = ctx.new_page()
        w = Watched(page, base_url)
        watched.append(w)
        page.goto(f"{base_url}/{path}")
        return w

    yield _open
    for ctx in contexts:
        ctx.close()
    for w in watched:
        assert w.foreign() == [], w.foreign()
        assert w.csp_errors == [], w.csp_errors
