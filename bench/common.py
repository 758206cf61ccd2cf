"""What every benchmark shares: the machine it ran on, medians, and writing a result file.

A figure is only worth quoting with the machine and its load beside it (the suite is meant to be
re-run on a quiet machine), so every result file carries both.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
BIN = Path(sys.executable).parent
AS_OF = "2026-11-01"
TRASH = ".aw-trash"  # what discard() moved aside, next to where it was
KEEP_TRASH_ENV = "AGENCYWATCH_BENCH_KEEP_TRASH"  # set by run_all: empty it after the suite


def discard(path: Path) -> None:
    """Move path aside (a rename) instead of deleting it before a measured run.

    On ext4 without a journal (the machine of BENCHMARKS.md), the kernel skips inodes deleted
    in the last one to six minutes when it allocates a new one, scanning past each of them:
    after a bench deleted a province (400,000 files), creating a file cost 300-700 µs of kernel
    time instead of 25. A deletion right before a run would bill the run for it; empty_trash()
    deletes after the figures are taken."""
    if path.exists() or path.is_symlink():
        trash = path.parent / TRASH
        trash.mkdir(exist_ok=True)
        path.rename(trash / f"{path.name}-{time.time_ns()}")


def empty_trash(folder: Path) -> int:
    """Delete what discard() moved aside in folder and its sub-folders; the number of entries
    deleted. Nothing is deleted while KEEP_TRASH_ENV is set (run_all empties at the end)."""
    if os.environ.get(KEEP_TRASH_ENV) or not folder.is_dir():
        return 0
    removed = 0
    for trash in (p for depth in range(4) for p in folder.glob("*/" * depth + TRASH)):
        if trash.is_dir():
            removed += sum(1 for _ in trash.iterdir())
            shutil.rmtree(trash)
    return removed


def ensure_bytecode_cache(module: str) -> None:
    """Re-run this benchmark with Python's bytecode cache on, when the environment turned it off.

    With PYTHONDONTWRITEBYTECODE set and a venv installed without compiled bytecode, every
    process compiles Great Expectations, pandas and Scrapy from source again (a minute under
    load): that measures the environment, not the pipeline. The cache goes to a private folder
    (PYTHONPYCACHEPREFIX), so the venv itself is not written to.
    """
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "aw-bench-pycache"))
    os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]], env)


def warm_imports() -> float:
    """Import every stage's libraries once in a fresh process, so timed runs start warm."""
    code = ("import pandas, pyarrow, scrapy, jinja2, great_expectations; "
            "import transforms.normalize, transforms.resolve, transforms.score, "
            "transforms.release, transforms.render, expectations.gate, crawlers.run")  # fmt: skip
    with Stopwatch() as t:
        subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False)
    return t.seconds


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gb() -> float:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 0.0
    return round(pages / 2**30, 1)


def git_commit() -> str:
    """HEAD, marked when the tree has changes; BENCH_GIT_COMMIT names a snapshot's origin."""
    if os.environ.get("BENCH_GIT_COMMIT"):
        return os.environ["BENCH_GIT_COMMIT"]
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=30)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() + ("+uncommitted" if dirty.stdout.strip() else "")


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare a figure: cores, CPU, memory, Python, load, commit."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gb": memory_gb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "git_commit": git_commit(),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def median(values: Iterable[float]) -> float:
    vals = list(values)
    return round(statistics.median(vals), 3) if vals else 0.0


def peak_rss_mb() -> int:
    """Peak resident memory of this process (Linux reports kilobytes)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def children_peak_rss_mb() -> int:
    """Peak resident memory of the largest finished child process."""
    return int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def write_result(name: str, figures: dict[str, Any], results_dir: Path | None = None) -> Path:
    """bench/results/<name>.json with the machine beside the figures; the figures are printed."""
    folder = results_dir or RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": name, "machine": machine(), **figures}
    path = folder / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    print(f"-> {path}")
    return path


class Stopwatch:
    """`with Stopwatch() as t:` … `t.seconds` (wall) and `t.cpu_seconds` (this process's CPU,
    which a loaded machine inflates far less than wall time), of which `t.system_seconds` in
    the kernel: mostly creating files and folders, whose cost differs by an order of magnitude
    between file systems (bench/fs_cost.py)."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        self.system_start = os.times().system
        self.seconds = self.cpu_seconds = self.system_seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = round(time.perf_counter() - self.start, 3)
        self.cpu_seconds = round(time.process_time() - self.cpu_start, 3)
        self.system_seconds = round(os.times().system - self.system_start, 3)


def agencywatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the installed CLI as a user would (a fresh interpreter, imports included)."""
    return subprocess.run([str(BIN / "agencywatch"), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=REPO)  # fmt: skip


def budget(value: float | None, limit: float, higher_is_better: bool = False) -> dict[str, Any]:
    """A figure against its budget: met or not, and by how much it is missed."""
    if value is None:
        return {"value": None, "budget": limit, "met": None, "missed_by": None}
    met = value >= limit if higher_is_better else value <= limit
    missed = 0.0 if met else round(abs(value - limit), 3)
    ratio = round(value / limit, 2) if limit else None
    return {"value": value, "budget": limit, "met": met, "missed_by": missed, "ratio": ratio}
