"""The demo city end to end, after install, per stage: `agencywatch run demo` in fresh roots.

    python -m bench.demo_e2e [--runs 3] [--mirror-agencies N]

Each run is a fresh output root and a fresh interpreter, as a user's `make demo` is; the stage
seconds come from the run summary's timings_s. Figures are medians over the runs; the first
run is also given apart (it pays for bytecode and caches). --mirror-agencies runs the same
city on a freshly generated mirror of that size instead of the committed one.
Writes bench/results/demo.json.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    AS_OF,
    REPO,
    RESULTS,
    Stopwatch,
    agencywatch,
    budget,
    discard,
    empty_trash,
    ensure_bytecode_cache,
    median,
    warm_imports,
    write_result,
)

BUDGET_S = 60.0


def small_city(work: Path, agencies: int) -> dict[str, str]:
    """A copy of the demo config whose mirror is generated at the given size (row bounds off)."""
    mirror = work / "mirror"
    done = agencywatch("synth", "--out", str(mirror), "--agencies", str(agencies))
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    text = (REPO / "cities" / "demo.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^dir = ".*"$', f"dir = {json.dumps(str(mirror))}", text)
    text = re.sub(r"(?m)^min_rows = \d+$", "min_rows = 0", text)
    (work / "cities").mkdir(parents=True, exist_ok=True)
    (work / "cities" / "demo.toml").write_text(text, encoding="utf-8")
    return {"AGENCYWATCH_CITIES_DIR": str(work / "cities")}


def one_run(root: Path, env: dict[str, str]) -> dict[str, Any]:
    discard(root)
    with Stopwatch() as t:
        done = agencywatch("run", "demo", "--json", "--root", str(root), "--date", AS_OF, env=env)
    summary = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return {"seconds": t.seconds, "exit_code": done.returncode,
            "status": summary.get("status", "failed"), "timings_s": summary.get("timings_s", {}),
            "peak_rss_mb": summary.get("peak_rss_mb"),
            "error": summary.get("error") or (done.stderr[-500:] if done.returncode else "")}  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mirror-agencies", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "aw-bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if argv is None:
        ensure_bytecode_cache("bench.demo_e2e")
    warm = warm_imports()
    work = args.work / "demo"
    env = small_city(work, args.mirror_agencies) if args.mirror_agencies else {}
    runs = [one_run(work / f"run{i}", env) for i in range(args.runs)]
    stages = sorted({k for r in runs for k in r["timings_s"]})
    end_to_end = median(r["seconds"] for r in runs)
    figures = {
        "runs": len(runs),
        "mirror": f"generated, {args.mirror_agencies} agencies" if env else "mirrors/demo",
        "warm_imports_seconds": warm,
        "end_to_end_seconds_median": end_to_end,
        "end_to_end_seconds_each": [r["seconds"] for r in runs],
        "stage_seconds_median": {
            k: median(r["timings_s"].get(k, 0.0) for r in runs) for k in stages
        },  # fmt: skip
        "peak_rss_mb_median": median(r["peak_rss_mb"] or 0 for r in runs),
        "statuses": [r["status"] for r in runs],
        "errors": [r["error"] for r in runs if r["error"]],
        "budgets": {"end_to_end_seconds": budget(end_to_end, BUDGET_S)},
    }
    write_result("demo", figures, args.results)
    empty_trash(args.work)
    return figures


if __name__ == "__main__":
    main()
