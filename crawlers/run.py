"""crawl_source: crawl one source in its own Scrapy process, check it, keep or replace raw data.

A crawl that got a challenge page, an `error` body or an implausible row count must never
replace good data with nothing: the previous raw file stays and the source is reported
blocked or failed — or stale while that previous file is young enough to reuse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agencywatch.config import City, Source
from agencywatch.paths import CityPaths
from crawlers.cache import commit, discard, merged_lines, raw_lines
from crawlers.context import SourceContext, sha256_hex, utc_now
from crawlers.items import raw_line

PROJECT_DIR = Path(__file__).resolve().parent.parent
CRAWL_TIMEOUT_S = 3 * 3600
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_MESSAGES = 3


def crawl_source(
    city: City, source: Source, paths: CityPaths, fetch_base: str | None = None
) -> dict:
    """Crawl (or, for a manual source, import) one source and write raw/<id>.crawl.json.

    Relative urls are fetched from `fetch_base` (a local mirror) when given, else from the
    city's base_url; raw items always record the url on base_url. Returns the crawl log.
    """
    paths.raw.mkdir(parents=True, exist_ok=True)
    started_at = utc_now()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{source.id}.", suffix=".jsonl.part", dir=paths.raw)
    os.close(fd)
    tmp = Path(tmp_name)
    cache = cache_dir(paths, source)
    previous = paths.raw / f"{source.id}.jsonl"
    try:
        if source.kind == "manual":
            outcome = _import_inbox(city, source, paths, tmp)
        else:
            last_log = _read_json(paths.raw / f"{source.id}.crawl.json")
            known = previous if may_stop_early(source, last_log, started_at) else None
            outcome = _crawl_in_child(city, source, fetch_base, tmp, cache, known)
            _fill_from_previous(outcome, tmp, previous)
        log = _settle(source, paths, outcome, tmp, started_at)
        (commit if log["status"] == "ok" else discard)(cache)
    finally:
        tmp.unlink(missing_ok=True)
    _write_atomic(
        paths.raw / f"{source.id}.crawl.json", json.dumps(log, ensure_ascii=False, indent=2)
    )
    return log


def cache_dir(paths: CityPaths, source: Source) -> Path:
    """data/<city>/httpcache/<source_id>/: validators and bodies of the source's pages."""
    return paths.data / "httpcache" / source.id


def may_stop_early(source: Source, last_log: dict[str, Any], now: str) -> bool:
    """Whether this crawl may stop at a page of known records.

    Only a listing that puts new records first can stop there without missing any; and even
    such a listing is crawled in full every `full_crawl_every_days`, since a record withdrawn
    from a later page, or inserted into the middle, is seen by a full crawl alone.
    """
    if source.listing_order != "newest_first" or source.full_crawl_every_days == 0:
        return False
    last_full = last_log.get("last_full_crawl_at")
    if not last_full:
        return False
    return _age(last_full, now) < timedelta(days=source.full_crawl_every_days)


def _fill_from_previous(outcome: dict, output: Path, previous: Path) -> None:
    """After a stop at a page of known records, the pages not fetched keep their last records."""
    page = outcome.get("stopped_at_known_page")
    if not page or outcome.get("problems"):
        return
    current = raw_lines(output)
    lines = merged_lines(current, raw_lines(previous))
    if len(lines) == len(current):
        return  # the last page was all known: nothing was left unfetched
    output.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    outcome["rows"] = len(lines)
    note = (
        f"page {page} held only known records: stopped there, "
        f"{len(lines) - len(current)} records kept from the last good crawl"
    )
    outcome["notes"] = [*(outcome.get("notes") or []), note]


def _crawl_in_child(
    city: City,
    source: Source,
    fetch_base: str | None,
    output: Path,
    cache: Path | None = None,
    previous: Path | None = None,
) -> dict:
    """Runs crawlers.crawl_one in a fresh interpreter (a Twisted reactor runs once per process)."""
    with tempfile.TemporaryDirectory(prefix="agencywatch-crawl-") as workdir:
        job_path, summary_path = Path(workdir) / "job.json", Path(workdir) / "summary.json"
        job = {
            "city": city.model_dump(mode="json"),
            "source_id": source.id,
            "fetch_base": fetch_base,
            "download_delay_s": download_delay(source, fetch_base),
            "output": str(output),
            "summary": str(summary_path),
            "httpcache": str(cache) if cache else "",
            "previous": str(previous) if previous and previous.is_file() else "",
        }
        job_path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")])
            ),
        }
        try:
            done = subprocess.run(
                [sys.executable, "-m", "crawlers.crawl_one", str(job_path)],
                capture_output=True,
                text=True,
                env=env,
                timeout=CRAWL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return _problem("failed", f"the crawl took longer than {CRAWL_TIMEOUT_S} s")
        if done.returncode != 0 or not summary_path.exists():
            tail = (done.stderr or "").strip().splitlines()[-3:]
            return _problem("failed", f"crawl process exited {done.returncode}: {' | '.join(tail)}")
        return json.loads(summary_path.read_text(encoding="utf-8"))


def download_delay(source: Source, fetch_base: str | None) -> float | None:
    """The source's own delay if its config sets one; 0 for our own mirror on loopback;
    otherwise None, keeping the project's polite default for a real site."""
    if "download_delay_s" in source.model_fields_set:
        return source.download_delay_s
    host = urlsplit(fetch_base).hostname if fetch_base else None
    return 0.0 if host in LOOPBACK_HOSTS else None


MANUAL_IMPORT = "manual-import:"  # the url of a record from an official export, never a link


def inbox_files(paths: CityPaths, source: Source) -> list[Path]:
    """The export in inbox/<source id>/: every file not hidden or parked under `_`."""
    inbox = paths.inbox / source.id
    if not inbox.is_dir():
        return []
    return sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith((".", "_")))


def _import_inbox(city: City, source: Source, paths: CityPaths, output: Path) -> dict:
    """A manual source: parse the official export dropped into inbox/<source id>/.

    Every file is read by the reader its name says (or the source's file_format): CSV, XLSX,
    JSON, or saved HTML pages of a listing. Raw items keep `manual-import:<file name>` as url,
    so provenance says "imported by hand" and the site never links it as a web page.
    """
    from crawlers.spiders.file_download import SUFFIXES, file_records

    files = inbox_files(paths, source)
    if not files:
        return _problem("failed", f"manual source: no export in {paths.inbox / source.id}")
    rows = 0
    with output.open("w", encoding="utf-8", newline="\n") as f:
        for export in files:
            fmt = SUFFIXES.get(export.suffix.lower()) or source.file_format
            ctx = SourceContext(city, source.model_copy(update={"file_format": fmt}))
            body = export.read_bytes()
            try:
                records = file_records(body, ctx.source)
            except ValueError as e:
                return _problem("blocked", f"{export.name}: {e}")
            fetched_at = _mtime_iso(export)
            url = MANUAL_IMPORT + export.name
            for place, fields in records:
                item = ctx.raw_item(
                    url, sha256_hex(body), fetched_at, f"{export.name}, {place}", fields
                )
                f.write(raw_line(item))
            rows += len(records)
    return {"rows": rows, "notes": [f"manual import of {', '.join(p.name for p in files)}"]}


def _problem(status: str, message: str) -> dict:
    return {"rows": 0, "problems": [[status, message]]}


def _verdict(source: Source, outcome: dict) -> tuple[str, str]:
    """ok, or blocked / failed with why: refusals first, then the row-count bounds."""
    problems = outcome.get("problems") or []
    if problems:
        status = "blocked" if any(s == "blocked" for s, _ in problems) else "failed"
        shown = [m for _, m in problems[:MAX_MESSAGES]]
        more = f" (and {len(problems) - MAX_MESSAGES} more)" if len(problems) > MAX_MESSAGES else ""
        return status, "; ".join(shown) + more
    rows = outcome.get("rows") or 0
    if rows < source.min_rows:
        return "blocked", f"only {rows} rows, at least {source.min_rows} expected"
    if rows > source.max_rows:
        return "blocked", f"{rows} rows, at most {source.max_rows} expected"
    return "ok", "; ".join((outcome.get("notes") or [])[:MAX_MESSAGES])


def _settle(source: Source, paths: CityPaths, outcome: dict, tmp: Path, started_at: str) -> dict:
    """Replace raw/<id>.jsonl with a good crawl, or keep the previous one and say why."""
    final = paths.raw / f"{source.id}.jsonl"
    previous = _read_json(paths.raw / f"{source.id}.crawl.json")
    status, message = _verdict(source, outcome)
    finished_at = utc_now()
    last_success_at = previous.get("last_success_at")
    last_full_crawl_at = previous.get("last_full_crawl_at")
    full_crawl = not outcome.get("stopped_at_known_page")
    if status == "ok":
        os.replace(tmp, final)
        last_success_at = finished_at
        last_full_crawl_at = finished_at if full_crawl else last_full_crawl_at
    elif final.exists():
        last_success_at = last_success_at or _mtime_iso(final)
        if _age(last_success_at, finished_at) <= timedelta(days=source.max_stale_days):
            message = f"{status}: {message}; reusing the last good crawl of {last_success_at}"
            status = "stale"
    in_use = status in ("ok", "stale") and final.exists()
    return {
        "source_id": source.id,
        "status": status,
        "rows": int(outcome.get("rows") or 0),
        "rows_in_use": len(raw_lines(final)) if in_use else 0,
        "pages_fetched": int(outcome.get("pages_fetched") or 0),
        "pages_not_modified": int(outcome.get("pages_not_modified") or 0),
        "started_at": started_at,
        "finished_at": finished_at,
        "message": message,
        "last_success_at": last_success_at,
        "full_crawl": full_crawl,
        "last_full_crawl_at": last_full_crawl_at,
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _mtime_iso(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _age(then: str, now: str) -> timedelta:
    parse = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)  # noqa: E731
    return parse(now) - parse(then)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)
