"""What the city DAGs and the portal DAG must agree on, in one place.

The portal DAG runs when a city DAG updates that city's release Asset, so both files must name
the Asset identically; a copy in each file could drift apart and the portal would silently
never run. Standard library only: the Airflow scheduler imports this on every parse.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

RELEASE_URI = "x-agencywatch://release/{city}"  # "x-" schemes are kept as written by Airflow
ASSET_GROUP = "agencywatch"


def release_asset_name(city: str) -> str:
    """The name of a city's release Asset (its newest release and live site)."""
    return f"agencywatch_release_{city}"


def release_asset_uri(city: str) -> str:
    return RELEASE_URI.format(city=city)


def task_defaults(execution_timeout: timedelta) -> dict[str, Any]:
    """Retries with exponential backoff, shared by every AgencyWatch task; each DAG sets how
    long one of its tasks may run."""
    return {
        "owner": "agencywatch",
        "retries": 2,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
        "execution_timeout": execution_timeout,
    }
