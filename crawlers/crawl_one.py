"""Child process of crawl_source: one Scrapy crawl of one source, in its own process.

Twisted's reactor cannot be restarted, so every source gets a fresh interpreter; Airflow tasks
and the CLI then share one code path. Usage (the job file is written by crawlers.run):

    python -m crawlers.crawl_one JOB.json

The job holds the city (as validated JSON), the source id, the fetch base, the download delay,
the output file, the summary file, the source's cache folder and its last good raw file; the summary carries Scrapy's counts and the problems the spider reported.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.misc import load_object

from agencywatch.config import City
from crawlers.cache import known_fingerprints
from crawlers.context import SourceContext

# source kind -> generic spider (loaded by name: a crawl imports only the spider it runs)
SPIDERS = {
    "html_table": "crawlers.spiders.html_table.HtmlTableSpider",
    "json_api": "crawlers.spiders.json_api.JsonApiSpider",
    "file_download": "crawlers.spiders.file_download.FileDownloadSpider",
}

STAT_KEYS = {
    "rows": "agencywatch/rows",
    "pages_fetched": "agencywatch/pages_fetched",
    "pages_not_modified": "agencywatch/pages_not_modified",
    "problems": "agencywatch/problems",
    "notes": "agencywatch/notes",
    "stopped_at_known_page": "agencywatch/stopped_at_known_page",
    "robots_forbidden": "robotstxt/forbidden",
    "finish_reason": "finish_reason",
}


def crawl_settings(
    ctx: SourceContext, output: str, delay_s: float | None, httpcache: str = ""
) -> Settings:
    """The project settings with what belongs to this city and source.

    `delay_s` None keeps the project's DOWNLOAD_DELAY (a real site's default); `httpcache` is
    the source's folder of stored validators and pages ("" crawls without conditional requests).
    """
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.set("USER_AGENT", f"AgencyWatch/0.1 (+{ctx.city.contact_url})", priority="cmdline")
    if delay_s is not None:
        settings.set("DOWNLOAD_DELAY", delay_s, priority="cmdline")
        settings.set("AUTOTHROTTLE_START_DELAY", delay_s, priority="cmdline")
    settings.set("AGENCYWATCH_OUTPUT", output, priority="cmdline")
    settings.set("DOWNLOAD_TIMEOUT", ctx.source.download_timeout_s, priority="cmdline")
    settings.set("AGENCYWATCH_HTTPCACHE", httpcache, priority="cmdline")
    return settings


def crawl(job: dict[str, Any]) -> dict[str, Any]:
    city = City.model_validate(job["city"])
    ctx = SourceContext(city, city.source(job["source_id"]), job.get("fetch_base"))
    settings = crawl_settings(
        ctx, job["output"], job.get("download_delay_s"), job.get("httpcache") or ""
    )
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(load_object(SPIDERS[ctx.source.kind]))
    previous = job.get("previous")
    process.crawl(crawler, ctx=ctx, known=known_fingerprints(Path(previous) if previous else None))
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return {key: stats.get(stat) for key, stat in STAT_KEYS.items()}


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    summary = crawl(job)
    Path(job["summary"]).write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
