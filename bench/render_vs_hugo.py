"""Our renderer and Hugo on the same agency pages, side by side in one run, as a ratio.

    python -m bench.render_vs_hugo [--work DIR] [--agencies 100000] [--small] [--workers 2]

Reads the releases of the province under --work (bench.province_bench leaves one there); when
there is none it makes one: `agencywatch synth --province` with --agencies agencies (the
issue's 100,000 by default, 400 with --small) run through every stage up to the release. Then:

- ours, the same pages as Hugo (`ours`, the budget's figure): every city's Chinese agency
  pages, built as transforms.render builds them (the site model from the release, the
  timeline entries of each batch rendered in one pass, the agency template, the files written
  and hashed), with --workers processes for the agency pages.
- ours, the whole site (`ours_whole_site`, for reference): transforms.render.run for every
  city, as the pipeline's render stage (reuse of an earlier build turned off, so every page
  is rendered): both languages, the list pages, the search shards and the downloads.
- Hugo: the same agency views (transforms.render's own site model) exported as Hugo content
  with JSON front matter (the export is not timed), built by Debian's `hugo` with the
  comparable template in bench/hugo/: the same sections and markup, a `label` partial where
  ours calls label(), each record's timeline entry with its source once (an `evidence.html`
  partial) and the score reasons linking to it, and `uglyURLs` (agency/<id>.html), as ours. Hugo
  writes only the Chinese agency pages, one city's site at a time (all 100,000 pages in one
  Hugo site would need more memory than the machine has: 1.7 GB for 8,000); it uses every
  core by default and is also timed with GOMAXPROCS=1.

Wall seconds decide the ratio (both sides may use the machine's cores); CPU seconds are
recorded beside them. Writes bench/results/render_hugo.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import tomllib
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from bench import fs_cost
from bench.common import (
    AS_OF,
    REPO,
    RESULTS,
    Stopwatch,
    budget,
    discard,
    empty_trash,
    ensure_bytecode_cache,
    warm_imports,
    write_result,
)

HUGO_TEMPLATE = REPO / "bench" / "hugo"
BUDGET_RATIO = 4.0
DATED = re.compile(r"\d{4}-\d{2}-\d{2}")  # releases/<city>/<YYYY-MM-DD>/
FULL_AGENCIES, SMALL_AGENCIES = 100_000, 400
RECORDS_PER_AGENCY = 10  # the province: 1,000,000 evidence records for 100,000 agencies
FULL_CITIES = 13


def hugo_binary() -> str | None:
    """Debian's hugo, installed by bench/install-hugo.sh when missing (None if that fails)."""
    if shutil.which("hugo") is None:
        subprocess.run(["bash", str(REPO / "bench" / "install-hugo.sh")], check=False)
    return shutil.which("hugo")


def city_releases(root: Path) -> dict[str, Path]:
    """Each city's newest release under root."""
    out = {}
    for city_dir in sorted(p for p in (root / "releases").glob("*") if p.is_dir()):
        dated = sorted(p for p in city_dir.iterdir() if p.is_dir() and DATED.fullmatch(p.name))
        if dated:
            out[city_dir.name] = dated[-1]
    return out


def children_cpu_seconds() -> float:
    """CPU seconds of every finished child process (forked render workers, hugo)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def render_agency_pages(
    root: Path, releases: dict[str, Path], workers: int, out: Path
) -> dict[str, Any]:
    """Every city's Chinese agency pages, as transforms.render writes them (out/<city>/agency/)."""
    from agencywatch.config import load_city
    from agencywatch.paths import city_paths
    from transforms import render

    discard(out)
    zh = render.LANGUAGES[0]
    labels = render.site_labels()
    children = children_cpu_seconds()
    pages = 0
    with Stopwatch() as t:
        for slug, release_dir in releases.items():
            city, paths = load_city(slug), city_paths(slug, root)
            with render.collector_paused():
                model = render.site_model(city, paths, release_dir, {})
            model["site_pages"] = {t for t, _, _ in render.site_pages(city, paths, {}, model)}
            with render.model_frozen():
                env = render.site_environment(zh, labels)
                pages_of = render.AgencyPages(model)
                writer = render.BuildWriter(out / slug)
                if workers <= 1:
                    pages_of.write(writer, env, zh, range(len(model["agencies"])))
                else:
                    writer.digests.update(pages_of.write_in_processes(out / slug, env, zh, workers))
            pages += len(writer.digests)
    cpu = round(t.cpu_seconds + children_cpu_seconds() - children, 3)
    return {"seconds": t.seconds, "cpu_seconds": cpu, "workers": workers, "agency_pages": pages,
            "writes": "the Chinese agency pages, as Hugo does"}  # fmt: skip


def render_ours(root: Path, releases: dict[str, Path], workers: int) -> dict[str, Any]:
    """transforms.render.run for every city, one city after the other, as the pipeline's render
    stage (with AGENCYWATCH_REUSE=0: an earlier build of the same inputs is not returned)."""
    from agencywatch import fingerprint
    from agencywatch.config import load_city
    from agencywatch.paths import city_paths
    from transforms import render

    pages = {"zh": 0, "en": 0}
    for slug in releases:  # fresh builds: render.run deletes a build it made twice
        discard(city_paths(slug, root).builds)
    previous = os.environ.get(fingerprint.REUSE_ENV)
    os.environ[fingerprint.REUSE_ENV] = "0"
    children = children_cpu_seconds()
    try:
        with Stopwatch() as t:
            for slug, release_dir in releases.items():
                build = render.run(
                    load_city(slug), city_paths(slug, root), release_dir, {}, workers
                )
                pages["zh"] += sum(1 for _ in (build / "agency").glob("*.html"))
                pages["en"] += sum(1 for _ in (build / "en" / "agency").glob("*.html"))
    finally:
        if previous is None:
            os.environ.pop(fingerprint.REUSE_ENV, None)
        else:
            os.environ[fingerprint.REUSE_ENV] = previous
    cpu = round(t.cpu_seconds + children_cpu_seconds() - children, 3)
    return {"seconds": t.seconds, "cpu_seconds": cpu, "workers": workers,
            "agency_pages": pages["zh"] + pages["en"],
            "writes": "whole site: both languages, list pages, search shards, downloads"}  # fmt: skip


def export_hugo_sites(root: Path, releases: dict[str, Path], sites: Path) -> dict[str, Any]:
    """The same agency views as Hugo content, one Hugo site per city (a city at a time, as ours
    renders them, keeps Hugo's memory to one city's pages): JSON front matter per agency."""
    from agencywatch.config import load_city
    from agencywatch.paths import city_paths
    from transforms import render

    discard(sites)
    labels = tomllib.loads((render.LOOKUPS / "site_labels.toml").read_text(encoding="utf-8"))
    pages = 0
    with Stopwatch() as t:
        for slug, release_dir in releases.items():
            site = sites / slug
            shutil.copytree(HUGO_TEMPLATE, site)
            (site / "data").mkdir(exist_ok=True)
            (site / "data" / "labels.json").write_text(json.dumps(labels, ensure_ascii=False))
            city = load_city(slug)
            model = render.site_model(city, city_paths(slug, root), release_dir, {})
            folder = site / "content" / slug / "agency"
            folder.mkdir(parents=True, exist_ok=True)
            common = {"city_name": city.name, "city_slug": slug, "as_of": model["as_of"],
                      "method_version": model["method_version"],
                      "weights": model["method"]["weights"]}  # fmt: skip
            for a in model["agencies"]:
                front = {**common, "a": a}
                text = json.dumps(front, ensure_ascii=False, default=str) + "\n"
                (folder / f"{a['agency_id']}.md").write_text(text, encoding="utf-8")
                pages += 1
    return {"export_seconds": t.seconds, "agency_pages": pages}


def build_hugo(hugo: str, sites: Path, out: Path, threads: int | None) -> dict[str, Any]:
    """`hugo` on every city's site, one after the other, into out/<city>/agency/…"""
    discard(out)
    env = dict(os.environ, **({"GOMAXPROCS": str(threads)} if threads else {}))
    children = children_cpu_seconds()
    with Stopwatch() as t:
        for site in sorted(p for p in sites.iterdir() if p.is_dir()):
            done = subprocess.run([hugo, "--source", str(site), "--destination", str(out),
                                   "--quiet"], capture_output=True, text=True, env=env)  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"hugo failed on {site.name}:\n{done.stderr[-2000:]}")
    pages = sum(1 for _ in out.glob("*/agency/*.html"))
    cpu = round(children_cpu_seconds() - children, 3)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return {"seconds": t.seconds, "cpu_seconds": cpu, "agency_pages": pages,
            "peak_rss_mb_largest_child": peak}  # fmt: skip


def release_city(slug: str, root: str) -> str:
    """One city through every stage up to its release (the pipeline's own functions)."""
    from agencywatch import pipeline

    pipeline.validate_raw(slug, "bench-render", root)
    pipeline.build(slug, "bench-render", AS_OF, root)
    pipeline.release(slug, "bench-render", AS_OF, root)
    return slug


def ensure_province(work: Path, agencies: int, workers: int) -> Path:
    """The province under work/ (bench.province_bench's, whatever its size); made with this
    many agencies, up to the release, when there is none."""
    root = work / "province"
    if (root / "releases").exists() and city_releases(root):
        return root
    from bench.province_bench import synth

    cities = FULL_CITIES if agencies >= 10_000 else 2
    made = synth(root, cities, agencies, agencies * RECORDS_PER_AGENCY)
    os.environ["AGENCYWATCH_CITIES_DIR"] = str(root / "cities")
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(release_city, made["cities"], [str(root)] * len(made["cities"])))
    return root


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "aw-bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--agencies", type=int, default=None,
                        help=f"agencies of a province made when --work has none ({FULL_AGENCIES:,})")  # fmt: skip
    parser.add_argument("--small", action="store_true", help=f"as --agencies {SMALL_AGENCIES}")
    parser.add_argument("--workers", type=int, default=2, help="our agency-page processes")
    args = parser.parse_args(argv)
    if argv is None:
        ensure_bytecode_cache("bench.render_vs_hugo")
    warm_imports()
    agencies = args.agencies or (SMALL_AGENCIES if args.small else FULL_AGENCIES)
    root = ensure_province(args.work, agencies, args.workers)
    os.environ["AGENCYWATCH_CITIES_DIR"] = str(root / "cities")
    releases = city_releases(root)
    ours = render_agency_pages(root, releases, args.workers, args.work / "ours-agency-pages")
    whole = render_ours(root, releases, args.workers)
    hugo = hugo_binary()
    figures: dict[str, Any] = {"cities": len(releases), "ours": ours, "ours_whole_site": whole,
                               "file_system": fs_cost.file_systems(args.work)}  # fmt: skip
    if hugo is None:
        figures.update(hugo=None, note="hugo is not installed (bench/install-hugo.sh failed)")
        figures["budgets"] = {"hugo_over_ours": budget(None, BUDGET_RATIO, True)}
        write_result("render_hugo", figures, args.results)
        leftovers(args.work)
        return figures
    version = subprocess.run([hugo, "version"], capture_output=True, text=True).stdout.strip()
    sites = args.work / "hugo-sites"
    exported = export_hugo_sites(root, releases, sites)
    hugo_all = build_hugo(hugo, sites, args.work / "hugo-public", None)
    hugo_one = build_hugo(hugo, sites, args.work / "hugo-public-1", 1)
    ratio = round(hugo_all["seconds"] / ours["seconds"], 2) if ours["seconds"] else None
    figures.update({
        "hugo_version": version, "hugo_export": exported,
        "hugo_all_cores": hugo_all, "hugo_one_core": hugo_one,
        "hugo_over_ours": ratio,
        "hugo_one_core_over_ours": round(hugo_one["seconds"] / ours["seconds"], 2)
        if ours["seconds"] else None,
        "hugo_over_ours_whole_site": round(hugo_all["seconds"] / whole["seconds"], 2)
        if whole["seconds"] else None,
        "budgets": {"hugo_over_ours": budget(ratio, BUDGET_RATIO, higher_is_better=True)},
    })  # fmt: skip
    write_result("render_hugo", figures, args.results)
    leftovers(args.work)
    return figures


def leftovers(work: Path) -> None:
    """Delete the rendered pages only now: a deletion between two measured renders would bill
    the second one for it (bench.common.discard)."""
    for name in ("ours-agency-pages", "hugo-sites", "hugo-public", "hugo-public-1"):
        discard(work / name)
    empty_trash(work)


if __name__ == "__main__":
    main()
