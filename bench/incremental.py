"""An incremental crawl after 1 % new records: pages fetched, against the first full crawl.

    python -m bench.incremental [--agencies 300]

Generates a demo-style mirror (agencywatch.mirror.synth), crawls every source once, adds 1 %
new records at the top of the sources' lists (new complaints and penalties, newest first, as
a day's publications add) rewriting only the mirror files whose bytes change, and crawls again.
`rows` of both crawls are reported too: an incremental crawl must still bring every new record. The
figures come from the crawl logs: pages_fetched (200 answers) and pages_not_modified (304
revalidations) per source, the same counts the run summary shows. The mirror serves ETag / Last-Modified, so a crawler that sends
conditional requests is answered 304 for every unchanged page.
A second scenario appends the new records at the end of the lists instead, with the sources
configured `listing_order = "oldest_first"`: that crawl must not stop at the first known page,
and `every_new_record_brought` says whether it brought them all.
Writes bench/results/incremental.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import (
    AS_OF,
    REPO,
    RESULTS,
    Stopwatch,
    discard,
    empty_trash,
    ensure_bytecode_cache,
    warm_imports,
    write_result,
)

NEW_SHARE = 0.01


def sync_changed(src: Path, dst: Path) -> dict[str, int]:
    """Copy into dst only the files whose bytes differ, so unchanged pages keep their mtime."""
    changed = added = same = 0
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        target = dst / path.relative_to(src)
        data = path.read_bytes()
        if target.is_file() and target.read_bytes() == data:
            same += 1
            continue
        added += not target.exists()
        changed += target.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return {"files_changed": changed, "files_added": added, "files_unchanged": same}


def add_new_records(s: Any, newest_first: bool = True) -> int:
    """About 1 % more records, newest first on the lists (as most sources publish; every later
    row moves down, so the pages after the first change too) or appended at the end (an
    oldest-first list); returns how many."""
    lengths = {k: len(v) for k, v in s.rows.items()}
    before = sum(lengths.values())
    wanted = max(1, round(before * NEW_SHARE))
    registered = [a for a in s.agencies if a.registered]
    turn = 0
    while sum(len(v) for v in s.rows.values()) - before < wanted:
        agency = s.choice(registered)
        (s.plant_complaints_some if turn % 2 == 0 else s.plant_penalties_recent)(agency)
        turn += 1
    for source, n in lengths.items():
        rows = s.rows[source]
        if newest_first:
            rows[:] = rows[n:][::-1] + rows[:n]
    return sum(len(v) for v in s.rows.values()) - before


def city_config(work: Path, mirror: Path, listing_order: str = "newest_first") -> Path:
    text = (REPO / "cities" / "demo.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^dir = ".*"$', f"dir = {json.dumps(str(mirror))}", text)
    text = re.sub(r"(?m)^min_rows = \d+$", "min_rows = 0", text)
    text = re.sub(r"(?m)^(kind = .*)$", rf'\1\nlisting_order = "{listing_order}"', text)
    folder = work / "cities"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "demo.toml").write_text(text, encoding="utf-8")
    return folder


def crawl(root: Path, run_id: str) -> dict[str, Any]:
    from agencywatch import pipeline

    with Stopwatch() as t:
        result = pipeline.crawl_all("demo", run_id, str(root))
    sources = {sid: {k: log.get(k, 0) for k in ("status", "rows", "pages_fetched",
                                                  "pages_not_modified")}
               for sid, log in result["sources"].items()}  # fmt: skip
    return {
        "seconds": t.seconds,
        "pages_fetched": sum(int(s["pages_fetched"] or 0) for s in sources.values()),
        "pages_not_modified": sum(int(s["pages_not_modified"] or 0) for s in sources.values()),
        "rows": sum(int(s["rows"] or 0) for s in sources.values()),
        "sources": sources,
    }


def scenario(work: Path, agencies: int, seed: int, newest_first: bool) -> dict[str, Any]:
    """A full crawl, 1 % new records, an incremental crawl: pages fetched and rows brought."""
    from agencywatch.mirror.synth import _Synth, write_sources

    discard(work)
    mirror, staging, root = work / "mirror", work / "staging", work / "root"
    s = _Synth(agencies, seed, date.fromisoformat(AS_OF))
    s.populate()
    s.finish()
    write_sources(mirror, s)
    order = "newest_first" if newest_first else "oldest_first"
    os.environ["AGENCYWATCH_CITIES_DIR"] = str(city_config(work, mirror, order))
    first = crawl(root, "bench-first")
    new_records = add_new_records(s, newest_first)
    write_sources(staging, s)
    synced = sync_changed(staging, mirror)
    second = crawl(root, "bench-incremental")
    fetched_again = second["pages_fetched"]  # 200 answers; 304 revalidations are counted apart
    return {
        "listing_order": order,
        "new_records": new_records,
        "mirror_files": synced,
        "first_crawl": first,
        "incremental_crawl": second,
        "pages_fetched_full": first["pages_fetched"],
        "pages_fetched_incremental": second["pages_fetched"],
        "pages_not_modified_incremental": second["pages_not_modified"],
        "pages_downloaded_again": fetched_again,
        "share_of_full": round(fetched_again / first["pages_fetched"], 3)
        if first["pages_fetched"]
        else None,
        "incremental_detected": second["pages_not_modified"] > 0,
        "new_records_brought": second["rows"] - first["rows"],
        "every_new_record_brought": second["rows"] - first["rows"] == new_records,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "aw-bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if argv is None:
        ensure_bytecode_cache("bench.incremental")
    warm_imports()
    newest = scenario(args.work / "incremental", args.agencies, args.seed, newest_first=True)
    oldest = scenario(args.work / "incremental-oldest", args.agencies, args.seed, False)
    figures = {"agencies": args.agencies, **newest, "oldest_first_appended": oldest}
    write_result("incremental", figures, args.results)
    empty_trash(args.work)
    return figures


if __name__ == "__main__":
    main()
