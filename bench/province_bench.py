"""Province scale: every stage after the crawl, per stage, with peak memory; then a rerun with
no change in the sources (time, and files rewritten under public/ and releases/).

    python -m bench.province_bench [--cities 13 --agencies 100000 --records 1000000]

Writes bench/results/province.json and bench/results/rerun.json. The raw items come from
`agencywatch synth --province` (the crawl's output written directly, see
agencywatch/mirror/province.py); each city then runs raw gate → normalize → resolve → clean
gate → score → score gate → release → render → publish through agencywatch.pipeline, the same
functions the CLI and Airflow call. Cities run in `--workers` processes (2 cores: 2).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from bench import fs_cost
from bench.common import (
    AS_OF,
    RESULTS,
    Stopwatch,
    agencywatch,
    budget,
    discard,
    empty_trash,
    ensure_bytecode_cache,
    warm_imports,
    write_result,
)

STAGES = ("validate", "normalize", "resolve", "score", "release", "render", "publish")
BUDGET_S = 90.0
BUDGET_MEMORY_MB = 3 * 1024
RERUN_SHARE = 0.10


def synth(work: Path, cities: int, agencies: int, records: int) -> dict[str, Any]:
    """The province's raw items and city configs, generated from scratch (and timed)."""
    discard(work)
    with Stopwatch() as t:
        done = agencywatch("synth", "--province", "--out", str(work), "--cities", str(cities),
                           "--agencies", str(agencies), "--records", str(records))  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"agencywatch synth --province failed:\n{done.stderr}")
    slugs = sorted(p.stem for p in (work / "cities").glob("*.toml"))
    return {"seconds": t.seconds, "cities": slugs}


def run_one(slug: str, root: str, run_id: str) -> dict[str, Any]:
    """One city, every stage after the crawl; the stage functions are the pipeline's own."""
    from agencywatch import pipeline

    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds per call: build covers normalize … score gate
    kernel: dict[str, float] = {}  # of which in the kernel (file system calls, mostly)
    with Stopwatch() as wall:
        with Stopwatch() as t:
            pipeline.validate_raw(slug, run_id, root)
        timings["validate"], cpu["raw_gate"] = t.seconds, t.cpu_seconds
        kernel["raw_gate"] = t.system_seconds
        with Stopwatch() as t:
            built = pipeline.build(slug, run_id, AS_OF, root)
        cpu["build"], kernel["build"] = t.cpu_seconds, t.system_seconds
        for stage, seconds in built["timings_s"].items():
            timings[stage] = round(timings.get(stage, 0.0) + seconds, 3)
        for stage, fn in (
            ("release", lambda: pipeline.release(slug, run_id, AS_OF, root)),
            ("render", lambda: pipeline.render(slug, run_id, root)),
            ("publish", lambda: pipeline.publish(slug, run_id, root)),
        ):
            with Stopwatch() as t:
                fn()
            timings[stage], cpu[stage] = t.seconds, t.cpu_seconds
            kernel[stage] = t.system_seconds
        summary = pipeline.finish(slug, run_id, root)
    return {"city": slug, "pid": os.getpid(), "seconds": wall.seconds, "timings_s": timings,
            "cpu_s": cpu, "system_s": kernel, "cpu_seconds": wall.cpu_seconds,
            "system_seconds": wall.system_seconds,
            "peak_rss_mb": pipeline.peak_rss_mb(), "status": summary["status"],
            "lists": summary["lists"]}  # fmt: skip


def run_province(root: Path, slugs: list[str], run_id: str, workers: int) -> dict[str, Any]:
    """Every city, `workers` at a time; stage seconds are summed over cities."""
    os.environ["AGENCYWATCH_CITIES_DIR"] = str(root / "cities")
    sizes = {s: (root / "data" / s / "raw" / "complaints.jsonl").stat().st_size for s in slugs}
    order = sorted(slugs, key=lambda s: -sizes[s])  # largest first keeps the workers busy
    with Stopwatch() as wall:
        if workers <= 1:
            runs = [run_one(s, str(root), run_id) for s in order]
        else:
            ctx = get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                runs = list(pool.map(run_one, order, [str(root)] * len(order),
                                     [run_id] * len(order)))  # fmt: skip
    per_process: dict[int, int] = {}
    for r in runs:
        per_process[r["pid"]] = max(per_process.get(r["pid"], 0), r["peak_rss_mb"])
    stages = {k: round(sum(r["timings_s"].get(k, 0.0) for r in runs), 3) for k in STAGES}
    cpu_keys = ("raw_gate", "build", "release", "render", "publish")
    return {
        "seconds": wall.seconds,
        "stage_seconds_summed_over_cities": stages,
        "cpu_seconds_summed_over_cities": {
            k: round(sum(r["cpu_s"].get(k, 0.0) for r in runs), 3) for k in cpu_keys
        },
        "system_seconds_summed_over_cities": {
            k: round(sum(r["system_s"].get(k, 0.0) for r in runs), 3) for k in cpu_keys
        },
        "cpu_seconds": round(sum(r["cpu_seconds"] for r in runs), 3),
        "system_seconds": round(sum(r["system_seconds"] for r in runs), 3),
        "peak_rss_mb_largest_process": max(per_process.values()),
        "peak_rss_mb_all_processes": sum(per_process.values()),
        "statuses": {r["city"]: r["status"] for r in runs},
        "lists": {k: sum(r["lists"].get(k, 0) for r in runs) for k in runs[0]["lists"]},
        "cities": {
            r["city"]: {
                k: r[k] for k in ("seconds", "cpu_s", "system_s", "timings_s", "peak_rss_mb")
            }
            for r in runs
        },
    }


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under public/ and releases/: (mtime_ns, inode, sha256 of its bytes)."""
    out: dict[str, tuple[int, int, str]] = {}
    for top in ("public", "releases"):
        for dirpath, _dirs, files in os.walk(root / top):  # symlinks (public/<city>) not followed
            for name in files:
                path = Path(dirpath) / name
                st = path.stat()
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                out[str(path.relative_to(root))] = (st.st_mtime_ns, st.st_ino, digest)
    return out


def changes(before: dict[str, tuple], after: dict[str, tuple]) -> dict[str, Any]:
    """Files written again (new, rewritten or touched), with changed content, and removed."""
    new = [p for p in after if p not in before]
    common = [p for p in after if p in before]
    touched = [p for p in common if after[p][:2] != before[p][:2]]
    return {
        "examples_rewritten": sorted(new + touched)[:10],
        "files_before": len(before),
        "files_after": len(after),
        "files_new": len(new),
        "files_removed": sum(1 for p in before if p not in after),
        "files_rewritten": len(new) + sum(1 for p in common if after[p][:2] != before[p][:2]),
        "files_content_changed": len(new) + sum(1 for p in common if after[p][2] != before[p][2]),
    }


def reused_stages(root: Path, slugs: list[str], run_id: str) -> dict[str, int]:
    """How many cities reused each skippable stage (agencywatch/fingerprint.py) in the run."""
    counts = {"validate_raw": 0, "prepare": 0, "score": 0, "release": 0}
    for slug in slugs:
        work = root / "data" / slug / "work" / run_id
        records = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in work.glob("*.json")}
        notes = {"validate_raw": records.get("validate_raw", {}),
                 "release": records.get("release", {}),
                 **records.get("build", {}).get("reused", {})}  # fmt: skip
        for stage in counts:
            counts[stage] += "reused_from" in notes.get(stage, {})
    return counts


def profile_city(root: Path, slug: str, top: int = 30) -> dict[str, Any]:
    """cProfile of one city's stages after the crawl: where the time goes, by function.

    Every stage runs again (AGENCYWATCH_REUSE=0: the province is the one the benchmark just
    ran), and the city's builds are moved aside first, so the render writes a new one instead
    of deleting a copy of one it already has."""
    from agencywatch import fingerprint
    from agencywatch.paths import city_paths

    os.environ["AGENCYWATCH_CITIES_DIR"] = str(root / "cities")
    for build in city_paths(slug, root).builds.glob(f"{slug}-*"):
        discard(build)
    previous = os.environ.get(fingerprint.REUSE_ENV)
    os.environ[fingerprint.REUSE_ENV] = "0"
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        run_one(slug, str(root), "profile")
    finally:
        profiler.disable()
        if previous is None:
            os.environ.pop(fingerprint.REUSE_ENV, None)
        else:
            os.environ[fingerprint.REUSE_ENV] = previous
    out: dict[str, Any] = {"city": slug}
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).strip_dirs().sort_stats(key).print_stats(top)
        out[f"top_by_{key}"] = _stat_rows(profiler, key, top)
        out[f"text_by_{key}"] = buf.getvalue()
    return out


def _stat_rows(profiler: cProfile.Profile, key: str, top: int) -> list[dict[str, Any]]:
    stats = pstats.Stats(profiler).sort_stats(key)
    rows = []
    for func in stats.fcn_list[:top]:  # type: ignore[attr-defined]
        cc, nc, tt, ct, _callers = stats.stats[func]  # type: ignore[attr-defined]
        where = f"{Path(func[0]).name}:{func[1]}({func[2]})"
        rows.append({"function": where, "calls": nc, "tottime_s": round(tt, 3),
                     "cumtime_s": round(ct, 3)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "aw-bench")
    parser.add_argument("--cities", type=int, default=13)
    parser.add_argument("--agencies", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-rerun", action="store_true", help="skip the no-change rerun")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile the largest city (bench/results/province-profile.json)")  # fmt: skip
    args = parser.parse_args(argv)
    if argv is None:
        ensure_bytecode_cache("bench.province_bench")
    warm_imports()
    root = args.work / "province"
    made = synth(root, args.cities, args.agencies, args.records)
    disk = fs_cost.file_systems(args.work)
    full = run_province(root, made["cities"], "bench-full", args.workers)
    synth_counts = _counts(root)
    figures = {
        "sizes": {"cities": len(made["cities"]), **synth_counts},
        "synth_seconds": made["seconds"],
        "workers": args.workers,
        "file_system": disk,
        "after_crawl": full,
        "budgets": {
            "after_crawl_seconds": budget(full["seconds"], BUDGET_S),
            "peak_memory_mb": budget(full["peak_rss_mb_all_processes"], BUDGET_MEMORY_MB),
            "synth_seconds": budget(made["seconds"], 60.0),
        },
    }
    write_result("province", figures, args.results)
    if not args.no_rerun:
        before = snapshot(root)
        again = run_province(root, made["cities"], "bench-rerun", args.workers)
        changed = changes(before, snapshot(root))
        share = round(again["seconds"] / full["seconds"], 3) if full["seconds"] else None
        write_result("rerun", {
            "full_seconds": full["seconds"], "rerun_seconds": again["seconds"],
            "rerun_share_of_full": share,
            "stage_seconds_summed_over_cities": again["stage_seconds_summed_over_cities"],
            "cpu_seconds": again["cpu_seconds"],
            "stages_reused": reused_stages(root, made["cities"], "bench-rerun"),
            **changed,
            "budgets": {"rerun_share_of_full": budget(share, RERUN_SHARE),
                        "files_rewritten": budget(changed["files_rewritten"], 0)},
        }, args.results)  # fmt: skip
    if args.profile:
        largest = max(made["cities"], key=lambda s: figures["after_crawl"]["cities"][s]["seconds"])
        write_result("province-profile", profile_city(root, largest), args.results)
    empty_trash(args.work)
    return figures


def _counts(root: Path) -> dict[str, int]:
    """Agencies and evidence records as the generator wrote them (lines of raw files)."""
    registrations = evidence = 0
    for raw in (root / "data").glob("*/raw/*.jsonl"):
        with raw.open("rb") as f:
            lines = sum(1 for _ in f)
        if raw.stem == "registrations":
            registrations += lines
        else:
            evidence += lines
    return {"registrations": registrations, "evidence_records": evidence}


if __name__ == "__main__":
    main()
