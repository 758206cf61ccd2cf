"""Generic spider for paginated HTML tables (双公示 lists, abnormal-operation lists, filings)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from parsel import Selector, SelectorList
from scrapy.http import HtmlResponse, Response
from w3lib.encoding import html_body_declared_encoding

from agencywatch.config import Source
from crawlers.context import challenge_marker, decoded_bytes, unique_labels
from crawlers.spiders.base import SourceSpider


def cell_text(cell: Selector) -> str:
    """The full value of a cell: its `title` (where long values sit untruncated) wins."""
    title = cell.xpath("normalize-space(@title | ./span/@title | ./div/@title)").get()
    return title or "".join(cell.xpath(".//text()").getall()).strip()


def row_cells(row: Selector) -> list[str]:
    return [cell_text(c) for c in row.xpath("./th|./td")]


def table_records(table: Selector) -> Iterator[dict[str, str]]:
    """Rows as label -> value; the header is `thead th`, or else the first row."""
    rows: SelectorList = table.xpath("./tbody/tr | ./tr")
    header = table.xpath("./thead/tr[1]")
    if not header:
        header, rows = rows[:1], rows[1:]
    labels = unique_labels(row_cells(header[0])) if header else []
    for row in rows:
        cells = row_cells(row)  # a row of another width (a colspan note) is not a record
        yield dict(zip(labels, cells, strict=True)) if len(cells) == len(labels) else {}


def html_records(body: bytes, source: Source) -> Iterator[tuple[str, dict[str, str]]]:
    """(place, fields) of a saved HTML page's table: a manual import reads it as a crawl would.

    Raises ValueError when no table matches (a challenge or captcha page says so)."""
    text = decoded_bytes(body, source.encoding or html_body_declared_encoding(body) or "")
    tables = Selector(text=text, type="html").css(source.table_selector)
    if not tables:
        marker = challenge_marker(text)
        if marker:
            raise ValueError(f"a challenge page (marker {marker!r}), not an export")
        raise ValueError(f"no table matches {source.table_selector!r}")
    for row_no, fields in enumerate(table_records(tables[0]), 1):
        if any(fields.values()):
            yield f"row {row_no}", fields


class HtmlTableSpider(SourceSpider):
    name = "html_table"

    def parse(self, response: Response, page: int) -> Iterator[Any]:
        if self.refused(response):
            return
        page_view = self.ctx.text_response(response, HtmlResponse)
        selector = self.ctx.source.table_selector
        tables = page_view.css(selector)
        if not tables:
            self.unreadable(response, f"no table matches {selector!r}")
            return
        items = [
            self.ctx.item(response, f"page {page}, row {row_no}", fields)
            for row_no, fields in enumerate(table_records(tables[0]), 1)
            if any(fields.values())
        ]
        yield from items
        if not self.all_known(items, page):
            yield from self.next_page(page_view, page)

    def next_page(self, page_view: Response, page: int) -> Iterator[Any]:
        xpath = self.ctx.source.next_page_xpath
        found = page_view.xpath(xpath) if xpath else []
        if not found:
            return
        node = found[0]  # the xpath may select the <a> itself or its @href
        href = (node.get() if isinstance(node.root, str) else node.attrib.get("href", "")).strip()
        if not href or href.startswith(("javascript:", "#")):
            return
        if page >= self.ctx.source.max_pages:
            self.note(f"stopped at max_pages={page}")
            return
        url = self.ctx.fetch_url(self.ctx.canonical_url(page_view.urljoin(href)))
        yield self.request(url, self.parse, page=page + 1)
