"""The public site in headless Chromium: search, phone lookup, batch check, language switch,
large-font mode, JavaScript off, accessibility (axe-core) and screenshots."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from pathlib import Path

import pytest

from tests.browser.conftest import (
    AGENCY_PHONE,
    AXE,
    FILING_NO,
    REPO,
    REPORTED_PHONE,
    SCREENSHOTS,
    UNKNOWN_PHONE,
    WHITELISTED,
)

pytestmark = pytest.mark.browser
AGENCY = f"demo/agency/{WHITELISTED}.html"


def _search(w, selector: str, text: str) -> None:
    w.page.fill(selector, text)
    w.page.press(selector, "Enter")


def test_search_finds_a_partial_name_typed_in_traditional_characters(open_page) -> None:
    w = open_page("demo/index.html")
    _search(w, "#q", "商務諮詢")  # part of 甲乙商务咨询有限公司, in traditional characters
    link = w.page.locator(f'#results a[href="agency/{WHITELISTED}.html"]')
    link.wait_for()
    assert "甲乙商务咨询有限公司" in link.inner_text()
    assert w.page.locator("#results li").count() == 1


@pytest.mark.parametrize("typed", [WHITELISTED.lower(), "9199 0000 MA00 000001", FILING_NO])
def test_search_finds_a_code_or_filing_number(open_page, typed: str) -> None:
    w = open_page("demo/index.html")
    _search(w, "#q", typed)
    w.page.locator(f'#results a[href="agency/{WHITELISTED}.html"]').first.wait_for()


@pytest.mark.parametrize(
    "typed",
    ["0599-6123 4567", "+86 599 6123 4567", "(0599) 61234567", "0086 599 61234567", "61234567"],
)
def test_phone_lookup_normalizes_and_downloads_one_small_shard(open_page, typed: str) -> None:
    w = open_page("demo/phone.html")
    _search(w, "#phone-q", typed)
    w.page.locator(".verdict-agency").wait_for()
    assert w.page.locator(f'#results a[href="agency/{WHITELISTED}.html"]').count() == 1
    evidence = w.page.locator('#results .source a[href^="https://credit.demo-city.example/"]')
    assert evidence.count() == 1
    shards = [u.split("/search/", 1)[1] for u in w.requests if "/search/" in u]
    assert shards == [f"phones/{AGENCY_PHONE[-2:]}.json"]


def test_phone_lookup_says_reported_and_unknown(open_page) -> None:
    w = open_page("demo/phone.html")
    _search(w, "#phone-q", REPORTED_PHONE)
    w.page.locator(".verdict-reported").wait_for()
    assert w.page.locator(".verdict-agency").count() == 0
    _search(w, "#phone-q", UNKNOWN_PHONE)
    w.page.locator(".verdict-unknown").wait_for()
    _search(w, "#phone-q", "12")
    w.page.locator("#results .warn").wait_for()


def test_filing_lookup_shows_the_filing_and_its_agency(open_page) -> None:
    w = open_page("demo/filing.html")
    _search(w, "#code-q", FILING_NO)
    w.page.locator("#results li.filing").wait_for()
    text = w.page.locator("#results").inner_text()
    assert FILING_NO in text and "征信机构备案" in text
    assert w.page.locator(f'#results a[href="agency/{WHITELISTED}.html"]').count() == 1


def _downloaded_csv(w) -> list[list[str]]:
    with w.page.expect_download() as info:
        w.page.click("#batch-download")
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_batch_check_pasted_lines(open_page) -> None:
    w = open_page("demo/batch.html")
    w.page.fill("#batch-input", f"甲乙商务咨询有限公司\n{WHITELISTED}\n=不存在的公司\n")
    w.page.click("#batch-form button[type=submit]")
    rows = w.page.locator("table.batch-results tbody tr")
    rows.first.wait_for()
    assert rows.count() == 3
    assert w.page.locator("table.batch-results tr.unmatched").count() == 1
    assert "未找到" in rows.nth(2).inner_text()
    table = _downloaded_csv(w)
    assert table[0][:2] == ["输入", "状态"]
    assert table[1][2] == "甲乙商务咨询有限公司" and table[1][4].endswith(
        f"/demo/agency/{WHITELISTED}.html"
    )
    assert table[3][0] == "'=不存在的公司"  # formula-safe
    assert table[3][1] == "未找到"


def test_batch_check_opens_a_csv_file(open_page, tmp_path: Path) -> None:
    w = open_page("demo/en/batch.html")
    path = tmp_path / "names.csv"
    path.write_text(f'name,note\n"甲乙商务咨询有限公司",x\n{WHITELISTED},y\nnobody,z\n', "utf-8")
    w.page.set_input_files("#batch-file", str(path))
    rows = w.page.locator("table.batch-results tbody tr")
    rows.first.wait_for()
    assert rows.count() == 3
    assert [rows.nth(i).get_attribute("class") for i in range(3)] == [
        "matched",
        "matched",
        "unmatched",
    ]
    assert "Not found" in rows.nth(2).inner_text()


def test_language_switch_on_every_kind_of_page(open_page) -> None:
    w = open_page(AGENCY)
    assert w.page.locator("html").get_attribute("lang") == "zh-CN"
    w.page.click("a.lang-switch")
    w.page.wait_for_url(re.compile(rf"/demo/en/agency/{WHITELISTED}.html$"))
    assert w.page.locator("html").get_attribute("lang") == "en"
    assert "Scoring method" in w.page.locator("footer").inner_text()
    w.page.click("a.lang-switch")
    w.page.wait_for_url(re.compile(rf"/demo/agency/{WHITELISTED}.html$"))
    for path in ("demo/index.html", "demo/en/phone.html", "demo/batch.html", "index.html"):
        page = open_page(path).page
        href = page.locator("a.lang-switch").get_attribute("href")
        page.click("a.lang-switch")
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") in ("en", "zh-CN"), href
        assert page.title(), href


def _root_font_px(page) -> float:
    return float(page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)"))


def test_large_font_mode_is_big_and_remembered(open_page) -> None:
    w = open_page("demo/index.html")
    normal = _root_font_px(w.page)
    w.page.click("#font-toggle")
    assert w.page.locator("#font-toggle").get_attribute("aria-pressed") == "true"
    assert _root_font_px(w.page) >= 1.5 * normal
    w.page.goto(w.page.url.replace("index.html", "all.html"))
    assert _root_font_px(w.page) >= 1.5 * normal  # remembered across pages
    w.page.click("#font-toggle")
    assert _root_font_px(w.page) == normal


def test_core_content_without_javascript(open_page) -> None:
    w = open_page("demo/all.html", js=False)
    assert w.page.locator("table.agencies tbody tr").count() == 3
    page = open_page(AGENCY, js=False).page
    assert "甲乙商务咨询有限公司" in page.locator("h1").inner_text()
    assert page.locator("#reasons-h").is_visible()


def test_list_filters_and_sorting(open_page) -> None:
    w = open_page("demo/all.html")
    rows = w.page.locator("table.agencies tbody tr")
    w.page.select_option("#f-list", "blacklist")
    assert rows.evaluate_all("rs => rs.filter(r => !r.hidden).length") == 1
    w.page.select_option("#f-list", "")
    w.page.select_option("#f-district", "东区")
    assert rows.evaluate_all("rs => rs.filter(r => !r.hidden).length") == 1
    w.page.select_option("#f-district", "")
    w.page.click("th:last-child button.sort")
    w.page.click("th:last-child button.sort")  # descending: the best score first
    assert WHITELISTED in (rows.first.locator("a").get_attribute("href") or "")


AXE_PAGES = [
    "index.html",
    "demo/index.html",
    "demo/blacklist.html",
    "demo/all.html",
    AGENCY,
    "demo/phone.html",
    "demo/batch.html",
    "demo/quality.html",
    "demo/en/index.html",
    f"demo/en/agency/{WHITELISTED}.html",
    "demo/en/phone.html",
]


@pytest.mark.parametrize("path", AXE_PAGES)
def test_axe_reports_no_violation(open_page, path: str) -> None:
    if not AXE.is_file():
        pytest.fail("node_modules/axe-core is missing: run `npm ci`")
    w = open_page(path, bypass_csp=True)  # axe is injected as an inline script
    if "phone" in path:
        _search(w, "#phone-q", AGENCY_PHONE)
        w.page.locator(".verdict").first.wait_for()
    if "batch" in path:
        w.page.fill("#batch-input", "甲乙商务咨询有限公司\nnobody")
        w.page.click("#batch-form button[type=submit]")
        w.page.locator("table.batch-results").wait_for()
    w.page.add_script_tag(path=str(AXE))
    result = w.page.evaluate("async () => await axe.run(document)")
    problems = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
    assert problems == []


SHOTS = [
    ("home-zh-desktop", "demo/index.html", 1280, False),
    ("home-zh-phone", "demo/index.html", 360, False),
    ("agency-en-phone", f"demo/en/agency/{WHITELISTED}.html", 360, False),
    ("agency-zh-desktop", AGENCY, 1280, False),
    ("phone-en-desktop", "demo/en/phone.html", 1280, False),
    ("list-zh-phone-large", "demo/all.html", 360, True),
    ("home-en-phone-large", "demo/en/index.html", 360, True),
    ("batch-zh-phone", "demo/batch.html", 360, False),
    ("portal-zh-desktop", "index.html", 1280, False),
]


@pytest.mark.parametrize(("name", "path", "width", "large"), SHOTS)
def test_screenshots_fit_the_width(
    open_page, name: str, path: str, width: int, large: bool
) -> None:
    w = open_page(path, width=width)
    if large:
        w.page.click("#font-toggle")
    if "phone.html" in path:
        _search(w, "#phone-q", AGENCY_PHONE)
        w.page.locator(".verdict").first.wait_for()
    if "batch" in path:
        w.page.fill("#batch-input", "甲乙商务咨询有限公司\nnobody")
        w.page.click("#batch-form button[type=submit]")
        w.page.locator("table.batch-results").wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    w.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    overflow = w.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: {overflow}px wider than the screen"


def test_every_page_is_valid_html(site_root: Path) -> None:
    """html-validate (npm) in its standard rule set over every generated page."""
    binary = REPO / "node_modules" / ".bin" / "html-validate"
    if not binary.exists():
        pytest.fail("node_modules/html-validate is missing: run `npm ci`")
    pages = sorted(str(p) for p in site_root.rglob("*.html"))
    assert len(pages) > 20
    config = Path(__file__).with_name("htmlvalidate.json")
    done = subprocess.run(
        [str(binary), "--config", str(config), "--formatter", "text", *pages],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
