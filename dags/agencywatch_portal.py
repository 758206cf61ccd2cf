"""The portal DAG: when any city publishes, rebuild the province release and the portal page.

It has no clock schedule: each city DAG's publish task updates that city's release Asset, and
this DAG runs on any of them (Airflow's asset-aware scheduling). The province release joins
every city's newest release (`transforms.province`), and the portal page lists the cities
(`transforms.portal`). Both read and write the storage root, like the city tasks.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetAny, chain, dag, get_current_context, task

from agencywatch.schedule import ASSET_GROUP, release_asset_name, release_asset_uri, task_defaults

CITIES_DIR = Path(__file__).resolve().parent.parent / "cities"
PORTAL_KEY = "province"  # failure reports go to data/province/failures/

TASK_DEFAULTS: dict[str, Any] = task_defaults(execution_timeout=timedelta(minutes=30))


def city_slugs(cities_dir: Path = CITIES_DIR) -> list[str]:
    return [
        tomllib.loads(p.read_text(encoding="utf-8"))["slug"]
        for p in sorted(cities_dir.glob("*.toml"))
    ]


def release_asset(slug: str) -> Asset:
    """The same Asset the city DAG's publish task updates (agencywatch.schedule)."""
    return Asset(name=release_asset_name(slug), uri=release_asset_uri(slug), group=ASSET_GROUP)


def report_failure(context: dict[str, Any]) -> None:
    """A failed portal task is recorded like a city's: data/province/failures/<run>.json."""
    import re

    from agencywatch import pipeline as stages

    ti = context["ti"]
    run_id = re.sub(r"[^A-Za-z0-9_.-]+", "_", context["run_id"]).strip("_")
    failure = {
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "try_number": ti.try_number,
        "error": repr(context.get("exception")),
    }
    stages.record_failure(PORTAL_KEY, run_id, failure)


def portal_dag(slugs: list[str]) -> DAG:
    @dag(
        dag_id="agencywatch_portal",
        description="AgencyWatch portal page and province release, rebuilt when a city publishes",
        schedule=AssetAny(*(release_asset(s) for s in slugs)),
        start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        tags=["agencywatch", "portal"],
        default_args=dict(TASK_DEFAULTS, on_failure_callback=report_failure),
        doc_md=__doc__,
    )
    def portal() -> None:
        @task
        def province_release() -> str | None:
            from agencywatch.storage import site_root
            from transforms import province

            with site_root() as root:
                built = province.run(root)
                return built.relative_to(root).as_posix() if built else None

        @task
        def portal_page() -> str:
            from agencywatch.storage import site_root
            from transforms import portal as portal_stage

            events = get_current_context().get("triggering_asset_events") or {}
            print(f"triggered by: {sorted(str(k) for k in events)}")
            with site_root() as root:
                return portal_stage.run(root).relative_to(root).as_posix()

        chain(province_release(), portal_page())

    return portal()


agencywatch_portal = portal_dag(city_slugs())
