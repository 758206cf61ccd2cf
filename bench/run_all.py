"""The whole benchmark suite, in the order the figures depend on each other (`make bench`).

    python -m bench.run_all [--work DIR] [--results DIR] [--small]

Each benchmark runs in its own interpreter; the province's output root is shared by the
rerun and the render comparison, the demo's first run by the lookup measurement. --small runs
every benchmark at test size (minutes, not the province's full scale). What a benchmark
would delete is moved aside and deleted after the last one (bench.common.discard).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import report
from bench.common import KEEP_TRASH_ENV, REPO, RESULTS, empty_trash, ensure_bytecode_cache

SMALL = {
    "bench.demo_e2e": ["--runs", "1", "--mirror-agencies", "30"],
    "bench.province_bench": ["--cities", "2", "--agencies", "200", "--records", "2000"],
    "bench.incremental": ["--agencies", "30"],
}
FULL = {"bench.province_bench": ["--profile"]}
ORDER = ("bench.demo_e2e", "bench.province_bench", "bench.render_vs_hugo", "bench.incremental",
         "bench.lookup_bytes")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "aw-bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    if argv is None:
        ensure_bytecode_cache("bench.run_all")
    failed = []
    for module in ORDER:
        extra = (SMALL if args.small else FULL).get(module, [])
        cmd = [sys.executable, "-m", module, "--work", str(args.work),
               "--results", str(args.results), *extra]  # fmt: skip
        print(f"\n== {' '.join(cmd[1:])}", flush=True)
        env = {**os.environ, KEEP_TRASH_ENV: "1"}  # no deletion between two benchmarks' runs
        if subprocess.run(cmd, cwd=REPO, env=env).returncode != 0:
            failed.append(module)
    empty_trash(args.work)
    report.main(["--results", str(args.results)])
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
