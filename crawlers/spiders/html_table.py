"""Generic spider for paginated HTML tables (双公示 lists, abnormal-operation lists, filings)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from parsel import Selector, SelectorList
from scrapy.http import Response

from crawlers.context import unique_labels
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


class HtmlTableSpider(SourceSpider):
    name = "html_table"

    def parse(self, response: Response, page: int) -> Iterator[Any]:
        if self.refused(response):
            return
        page_view = self.ctx.text_response(response)
        selector = self.ctx.source.table_selector
        tables = page_view.css(selector)
        if not tables:
            self.unreadable(response, f"no table matches {selector!r}")
            return
        for row_no, fields in enumerate(table_records(tables[0]), 1):
            if any(fields.values()):
                yield self.ctx.item(response, f"page {page}, row {row_no}", fields)
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
