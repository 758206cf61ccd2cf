"""Generic spider for paged JSON APIs: records at a dotted path, pages by a query parameter."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from scrapy.http import Response
from w3lib.url import add_or_replace_parameter, url_query_parameter

from crawlers.context import dig
from crawlers.spiders.base import SourceSpider


class JsonApiSpider(SourceSpider):
    name = "json_api"

    def parse(self, response: Response, page: int) -> Iterator[Any]:
        if self.refused(response):
            return
        try:
            body = json.loads(self.ctx.text_response(response).text)
        except ValueError:
            self.unreadable(response, "the body is not JSON")
            return
        records = dig(body, self.ctx.source.records_path)
        if not isinstance(records, list):
            self.unreadable(response, f"no list at {self.ctx.source.records_path!r}")
            return
        items = [
            self.ctx.item(response, f"page {page}, row {row_no}", record)
            for row_no, record in enumerate(records, 1)
            if isinstance(record, dict)
        ]
        yield from items
        if not self.all_known(items, page):
            yield from self.next_page(response.url, body, page, len(records))

    def next_page(self, url: str, body: Any, page: int, count: int) -> Iterator[Any]:
        """The next page while the API says there are more (or, when it does not say, while
        pages are non-empty). One page at a time, so a crawl can stop at known records."""
        total = self.page_count(body, count)
        number = int(url_query_parameter(url, self.ctx.source.page_param) or 1)
        last = number - page + total if total is not None else None
        if not count or (last is not None and number >= last):  # an empty page ends it
            return
        if page >= self.ctx.source.max_pages:
            self.note(f"stopped at max_pages={page}")
            return
        next_url = add_or_replace_parameter(url, self.ctx.source.page_param, str(number + 1))
        yield self.request(next_url, self.parse, page=page + 1)

    def page_count(self, body: Any, count: int) -> int | None:
        """From total_pages_path, or ceil(total / page size); None when the API does not say."""
        src = self.ctx.source
        if src.total_pages_path:
            return _int(dig(body, src.total_pages_path))
        total = _int(dig(body, src.total_path)) if src.total_path else None
        size = _int(dig(body, src.page_size_path)) if src.page_size_path else count
        if total is None or not size:
            return None
        return math.ceil(total / size)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
