"""The stages of one city's run, as plain functions of strings.

The CLI (`agencywatch run`), the tests and the Airflow DAGs all call these, so a run behaves the
same wherever it is scheduled. Each stage records its result and timing under
`data/<city>/work/<run_id>/`, and `finish()` folds them into the run summary (`last-run.json`).
Heavy libraries (pandas, Scrapy, Great Expectations) are imported inside the stages so that
importing this module stays cheap for Airflow's DAG parser.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agencywatch import fingerprint
from agencywatch.config import City, load_city
from agencywatch.paths import CityPaths, city_paths

STAGES = ("crawl", "normalize", "resolve", "validate", "score", "release", "render", "publish")
LISTS = ("blacklist", "warning", "whitelist", "no_adverse_record", "not_rated")


def new_run_id(now: datetime | None = None) -> str:
    """A sortable id, unique enough for one city's runs (several a second are not expected)."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def today_in(city: City) -> str:
    """The run date as the city sees it: a release dated in Beijing time, not the server's."""
    return datetime.now(ZoneInfo(city.timezone)).date().isoformat()


def _context(city_slug: str, root: str | None) -> tuple[City, CityPaths]:
    city = load_city(city_slug)
    return city, city_paths(city.slug, root)


def _work_dir(paths: CityPaths, run_id: str) -> Path:
    path = paths.data / "work" / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def _record(paths: CityPaths, run_id: str, stage: str, result: dict[str, Any]) -> dict[str, Any]:
    (_work_dir(paths, run_id) / f"{stage}.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    return result


@contextmanager
def _timed(timings: dict[str, float], key: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = round(timings.get(key, 0.0) + time.perf_counter() - start, 3)


@contextmanager
def mirror_for(city: City) -> Iterator[str | None]:
    """Serve the city's bundled mirror on localhost for the length of a crawl, if it has one."""
    if city.mirror is None:
        yield None
        return
    from agencywatch.mirror.server import MirrorServer

    with MirrorServer(city.project_dir / city.mirror.dir) as server:
        server.faults.update(injected_faults())
        yield server.url


def injected_faults() -> dict[str, str]:
    """AGENCYWATCH_MIRROR_FAULTS ({path prefix: fault name}): a broken source for tests that
    cannot reach into the mirror, such as `airflow dags test`."""
    return json.loads(os.environ.get("AGENCYWATCH_MIRROR_FAULTS") or "{}")


# --- stages ---------------------------------------------------------------------------------


def crawl(
    city: str, source_id: str, run_id: str, root: str | None = None, fetch_base: str | None = None
) -> dict[str, Any]:
    """Crawl one source in its own Scrapy process; a mirror is served unless one is given."""
    from crawlers.run import crawl_source

    cfg, paths = _context(city, root)
    source = cfg.source(source_id)
    timing: dict[str, float] = {}
    serving = nullcontext(fetch_base) if fetch_base else mirror_for(cfg)
    with _timed(timing, "seconds"), serving as base:
        log = crawl_source(cfg, source, paths, fetch_base=base)
    return _record(paths, run_id, f"crawl-{source_id}", {**log, **timing})


def crawl_all(
    city: str,
    run_id: str,
    root: str | None = None,
    on_source: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Crawl every source of a city, the mirror served once for all of them.

    Sources of a bundled mirror stand in for separate sites, so they are crawled side by side;
    a real city's sources are crawled side by side only across different hosts, each host one
    source at a time, so per-domain politeness holds even across sources.
    """
    cfg, paths = _context(city, root)
    results: dict[str, Any] = {}
    with mirror_for(cfg) as base:
        groups = _crawl_groups(cfg, mirrored=base is not None)

        def crawl_group(ids: list[str]) -> None:
            for source_id in ids:
                results[source_id] = crawl(city, source_id, run_id, root, fetch_base=base)
                if on_source:
                    on_source(source_id, results[source_id])

        workers = max(1, min(int(os.environ.get("AGENCYWATCH_CRAWL_WORKERS", "4")), len(groups)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(crawl_group, groups))
    return {"sources": {s.id: results[s.id] for s in cfg.sources if s.id in results}}


def _crawl_groups(cfg: City, mirrored: bool) -> list[list[str]]:
    if mirrored:
        return [[s.id] for s in cfg.sources]
    from urllib.parse import urljoin, urlsplit

    by_host: dict[str, list[str]] = {}
    for s in cfg.sources:
        host = urlsplit(urljoin(cfg.base_url or "", s.url)).netloc
        by_host.setdefault(host, []).append(s.id)
    return list(by_host.values())


def validate_raw(city: str, run_id: str, root: str | None = None) -> dict[str, Any]:
    """The raw gate: a broken page or layout change stops the run here.

    Skipped when the raw files, the config and the code are those of the last run it passed:
    its gate results are reused (and the stage record names that run).
    """
    from expectations.gate import check_raw

    cfg, paths = _context(city, root)
    timing: dict[str, float] = {}
    with _timed(timing, "seconds"):
        inputs = _raw_inputs(cfg, paths, "validate_raw")
        cached, why = _reusable(paths, "validate_raw", inputs)
        results = cached["result"]["gates"] if cached else check_raw(cfg, paths)
    out = _record(paths, run_id, "validate_raw",
                  {"gates": results, **timing, **_reuse_note(cached, why)})  # fmt: skip
    _raise_failed(results)
    if cached is None:
        gate_files = [paths.gates / f"{g['name']}.json" for g in results]
        fingerprint.remember(paths, "validate_raw", inputs, run_id, {"gates": results}, gate_files)
    return out


def _raw_inputs(cfg: City, paths: CityPaths, stage: str) -> dict[str, Any]:
    """What the raw gate and normalize read: each source's raw file, the config, the code."""
    raw = {s.id: fingerprint.file_digest(paths.raw / f"{s.id}.jsonl") for s in cfg.sources}
    return {"stage": stage, "code": fingerprint.code_digest(),
            "config": fingerprint.config_digest(cfg), "raw": raw}  # fmt: skip


def _reusable(
    paths: CityPaths, stage: str, inputs: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The last successful run's record of stage if it had these inputs (and why not, if not);
    a stage that must run loses its record first, so a run that fails half-way leaves none."""
    cached, why = fingerprint.reusable(paths, stage, inputs)
    if cached is None:
        fingerprint.forget(paths, stage)
    return cached, why


def _reuse_note(cached: dict[str, Any] | None, why: list[str]) -> dict[str, Any]:
    """What the stage record says: reused from which run, or which inputs made it run."""
    return {"reused_from": cached["run_id"]} if cached else {"ran_because": why}


def build(city: str, run_id: str, as_of: str, root: str | None = None) -> dict[str, Any]:
    """normalize → resolve → clean gate → score → score gate → release circuit breaker.

    normalize → clean gate ("prepare") and score → score gate ("score") are each skipped when
    their inputs are those of their last successful run; `reused` says, per part, from which
    run or why it ran. The breaker always runs: it compares with whichever release is live now.
    """
    from expectations.gate import GateFailed
    from transforms.breaker import check_release

    cfg, paths = _context(city, root)
    timings: dict[str, float] = {}
    out: dict[str, Any] = {"timings_s": timings, "gates": [], "reused": {}}
    try:
        prepared, out["reused"]["prepare"] = _prepared(cfg, paths, run_id, timings)
        out.update(normalize=prepared["normalize"], resolve=prepared["resolve"])
        out["gates"] += prepared["gates"]
        _raise_failed(out["gates"])
        scored, out["reused"]["score"] = _scored(cfg, paths, run_id, as_of, timings)
        out["score"] = scored["score"]
        out["gates"] += scored["gates"]
        _raise_failed(out["gates"])
        with _timed(timings, "validate"):  # a release that moves too much waits for a person
            out["gates"].append(check_release(cfg, paths, as_of))
        _raise_failed(out["gates"])
    except GateFailed:
        _record(paths, run_id, "build", out)
        raise
    return _record(paths, run_id, "build", out)


def _prepared(
    cfg: City, paths: CityPaths, run_id: str, timings: dict[str, float]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """normalize → resolve → clean gate, or the record of the last run with the same inputs.

    Resolve also reads what it wrote last time (first-seen dates, withdrawn records); on the
    same clean tables it gives the same result again, and the reuse check makes sure those
    files are still the ones the recorded run wrote.
    """
    from expectations.gate import check_clean
    from transforms import normalize, resolve

    with _timed(timings, "normalize"):
        inputs = _raw_inputs(cfg, paths, "prepare")
        cached, why = _reusable(paths, "prepare", inputs)
    if cached is not None:
        return cached["result"], _reuse_note(cached, why)
    result: dict[str, Any] = {}
    with _timed(timings, "normalize"):
        result["normalize"] = normalize.run(cfg, paths)
    with _timed(timings, "resolve"):
        result["resolve"] = resolve.run(cfg, paths)
    with _timed(timings, "validate"):
        result["gates"] = [check_clean(cfg, paths)]
    if result["gates"][0]["success"]:
        fingerprint.remember(paths, "prepare", inputs, run_id, result, _prepared_files(paths))
    return result, _reuse_note(None, why)


def _prepared_files(paths: CityPaths) -> list[Path]:
    """Everything normalize, resolve and the clean gate write."""
    from transforms import resolve

    resolved = [paths.resolved / f"{name}.parquet" for name in resolve.TABLES]
    records = fingerprint.files_in(paths.resolved / "records", "*.parquet")
    clean = fingerprint.files_in(paths.clean, "*.parquet")
    return [*clean, paths.quarantine, *resolved, *records, paths.gates / "clean.json"]


def _scored(
    cfg: City, paths: CityPaths, run_id: str, as_of: str, timings: dict[str, float]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """score → score gate, or the record of the last run with the same inputs and run date."""
    from expectations.gate import check_scores
    from transforms import score

    with _timed(timings, "score"):
        inputs = _score_inputs(cfg, paths, as_of)
        cached, why = _reusable(paths, "score", inputs)
    if cached is not None:
        return cached["result"], _reuse_note(cached, why)
    result: dict[str, Any] = {}
    with _timed(timings, "score"):
        result["score"] = score.run(cfg, paths, date.fromisoformat(as_of))
    with _timed(timings, "validate"):
        result["gates"] = [check_scores(cfg, paths)]
    if result["gates"][0]["success"]:
        written = [paths.scored / "scores.parquet", paths.scored / "reasons.parquet",
                   paths.resolved / "related.parquet", paths.gates / "scores.json"]  # fmt: skip
        fingerprint.remember(paths, "score", inputs, run_id, result, written)
    return result, _reuse_note(None, why)


def _score_inputs(cfg: City, paths: CityPaths, as_of: str) -> dict[str, Any]:
    """What the scorer reads: the resolved agencies, events and records, and the run date."""
    read = [paths.resolved / "agencies.parquet", paths.resolved / "events.parquet",
            *fingerprint.files_in(paths.resolved / "records", "*.parquet")]  # fmt: skip
    return {"stage": "score", "code": fingerprint.code_digest(), "as_of": as_of,
            "config": fingerprint.config_digest(cfg),
            "files": fingerprint.files_digests(read, paths.data)}  # fmt: skip


def _raise_failed(gates: list[dict[str, Any]]) -> None:
    from expectations.gate import GateFailed

    failed = [g for g in gates if not g["success"]]
    if failed:
        raise GateFailed(failed)


def release(city: str, run_id: str, as_of: str, root: str | None = None) -> dict[str, Any]:
    """The dated release; skipped when its inputs (scores, resolved tables, earlier releases,
    config, code, run date) are those of the last release written and its files are intact."""
    from transforms import release as release_stage

    cfg, paths = _context(city, root)
    timing: dict[str, float] = {}
    with _timed(timing, "seconds"):
        inputs = _release_inputs(cfg, paths, as_of)
        cached, why = _reusable(paths, "release", inputs)
        if cached is None:
            release_stage.run(cfg, paths, date.fromisoformat(as_of))
        else:  # another city's release may have changed the shared index since
            release_stage.write_index(paths.root / "releases")
    release_dir = paths.release(as_of)
    if cached is None:
        written = fingerprint.files_in(release_dir) + fingerprint.files_in(
            paths.releases / "feeds", "*.atom"
        )
        fingerprint.remember(paths, "release", inputs, run_id, {}, written)
    return _record(paths, run_id, "release",
                   {"release": str(release_dir), **timing, **_reuse_note(cached, why)})  # fmt: skip


def _release_inputs(cfg: City, paths: CityPaths, as_of: str) -> dict[str, Any]:
    """The tables a release is made of and the releases before it (changes, history, chain)."""
    from transforms.changes import release_folders

    read = [paths.resolved / "agencies.parquet", paths.resolved / "events.parquet",
            paths.scored / "scores.parquet", paths.scored / "reasons.parquet"]  # fmt: skip
    earlier = {
        f.name: fingerprint.file_digest(f / "manifest.json")
        for f in release_folders(paths.releases, before=as_of)
    }
    return {"stage": "release", "code": fingerprint.code_digest(), "as_of": as_of,
            "config": fingerprint.config_digest(cfg), "earlier": earlier,
            "files": fingerprint.files_digests(read, paths.data)}  # fmt: skip


def render(city: str, run_id: str, root: str | None = None) -> dict[str, Any]:
    from transforms import render as render_stage

    cfg, paths = _context(city, root)
    timing: dict[str, float] = {}
    with _timed(timing, "seconds"):
        release_dir = paths.releases / _recorded_name(paths, run_id, "release")
        build_dir = render_stage.run(cfg, paths, release_dir, summarize(cfg, paths, run_id))
    return _record(paths, run_id, "render", {"build": str(build_dir), **timing})


def publish(city: str, run_id: str, root: str | None = None) -> dict[str, Any]:
    from transforms import publish as publish_stage

    cfg, paths = _context(city, root)
    timing: dict[str, float] = {}
    with _timed(timing, "seconds"):
        build_dir = paths.builds / _recorded_name(paths, run_id, "render", "build")
        release_dir = paths.releases / _recorded_name(paths, run_id, "release")
        live = publish_stage.run(build_dir, paths.site, release_dir)  # site and release, one swap
    return _record(paths, run_id, "publish", {"site": str(live), **timing})


def finish(
    city: str, run_id: str, root: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """Write the run summary to last-run.json and runs/<run_id>.json."""
    cfg, paths = _context(city, root)
    summary = summarize(cfg, paths, run_id, status)
    text = json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=False)
    paths.runs.mkdir(parents=True, exist_ok=True)
    (paths.runs / f"{run_id}.json").write_text(text + "\n", encoding="utf-8")
    tmp = paths.last_run.with_suffix(".json.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, paths.last_run)
    from transforms import portal  # the portal lists this run's counts and status: after last-run

    portal.run(paths.root)
    return summary


def _recorded_name(paths: CityPaths, run_id: str, stage: str, key: str | None = None) -> str:
    """The folder name an earlier stage recorded: under Airflow with a storage URL each task
    runs in its own local copy of the root, so only the name, not the full path, carries over."""
    return Path(_read_stage(paths, run_id, stage)[key or stage]).name


# --- the run summary ------------------------------------------------------------------------


def _read_stage(paths: CityPaths, run_id: str, stage: str) -> dict[str, Any]:
    path = paths.data / "work" / run_id / f"{stage}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _relative(path: str | None, root: Path) -> str | None:
    if not path:
        return None
    # abspath, not resolve: public/<city> is a symlink to a build, and the summary names the link
    try:
        return str(Path(os.path.abspath(path)).relative_to(os.path.abspath(root)))
    except ValueError:
        return path


def summarize(
    cfg: City, paths: CityPaths, run_id: str, status: str | None = None
) -> dict[str, Any]:
    """The facts of one run as DESIGN.md's run summary, from what the stages recorded."""
    build_out = _read_stage(paths, run_id, "build")
    raw_gate = _read_stage(paths, run_id, "validate_raw")
    released = _read_stage(paths, run_id, "release")
    published = _read_stage(paths, run_id, "publish")
    gates = list(raw_gate.get("gates", [])) + list(build_out.get("gates", []))
    if status is None:
        status = _status_of(published, gates)
    return {
        "city": cfg.slug,
        "run_id": run_id,
        "status": status,
        "method_version": cfg.scoring.method_version,
        "sources": _source_summaries(cfg, paths, run_id, build_out),
        "gates": [_gate_summary(g) for g in gates],
        "lists": _list_counts(paths) if build_out.get("score") else {k: 0 for k in LISTS},
        "release": _relative(_release_path(paths, released), paths.root),
        "site": _relative(str(paths.site), paths.root) if published else None,
        "timings_s": _timings(cfg, paths, run_id, build_out, raw_gate),
        "peak_rss_mb": peak_rss_mb(),
    }


def _release_path(paths: CityPaths, released: dict[str, Any]) -> str | None:
    return str(paths.releases / Path(released["release"]).name) if released else None


def _status_of(published: dict[str, Any], gates: list[dict[str, Any]]) -> str:
    """Published, blocked by a gate, or failed: as the scheduler left the run."""
    if published:
        return "published"
    if any(not g["success"] for g in gates):
        return "blocked"
    return "failed"


def _source_summaries(
    cfg: City, paths: CityPaths, run_id: str, build_out: dict[str, Any]
) -> dict[str, Any]:
    normalized = build_out.get("normalize", {}).get("sources", {})
    out: dict[str, Any] = {}
    for s in cfg.sources:
        log = _read_stage(paths, run_id, f"crawl-{s.id}")
        out[s.id] = {
            "status": log.get("status", "not_run"),
            "rows": log.get("rows", 0),
            "pages_fetched": log.get("pages_fetched", 0),
            "pages_not_modified": log.get("pages_not_modified", 0),
            "quarantined": normalized.get(s.id, {}).get("quarantined", 0),
            "message": _joined(log.get("message", ""), _raw_gate_message(paths, run_id, s.id)),
            "last_success_at": log.get("last_success_at"),
        }
    return out


def _raw_gate_message(paths: CityPaths, run_id: str, source_id: str) -> str:
    """Why the source's raw gate failed (a crawl can be fine and the layout changed)."""
    gates = _read_stage(paths, run_id, "validate_raw").get("gates", [])
    gate = next((g for g in gates if g["name"] == f"raw_{source_id}"), None)
    if gate is None or gate["success"]:
        return ""
    new_labels = (gate.get("statistics") or {}).get("unmapped_labels") or []
    failed = [f"{f['expectation']} {f.get('column') or ''}".strip() for f in
              gate.get("failed_expectations", [])]  # fmt: skip
    labels = f"; unknown labels: {', '.join(new_labels[:5])}" if new_labels else ""
    return f"raw gate failed: {', '.join(failed[:3]) or 'see gates'}{labels}"


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _gate_summary(gate: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": gate["name"],
        "success": gate["success"],
        "failed_expectations": gate.get("failed_expectations", []),
    }


def _list_counts(paths: CityPaths) -> dict[str, int]:
    import pandas as pd

    scores = pd.read_parquet(paths.scored / "scores.parquet", columns=["list"])
    counts = scores["list"].value_counts()
    return {k: int(counts.get(k, 0)) for k in LISTS}


def _timings(
    cfg: City,
    paths: CityPaths,
    run_id: str,
    build_out: dict[str, Any],
    raw_gate: dict[str, Any],
) -> dict[str, float]:
    timings = {k: 0.0 for k in STAGES}
    crawl_total = _read_stage(paths, run_id, "crawl_all").get("seconds")
    if crawl_total is None:
        crawl_total = sum(
            _read_stage(paths, run_id, f"crawl-{s.id}").get("seconds", 0.0) for s in cfg.sources
        )
    timings["crawl"] = crawl_total
    for key, value in build_out.get("timings_s", {}).items():
        timings[key] = value
    timings["validate"] = round(timings["validate"] + raw_gate.get("seconds", 0.0), 3)
    for stage in ("release", "render", "publish"):
        timings[stage] = _read_stage(paths, run_id, stage).get("seconds", 0.0)
    return {k: round(v, 3) for k, v in timings.items()}


def peak_rss_mb() -> int:
    """Peak resident memory of this process and of its finished children (the crawls)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return int(max(own, children) / 1024)


# --- failures of scheduled runs -------------------------------------------------------------


def failure_file(city: str, run_id: str) -> str:
    """data/<city>/failures/<run_id>.json, relative to the storage root."""
    return f"data/{city}/failures/{run_id}.json"


def record_failure(
    city: str, run_id: str, failure: dict[str, Any], storage_url: str | None = None
) -> dict[str, Any]:
    """Add one failed task to the run's failure report (in the storage root) and return it.

    A scheduled run fails while nobody watches; the report is what the maintainer reads first
    the next morning: which task, which try, the error, and when.
    """
    from agencywatch import storage

    rel = failure_file(city, run_id)
    report = storage.read_json(rel, storage_url) or {"city": city, "run_id": run_id, "failures": []}
    report["failures"].append(dict(failure, recorded_at=datetime.now(UTC).isoformat()))
    storage.write_json(rel, report, storage_url)
    return report


def post_webhook(url: str, report: dict[str, Any], timeout_s: float = 10.0) -> int:
    """POST the failure report as JSON to the city's webhook; returns the HTTP status."""
    from urllib.request import Request, urlopen

    if not url.startswith(("http://", "https://")):
        raise ValueError(f"webhook must be an http(s) url, not {url!r}")
    body = json.dumps(report, ensure_ascii=False, default=str).encode("utf-8")
    request = Request(url, data=body, headers={"Content-Type": "application/json"})
    with urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - scheme checked above
        return int(response.status)


# --- the whole run --------------------------------------------------------------------------


class StageProgress:
    """What a front end (the CLI's progress bars, a test) is told as the run goes."""

    def start(self, stage: str, total: int | None = None) -> None: ...
    def advance(self, stage: str, note: str = "") -> None: ...
    def done(self, stage: str) -> None: ...


def run_city(
    city: str,
    root: str | None = None,
    as_of: str | None = None,
    run_id: str | None = None,
    progress: StageProgress | None = None,
) -> dict[str, Any]:
    """Every stage for one city; returns the run summary with status published/blocked/failed."""
    from expectations.gate import GateFailed

    cfg, paths = _context(city, root)
    as_of = as_of or today_in(cfg)
    run_id = run_id or new_run_id()
    progress = progress or StageProgress()
    try:
        _crawl_with_progress(cfg, run_id, root, progress, paths)
        _step(progress, "validate", lambda: validate_raw(city, run_id, root))
        _step(progress, "build", lambda: build(city, run_id, as_of, root))
        _step(progress, "release", lambda: release(city, run_id, as_of, root))
        _step(progress, "render", lambda: render(city, run_id, root))
        _step(progress, "publish", lambda: publish(city, run_id, root))
    except GateFailed as gate_failure:
        summary = finish(city, run_id, root, status="blocked")
        summary["error"] = str(gate_failure)
        return summary
    except Exception as error:  # noqa: BLE001 - the summary must be written whatever failed
        summary = finish(city, run_id, root, status="failed")
        summary["error"] = f"{type(error).__name__}: {error}"
        raise RunFailed(summary) from error
    return finish(city, run_id, root, status="published")


def _step(progress: StageProgress, stage: str, fn: Callable[[], Any]) -> None:
    progress.start(stage)
    fn()
    progress.done(stage)


def _crawl_with_progress(
    cfg: City, run_id: str, root: str | None, progress: StageProgress, paths: CityPaths
) -> None:
    progress.start("crawl", total=len(cfg.sources))
    timing: dict[str, float] = {}
    with _timed(timing, "seconds"):
        crawl_all(cfg.slug, run_id, root, on_source=lambda sid, _: progress.advance("crawl", sid))
    _record(paths, run_id, "crawl_all", timing)
    progress.done("crawl")


class RunFailed(RuntimeError):
    """A stage crashed (not a gate): the run summary is attached for the CLI to show."""

    def __init__(self, summary: dict[str, Any]):
        super().__init__(summary.get("error", "run failed"))
        self.summary = summary
