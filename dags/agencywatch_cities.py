"""One Airflow DAG per city config: crawl every source, gate, build, release, render, publish.

The DAG only wires tasks; every task calls one function of `agencywatch.pipeline`, which the CLI
calls too, so a run scheduled here behaves like `agencywatch run CITY`. The scheduler parses this
file often, so at parse time it reads the city TOMLs with tomllib and nothing heavier: pandas,
Scrapy and Great Expectations are imported inside the tasks. Outputs go to the storage root
(AGENCYWATCH_STORAGE, else AGENCYWATCH_ROOT), which the tasks read from the worker's environment;
see docs/deployment.md.

Robustness: every task retries with exponential backoff and has a time limit; a crawl that did
not get fresh data is retried, and on its last try a stale source (its last good raw data still
young enough) is accepted so the rest of the city still publishes; a failed gate fails at once
(retrying cannot change a verdict on the data). Crawls of one host share one Airflow pool, so
parallel workers still crawl each site one request stream at a time. A task that fails for good
writes data/<city>/failures/<run>.json and tells the city's webhook or mailbox. Publishing
updates the city's release Asset, which schedules the portal DAG (agencywatch_portal.py).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pendulum
from airflow.sdk import DAG, Asset, TriggerRule, chain, dag, get_current_context, task, teardown
from airflow.sdk.configuration import conf

from agencywatch.schedule import ASSET_GROUP, release_asset_name, release_asset_uri, task_defaults

CITIES_DIR = Path(__file__).resolve().parent.parent / "cities"
START = (2026, 1, 1)
POOL_SLOTS = 1  # one crawl at a time per host: politeness holds across workers and cities

TASK_DEFAULTS: dict[str, Any] = {
    **task_defaults(execution_timeout=timedelta(hours=2)),
    # The first delay is Airflow's [core] default_task_retry_delay (5 min unless the deployment
    # says otherwise); each retry waits twice as long as the one before (a multiplier in 3.x).
    # Stated explicitly: Airflow 3.3 otherwise gives mapped tasks (the crawls) a fixed 5-minute
    # first delay whatever default_task_retry_delay says.
    "retry_delay": timedelta(seconds=conf.getint("core", "default_task_retry_delay", fallback=300)),
}
CRAWL_TIMEOUT = timedelta(hours=1)


def city_configs(cities_dir: Path = CITIES_DIR) -> list[dict[str, Any]]:
    """The raw city TOMLs; the pipeline validates them fully when a task loads its city."""
    return [tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(cities_dir.glob("*.toml"))]


def release_asset(slug: str) -> Asset:
    """The Asset a city's publish task updates: its newest release and live site."""
    return Asset(name=release_asset_name(slug), uri=release_asset_uri(slug), group=ASSET_GROUP)


def source_pool(city: dict[str, Any], source: dict[str, Any]) -> str:
    """The source's pool: set in the config, else one per host its url points at."""
    if source.get("pool"):
        return source["pool"]
    host = urlsplit(urljoin(city.get("base_url", ""), source.get("url", ""))).hostname
    return "agencywatch_" + re.sub(r"[^a-z0-9]+", "_", (host or "manual").lower()).strip("_")


def sources_by_pool(city: dict[str, Any]) -> dict[str, list[str]]:
    """Source ids grouped by pool, in config order: one mapped crawl task per pool."""
    pools: dict[str, list[str]] = {}
    for source in city["sources"]:
        pools.setdefault(source_pool(city, source), []).append(source["id"])
    return pools


def all_pools(cities: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every crawl pool of every city, in the format of `airflow pools import`."""
    return {
        pool: {"slots": POOL_SLOTS, "description": "AgencyWatch: crawls of one host, one at a time"}
        for city in cities
        for pool in sources_by_pool(city)
    }


def run_key(run_id: str) -> str:
    """Airflow's run id as a file-name-safe pipeline run id (manual ids contain ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id).strip("_")


def run_facts(timezone: str) -> tuple[str, str]:
    """(pipeline run id, release date): the date is the logical date as the city sees it.

    The same logical date always gives the same run id and release date, so a rerun replaces
    that date's release instead of adding one. A manually triggered run in Airflow 3 may have no
    logical date; it is released as of today.
    """
    context = get_current_context()
    logical = context.get("logical_date")
    when = pendulum.instance(logical) if logical else pendulum.now("UTC")
    return run_key(context["run_id"]), when.in_timezone(timezone).date().isoformat()


def gate_failure_is_final(error: Exception) -> Exception:
    """A failed gate is a verdict on the data, not a glitch: retrying cannot change it."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(str(error))


class SourceNotFresh(RuntimeError):
    """The crawl did not get fresh data; raised while retries remain, so Airflow tries again."""


def accept_crawl(log: dict[str, Any]) -> dict[str, Any]:
    """Retry a crawl that is not ok; on the last try a stale source is accepted (its last good
    data is reused and the run summary says so), a blocked or failed one fails the task."""
    if log.get("status") == "ok":
        return log
    ti = get_current_context()["ti"]
    if ti.try_number <= ti.max_tries or log.get("status") != "stale":
        raise SourceNotFresh(f"{log.get('source_id')}: {log.get('status')}: {log.get('message')}")
    return log


def report_failure(city: dict[str, Any]) -> Any:
    """The on_failure_callback of a city's tasks: report file first, then the notifications."""

    def on_failure(context: dict[str, Any]) -> None:
        from agencywatch import pipeline as stages

        ti = context["ti"]
        failure = {
            "dag_id": ti.dag_id,
            "task_id": ti.task_id,
            "map_index": getattr(ti, "map_index", -1),
            "try_number": ti.try_number,
            "error": repr(context.get("exception")),
            "logical_date": str(context.get("logical_date")),
        }
        report = stages.record_failure(city["slug"], run_key(context["run_id"]), failure)
        notify = city.get("notify", {})
        if notify.get("webhook"):
            stages.post_webhook(notify["webhook"], report)
        if notify.get("email"):
            mail_failure(notify["email"], report, context)

    return on_failure


def mail_failure(to: list[str], report: dict[str, Any], context: dict[str, Any]) -> None:
    """E-mail through Airflow's SMTP connection (smtp_default), as the deployment set it up."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    last = report["failures"][-1]
    SmtpNotifier(
        to=to,
        subject=f"AgencyWatch {report['city']}: {last['task_id']} failed in {report['run_id']}",
        html_content="<pre>{}</pre>".format(
            json.dumps(report, ensure_ascii=False, indent=2)
            .replace("&", "&amp;")
            .replace("<", "&lt;")
        ),
    ).notify(context)


def city_dag(city: dict[str, Any]) -> DAG:
    """The DAG of one city: crawls are mapped over its sources (one task per pool), the rest
    runs once per run."""
    slug = city["slug"]
    tz = city.get("timezone", "Asia/Shanghai")

    @dag(
        dag_id=f"agencywatch_{slug}",
        description=f"AgencyWatch pipeline for {city.get('name_en') or city.get('name', slug)}",
        schedule=city.get("schedule", "@daily"),
        start_date=pendulum.datetime(*START, tz=pendulum.timezone(tz)),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        tags=["agencywatch", slug],
        default_args=dict(TASK_DEFAULTS, on_failure_callback=report_failure(city)),
        doc_md=__doc__,
    )
    def pipeline() -> None:
        @task(execution_timeout=CRAWL_TIMEOUT, map_index_template="{{ source_id }}")
        def crawl(source_id: str) -> dict[str, Any]:
            from agencywatch import pipeline as stages
            from agencywatch.storage import city_root

            get_current_context()["source_id"] = source_id  # names the mapped task in the UI
            run_id, _ = run_facts(tz)
            with city_root(slug) as root:
                log = stages.crawl(slug, source_id, run_id, root)
            return accept_crawl(log)

        @task(trigger_rule=TriggerRule.ALL_DONE)
        def validate_raw() -> dict[str, Any]:
            """Runs even when a crawl failed: that source's last good raw file is checked."""
            from agencywatch import pipeline as stages
            from agencywatch.storage import city_root
            from expectations.gate import GateFailed

            run_id, _ = run_facts(tz)
            try:
                with city_root(slug) as root:
                    return stages.validate_raw(slug, run_id, root)
            except GateFailed as failed:
                raise gate_failure_is_final(failed) from failed

        @task
        def build() -> dict[str, Any]:
            from agencywatch import pipeline as stages
            from agencywatch.storage import city_root
            from expectations.gate import GateFailed

            run_id, as_of = run_facts(tz)
            try:
                with city_root(slug) as root:
                    return stages.build(slug, run_id, as_of, root)
            except GateFailed as failed:
                raise gate_failure_is_final(failed) from failed

        @task
        def release() -> dict[str, Any]:
            from agencywatch import pipeline as stages
            from agencywatch.storage import city_root

            run_id, as_of = run_facts(tz)
            with city_root(slug) as root:
                return stages.release(slug, run_id, as_of, root)

        @task
        def render() -> dict[str, Any]:
            from agencywatch import pipeline as stages
            from agencywatch.storage import city_root

            with city_root(slug) as root:
                return stages.render(slug, run_facts(tz)[0], root)

        @task(outlets=[release_asset(slug)])
        def publish() -> dict[str, Any]:
            from agencywatch import pipeline as stages
            from agencywatch.storage import city_root

            with city_root(slug) as root:
                return stages.publish(slug, run_facts(tz)[0], root)

        @teardown
        @task
        def finish() -> dict[str, Any]:
            """Runs whatever happened upstream: a blocked or failed run still leaves its summary."""
            from agencywatch import pipeline as stages
            from agencywatch.storage import city_root

            with city_root(slug) as root:
                return stages.finish(slug, run_facts(tz)[0], root)

        crawled = [
            crawl.override(task_id=f"crawl_{pool.removeprefix('agencywatch_')}", pool=pool).expand(
                source_id=ids
            )
            for pool, ids in sources_by_pool(city).items()
        ]
        chain(crawled, validate_raw(), build(), release(), render(), publish(), finish())

    return pipeline()


for _city in city_configs():
    globals()[f"agencywatch_{_city['slug']}"] = city_dag(_city)


if __name__ == "__main__":
    # `python dags/agencywatch_cities.py pools > pools.json; airflow pools import pools.json`
    if sys.argv[1:] == ["pools"]:
        print(json.dumps(all_pools(city_configs()), indent=2))
