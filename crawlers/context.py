"""One place for what every spider shares: urls, decoding, refusal checks and raw items.

As zavod's context does for OpenSanctions crawlers, the spiders only select records; how a url
is made canonical, how a body is decoded and hashed, and what a raw item looks like live here
once, so a change of rule (or a test of it) touches one file.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy.http import Response, TextResponse
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

from agencywatch.config import City, Source
from crawlers.cache import FETCHED_AT
from crawlers.items import RawItem

CHALLENGES_FILE = Path(__file__).with_name("challenges.toml")
FALLBACK_ENCODING = "gb18030"  # what an undeclared, non-UTF-8 page in China almost always is


@cache
def challenge_rules() -> dict[str, Any]:
    """The refusal statuses, bodies and markers, kept as data in challenges.toml."""
    return tomllib.loads(CHALLENGES_FILE.read_text(encoding="utf-8"))


def refusal_reason(status: int, body: bytes) -> str | None:
    """Why a response is a refusal (challenge status or an `error`-like body), else None."""
    rules = challenge_rules()
    if status in rules["status"]:
        return f"HTTP {status} challenge page"
    text = body.strip()[:64].decode("utf-8", "replace")
    if text in rules["bodies"]:
        return f"the body is just {text!r}"
    return None


def challenge_marker(text: str) -> str | None:
    """The first captcha / JS-challenge marker found in a page, if any."""
    lowered = text.lower()
    return next((m for m in challenge_rules()["markers"] if m.lower() in lowered), None)


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def as_text(value: Any) -> str:
    """A source value as the string it showed: 100.0 -> "100", dates ISO, nested as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value).strip()


def unique_labels(cells: Iterable[str]) -> list[str]:
    """Header labels kept exactly, but never empty or repeated (a repeat would drop a column)."""
    labels: list[str] = []
    for i, cell in enumerate(cells, 1):
        label = cell.strip() or f"column_{i}"
        while label in labels:
            label = f"{label}_{i}"
        labels.append(label)
    return labels


def fitted(cells: list[str], width: int) -> list[str] | None:
    """A row padded to the header's width; None when it has extra non-empty cells."""
    if len(cells) > width and any(c.strip() for c in cells[width:]):
        return None
    return (cells + [""] * width)[:width]


def _resolved(name: str) -> str:
    """gb2312/gbk declarations decode as gb18030: real "gb2312" pages hold GBK characters."""
    codec = codecs.lookup(name).name
    return FALLBACK_ENCODING if codec in {"gb2312", "gbk"} else codec


def decoded_bytes(body: bytes, forced: str = "") -> str:
    """A file's text: the forced encoding, else its BOM, else UTF-8, else gb18030."""
    if forced:
        return body.decode(_resolved(forced), "replace")
    bom, _ = read_bom(body)
    if bom:
        return body.decode(_resolved(bom), "replace").lstrip("\ufeff")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode(FALLBACK_ENCODING, "replace")


def page_encoding(response: Response, forced: str = "") -> str:
    """Forced, then header charset, then BOM, then <meta>, then UTF-8 if valid, else gb18030."""
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
    declared = (
        forced
        or http_content_type_encoding(content_type)
        or read_bom(response.body)[0]
        or html_body_declared_encoding(response.body)
    )
    if declared:
        encoding = _resolved(declared)
        if forced or _decodes(response.body, encoding):
            return encoding
        # the label lies (GBK sent as UTF-8, common after a half-done CMS migration)
        return FALLBACK_ENCODING if _decodes(response.body, FALLBACK_ENCODING) else encoding
    try:
        response.body.decode("utf-8")
    except UnicodeDecodeError:
        return FALLBACK_ENCODING
    return "utf-8"


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class SourceContext:
    """A source being crawled: where it is fetched from and what its raw items look like."""

    city: City
    source: Source
    fetch_base: str | None = None

    @property
    def canonical_base(self) -> str:
        return self.city.base_url.rstrip("/")

    @property
    def start_url(self) -> str:
        return self.fetch_url(self.source.url)

    @property
    def allowed_domains(self) -> list[str]:
        """The fetch host, so Scrapy's OffsiteMiddleware keeps the crawl on it."""
        host = urlsplit(self.start_url).hostname
        return [host] if host else []

    def fetch_url(self, url: str) -> str:
        """Where to fetch a (possibly relative, possibly canonical) url: the mirror if any."""
        absolute = urljoin(self.canonical_base + "/", url)
        return _swap_prefix(absolute, self.canonical_base, self.fetch_base)

    def canonical_url(self, url: str) -> str:
        """The url on the city's base_url, so raw items never depend on a mirror's port."""
        return _swap_prefix(url, self.fetch_base, self.canonical_base)

    def text_response(
        self, response: Response, kind: type[TextResponse] = TextResponse
    ) -> TextResponse:
        """The response decoded by page_encoding (Scrapy alone would fall back to ASCII).

        `kind` HtmlResponse keeps an HTML list page an HTML page even when its body happens
        to parse as JSON (an error body): a plain TextResponse's selector would turn JSON."""
        encoding = page_encoding(response, self.source.encoding)
        return kind(
            url=response.url,
            status=response.status,
            headers=response.headers,
            body=response.body,
            encoding=encoding,
            request=response.request,
        )

    def item(self, response: Response, place: str, fields: Mapping[str, Any]) -> RawItem:
        """The raw item of docs/architecture.md for one record of a fetched page.

        `fetched_at` is when this page was first fetched with this body (crawlers.cache keeps
        it across revalidations), so an unchanged source yields identical raw items.
        """
        meta = response.request.meta if response.request is not None else {}
        fetched_at = meta.get(FETCHED_AT) or utc_now()
        return self.raw_item(
            self.canonical_url(response.url), sha256_hex(response.body), fetched_at, place, fields
        )

    def raw_item(
        self, url: str, content_sha256: str, fetched_at: str, place: str, fields: Mapping[str, Any]
    ) -> RawItem:
        return RawItem(
            source_id=self.source.id,
            record_type=self.source.record_type,
            url=url,
            fetched_at=fetched_at,
            content_sha256=content_sha256,
            place=place,
            fields={str(k).strip(): as_text(v) for k, v in fields.items()},
        )


def _swap_prefix(url: str, old: str | None, new: str | None) -> str:
    if not old or new is None:
        return url
    old = old.rstrip("/")
    if url == old or url.startswith(old + "/") or url.startswith(old + "?"):
        return new.rstrip("/") + url[len(old) :]
    return url


def dig(data: Any, dotted: str) -> Any:
    """The value at a dotted path such as `0.result` or `data.list` (None when absent)."""
    for part in filter(None, dotted.split(".")):
        if (
            isinstance(data, list)
            and part.lstrip("-").isdigit()
            and -len(data) <= int(part) < len(data)
        ):
            data = data[int(part)]
        elif isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data
