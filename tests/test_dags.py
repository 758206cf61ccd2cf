"""The Airflow DAGs: every city's DAG parses cleanly, and a real `airflow dags test` publishes.

Airflow reads its configuration once per process from the environment, so each check runs in a
subprocess with its own AIRFLOW_HOME and SQLite database; nothing leaks into other tests.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import tomllib
from contextlib import closing
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CITY_SLUGS = sorted(tomllib.loads(p.read_text("utf-8"))["slug"] for p in REPO.glob("cities/*.toml"))

DAGBAG_SCRIPT = """
import json, sys, time
started = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag(dag_folder={dags!r})
parsed = time.perf_counter()
from airflow.serialization.serialized_objects import DagSerialization
# what the scheduler sees: the DAGs after a round trip through serialization
scheduled = {{
    dag_id: {{t.task_id: t.retry_delay.total_seconds()
             for t in DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag)).tasks}}
    for dag_id, dag in bag.dags.items()
}}
heavy = sorted(m for m in ("pandas", "scrapy", "great_expectations", "pyarrow") if m in sys.modules)
print(json.dumps({{
    "import_errors": {{str(k): str(v) for k, v in bag.import_errors.items()}},
    "airflow_import_s": imported - started,
    "parse_s": parsed - imported,
    "heavy_modules": heavy,
    "dags": {{
        dag_id: {{
            "tags": sorted(dag.tags),
            "timezone": str(dag.timezone),
            "catchup": dag.catchup,
            "paused_upon_creation": dag.is_paused_upon_creation,
            "schedule_assets": sorted(
                a.uri for a in getattr(getattr(dag.timetable, "asset_condition", None), "objects", [])
            ),
            "tasks": {{
                t.task_id: {{
                    "retries": t.retries,
                    "retry_delay_s": scheduled[dag_id][t.task_id],
                    "timeout_s": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                    "backoff": t.retry_exponential_backoff,
                    "on_failure": bool(t.on_failure_callback),
                    "pool": t.pool,
                    "mapped": "Mapped" in type(t).__name__,
                    "outlets": sorted(o.uri for o in t.outlets),
                    "downstream": sorted(t.downstream_task_ids),
                }}
                for t in dag.tasks
            }},
        }}
        for dag_id, dag in bag.dags.items()
    }},
}}))
"""

# The same interpreter (an Airflow import is slow) then calls the failure callback as Airflow
# would, with a webhook on a local server, and prints the pool file `make airflow` imports.
CALLBACK_SCRIPT = """
import sys, types
sys.path.insert(0, {dags!r})
import agencywatch_cities as cities
ti = types.SimpleNamespace(dag_id="agencywatch_demo", task_id="build", map_index=-1, try_number=3)
context = {{"ti": ti, "run_id": "scheduled__2026-11-22T00:00:00+00:00",
            "exception": RuntimeError("normalize crashed"), "logical_date": "2026-11-22"}}
cities.report_failure({{"slug": "demo", "notify": {{"webhook": {webhook!r}}}}})(context)
print(json.dumps({{"pools": cities.all_pools(cities.city_configs())}}))
"""


def airflow_env(home: Path, root: Path, storage: str | None = None) -> dict[str, str]:
    """A throwaway Airflow installation: its own home, SQLite database and only our DAGs."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AGENCYWATCH_STORAGE"))
    }
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
    if storage:
        env["AGENCYWATCH_STORAGE"] = storage
    return env


def failure_lines(log: str) -> str:
    """The lines that say which task failed and why, out of Airflow's long log."""
    marks = ("[error", "Error:", "Exception:", "GateFailed", "failed:", "new_state=failed")
    picked = [line[:400] for line in log.splitlines() if any(m in line for m in marks)]
    return "\n".join(picked[-40:]) or log[-3000:]


def run_ok(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, failure_lines(done.stdout + done.stderr)
    return done.stdout


class _Inbox(BaseHTTPRequestHandler):
    """A webhook receiver on 127.0.0.1: what a city's notify.webhook would be told."""

    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
        _Inbox.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The parsed DAGs; also the failure callback's report and webhook call, and the pools."""
    home = tmp_path_factory.mktemp("airflow")
    server = HTTPServer(("127.0.0.1", 0), _Inbox)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/agencywatch"
    dags = str(REPO / "dags")
    script = DAGBAG_SCRIPT.format(dags=dags) + CALLBACK_SCRIPT.format(dags=dags, webhook=hook)
    try:
        out = run_ok([sys.executable, "-c", script], airflow_env(home, home / "out"), REPO)
    finally:
        server.shutdown()
        server.server_close()
    bag, pools = json_lines(out)
    report = home / "out/data/demo/failures/scheduled__2026-11-22T00_00_00_00_00.json"
    bag.update(pools, report=json.loads(report.read_text("utf-8")), webhook=list(_Inbox.received))
    return bag


def city_config(slug: str) -> dict:
    return tomllib.loads((REPO / "cities" / f"{slug}.toml").read_text("utf-8"))


def crawl_tasks(dag: dict) -> dict[str, dict]:
    return {tid: t for tid, t in dag["tasks"].items() if tid.startswith("crawl_")}


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag["import_errors"] == {}


def test_one_dag_per_city_and_a_portal(dagbag):
    expected = [f"agencywatch_{slug}" for slug in CITY_SLUGS] + ["agencywatch_portal"]
    assert sorted(dagbag["dags"]) == sorted(expected)


def test_dag_files_import_no_heavy_library_at_parse_time(dagbag):
    """The scheduler re-parses DAG files all the time: pandas, Scrapy, GX belong inside tasks."""
    assert dagbag["heavy_modules"] == []


def test_our_dags_start_unpaused(dagbag):
    for dag_id, dag in dagbag["dags"].items():
        assert dag["paused_upon_creation"] is False, dag_id


@pytest.mark.parametrize(
    "dag_id", [f"agencywatch_{s}" for s in CITY_SLUGS] + ["agencywatch_portal"]
)
def test_every_dag_is_tagged_retried_and_time_limited(dagbag, dag_id):
    dag = dagbag["dags"][dag_id]
    assert "agencywatch" in dag["tags"] and len(dag["tags"]) == 2
    assert dag["catchup"] is False
    for task_id, t in dag["tasks"].items():
        assert t["retries"] >= 2, task_id
        assert t["backoff"] and t["backoff"] > 1, task_id
        assert t["retry_delay_s"] == 1, task_id  # the deployment's default_task_retry_delay
        assert t["timeout_s"], task_id
        assert t["on_failure"], task_id


@pytest.mark.parametrize("slug", CITY_SLUGS)
def test_city_dag_runs_stages_in_order_with_crawls_mapped(dagbag, slug):
    dag = dagbag["dags"][f"agencywatch_{slug}"]
    tasks = dag["tasks"]
    crawls = crawl_tasks(dag)
    assert crawls and all(t["mapped"] for t in crawls.values())
    assert all(t["downstream"] == ["validate_raw"] for t in crawls.values())
    order = ["validate_raw", "build", "release", "render", "publish", "finish"]
    for upstream, downstream in zip(order, order[1:], strict=False):
        assert tasks[upstream]["downstream"] == [downstream]
    assert dag["tags"] == sorted(["agencywatch", slug])
    assert dag["timezone"] == city_config(slug).get("timezone", "Asia/Shanghai")


@pytest.mark.parametrize("slug", CITY_SLUGS)
def test_crawls_of_one_host_share_one_pool(dagbag, slug):
    city = city_config(slug)
    hosts = {
        urlsplit(urljoin(city.get("base_url", ""), s.get("url", ""))).hostname
        for s in city["sources"]
        if not s.get("pool")
    }
    pools = {t["pool"] for t in crawl_tasks(dagbag["dags"][f"agencywatch_{slug}"]).values()}
    assert len(pools) == len(hosts | {s["pool"] for s in city["sources"] if s.get("pool")})
    assert "default_pool" not in pools


def test_the_pool_file_creates_every_crawl_pool(dagbag):
    used = {t["pool"] for dag in dagbag["dags"].values() for t in crawl_tasks(dag).values()}
    assert used == set(dagbag["pools"])
    assert all(p["slots"] >= 1 for p in dagbag["pools"].values())


def test_publish_updates_the_city_asset_and_the_portal_waits_on_all_of_them(dagbag):
    uris = []
    for slug in CITY_SLUGS:
        tasks = dagbag["dags"][f"agencywatch_{slug}"]["tasks"]
        assert tasks["publish"]["outlets"] == [f"x-agencywatch://release/{slug}"]
        assert all(not t["outlets"] for tid, t in tasks.items() if tid != "publish")
        uris.append(f"x-agencywatch://release/{slug}")
    assert dagbag["dags"]["agencywatch_portal"]["schedule_assets"] == sorted(uris)


def test_the_failure_callback_writes_a_report_and_calls_the_webhook(dagbag):
    report = dagbag["report"]
    assert report["failures"][0]["task_id"] == "build"
    assert "normalize crashed" in report["failures"][0]["error"]
    assert dagbag["webhook"] == [report]


# --- real Airflow runs ---------------------------------------------------------------------------


def db_rows(home: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(home / "airflow.db")) as db:
        return db.execute(sql).fetchall()


@pytest.mark.airflow
@pytest.mark.slow
def test_airflow_runs_the_demo_through_object_storage_with_a_broken_source(tmp_path):
    """A real `airflow dags test` of the demo DAG, the storage root an fsspec URL, while the
    penalties server answers 500: that crawl is retried, then the source is stale (its last
    good crawl reused), the rest is crawled, released and published, and the release Asset
    queues a portal run, which then builds the province release."""
    home, store = tmp_path / "airflow", tmp_path / "store"
    home.mkdir()
    env = airflow_env(home, tmp_path / "unused", storage=store.as_uri())
    seed = "from agencywatch import pipeline; pipeline.crawl('demo', 'penalties', 'seed', {!r})"
    run_ok([sys.executable, "-c", seed.format(str(store))], env, tmp_path)
    run_ok([str(BIN / "airflow"), "db", "migrate"], env, tmp_path)
    broken = dict(env, AGENCYWATCH_MIRROR_FAULTS=json.dumps({"/credit/penalty/": "http500"}))
    run_ok(
        [str(BIN / "airflow"), "dags", "test", "agencywatch_demo", "2026-11-22"], broken, tmp_path
    )

    assert [p.name for p in (store / "releases" / "demo").glob("20*")] == ["2026-11-22"]
    assert (store / "public" / "demo" / "index.html").is_file()
    assert not (store / "public" / "demo").is_symlink()  # object storage holds plain files
    summary = json.loads((store / "data" / "demo" / "last-run.json").read_text("utf-8"))
    assert summary["status"] == "published"
    assert summary["sources"]["penalties"]["status"] == "stale"
    assert {s["status"] for k, s in summary["sources"].items() if k != "penalties"} == {"ok"}
    tries = dict(
        db_rows(
            home,
            "select rendered_map_index, try_number from task_instance "
            "where dag_id = 'agencywatch_demo' and task_id like 'crawl_%'",
        )
    )
    assert tries.pop("penalties") == 3  # two retries, then the stale source was accepted
    assert set(tries.values()) == {1}

    events = db_rows(home, "select a.uri from asset_event e join asset a on a.id = e.asset_id")
    assert events == [("x-agencywatch://release/demo",)]
    queued = db_rows(home, "select target_dag_id from asset_dag_run_queue")
    assert queued == [("agencywatch_portal",)]

    portal = subprocess.run(
        [str(BIN / "airflow"), "dags", "test", "agencywatch_portal"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    province = json.loads((store / "releases/province/2026-11-22/manifest.json").read_text("utf-8"))
    assert [c["city"] for c in province["cities"]] == ["demo"]
    if (REPO / "transforms" / "portal.py").exists():
        assert portal.returncode == 0, failure_lines(portal.stdout + portal.stderr)
        assert (store / "public" / "index.html").is_file()
