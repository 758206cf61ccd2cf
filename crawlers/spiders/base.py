"""The spider all generic spiders share: requests with an errback, refusal and problem reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from twisted.web.client import ResponseNeverReceived

from crawlers.cache import fingerprint
from crawlers.context import SourceContext, challenge_marker, refusal_reason, sha256_hex
from crawlers.pipelines import report

# What a download failure means, in the words the run summary and the sources page show.
FAILURE_WORDS: dict[type[Exception], str] = {
    DownloadTimeoutError: "no answer within the download timeout (retried)",
    ResponseDataLossError: "the connection closed before the whole page arrived (truncated)",
    DownloadCancelledError: "the answer was larger than the download size limit",
    DownloadConnectionRefusedError: "the site refused the connection (retried)",
    CannotResolveHostError: "the site's host name did not resolve (retried)",
    ResponseNeverReceived: "the site closed the connection without answering (retried)",
}


class SourceSpider(scrapy.Spider):
    """A spider for one configured source; subclasses only select records from pages."""

    def __init__(self, ctx: SourceContext, known: frozenset[str] = frozenset(), **kwargs: Any):
        super().__init__(**kwargs)
        self.ctx = ctx
        self.allowed_domains = ctx.allowed_domains
        self.known = known  # fingerprints of the last good crawl's records (crawlers.cache)
        self.seen_pages: dict[str, str] = {}  # sha256 of a page body -> the url it came from

    def all_known(self, items: list[Any], page: int) -> bool:
        """True when a listing page held records and the last good crawl had every one of them.

        Listings put new records first, so the pages after such a page hold nothing new: the
        crawl stops there and crawlers.run fills in the rest from the last good raw file.
        """
        if not self.known or not items:
            return False
        if any(fingerprint(item["fields"]) not in self.known for item in items):
            return False
        self.crawler.stats.set_value("agencywatch/stopped_at_known_page", page)
        return True

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield self.request(self.ctx.start_url, self.parse, page=1)

    def request(self, url: str, callback: Any, **cb_kwargs: Any) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.failed, cb_kwargs=cb_kwargs)

    def report(self, status: str, message: str) -> None:
        report(self.crawler, status, message)

    def note(self, message: str) -> None:
        """Something worth a line in the crawl log that does not make the crawl untrustworthy."""
        notes = self.crawler.stats.get_value("agencywatch/notes") or []
        self.crawler.stats.set_value("agencywatch/notes", [*notes, message])

    def refused(self, response: Response) -> bool:
        """True (and reported blocked) when the site answered with a challenge or `error`."""
        reason = refusal_reason(response.status, response.body)
        if reason:
            self.report("blocked", f"{reason} at {self.ctx.canonical_url(response.url)}")
        return reason is not None or self.repeated(response)

    def repeated(self, response: Response) -> bool:
        """True (and reported failed) when a page repeats one already parsed: a pagination
        loop would otherwise run to max_pages and fill the source with copies."""
        url = self.ctx.canonical_url(response.url)
        first = self.seen_pages.setdefault(sha256_hex(response.body), url)
        if first != url:
            self.report("failed", f"pagination loops: {url} repeats {first}; crawl stopped")
        return first != url

    def unreadable(self, response: Response, what: str) -> None:
        """A page without the expected records is a refusal or a layout change, never "none"."""
        text = self.ctx.text_response(response).text
        marker = challenge_marker(text)
        reason = f"challenge page (marker {marker!r})" if marker else f"layout changed: {what}"
        self.report("blocked", f"{reason} at {self.ctx.canonical_url(response.url)}")

    def closed(self, reason: str) -> None:
        """Scrapy drops a redirect to another host without calling the errback: such a
        source has moved or answers for someone else, so it is blocked, not empty."""
        dropped = self.crawler.stats.get_value("offsite/filtered") or 0
        if dropped:
            where = self.ctx.canonical_url(self.ctx.start_url)
            self.report(
                "blocked",
                f"redirected to another site ({dropped} request(s) not followed): {where}",
            )

    def failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        url = self.ctx.canonical_url(request.url)
        if failure.check(HttpError):
            response = failure.value.response
            reason = refusal_reason(response.status, response.body)
            status = "blocked" if reason else "failed"
            self.report(status, f"{reason or f'HTTP {response.status}'} at {url}")
        elif failure.check(IgnoreRequest):
            self.note(f"not fetched ({failure.getErrorMessage()}): {url}")
        else:
            words = next((w for e, w in FAILURE_WORDS.items() if failure.check(e)), None)
            self.report("failed", f"{words or failure.getErrorMessage()} at {url}")
