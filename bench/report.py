"""The figures of bench/results/*.json against their budgets, as the Markdown table that
BENCHMARKS.md quotes.

    python -m bench.report [--results DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.common import RESULTS

# (result file, budget key, what it measures, unit)
ROWS = (
    ("demo", "end_to_end_seconds", "demo city end to end (median)", "s"),
    ("province", "after_crawl_seconds", "province, every stage after the crawl", "s"),
    ("province", "peak_memory_mb", "province, peak memory (all worker processes)", "MB"),
    ("province", "synth_seconds", "province generator (`synth --province`)", "s"),
    ("render_hugo", "hugo_over_ours", "Hugo time ÷ our render time, same agency pages", "×"),
    ("rerun", "rerun_share_of_full", "no-change rerun ÷ full run", "×"),
    ("rerun", "files_rewritten", "no-change rerun: files rewritten (public/, releases/)", "files"),
    ("lookup", "lookup_bytes", "one phone / code lookup in the browser", "bytes"),
)


def load(results: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in results.glob("*.json")}


def table(results: Path) -> str:
    docs = load(results)
    lines = ["| figure | value | budget | met | missed by | load average (1, 5, 15 min) |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, key, what, unit in ROWS:
        doc = docs.get(name)
        b = (doc or {}).get("budgets", {}).get(key)
        if b is None:
            lines.append(f"| {what} | not run | | | | |")
            continue
        value = "not yet measurable" if b["value"] is None else f"{b['value']} {unit}"
        sign = "≥" if name == "render_hugo" else "≤"
        met = {True: "yes", False: "**no**", None: "–"}[b["met"]]
        missed = f"{b['missed_by']} {unit}" if b["met"] is False else ""
        load_avg = ", ".join(str(x) for x in doc["machine"]["load_average"])
        lines.append(
            f"| {what} | {value} | {sign} {b['budget']} {unit} | {met} | {missed} | {load_avg} |"
        )
    return "\n".join(lines)


def machine_line(results: Path) -> str:
    docs = load(results)
    if not docs:
        return ""
    m = next(iter(docs.values()))["machine"]
    return (f"{m['cpu_count']} × {m['cpu_model']}, {m['memory_gb']} GB, Python {m['python']}, "
            f"{m['platform']}, commit {m['git_commit']}, {m['date']}")  # fmt: skip


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    text = f"Machine: {machine_line(args.results)}\n\n{table(args.results)}\n"
    print(text)
    return text


if __name__ == "__main__":
    main()
