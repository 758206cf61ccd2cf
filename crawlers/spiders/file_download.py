"""Generic spider for one downloaded file: CSV, XLSX (first or named sheet) or a JSON list.

The readers are plain functions of the file's bytes so a manual import from the inbox uses
exactly the same parsing as a crawl.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

from scrapy.http import Response

from agencywatch.config import Source
from crawlers.context import as_text, decoded_bytes, dig, fitted, unique_labels
from crawlers.spiders.base import SourceSpider
from crawlers.spiders.html_table import html_records

Records = Iterator[tuple[str, dict[str, str]]]  # (place, fields)


def csv_records(body: bytes, source: Source) -> Records:
    reader = csv.reader(io.StringIO(decoded_bytes(body, source.encoding), newline=""))
    labels: list[str] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        if not labels:
            labels = unique_labels(cells)
            continue
        row = fitted(cells, len(labels))
        if row is not None:
            yield f"line {reader.line_num}", dict(zip(labels, row, strict=True))


def xlsx_records(body: bytes, source: Source) -> Records:
    from openpyxl import load_workbook  # imports numpy: only for the sources that need it

    book = load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    try:
        sheet = book[source.sheet] if source.sheet else book.worksheets[0]
        labels: list[str] = []
        for row_no, values in enumerate(sheet.iter_rows(values_only=True), 1):
            cells = [as_text(v) for v in values]
            if not any(cells):
                continue
            if not labels:
                labels = unique_labels(cells)
                continue
            row = fitted(cells, len(labels))
            if row is not None:
                yield f"sheet {sheet.title}, row {row_no}", dict(zip(labels, row, strict=True))
    finally:
        book.close()


def json_records(body: bytes, source: Source) -> Records:
    data = json.loads(decoded_bytes(body, source.encoding))
    records = dig(data, source.records_path) if source.records_path else data
    if not isinstance(records, list):
        raise ValueError(f"no list at {source.records_path or 'the top level'!r}")
    for n, record in enumerate(records, 1):
        if isinstance(record, dict):
            yield f"record {n}", {str(k): as_text(v) for k, v in record.items()}


READERS: dict[str, Callable[[bytes, Source], Records]] = {
    "csv": csv_records,
    "xlsx": xlsx_records,
    "json": json_records,
    "html": html_records,  # saved pages of an HTML listing (manual import)
}
# File name endings of an official export → reader (a manual source without file_format).
SUFFIXES = {".csv": "csv", ".xlsx": "xlsx", ".json": "json", ".html": "html", ".htm": "html"}


def file_records(body: bytes, source: Source) -> list[tuple[str, dict[str, str]]]:
    """Every record of a file; raises ValueError when it is not the declared format."""
    fmt = source.file_format
    if not body.strip():
        raise ValueError(f"the {fmt} file is empty")
    if fmt != "html" and body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        raise ValueError(f"an HTML page came instead of a {fmt} file")
    if fmt not in READERS:
        raise ValueError(f"no reader for {fmt!r} files (known: {', '.join(READERS)})")
    try:
        return list(READERS[fmt](body, source))
    except (zipfile.BadZipFile, KeyError, UnicodeError, csv.Error, RecursionError) as e:
        raise ValueError(f"not a readable {fmt} file: {e}") from e


class FileDownloadSpider(SourceSpider):
    name = "file_download"

    def parse(self, response: Response, page: int) -> Iterator[Any]:
        if self.refused(response):
            return
        try:
            records = file_records(response.body, self.ctx.source)
        except ValueError as e:
            self.unreadable(response, str(e))
            return
        for place, fields in records:
            yield self.ctx.item(response, place, fields)
