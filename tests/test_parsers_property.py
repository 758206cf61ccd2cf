"""Random and truncated input to every parser: it parses, or says why it cannot — never crashes.

Page parsers (the three generic spiders' callbacks, the file and saved-page readers) get random
bytes and real demo-mirror pages cut at random points; value parsers get random text; normalize
gets random records of every type. The promise each must keep: no exception other than the
documented ValueError, and a record either normalized or quarantined with a reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse, Request, TextResponse
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from agencywatch.config import RECORD_TYPES, City, Source, load_city
from crawlers.context import SourceContext
from crawlers.items import RawItem
from crawlers.spiders.file_download import FileDownloadSpider, file_records
from crawlers.spiders.html_table import HtmlTableSpider, html_records
from crawlers.spiders.json_api import JsonApiSpider
from transforms import values as v
from transforms.normalize import normalize_items

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO / "mirrors" / "demo"
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SPIDERS = {
    "html_table": HtmlTableSpider,
    "json_api": JsonApiSpider,
    "file_download": FileDownloadSpider,
}


@pytest.fixture(scope="module")
def city() -> City:
    return load_city(REPO / "cities" / "demo.toml")


def sample_file(source: Source) -> Path:
    """A real mirror file of the source (its first page)."""
    url = source.url.split("?")[0].lstrip("/")
    query = source.url.partition("?")[2]
    path = MIRROR / url
    return path / f"{query}.json" if query else path


_SPIDERS: dict[str, Any] = {}


def spider_for(city: City, source: Source) -> Any:
    """One spider per source (a crawler is costly to make), its stats emptied for each page."""
    if source.id not in _SPIDERS:
        crawler = get_crawler(SPIDERS[source.kind])
        crawler.stats = MemoryStatsCollector(crawler)
        spider = SPIDERS[source.kind](ctx=SourceContext(city, source, "http://127.0.0.1:9"))
        spider._set_crawler(crawler)
        _SPIDERS[source.id] = spider
    spider = _SPIDERS[source.id]
    spider.crawler.stats.clear_stats()
    return spider


def parsed(spider: Any, body: bytes, status: int = 200) -> tuple[list[Any], list[Any]]:
    """(items and requests, problems reported) of one page given to the spider's callback."""
    url = spider.ctx.start_url
    cls = HtmlResponse if spider.ctx.source.kind == "html_table" else TextResponse
    response = cls(url=url, body=body, status=status, request=Request(url))
    if spider.ctx.source.kind == "file_download":
        response = TextResponse(url=url, body=body, status=status, request=Request(url))
    out = list(spider.parse(response, page=1))
    return out, spider.crawler.stats.get_value("agencywatch/problems") or []


def check_outputs(out: list[Any], problems: list[Any]) -> None:
    for thing in out:
        if isinstance(thing, RawItem):
            assert all(isinstance(x, str) for x in thing["fields"].values())
            assert thing["place"]
        else:
            assert isinstance(thing, Request)
    for status, message in problems:
        assert status in ("blocked", "failed") and message.strip()


@pytest.mark.parametrize("source_id", ["penalties", "abnormal", "filings", "dishonest",
                                       "complaints", "registrations", "judgments", "phones"])  # fmt: skip
@pytest.mark.slow
@SETTINGS
@given(data=st.data())
def test_spider_callbacks_survive_truncated_mirror_pages(city, source_id, data) -> None:
    source = city.source(source_id)
    body = sample_file(source).read_bytes()
    cut = data.draw(st.integers(min_value=0, max_value=len(body)))
    out, problems = parsed(spider_for(city, source), body[:cut])
    check_outputs(out, problems)
    if cut == 0:
        assert problems, "an empty page must be reported, never read as 'no records'"


@pytest.mark.parametrize("source_id", ["penalties", "dishonest", "phones", "registrations"])
@SETTINGS
@given(body=st.binary(max_size=2000), status=st.sampled_from([200, 200, 412, 521]))
@example(body=b'{"":0,"":""}', status=200)  # an HTML list page whose body parses as JSON
def test_spider_callbacks_survive_random_bytes(city, source_id, body, status) -> None:
    out, problems = parsed(spider_for(city, source_id and city.source(source_id)), body, status)
    check_outputs(out, problems)
    if status != 200:
        assert problems and problems[0][0] == "blocked"
        assert not [x for x in out if isinstance(x, RawItem)]


HTML_BITS = st.sampled_from(
    ["<table>", "</table>", "<table class='list'>", "<thead>", "<tbody>", "<tr>", "</tr>",
     "<th>", "<td>", "<td title='t'>", "</td>", "行政相对人名称", "罚款", "0.5", "验证码", "&amp;",
     "<meta charset='gbk'>", "\x00", "下一页", "<a href='x'>下一页</a>"]
)  # fmt: skip


@SETTINGS
@given(parts=st.lists(st.one_of(HTML_BITS, st.text(max_size=20)), max_size=40))
def test_saved_page_reader_parses_or_refuses(parts: list[str]) -> None:
    source = Source(id="s", title="s", record_type="penalty", kind="manual", table_selector="table")
    body = "".join(parts).encode("utf-8")
    try:
        records = list(html_records(body, source))
    except ValueError as e:
        assert str(e)
        return
    assert all(isinstance(place, str) and isinstance(f, dict) for place, f in records)


def test_saved_page_that_parses_as_json_is_read_as_html() -> None:
    """parsel would take such a body for JSON and refuse CSS; it must say no table matches."""
    source = Source(id="s", title="s", record_type="penalty", kind="manual", table_selector="table")
    with pytest.raises(ValueError, match="no table matches"):
        list(html_records(b'{"":0,"":""}', source))


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx", "html"])
@pytest.mark.slow
@SETTINGS
@given(data=st.data())
def test_file_readers_parse_or_refuse_truncated_files(fmt: str, data) -> None:
    sample = {
        "csv": MIRROR / "association" / "phones.csv",
        "json": MIRROR / "complaints" / "api" / "list" / "page=1.json",
        "xlsx": MIRROR / "opendata" / "registrations.xlsx",
        "html": MIRROR / "pbc" / "filings.html",
    }[fmt]
    body = sample.read_bytes()
    body = body[: data.draw(st.integers(min_value=0, max_value=len(body)))]
    if data.draw(st.booleans()):
        body += data.draw(st.binary(max_size=50))
    source = Source(
        id="s",
        title="s",
        record_type="phone",
        kind="manual",
        records_path="data.list" if fmt == "json" else "",
    ).model_copy(update={"file_format": fmt})  # "html" is for saved pages of a manual import
    # fmt: skip
    try:
        records = file_records(body, source)
    except ValueError as e:
        assert str(e)
        return
    assert all(isinstance(x, str) for _, f in records for x in f.values())


VALUE_PARSERS = [
    v.parse_date,
    lambda x: v.parse_amount_cny(x, "万元"),
    v.parse_amount_cny,
    v.normalize_phone,
    v.parse_case_no,
]
SAFE_PARSERS = [  # these never refuse: they clean what they can and return None otherwise
    v.clean_uscc,
    v.name_key,
    v.canonical_case_no,
    v.split_phones,
    lambda x: v.enum_value(x, "registration_status"),
    lambda x: v.enum_value(x, "complaint_category"),
]
DIRTY_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789０１２３４５６７８９年月日-/.万元:（）()号民刑初执 ", max_size=30),
    st.integers(min_value=-(10**16), max_value=10**16).map(str),
)


@pytest.mark.parametrize("parse", VALUE_PARSERS, ids=lambda f: getattr(f, "__name__", "amount_wan"))
@SETTINGS
@given(text=DIRTY_TEXT)
def test_value_parsers_parse_or_give_a_reason(parse, text: str) -> None:
    try:
        parse(text)
    except ValueError as e:
        assert str(e).strip()


@pytest.mark.parametrize("parse", SAFE_PARSERS)
@SETTINGS
@given(text=DIRTY_TEXT)
def test_cleaning_helpers_never_raise(parse, text: str) -> None:
    parse(text)


LABELS = {
    "penalty": ["行政相对人名称", "CF_XDR_SHXYM", "CF_WSH", "CF_NR_FK", "CF_JDRQ", "处罚机关"],
    "filing": ["XK_XDR_MC", "XK_XDR_SHXYM", "XK_XKBH", "XK_JDRQ", "XK_YXQZI", "备案机关"],
    "registration": ["企业名称", "统一社会信用代码", "注册资本", "成立日期", "登记状态"],
    "abnormal_listing": ["企业名称", "统一社会信用代码", "名录类型", "列入日期", "移出日期"],
    "judgment": ["案号", "法院名称", "案件类型", "当事人", "罪名", "裁判日期"],
    "dishonest_debtor": ["iname", "cardNum", "caseCode", "regDate", "publishDate"],
    "complaint": ["sn", "title", "target", "issue", "phone", "created_at", "status"],
    "phone": ["机构名称", "统一社会信用代码", "联系电话", "类型"],
}


@pytest.mark.parametrize("record_type", RECORD_TYPES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_normalize_keeps_or_quarantines_every_record(record_type: str, data) -> None:
    labels = LABELS[record_type]
    records = data.draw(
        st.lists(st.dictionaries(st.sampled_from(labels), DIRTY_TEXT, max_size=len(labels)),
                 min_size=1, max_size=8)
    )  # fmt: skip
    source = Source(id="s", title="s", record_type=record_type, kind="manual")
    items = [
        {"source_id": "s", "record_type": record_type, "url": "manual-import:x.csv",
         "fetched_at": "2026-11-01T00:00:00Z", "content_sha256": "0" * 64,
         "place": f"row {n}", "fields": fields}
        for n, fields in enumerate(records, 1)
    ]  # fmt: skip
    clean, quarantined, counts = normalize_items(items, source)
    assert counts["rows"] + counts["quarantined"] + counts["duplicates"] == len(items)
    assert len(clean) == counts["rows"]
    for q in quarantined:
        assert q["reason"] and q["place"] and isinstance(q["fields"], dict)
