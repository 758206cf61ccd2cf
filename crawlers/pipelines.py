"""Item pipeline and crawl observer: write raw items as JSONL and count what was fetched.

The counts go to Scrapy's stats under `agencywatch/…`; crawl_one hands them to crawl_source,
which decides ok / blocked / failed from them.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from itemadapter import ItemAdapter
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.http import Response
from twisted.python.failure import Failure

from crawlers.cache import NOT_MODIFIED
from crawlers.items import RAW_ITEM_KEYS, raw_line

PROBLEMS = "agencywatch/problems"  # list of [status, message]: "blocked" or "failed"


def report(crawler: Crawler, status: str, message: str) -> None:
    """Record why this crawl cannot be trusted; the first problem is the one reported."""
    assert crawler.stats is not None
    problems = crawler.stats.get_value(PROBLEMS) or []
    crawler.stats.set_value(PROBLEMS, [*problems, [status, message]])


class RawJsonlPipeline:
    """Checks each raw item's shape and appends it to the crawl's output file."""

    def __init__(self, crawler: Crawler, path: str):
        self.crawler = crawler
        self.path = Path(path)
        self.file: IO[str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RawJsonlPipeline:
        return cls(crawler, crawler.settings.get("AGENCYWATCH_OUTPUT"))

    def open_spider(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = self.path.open("w", encoding="utf-8", newline="\n")

    def close_spider(self) -> None:
        if self.file is not None:
            self.file.close()

    def process_item(self, item: Any) -> Any:
        record = ItemAdapter(item).asdict()
        missing = [k for k in RAW_ITEM_KEYS if not record.get(k) and k != "fields"]
        fields = record.get("fields")
        if missing or not isinstance(fields, dict):
            raise DropItem(f"raw item without {missing or ['fields']}: {record.get('place')}")
        if not all(isinstance(v, str) for v in fields.values()):
            raise DropItem(f"raw item with non-string values at {record['place']}")
        assert self.file is not None
        self.file.write(raw_line(record))
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("agencywatch/rows")
        return item


class PageCounter:
    """Counts pages fetched (200s) and revalidated (304s), robots.txt aside, and turns callback exceptions into problems."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageCounter:
        ext = cls(crawler)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return
        assert self.crawler.stats is not None
        if response.status == 304 or NOT_MODIFIED in response.flags:
            self.crawler.stats.inc_value("agencywatch/pages_not_modified")
        else:
            self.crawler.stats.inc_value("agencywatch/pages_fetched")

    def spider_error(self, failure: Failure, response: Response, spider: Spider) -> None:
        report(self.crawler, "failed", f"{failure.getErrorMessage()} while parsing {response.url}")
