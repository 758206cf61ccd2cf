"""One Airflow DAG per city config: crawl every source, gate, build, release, render, publish.

The DAG only wires tasks; every task calls one function of `agencywatch.pipeline`, which the CLI
calls too, so a run scheduled here behaves like `agencywatch run CITY`. The scheduler parses this
file often, so at parse time it reads the city TOMLs with tomllib and nothing heavier: pandas,
Scrapy and Great Expectations are imported inside the tasks. Outputs go under AGENCYWATCH_ROOT,
which the pipeline reads from the worker's environment.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, TriggerRule, chain, dag, get_current_context, task, teardown

CITIES_DIR = Path(__file__).resolve().parent.parent / "cities"
START = (2026, 1, 1)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "agencywatch",
    "retries": 2,
    # The first delay is Airflow's [core] default_task_retry_delay (5 min unless the deployment
    # says otherwise); each retry waits twice as long as the one before (a multiplier in 3.x).
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(hours=1),
    "execution_timeout": timedelta(hours=2),
}
CRAWL_TIMEOUT = timedelta(hours=1)


def city_configs(cities_dir: Path = CITIES_DIR) -> list[dict[str, Any]]:
    """The raw city TOMLs; the pipeline validates them fully when a task loads its city."""
    return [tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(cities_dir.glob("*.toml"))]


def run_key(run_id: str) -> str:
    """Airflow's run id as a file-name-safe pipeline run id (manual ids contain ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id).strip("_")


def run_facts(timezone: str) -> tuple[str, str]:
    """(pipeline run id, release date): the date is the logical date as the city sees it.

    A manually triggered run in Airflow 3 may have no logical date; it is released as of today.
    """
    context = get_current_context()
    logical = context.get("logical_date")
    when = pendulum.instance(logical) if logical else pendulum.now("UTC")
    return run_key(context["run_id"]), when.in_timezone(timezone).date().isoformat()


def gate_failure_is_final(error: Exception) -> Exception:
    """A failed gate is a verdict on the data, not a glitch: retrying cannot change it."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(str(error))


def city_dag(city: dict[str, Any]) -> DAG:
    """The DAG of one city: crawl is mapped over its sources, the rest runs once per run."""
    slug = city["slug"]
    tz = city.get("timezone", "Asia/Shanghai")

    @dag(
        dag_id=f"agencywatch_{slug}",
        description=f"AgencyWatch pipeline for {city.get('name_en') or city.get('name', slug)}",
        schedule=city.get("schedule", "@daily"),
        start_date=pendulum.datetime(*START, tz=pendulum.timezone(tz)),
        catchup=False,
        max_active_runs=1,
        tags=["agencywatch", slug],
        default_args=DEFAULT_ARGS,
        doc_md=__doc__,
    )
    def pipeline() -> None:
        @task(execution_timeout=CRAWL_TIMEOUT, map_index_template="{{ source_id }}")
        def crawl(source_id: str) -> dict[str, Any]:
            from agencywatch import pipeline as stages

            get_current_context()["source_id"] = source_id  # names the mapped task in the UI
            run_id, _ = run_facts(tz)
            return stages.crawl(slug, source_id, run_id)

        @task(trigger_rule=TriggerRule.ALL_DONE)
        def validate_raw() -> dict[str, Any]:
            """Runs even when a crawl crashed: that source's last good raw file is checked."""
            from agencywatch import pipeline as stages
            from expectations.gate import GateFailed

            run_id, _ = run_facts(tz)
            try:
                return stages.validate_raw(slug, run_id)
            except GateFailed as failed:
                raise gate_failure_is_final(failed) from failed

        @task
        def build() -> dict[str, Any]:
            from agencywatch import pipeline as stages
            from expectations.gate import GateFailed

            run_id, as_of = run_facts(tz)
            try:
                return stages.build(slug, run_id, as_of)
            except GateFailed as failed:
                raise gate_failure_is_final(failed) from failed

        @task
        def release() -> dict[str, Any]:
            from agencywatch import pipeline as stages

            run_id, as_of = run_facts(tz)
            return stages.release(slug, run_id, as_of)

        @task
        def render() -> dict[str, Any]:
            from agencywatch import pipeline as stages

            return stages.render(slug, run_facts(tz)[0])

        @task
        def publish() -> dict[str, Any]:
            from agencywatch import pipeline as stages

            return stages.publish(slug, run_facts(tz)[0])

        @teardown
        @task
        def finish() -> dict[str, Any]:
            """Runs whatever happened upstream: a blocked or failed run still leaves its summary."""
            from agencywatch import pipeline as stages

            return stages.finish(slug, run_facts(tz)[0])

        crawled = crawl.expand(source_id=[s["id"] for s in city["sources"]])
        chain(crawled, validate_raw(), build(), release(), render(), publish(), finish())

    return pipeline()


for _city in city_configs():
    globals()[f"agencywatch_{_city['slug']}"] = city_dag(_city)
