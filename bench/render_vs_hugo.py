"""Our renderer and Hugo on the same agency pages, side by side in one run, as a ratio.

    python -m bench.render_vs_hugo [--work DIR]

Reads the releases of a province already built by bench.province_bench (it builds a small
one when there is none), renders every city's site with transforms.render (agency pages plus
the list pages, as a run does), then exports the same agency views (transforms.render's own
site model) as Hugo content with JSON front matter and builds them with Debian's `hugo` and the
comparable template in bench/hugo/. Content export is not timed for either side. Hugo uses
every core by default; it is also timed with GOMAXPROCS=1, beside our one process.
Writes bench/results/render_hugo.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from bench.common import (
    REPO,
    RESULTS,
    Stopwatch,
    budget,
    ensure_bytecode_cache,
    warm_imports,
    write_result,
)

HUGO_TEMPLATE = REPO / "bench" / "hugo"
BUDGET_RATIO = 4.0
DATED = re.compile(r"\d{4}-\d{2}-\d{2}")  # releases/<city>/<YYYY-MM-DD>/


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


def render_ours(root: Path, releases: dict[str, Path]) -> dict[str, Any]:
    """transforms.render.run for every city, one process, as the pipeline's render stage."""
    from agencywatch.config import load_city
    from agencywatch.paths import city_paths
    from transforms import render

    pages = 0
    with Stopwatch() as t:
        for slug, release_dir in releases.items():
            build = render.run(load_city(slug), city_paths(slug, root), release_dir, {})
            pages += sum(1 for _ in (build / "agency").glob("*/index.html"))
    return {"seconds": t.seconds, "agency_pages": pages}


def export_hugo_site(root: Path, releases: dict[str, Path], site: Path) -> dict[str, Any]:
    """The same agency views as Hugo content: one page per agency, JSON front matter."""
    from agencywatch.config import load_city
    from agencywatch.paths import city_paths
    from transforms import render

    if site.exists():
        shutil.rmtree(site)
    shutil.copytree(HUGO_TEMPLATE, site)
    labels = tomllib.loads((render.LOOKUPS / "site_labels.toml").read_text(encoding="utf-8"))
    (site / "data").mkdir(exist_ok=True)
    (site / "data" / "labels.json").write_text(json.dumps(labels, ensure_ascii=False), "utf-8")
    pages = 0
    with Stopwatch() as t:
        for slug, release_dir in releases.items():
            city = load_city(slug)
            model = render.site_model(city, city_paths(slug, root), release_dir, {})
            folder = site / "content" / slug / "agency"
            folder.mkdir(parents=True, exist_ok=True)
            common = {"city_name": city.name, "as_of": model["as_of"],
                      "method_version": model["method_version"],
                      "weights": model["method"]["weights"]}  # fmt: skip
            for a in model["agencies"]:
                front = {**common, "a": a}
                text = json.dumps(front, ensure_ascii=False, default=str) + "\n"
                (folder / f"{a['agency_id']}.md").write_text(text, encoding="utf-8")
                pages += 1
    return {"export_seconds": t.seconds, "agency_pages": pages}


def build_hugo(hugo: str, site: Path, out: Path, threads: int | None) -> dict[str, Any]:
    if out.exists():
        shutil.rmtree(out)
    env = dict(os.environ, **({"GOMAXPROCS": str(threads)} if threads else {}))
    with Stopwatch() as t:
        done = subprocess.run([hugo, "--source", str(site), "--destination", str(out), "--quiet"],
                              capture_output=True, text=True, env=env)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"hugo failed:\n{done.stderr[-2000:]}")
    pages = sum(1 for _ in out.glob("*/agency/*/index.html"))
    return {"seconds": t.seconds, "agency_pages": pages}


def ensure_province(work: Path) -> Path:
    """The province bench's output root; a small province is built when there is none yet."""
    root = work / "province"
    if not (root / "releases").exists() or not city_releases(root):
        from bench.province_bench import run_province, synth

        made = synth(root, 2, 400, 4000)
        run_province(root, made["cities"], "bench-render", 1)
    return root


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "aw-bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if argv is None:
        ensure_bytecode_cache("bench.render_vs_hugo")
    warm_imports()
    root = ensure_province(args.work)
    os.environ["AGENCYWATCH_CITIES_DIR"] = str(root / "cities")
    releases = city_releases(root)
    ours = render_ours(root, releases)
    hugo = hugo_binary()
    figures: dict[str, Any] = {"cities": len(releases), "ours": ours}
    if hugo is None:
        figures.update(hugo=None, note="hugo is not installed (bench/install-hugo.sh failed)")
        figures["budgets"] = {"hugo_over_ours": budget(None, BUDGET_RATIO, True)}
        write_result("render_hugo", figures, args.results)
        return figures
    version = subprocess.run([hugo, "version"], capture_output=True, text=True).stdout.strip()
    site = args.work / "hugo-site"
    exported = export_hugo_site(root, releases, site)
    hugo_all = build_hugo(hugo, site, args.work / "hugo-public", None)
    hugo_one = build_hugo(hugo, site, args.work / "hugo-public", 1)
    ratio = round(hugo_all["seconds"] / ours["seconds"], 2) if ours["seconds"] else None
    figures.update({
        "hugo_version": version, "hugo_export": exported,
        "hugo_all_cores": hugo_all, "hugo_one_core": hugo_one,
        "hugo_over_ours": ratio,
        "hugo_one_core_over_ours": round(hugo_one["seconds"] / ours["seconds"], 2)
        if ours["seconds"] else None,
        "budgets": {"hugo_over_ours": budget(ratio, BUDGET_RATIO, higher_is_better=True)},
    })  # fmt: skip
    write_result("render_hugo", figures, args.results)
    return figures


if __name__ == "__main__":
    main()
