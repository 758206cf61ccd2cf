"""Incremental crawling: conditional requests from stored validators, and what a page already held.

A source's cache lives in `data/<city>/httpcache/<source_id>/`: `index.json` maps each page's
canonical url to its validators (ETag, Last-Modified), the sha256 of its body and when that body
was first fetched; `bodies/<sha256>` keeps the body itself. Every request carries the stored
validators; a 304 answer is handed to the spider as the stored page (flagged `not_modified`), so a
source that did not change costs one revalidation per page and yields the same records with the
same `fetched_at` and `content_sha256` — the release stays byte-identical.

The crawl writes its index to `index.pending.json`; `crawlers.run` commits it only when the crawl
was good, so a blocked crawl never leaves validators that would hide the pages it failed to read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.responsetypes import responsetypes

NOT_MODIFIED = "not_modified"  # flag on a response rebuilt from the cache after a 304
FETCHED_AT = "agencywatch_fetched_at"  # request.meta key: when this body was first fetched
INDEX = "index.json"
PENDING = "index.pending.json"


def fingerprint(fields: Mapping[str, Any]) -> str:
    """A record's identity for "already known": its labels and values exactly as published."""
    text = json.dumps(dict(fields), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def raw_lines(path: Path | None) -> list[str]:
    """The lines of a raw JSONL file ([] when there is none)."""
    if path is None or not path.is_file():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fields_of(line: str) -> dict[str, Any] | None:
    try:
        item = json.loads(line)
    except ValueError:
        return None
    fields = item.get("fields") if isinstance(item, dict) else None
    return fields if isinstance(fields, dict) else None


def known_fingerprints(path: Path | None) -> frozenset[str]:
    """Fingerprints of the records of the last good raw file (unreadable lines ignored)."""
    found = (_fields_of(line) for line in raw_lines(path))
    return frozenset(fingerprint(f) for f in found if f is not None)


def merged_lines(current: Iterable[str], previous: Iterable[str]) -> list[str]:
    """This crawl's lines, then every previous line this crawl did not see again.

    Used when a listing crawl stopped at a page of known records: the pages it did not fetch
    hold what the previous crawl found there. Counting (not a set) keeps a record the source
    really lists twice, twice.
    """
    out = list(current)
    seen = Counter(_fp_of_line(line) for line in out)
    for line in previous:
        fp = _fp_of_line(line)
        if seen[fp] > 0:
            seen[fp] -= 1
        else:
            out.append(line)
    return out


def _fp_of_line(line: str) -> str:
    fields = _fields_of(line)
    return fingerprint(fields) if fields is not None else "line:" + line


class PageStore:
    """One source's stored validators and bodies."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index: dict[str, dict[str, str]] = _read_index(folder / INDEX)
        self.pending: dict[str, dict[str, str]] = {}

    def body(self, sha: str) -> bytes | None:
        path = self.folder / "bodies" / sha
        return path.read_bytes() if sha and path.is_file() else None

    def validators(self, url: str) -> dict[str, str]:
        """Headers for a conditional request, only when the body to fall back on is kept."""
        entry = self.index.get(url) or {}
        if self.body(entry.get("sha256", "")) is None:
            return {}
        headers = {"If-None-Match": entry.get("etag"), "If-Modified-Since": entry.get("modified")}
        return {k: v for k, v in headers.items() if v}

    def remember(self, url: str, response: Response, fetched_at: str) -> str:
        """Store a fresh 200 page; returns its first-fetched time (kept if the body is the same)."""
        sha = hashlib.sha256(response.body).hexdigest()
        old = self.index.get(url) or {}
        first = (
            old["fetched_at"] if old.get("sha256") == sha and old.get("fetched_at") else fetched_at
        )
        bodies = self.folder / "bodies"
        bodies.mkdir(parents=True, exist_ok=True)
        if not (bodies / sha).is_file():
            (bodies / sha).write_bytes(response.body)
        self.pending[url] = {
            "sha256": sha,
            "fetched_at": first,
            "etag": _header(response, b"ETag"),
            "modified": _header(response, b"Last-Modified"),
            "content_type": _header(response, b"Content-Type"),
        }
        return first

    def revalidated(self, url: str) -> dict[str, str]:
        """The stored entry of a page the server said is unchanged."""
        entry = dict(self.index[url])
        self.pending[url] = entry
        return entry

    def write_pending(self) -> None:
        if not self.pending:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        # pages not visited this time (after an early stop) keep their validators
        _write_json(self.folder / PENDING, {**self.index, **self.pending})


def commit(folder: Path) -> None:
    """Make a good crawl's validators current, and drop bodies no page refers to any more."""
    pending = folder / PENDING
    if not pending.is_file():
        return
    os.replace(pending, folder / INDEX)
    kept = {e.get("sha256") for e in _read_index(folder / INDEX).values()}
    for body in (folder / "bodies").glob("*"):
        if body.name not in kept:
            body.unlink()


def discard(folder: Path) -> None:
    (folder / PENDING).unlink(missing_ok=True)


class ConditionalRequests:
    """Downloader middleware: stored validators out, stored page back in on a 304.

    It sits after HttpCompression (so bodies are stored decoded) and before Retry. robots.txt is
    left alone: Scrapy fetches it itself and it is no record of ours.
    """

    def __init__(self, crawler: Crawler, folder: str) -> None:
        self.crawler = crawler
        self.store = PageStore(Path(folder)) if folder else None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequests:
        mw = cls(crawler, crawler.settings.get("AGENCYWATCH_HTTPCACHE", ""))
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def _url(self, request: Request) -> str:
        spider = self.crawler.spider
        ctx = getattr(spider, "ctx", None)
        return ctx.canonical_url(request.url) if ctx is not None else request.url

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if self.store is None or request.meta.get("dont_obey_robotstxt"):
            return None
        for key, value in self.store.validators(self._url(request)).items():
            request.headers.setdefault(key, value)
        return None

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if self.store is None or request.meta.get("dont_obey_robotstxt"):
            return response
        url = self._url(request)
        if response.status == 304 and url in self.store.index:
            entry = self.store.revalidated(url)
            body = self.store.body(entry["sha256"]) or b""
            headers = {"Content-Type": entry.get("content_type") or ""}
            cls = responsetypes.from_args(headers=headers, url=response.url, body=body)
            request.meta[FETCHED_AT] = entry["fetched_at"]
            return cls(
                url=response.url,
                status=200,
                headers={k: v for k, v in headers.items() if v},
                body=body,
                request=request,
                flags=[*response.flags, NOT_MODIFIED],
            )
        if response.status == 200:
            from crawlers.context import utc_now

            request.meta[FETCHED_AT] = self.store.remember(url, response, utc_now())
        return response

    def spider_closed(self, spider: Spider) -> None:
        if self.store is not None:
            self.store.write_pending()


def _header(response: Response, name: bytes) -> str:
    return (response.headers.get(name) or b"").decode("latin-1")


def _read_index(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
