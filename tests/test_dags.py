"""The Airflow DAGs: every city's DAG parses cleanly, and a real `airflow dags test` publishes.

Airflow reads its configuration once per process from the environment, so each check runs in a
subprocess with its own AIRFLOW_HOME and SQLite database; nothing leaks into other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CITY_SLUGS = sorted(tomllib.loads(p.read_text("utf-8"))["slug"] for p in REPO.glob("cities/*.toml"))

DAGBAG_SCRIPT = """
import json, time
from datetime import timedelta
started = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag(dag_folder={dags!r})
parsed = time.perf_counter()
print(json.dumps({{
    "import_errors": {{str(k): str(v) for k, v in bag.import_errors.items()}},
    "airflow_import_s": imported - started,
    "parse_s": parsed - imported,
    "dags": {{
        dag_id: {{
            "tags": sorted(dag.tags),
            "timezone": str(dag.timezone),
            "catchup": dag.catchup,
            "tasks": {{
                t.task_id: {{
                    "retries": t.retries,
                    "timeout_s": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                    "mapped": "Mapped" in type(t).__name__,
                    "downstream": sorted(t.downstream_task_ids),
                }}
                for t in dag.tasks
            }},
        }}
        for dag_id, dag in bag.dags.items()
    }},
}}))
"""


def airflow_env(home: Path, root: Path) -> dict[str, str]:
    """A throwaway Airflow installation: its own home, SQLite database and only our DAGs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY="1",  # a failing test fails fast, not in 15 min
        AGENCYWATCH_ROOT=str(root),
        GX_ANALYTICS_ENABLED="false",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def failure_lines(log: str) -> str:
    """The lines that say which task failed and why, out of Airflow's long log."""
    marks = ("[error", "Error:", "Exception:", "GateFailed", "failed:", "new_state=failed")
    picked = [line[:400] for line in log.splitlines() if any(m in line for m in marks)]
    return "\n".join(picked[-40:]) or log[-3000:]


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("airflow")
    script = DAGBAG_SCRIPT.format(dags=str(REPO / "dags"))
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=airflow_env(home, home / "out"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag["import_errors"] == {}


def test_one_dag_per_city(dagbag):
    assert sorted(dagbag["dags"]) == [f"agencywatch_{slug}" for slug in CITY_SLUGS]


def test_dag_files_parse_quickly(dagbag):
    """The scheduler re-parses DAG files all the time: heavy imports belong inside tasks."""
    assert dagbag["parse_s"] < 5, dagbag["parse_s"]


@pytest.mark.parametrize("slug", CITY_SLUGS)
def test_city_dag_is_tagged_retried_and_time_limited(dagbag, slug):
    dag = dagbag["dags"][f"agencywatch_{slug}"]
    assert dag["tags"] == sorted(["agencywatch", slug])
    assert dag["catchup"] is False
    for task_id, t in dag["tasks"].items():
        assert t["retries"] >= 2, task_id
        assert t["timeout_s"], task_id


@pytest.mark.parametrize("slug", CITY_SLUGS)
def test_city_dag_runs_stages_in_order_with_crawl_mapped(dagbag, slug):
    city = tomllib.loads((REPO / "cities" / f"{slug}.toml").read_text("utf-8"))
    tasks = dagbag["dags"][f"agencywatch_{slug}"]["tasks"]
    assert tasks["crawl"]["mapped"]
    order = ["crawl", "validate_raw", "build", "release", "render", "publish", "finish"]
    for upstream, downstream in zip(order, order[1:], strict=False):
        assert tasks[upstream]["downstream"] == [downstream]
    assert dagbag["dags"][f"agencywatch_{slug}"]["timezone"] == city.get(
        "timezone", "Asia/Shanghai"
    )


@pytest.mark.airflow
@pytest.mark.slow
def test_airflow_dags_test_publishes_the_demo_city(tmp_path):
    """A real Airflow run of the demo DAG: mapped crawls, gates, a release and a live site."""
    home, root = tmp_path / "airflow", tmp_path / "out"
    home.mkdir()
    env = airflow_env(home, root)
    for args in (["db", "migrate"], ["dags", "test", "agencywatch_demo", "2026-11-22"]):
        done = subprocess.run(
            [str(BIN / "airflow"), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, failure_lines(done.stdout + done.stderr)
    assert [p.name for p in (root / "releases" / "demo").iterdir() if p.is_dir()] == ["2026-11-22"]
    assert (root / "public" / "demo" / "index.html").is_file()
    summary = json.loads((root / "data" / "demo" / "last-run.json").read_text("utf-8"))
    assert summary["status"] == "published"
