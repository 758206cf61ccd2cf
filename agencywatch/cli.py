"""The `agencywatch` command line: one entry point, one subcommand per job.

Exit codes of `run` are part of the contract with schedulers and scripts: 0 published, 2 blocked
by a gate (the previous release and site stay live), 1 failed.
"""

from __future__ import annotations

import functools
import http.server
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from agencywatch import pipeline
from agencywatch.config import ConfigError, default_cities_dir, load_city
from agencywatch.paths import output_root

EXIT_PUBLISHED, EXIT_FAILED, EXIT_BLOCKED = 0, 1, 2

console = Console(stderr=False, highlight=False)
errors = Console(stderr=True, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="agencywatch")
def main() -> None:
    """AgencyWatch (催收机构信用观察): crawl, check, score and publish a city's debt-collection
    agencies from public records."""


# --- run ------------------------------------------------------------------------------------


class RichStages(pipeline.StageProgress):
    """One progress bar per stage, shown as the run goes."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def start(self, stage: str, total: int | None = None) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=total or 1)

    def advance(self, stage: str, note: str = "") -> None:
        task = self.tasks[stage]
        self.progress.update(task, advance=1, description=f"{stage} {note}".strip())

    def done(self, stage: str) -> None:
        task = self.tasks[stage]
        total = self.progress.tasks[task].total
        self.progress.update(task, completed=total, description=stage)


@main.command()
@click.argument("city")
@click.option(
    "--root", type=click.Path(file_okay=False), help="Output root (data/, releases/, public/)."
)
@click.option(
    "--date", "as_of", help="Run date YYYY-MM-DD (default: today in the city's timezone)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON only.")
def run(city: str, root: str | None, as_of: str | None, as_json: bool) -> None:
    """Run every stage for CITY: crawl, validate, build, score, release, render, publish."""
    _load_or_exit(city)
    try:
        if as_json:
            summary = pipeline.run_city(city, root=root, as_of=as_of)
        else:
            summary = _run_with_progress(city, root, as_of)
    except pipeline.RunFailed as failure:
        summary = failure.summary
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print_summary(summary)
    sys.exit(
        {"published": EXIT_PUBLISHED, "blocked": EXIT_BLOCKED}.get(summary["status"], EXIT_FAILED)
    )


def _run_with_progress(city: str, root: str | None, as_of: str | None) -> dict[str, Any]:
    columns = (
        TextColumn("[bold]{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        return pipeline.run_city(city, root=root, as_of=as_of, progress=RichStages(progress))


def print_summary(summary: dict[str, Any]) -> None:
    """The run summary as tables: sources, gates, lists, timings, and where the outputs are."""
    status_style = {"published": "green", "blocked": "yellow"}.get(summary["status"], "red")
    console.print(
        f"\n[bold]{summary['city']}[/] run {summary['run_id']}: "
        f"[{status_style} bold]{summary['status']}[/]"
    )
    console.print(_sources_table(summary))
    console.print(_gates_table(summary))
    console.print(_lists_and_timings_table(summary))
    if summary.get("release"):
        console.print(f"release: {summary['release']}")
    if summary.get("site"):
        console.print(f"site:    {summary['site']}/index.html")
    if summary.get("error"):
        errors.print(f"[{status_style}]{summary['error']}[/]")
        if summary["status"] == "blocked":
            errors.print("Publication stopped: the previous release and site stay live.")


def _sources_table(summary: dict[str, Any]) -> Table:
    table = Table(title="sources", title_justify="left")
    for col in ("source", "status", "rows", "pages", "not modified", "quarantined"):
        table.add_column(col, justify="left" if col in ("source", "status") else "right")
    for sid, s in summary["sources"].items():
        table.add_row(
            sid,
            s["status"],
            str(s["rows"]),
            str(s["pages_fetched"]),
            str(s["pages_not_modified"]),
            str(s["quarantined"]),
        )
    return table


def _gates_table(summary: dict[str, Any]) -> Table:
    table = Table(title="gates", title_justify="left")
    table.add_column("gate")
    table.add_column("result")
    table.add_column("failed expectations")
    for gate in summary["gates"]:
        failed = "; ".join(_describe_failure(f) for f in gate["failed_expectations"])
        table.add_row(gate["name"], "pass" if gate["success"] else "FAIL", failed)
    return table


def _describe_failure(failure: dict[str, Any]) -> str:
    column = f" on {failure['column']}" if failure.get("column") else ""
    return (
        f"{failure.get('expectation')}{column}: expected {failure.get('expected')}, "
        f"observed {failure.get('observed')}"
    )


def _lists_and_timings_table(summary: dict[str, Any]) -> Table:
    table = Table(title="lists and timings", title_justify="left")
    table.add_column("list")
    table.add_column("agencies", justify="right")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    lists = list(summary["lists"].items())
    timings = list(summary["timings_s"].items())
    for i in range(max(len(lists), len(timings))):
        name, count = lists[i] if i < len(lists) else ("", "")
        stage, secs = timings[i] if i < len(timings) else ("", "")
        table.add_row(name, str(count), stage, f"{secs:.2f}" if secs != "" else "")
    table.add_row("", "", "peak memory", f"{summary['peak_rss_mb']} MB")
    return table


def _load_or_exit(city: str) -> None:
    try:
        load_city(city)
    except ConfigError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_FAILED)


# --- serve ----------------------------------------------------------------------------------


@main.command()
@click.option("--root", type=click.Path(file_okay=False), help="Output root holding public/.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(root: str | None, host: str, port: int) -> None:
    """Serve the built site (public/) on localhost."""
    public = output_root(root) / "public"
    if not public.exists():
        errors.print(f"{public}: no built site yet; run `agencywatch run demo` first")
        sys.exit(EXIT_FAILED)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(public))
    with http.server.ThreadingHTTPServer((host, port), handler) as server:
        console.print(
            f"serving {public} at http://{host}:{server.server_address[1]}/ (Ctrl-C stops)"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


# --- synth ----------------------------------------------------------------------------------


@main.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write.")
@click.option(
    "--agencies",
    type=click.IntRange(min=10),
    help="Agencies in the mirror [default: 300; with --province: 100000].",
)
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option(
    "--as-of", "as_of", default="2026-11-01", show_default=True, help="Date the data is as of."
)
@click.option(
    "--province",
    is_flag=True,
    help="Write a province instead: raw crawl output (data/<city>/raw/) and cities/*.toml "
    "for many cities, to benchmark every stage after the crawl.",
)
@click.option("--cities", default=13, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--records",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="With --province: evidence records (all but registrations).",
)
def synth(
    out: str,
    agencies: int | None,
    seed: int,
    as_of: str,
    province: bool,
    cities: int,
    records: int,
) -> None:
    """Write a FICTIONAL source mirror of any size (seeded, reproducible)."""
    from datetime import date

    if province:
        from agencywatch.mirror.province import synth_province

        summary = synth_province(
            Path(out),
            n_cities=cities,
            n_agencies=agencies or 100_000,
            n_records=records,
            seed=seed,
            as_of=date.fromisoformat(as_of),
        )
        console.print(json.dumps(summary, ensure_ascii=False, indent=1))
        return

    from agencywatch.mirror.synth import synth_mirror

    counts = synth_mirror(
        Path(out), n_agencies=agencies or 300, seed=seed, as_of=date.fromisoformat(as_of)
    )
    console.print(json.dumps(counts, ensure_ascii=False, indent=1))


# --- check-config ---------------------------------------------------------------------------


@main.command("check-config")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
def check_config(files: tuple[str, ...]) -> None:
    """Validate city configs (default: every cities/*.toml); errors name the file and key."""
    paths = [Path(f) for f in files] or sorted(default_cities_dir().glob("*.toml"))
    bad = 0
    for path in paths:
        try:
            city = load_city(path)
        except ConfigError as e:
            bad += 1
            click.echo(str(e), err=True)
            continue
        console.print(f"ok  {path}  ({city.name}, {len(city.sources)} sources)")
    sys.exit(EXIT_FAILED if bad else 0)


# --- new-city -------------------------------------------------------------------------------


@main.command("new-city")
@click.argument("slug")
@click.option("--name", default="", help="The city's name as the site shows it (e.g. 连云港市).")
@click.option("--name-en", default="", help="The city's English name.")
@click.option("--province", default="", help="The province, for the portal (e.g. 江苏省).")
@click.option("--base-url", default="", help="The main source site (default: a .example host).")
@click.option("--root", type=click.Path(file_okay=False), help="Output root holding data/.")
@click.option("--force", is_flag=True, help="Overwrite an existing cities/SLUG.toml.")
def new_city(
    slug: str,
    name: str,
    name_en: str,
    province: str,
    base_url: str,
    root: str | None,
    force: bool,
) -> None:
    """Scaffold cities/SLUG.toml (one example of each source kind), its inboxes and corrections."""
    from agencywatch.scaffold import scaffold_city

    try:
        made = scaffold_city(
            slug,
            default_cities_dir(),
            root,
            name=name,
            name_en=name_en,
            province=province,
            base_url=base_url,
            force=force,
        )
    except (ConfigError, FileExistsError) as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_FAILED)
    for path in made.files:  # click.echo, not rich: a path must never be wrapped mid-name
        click.echo(f"wrote {path}")
    click.echo(
        f"next: edit {made.config}, then `agencywatch check-config {made.config}` and "
        f"`agencywatch run {slug}` (walk-through: docs/adding-a-city.md)"
    )


# --- import ---------------------------------------------------------------------------------


@main.command("import")
@click.argument("city")
@click.argument("source")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--root", type=click.Path(file_okay=False), help="Output root holding data/.")
@click.option("--add", is_flag=True, help="Add to the inbox instead of replacing its export.")
def import_(city: str, source: str, files: tuple[str, ...], root: str | None, add: bool) -> None:
    """Import an official export (CSV, XLSX, JSON or saved HTML pages) into SOURCE's inbox.

    The files are checked with the crawl's own readers, then copied to
    data/CITY/inbox/SOURCE/; the next `agencywatch run CITY` takes them through the same
    gates, marked as a manual import.
    """
    from agencywatch.importer import import_export
    from agencywatch.paths import city_paths

    _load_or_exit(city)
    cfg = load_city(city)
    try:
        done = import_export(cfg, source, [Path(f) for f in files], city_paths(cfg.slug, root), add)
    except (ConfigError, KeyError, ValueError) as e:
        errors.print(f"import refused: {e}")
        sys.exit(EXIT_FAILED)
    console.print(f"imported {done.rows} records into {done.inbox}")
    for p in done.parked:
        console.print(f"earlier export parked at {p}")
    console.print(f"next: `agencywatch run {cfg.slug}` takes them through the gates")


# --- review ---------------------------------------------------------------------------------


@main.command()
@click.argument("city")
@click.option("--root", type=click.Path(file_okay=False), help="Output root holding data/.")
@click.option("--limit", default=50, show_default=True, help="Agencies shown per list.")
@click.option("--json", "as_json", is_flag=True, help="Print the review as JSON only.")
def review(city: str, root: str | None, limit: int, as_json: bool) -> None:
    """Show why CITY's last release was held by the release circuit breaker: the checks that
    tripped, the agencies it would put on the blacklist (with the scorer's reason) or drop,
    and the command that publishes it once a person has looked. Exit 0 when nothing is held."""
    from agencywatch.paths import city_paths
    from transforms.breaker import REVIEWED_ENV, held_release

    _load_or_exit(city)
    cfg = load_city(city)
    held = held_release(city_paths(cfg.slug, root))
    if as_json:
        click.echo(json.dumps(held, ensure_ascii=False, indent=2, default=str))
        return
    if held is None:
        console.print(f"{cfg.slug}: the last run's release was not held; nothing to review")
        return
    console.print(
        f"[bold]{cfg.slug}: the release of {held['as_of']} is held[/bold] "
        f"(compared with the release of {held['previous_release']})"
    )
    for check in held["checks"]:
        line = f"- {check['expectation']}: {check['observed']}, {check['expected']}"
        console.print(line, markup=False)
    for key, title in (("onto_blacklist", "newly on the blacklist"), ("lost", "no longer listed")):
        if held[key]:
            console.print(_review_table(f"{len(held[key])} {title}", held[key], limit))
    click.echo(  # not console.print: rich would wrap the command at the terminal's width
        "Once checked, publish it with:\n"
        f"  {REVIEWED_ENV}={held['as_of']} agencywatch run {cfg.slug} --date {held['as_of']}"
        + (f" --root {root}" if root else "")
    )


def _review_table(title: str, rows: list[dict[str, Any]], limit: int) -> Table:
    from transforms.breaker import REVIEW_COLUMNS

    columns = [
        "agency_id",
        *[c for c in REVIEW_COLUMNS if c in rows[0]],
    ]
    more = f" (first {limit})" if len(rows) > limit else ""
    table = Table(title=title + more, title_justify="left")
    for c in columns:
        table.add_column(c, overflow="fold")  # a reviewer needs whole names and reasons
    for row in rows[:limit]:
        table.add_row(*[Text("" if row.get(c) is None else str(row[c])) for c in columns])
    return table


# --- verify ---------------------------------------------------------------------------------


@main.command()
@click.argument("release_dir", type=click.Path(file_okay=False))
def verify(release_dir: str) -> None:
    """Check RELEASE_DIR's files against its manifest and SHA256SUMS, then every earlier release
    its manifest chains to; name the first file or release that does not match (exit 1)."""
    from transforms.verify import verify_chain

    result = verify_chain(Path(release_dir))
    for name in result.checked:
        console.print(f"ok        {name}")
    if result.finding is not None:
        click.echo(f"MISMATCH  {result.finding}", err=True)
        sys.exit(EXIT_FAILED)
    console.print(f"verified {len(result.checked)} release(s): every file and link matches")


if __name__ == "__main__":
    main()
