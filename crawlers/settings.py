"""Scrapy settings of the AgencyWatch crawl: the polite defaults of Scrapy's project template.

These are the defaults for a real city; `crawlers.crawl_one` overrides only what depends on the
source (download delay, user agent with the city's contact page, the output file).
"""

BOT_NAME = "agencywatch"

SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

# Identify ourselves; crawl_one appends the city's contact url: "AgencyWatch/0.1 (+<url>)".
USER_AGENT = "AgencyWatch/0.1"

# Politeness: obey robots.txt, one request at a time per site, a delay, AutoThrottle on.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 4
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5  # ±50 %, as RANDOMIZE_DOWNLOAD_DELAY did
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 60
RETRY_ENABLED = True
RETRY_TIMES = 2

# A public register page or export is a few MB at most; anything far larger is a mistake.
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024

COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Incremental crawls: crawlers.cache sends the stored ETag / Last-Modified of every page and
# hands a 304 back to the spider as the stored page. Scrapy's own cache stays off: its
# RFC2616Policy answers a 5xx with the cached page, which would hide a broken source.
HTTPCACHE_ENABLED = False
DOWNLOADER_MIDDLEWARES = {
    "crawlers.cache.ConditionalRequests": 585,  # after HttpCompression (590), before Retry (550)
}
# Where ConditionalRequests keeps validators and bodies (set per crawl by crawl_one; "" = off).
AGENCYWATCH_HTTPCACHE = ""

ITEM_PIPELINES = {
    "crawlers.pipelines.RawJsonlPipeline": 300,
}
EXTENSIONS = {
    "crawlers.pipelines.PageCounter": 500,
}

# Where RawJsonlPipeline writes (set per crawl by crawl_one).
AGENCYWATCH_OUTPUT = ""

LOG_LEVEL = "WARNING"
FEED_EXPORT_ENCODING = "utf-8"
