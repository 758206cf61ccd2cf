"""The raw item of docs/architecture.md: the source's own labels and values, as strings."""

from __future__ import annotations

import json

import scrapy

RAW_ITEM_KEYS = (
    "source_id",
    "record_type",
    "url",
    "fetched_at",
    "content_sha256",
    "place",
    "fields",
)


class RawItem(scrapy.Item):
    """One record as the source published it, with where and when it was fetched."""

    source_id = scrapy.Field()
    record_type = scrapy.Field()
    url = scrapy.Field()  # canonical url on the city's base_url, never the mirror's port
    fetched_at = scrapy.Field()  # UTC ISO 8601 with Z
    content_sha256 = scrapy.Field()  # sha256 of the response body the record came from
    place = scrapy.Field()  # "page 2, row 5" / "line 14" / "sheet 企业登记信息, row 3"
    fields = scrapy.Field()  # label -> stripped string value, labels exactly as published


def raw_line(item: RawItem | dict) -> str:
    """One JSONL line: UTF-8 text kept readable, keys sorted so files diff cleanly."""
    return json.dumps(dict(item), ensure_ascii=False, sort_keys=True) + "\n"
