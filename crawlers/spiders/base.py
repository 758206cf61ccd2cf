"""The spider all generic spiders share: requests with an errback, refusal and problem reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.context import SourceContext, challenge_marker, refusal_reason
from crawlers.pipelines import report


class SourceSpider(scrapy.Spider):
    """A spider for one configured source; subclasses only select records from pages."""

    def __init__(self, ctx: SourceContext, **kwargs: Any):
        super().__init__(**kwargs)
        self.ctx = ctx
        self.allowed_domains = ctx.allowed_domains

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
        return reason is not None

    def unreadable(self, response: Response, what: str) -> None:
        """A page without the expected records is a refusal or a layout change, never "none"."""
        text = self.ctx.text_response(response).text
        marker = challenge_marker(text)
        reason = f"challenge page (marker {marker!r})" if marker else f"layout changed: {what}"
        self.report("blocked", f"{reason} at {self.ctx.canonical_url(response.url)}")

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
            self.report("failed", f"{failure.getErrorMessage()} at {url}")
