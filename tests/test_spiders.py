"""Real crawls of fictional fixture pages over HTTP on 127.0.0.1, through crawl_source.

The fixture server serves tests/fixtures/pages (copied, so a test can add files) the way the
demo mirror does: `/api/a?page=2` is the file `api/a/page=2.json`; anything under `/waf/`
answers HTTP 412 with a JavaScript cookie challenge.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from openpyxl import Workbook
from scrapy.http import HtmlResponse

from agencywatch.config import City, parse_city
from agencywatch.paths import CityPaths
from crawlers.context import SourceContext, as_text, decoded_bytes, dig, page_encoding
from crawlers.run import crawl_source

FIXTURES = Path(__file__).parent / "fixtures" / "pages"
CANONICAL = "https://credit.fixture-city.example"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

CITY_HEAD = f"""
slug = "fixture"
name = "虚构市"
contact_url = "https://agencywatch.example.org/contact"
base_url = "{CANONICAL}"
"""

SOURCES = {
    "penalties": """
        record_type = "penalty"
        kind = "html_table"
        url = "/credit/list_1.html"
        table_selector = "table.list"
        next_page_xpath = "//a[normalize-space(text())='下一页']/@href"
        min_rows = 3
    """,
    "penalties_oldest": """
        record_type = "penalty"
        kind = "html_table"
        url = "/credit/list_1.html"
        table_selector = "table.list"
        next_page_xpath = "//a[normalize-space(text())='下一页']/@href"
        listing_order = "oldest_first"
    """,
    "dishonest": """
        record_type = "dishonest_debtor"
        kind = "json_api"
        url = "/api/a?page=1"
        records_path = "0.result"
        total_pages_path = "0.totalPage"
    """,
    "complaints": """
        record_type = "complaint"
        kind = "json_api"
        url = "/api/b?page=1"
        records_path = "data.list"
        total_path = "data.total"
        page_size_path = "data.page_size"
    """,
    "phones": """
        record_type = "phone"
        kind = "file_download"
        url = "/files/phones.csv"
        file_format = "csv"
        encoding = "gb18030"
    """,
    "registrations": """
        record_type = "registration"
        kind = "file_download"
        url = "/files/registrations.xlsx"
        file_format = "xlsx"
        sheet = "企业登记信息"
    """,
    "complaints_capped": """
        record_type = "complaint"
        kind = "json_api"
        url = "/api/b?page=1"
        records_path = "data.list"
        total_path = "data.total"
        page_size_path = "data.page_size"
        max_pages = 2
    """,
    "waf": """
        record_type = "penalty"
        kind = "html_table"
        url = "/waf/list.html"
    """,
    "error_body": """
        record_type = "phone"
        kind = "file_download"
        url = "/files/error.csv"
        file_format = "csv"
    """,
    "captcha": """
        record_type = "abnormal_listing"
        kind = "html_table"
        url = "/samr/captcha.html"
        table_selector = "table#result"
    """,
    "moved": """
        record_type = "abnormal_listing"
        kind = "html_table"
        url = "/samr/moved.html"
        table_selector = "table#result"
    """,
    "missing": """
        record_type = "phone"
        kind = "file_download"
        url = "/files/no-such-file.csv"
        file_format = "csv"
    """,
    "few": """
        record_type = "phone"
        kind = "file_download"
        url = "/files/phones.csv"
        file_format = "csv"
        min_rows = 10
    """,
    "inbox": """
        record_type = "phone"
        kind = "manual"
        file_format = "csv"
    """,
}


def city_toml(extra: str = "") -> str:
    blocks = [
        f'[[sources]]\nid = "{sid}"\ntitle = "{sid}"\n{body}\n{extra}'
        for sid, body in SOURCES.items()
    ]
    return CITY_HEAD + "\n".join(blocks)


class FixtureHandler(SimpleHTTPRequestHandler):
    requested: list[str]

    def translate_path(self, path: str) -> str:
        parts = urlsplit(path)
        if parts.query:
            query = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(parts.query)))
            return super().translate_path(f"{parts.path}/{query}.json")
        return super().translate_path(parts.path)

    def do_GET(self) -> None:
        self.requested.append(self.path)
        if self.path.startswith("/waf/"):
            body = (FIXTURES / "waf_challenge.html").read_bytes()
            self.send_response(412)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


def registrations_xlsx(path: Path) -> None:
    """An XLSX made here rather than committed: a cover sheet first, then the data sheet."""
    book = Workbook()
    book.active.title = "说明"
    book.active.append(["本表为虚构数据"])
    sheet = book.create_sheet("企业登记信息")
    sheet.append(["企业名称", "统一社会信用代码", "注册资本", "成立日期", "登记状态"])
    sheet.append(
        ["虚构市甲乙商务咨询有限公司", "91990000MA00000001", 100.0, datetime(2020, 1, 2), "存续"]
    )
    sheet.append([None, None, None, None, None])
    sheet.append(["虚构市丙丁信息咨询有限公司", None, "50万元", "2019年3月5日", "吊销，未注销"])
    book.save(path)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    root = tmp_path_factory.mktemp("served") / "pages"
    shutil.copytree(FIXTURES, root)
    registrations_xlsx(root / "files" / "registrations.xlsx")
    requested: list[str] = []
    handler = type("Handler", (FixtureHandler,), {"requested": requested})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", requested
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    path = tmp_path_factory.mktemp("cities") / "fixture.toml"
    return parse_city(city_toml(), path)


# A previous good crawl (age in days) for the sources whose refusal must keep it.
PREVIOUS = {"waf": 1, "error_body": 30, "captcha": 30, "few": 30}


def seed_previous(raw: Path, source_id: str, age_days: int) -> None:
    """A previous good crawl: its raw file, and a log saying when it succeeded."""
    when = (datetime.now(UTC) - timedelta(days=age_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (raw / f"{source_id}.jsonl").write_text('{"previous": true}\n', encoding="utf-8")
    log = json.dumps({"last_success_at": when})
    (raw / f"{source_id}.crawl.json").write_text(log, encoding="utf-8")


def read_back(paths: CityPaths, source_id: str) -> list[dict]:
    raw = paths.raw / f"{source_id}.jsonl"
    if not raw.exists():
        return []
    return [json.loads(line) for line in raw.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def crawled(city: City, server, tmp_path_factory) -> dict[str, tuple[dict, list[dict]]]:
    """Every crawled source once, several at a time (each crawl is its own process)."""
    paths = CityPaths(root=tmp_path_factory.mktemp("out"), city=city.slug)
    paths.raw.mkdir(parents=True)
    for source_id, age in PREVIOUS.items():
        seed_previous(paths.raw, source_id, age)
    crawlable = [s for s in city.sources if s.kind != "manual"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        logs = dict(
            zip(
                crawlable,
                pool.map(lambda s: crawl_source(city, s, paths, server[0]), crawlable),
                strict=True,
            )
        )
    results = {}
    for source, log in logs.items():
        written = json.loads((paths.raw / f"{source.id}.crawl.json").read_text(encoding="utf-8"))
        assert written == log
        results[source.id] = (log, read_back(paths, source.id))
    return results


def test_html_table_gbk_pages_titles_and_robots(crawled, server) -> None:
    log, items = crawled["penalties"]
    assert log["status"] == "ok", log
    assert (log["rows"], log["pages_fetched"]) == (5, 2)
    assert "/private/list_3.html" not in server[1]  # disallowed by robots.txt
    assert "robots.txt" in log["message"]
    labels = {
        "行政相对人名称",
        "行政相对人代码_1(统一社会信用代码)",
        "处罚内容",
        "罚款金额（万元）",
    }
    assert all(set(item["fields"]) == labels for item in items)
    by_place = {item["place"]: item for item in items}
    first = by_place["page 1, row 1"]["fields"]
    assert first["处罚内容"] == "罚款人民币伍仟元整，并责令改正违法行为"  # title= wins over "…"
    assert first["罚款金额（万元）"] == "0.5"
    assert by_place["page 1, row 2"]["fields"]["行政相对人名称"] == "虚构市喆镕信息咨询有限公司"
    third = by_place["page 1, row 3"]["fields"]
    assert third["行政相对人名称"] == "虚构市丙丁商務諮詢有限公司（分公司）"
    assert "page 2, row 2" not in by_place  # the colspan summary row is not a record
    page2 = by_place["page 2, row 3"]
    assert page2["url"] == f"{CANONICAL}/credit/list_2.html"
    body = (FIXTURES / "credit" / "list_2.html").read_bytes()
    assert page2["content_sha256"] == hashlib.sha256(body).hexdigest()
    assert ISO_Z.match(page2["fetched_at"])
    assert {(i["source_id"], i["record_type"]) for i in items} == {("penalties", "penalty")}


@pytest.mark.parametrize(
    ("source_id", "rows", "last_place", "key", "value"),
    [
        ("dishonest", 6, "page 3, row 2", "regDate", "1700000003002"),
        ("complaints", 7, "page 3, row 1", "created_at", "1710000007"),
    ],
)
def test_json_api_both_shapes(crawled, source_id, rows, last_place, key, value) -> None:
    log, items = crawled[source_id]
    assert log["status"] == "ok", log
    assert (log["rows"], log["pages_fetched"]) == (rows, 3)
    last = next(item for item in items if item["place"] == last_place)
    assert last["fields"][key] == value
    assert last["url"].startswith(f"{CANONICAL}/api/") and "page=3" in last["url"]
    assert all(isinstance(v, str) for item in items for v in item["fields"].values())


def test_json_api_stops_at_max_pages(crawled) -> None:
    log, _ = crawled["complaints_capped"]
    assert (log["status"], log["rows"], log["pages_fetched"]) == ("ok", 6, 2)
    assert "max_pages" in log["message"]


def test_csv_in_gb18030(crawled) -> None:
    log, items = crawled["phones"]
    assert log["status"] == "ok", log
    assert [item["place"] for item in items] == ["line 2", "line 4"]
    assert items[0]["fields"]["机构名称"] == "虚构市喆镕商务咨询有限公司"
    assert items[0]["fields"]["备注"] == "总部, 客服"
    assert items[1]["fields"]["统一社会信用代码"] == ""


def test_xlsx_named_sheet(crawled) -> None:
    log, items = crawled["registrations"]
    assert log["status"] == "ok", log
    first, second = items
    assert first["place"] == "sheet 企业登记信息, row 2"
    assert second["place"] == "sheet 企业登记信息, row 4"
    assert first["fields"]["注册资本"] == "100"
    assert first["fields"]["成立日期"] == "2020-01-02"
    assert second["fields"]["登记状态"] == "吊销，未注销"


@pytest.mark.parametrize(
    ("source_id", "why"),
    [
        ("error_body", "'error'"),
        ("captcha", "challenge page"),
        ("few", "at least 10 expected"),
    ],
)
def test_refusals_block_and_keep_previous(crawled, source_id, why) -> None:
    log, items = crawled[source_id]
    assert log["status"] == "blocked", log
    assert why in log["message"]
    assert items == [{"previous": True}]
    assert log["last_success_at"] is not None


def test_recent_previous_crawl_makes_a_challenge_stale(crawled) -> None:
    log, items = crawled["waf"]
    assert log["status"] == "stale", log
    assert "HTTP 412" in log["message"] and items == [{"previous": True}]


def test_blocked_without_previous_writes_no_raw(crawled) -> None:
    log, items = crawled["moved"]
    assert (log["status"], log["last_success_at"], items) == ("blocked", None, [])
    assert "layout changed" in log["message"]


def test_http_error_fails(crawled) -> None:
    log, _ = crawled["missing"]
    assert log["status"] == "failed"
    assert f"HTTP 404 at {CANONICAL}/files/no-such-file.csv" in log["message"]


def test_manual_source_reads_the_inbox(city: City, tmp_path: Path) -> None:
    paths = CityPaths(root=tmp_path, city="fixture")
    assert crawl_source(city, city.source("inbox"), paths)["status"] == "failed"
    inbox = paths.inbox / "inbox"
    inbox.mkdir(parents=True)
    shutil.copy(FIXTURES / "files" / "phones.csv", inbox / "export.csv")
    log = crawl_source(city, city.source("inbox"), paths)
    assert (log["status"], log["rows"], log["pages_fetched"]) == ("ok", 2, 0)
    first = json.loads((paths.raw / "inbox.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert (
        first["fields"]["机构名称"] == "虚构市喆镕商务咨询有限公司"
    )  # no encoding set: gb18030 fallback


def test_urls_fetch_from_the_mirror_and_record_the_canonical_host(city: City) -> None:
    ctx = SourceContext(city, city.source("dishonest"), "http://127.0.0.1:5555")
    assert ctx.start_url == "http://127.0.0.1:5555/api/a?page=1"
    assert ctx.allowed_domains == ["127.0.0.1"]
    assert ctx.canonical_url("http://127.0.0.1:5555/api/a?page=2") == f"{CANONICAL}/api/a?page=2"
    assert SourceContext(city, city.source("dishonest")).start_url == f"{CANONICAL}/api/a?page=1"


def test_encoding_rules() -> None:
    gbk_page = '<html><head><meta charset="gb2312"></head><body>喆镕</body></html>'.encode("gbk")
    response = HtmlResponse(
        "http://127.0.0.1/x.html", body=gbk_page, headers={"Content-Type": "text/html"}
    )
    assert page_encoding(response) == "gb18030"
    undeclared = HtmlResponse("http://127.0.0.1/y.html", body="<p>喆镕</p>".encode("gbk"))
    assert page_encoding(undeclared) == "gb18030"
    header = HtmlResponse(
        "http://127.0.0.1/z.html",
        body=b"<p>ok</p>",
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    assert page_encoding(header) == "utf-8"
    assert decoded_bytes("\ufeff名称".encode()) == "名称"
    assert decoded_bytes("名称".encode("gb18030")) == "名称"


def test_values_and_paths() -> None:
    assert dig([{"result": [1]}], "0.result") == [1]
    assert dig({"data": {"list": []}}, "data.list") == []
    assert dig({"data": None}, "data.list") is None
    assert [as_text(v) for v in (None, 5.0, 5.5, 17, True, " x ", {"a": "名"})] == [
        "",
        "5",
        "5.5",
        "17",
        "true",
        "x",
        '{"a": "名"}',
    ]


# --- incremental crawls and politeness -------------------------------------------------------


def test_second_crawl_only_revalidates_and_keeps_the_raw_file(city: City, server, tmp_path) -> None:
    """The fixture server answers If-Modified-Since with 304, as a real CMS does."""
    paths = CityPaths(root=tmp_path, city="fixture")
    first = crawl_source(city, city.source("penalties"), paths, server[0])
    raw_before = (paths.raw / "penalties.jsonl").read_bytes()
    second = crawl_source(city, city.source("penalties"), paths, server[0])
    assert first["status"] == second["status"] == "ok"
    assert first["pages_fetched"] == 2 and first["pages_not_modified"] == 0
    assert second["pages_fetched"] == 0 and second["pages_not_modified"] == 1
    assert "only known records" in second["message"]
    assert (paths.raw / "penalties.jsonl").read_bytes() == raw_before
    index = json.loads((paths.data / "httpcache" / "penalties" / "index.json").read_text("utf-8"))
    assert all(url.startswith(CANONICAL) for url in index)


def test_oldest_first_listing_is_revalidated_page_by_page(city: City, server, tmp_path) -> None:
    """New records of an oldest-first list arrive on its last pages: no early stop there."""
    paths = CityPaths(root=tmp_path, city="fixture")
    first = crawl_source(city, city.source("penalties_oldest"), paths, server[0])
    second = crawl_source(city, city.source("penalties_oldest"), paths, server[0])
    assert first["status"] == second["status"] == "ok"
    assert second["pages_not_modified"] == first["pages_fetched"] == 2
    assert "only known records" not in second["message"]
    assert second["full_crawl"] and second["rows"] == first["rows"]


def test_newest_first_listing_is_crawled_in_full_when_a_full_crawl_is_due(
    city: City, server, tmp_path
) -> None:
    paths = CityPaths(root=tmp_path, city="fixture")
    crawl_source(city, city.source("penalties"), paths, server[0])
    log_path = paths.raw / "penalties.crawl.json"
    log = json.loads(log_path.read_text("utf-8"))
    log["last_full_crawl_at"] = "2000-01-01T00:00:00Z"
    log_path.write_text(json.dumps(log), encoding="utf-8")
    again = crawl_source(city, city.source("penalties"), paths, server[0])
    assert again["full_crawl"] and again["pages_not_modified"] == 2
    assert "only known records" not in again["message"]
    assert again["last_full_crawl_at"] == again["finished_at"]


def test_may_stop_early_only_for_a_recent_full_crawl_of_a_newest_first_list(city: City) -> None:
    from crawlers.run import may_stop_early

    now = "2026-11-22T00:00:00Z"
    recent = {"last_full_crawl_at": "2026-11-20T00:00:00Z"}
    newest = city.source("penalties")
    assert may_stop_early(newest, recent, now)
    assert not may_stop_early(newest, {}, now)  # never crawled in full
    assert not may_stop_early(newest, {"last_full_crawl_at": "2026-11-01T00:00:00Z"}, now)
    assert not may_stop_early(city.source("penalties_oldest"), recent, now)
    always_full = newest.model_copy(update={"full_crawl_every_days": 0})
    assert not may_stop_early(always_full, recent, now)


def test_merge_keeps_the_records_of_pages_not_fetched() -> None:
    """A new record on page 1 pushed one record to page 2, which the crawl did not fetch."""
    from crawlers.cache import merged_lines

    old = [json.dumps({"fields": {"a": "1"}}), json.dumps({"fields": {"a": "2"}})]
    new = [json.dumps({"fields": {"a": "0"}}), json.dumps({"fields": {"a": "1"}})]
    assert merged_lines(new, old) == [*new, old[1]]
    twice = [old[0], old[0]]
    assert merged_lines([old[0]], twice) == twice  # a record listed twice stays twice


def test_blocked_crawl_does_not_commit_its_validators(city: City, tmp_path) -> None:
    from crawlers.cache import INDEX, PENDING, commit, discard

    folder = tmp_path / "cache"
    (folder / "bodies").mkdir(parents=True)
    (folder / "bodies" / "aa").write_bytes(b"old")
    (folder / INDEX).write_text(json.dumps({"u": {"sha256": "aa"}}), encoding="utf-8")
    (folder / PENDING).write_text(json.dumps({"u": {"sha256": "bb"}}), encoding="utf-8")
    discard(folder)
    assert json.loads((folder / INDEX).read_text("utf-8"))["u"]["sha256"] == "aa"
    (folder / PENDING).write_text(json.dumps({"u": {"sha256": "bb"}}), encoding="utf-8")
    (folder / "bodies" / "bb").write_bytes(b"new")
    commit(folder)
    assert json.loads((folder / INDEX).read_text("utf-8"))["u"]["sha256"] == "bb"
    assert sorted(p.name for p in (folder / "bodies").iterdir()) == ["bb"]


def test_polite_defaults(city: City) -> None:
    from crawlers.crawl_one import crawl_settings

    ctx = SourceContext(city, city.source("penalties"), "http://127.0.0.1:5555")
    real = crawl_settings(ctx, "out.jsonl", None, "cache")
    assert real.getbool("ROBOTSTXT_OBEY")
    assert real.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 1
    assert real.getfloat("DOWNLOAD_DELAY") >= 1.0
    assert real.getbool("AUTOTHROTTLE_ENABLED")
    assert 0 < real.getint("DOWNLOAD_MAXSIZE") <= 50 * 1024 * 1024
    assert city.contact_url in real.get("USER_AGENT") and "AgencyWatch" in real.get("USER_AGENT")
    assert "crawlers.cache.ConditionalRequests" in real.getdict("DOWNLOADER_MIDDLEWARES")
    assert real.get("AGENCYWATCH_HTTPCACHE") == "cache"
    assert not real.getbool("HTTPCACHE_ENABLED")  # its RFC2616Policy would hide a 5xx
    assert ctx.allowed_domains == ["127.0.0.1"]
