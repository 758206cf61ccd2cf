"""Everything a city's site depends on, as digests: the render stage's fingerprint.

A rerun whose sources did not change must not render 200,000 pages again only to find the
same build (issue 8), so `render.run` compares these inputs with the ones its last build was
made from (agencywatch/fingerprint.py keeps that record) and returns that build untouched
when they match. The parts:

- every release up to the rendered one (the downloads, the history, the changes page): its
  manifest.json, which names every file's sha256 (transforms/verify.py holds a release to it),
  the names and sizes of the files present, and the bytes of any file it does not list; the
  feeds;
- the resolved tables the pages read, and the clean filing and phone tables the search
  shards read;
- what the pages show of the run: the source freshness and health rows and the gate results,
  as the pages see them. The run summary's id, timings and memory are not on any page, so they
  are not an input (otherwise no rerun could ever skip);
- the city config, and the code, lookups, templates, static files, translations and library
  versions that render.

Digests, not mtimes: storage copies (agencywatch/storage.py) do not keep mtimes.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from agencywatch import fingerprint
from agencywatch.config import City
from agencywatch.paths import CityPaths
from transforms import changes, feeds

SITE_DIR = Path(__file__).resolve().parents[1] / "site"
RESOLVED_READ = ("agencies", "related", "candidates", "corrections_applied")
CLEAN_READ = ("filing", "phone")  # the search shards' filings and phones
LIBRARIES = ("jinja2", "markupsafe", "babel", "opencc")
MANIFEST = "manifest.json"


def inputs(city: City, paths: CityPaths, release_dir: Path, run: dict) -> dict[str, Any]:
    """The digests of everything the site built from release_dir shows (module docstring)."""
    return {
        "release": release_dir.name,
        "releases": releases_digest(release_dir),
        "resolved": {
            n: fingerprint.file_digest(paths.resolved / f"{n}.parquet") for n in RESOLVED_READ
        },
        "clean": {n: fingerprint.file_digest(paths.clean / f"{n}.parquet") for n in CLEAN_READ},
        "shown_from_run": shown_from_run(city, paths, run),
        "config": fingerprint.config_digest(city),
        "code": fingerprint.code_digest(),
        "site": site_digest(),
    }


def releases_digest(release_dir: Path) -> str:
    """Every release folder up to release_dir (and the feeds), as the site copies them."""
    h = hashlib.sha256()
    folders = [f for f in changes.release_folders(release_dir.parent) if f.name <= release_dir.name]
    if release_dir.resolve() not in {f.resolve() for f in folders}:
        folders.append(release_dir)
    for folder in folders:
        h.update(f"release {folder.name}\n".encode())
        listed = _listed_files(folder)
        for f in sorted(p for p in folder.iterdir() if p.is_file()):
            if f.name in listed:
                content = f"size={f.stat().st_size}"
            else:
                content = str(fingerprint.file_digest(f))
            h.update(f"{f.name}\0{content}\n".encode())
    feed_dir = release_dir.parent / feeds.FEEDS_DIR
    for f in sorted(feed_dir.rglob("*")) if feed_dir.is_dir() else []:
        if f.is_file():
            h.update(
                f"feed {f.relative_to(feed_dir).as_posix()}\0{fingerprint.file_digest(f)}\n".encode()
            )
    return h.hexdigest()


def _listed_files(folder: Path) -> set[str]:
    """The files the manifest vouches for by sha256 (the manifest itself is hashed instead)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    files = manifest.get("files")
    return set(files) if isinstance(files, dict) else set()


def shown_from_run(city: City, paths: CityPaths, run: dict) -> str:
    """Digest of what the pages show of the run and of the gates: the sources' freshness and
    health (as render.sources_page passes them) and the gate results."""
    from transforms import render, render_model

    shown = {
        "freshness": render_model.source_freshness(city, paths, run),
        "sources_page": render.sources_page(city, paths, run),
        "gates": render.gate_results(paths),
    }
    return fingerprint.fingerprint(shown)


@cache
def site_digest() -> str:
    """Templates, static files, translations and the versions of the libraries that render
    (agencywatch.fingerprint.code_digest covers the Python code and lookups)."""
    h = hashlib.sha256()
    for path in sorted(SITE_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(
                f"{path.relative_to(SITE_DIR).as_posix()}\0{fingerprint.file_digest(path)}\n".encode()
            )
    for name in LIBRARIES:
        h.update(f"{name}={fingerprint.library_version(name)}\n".encode())
    return h.hexdigest()
