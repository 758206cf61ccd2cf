"""Publish a rendered build by swapping the live symlink in one rename.

Readers of public/<city> must see either the old site or the new one, never half of each, and a
failed run must leave the old site live: so the live path is a symlink to an immutable build
folder, and publishing is a single os.replace() of that symlink (rename(2) is atomic on POSIX).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

KEEP_BUILDS = 3


def run(build_dir: Path, live: Path) -> Path:
    """Point live at build_dir atomically, then prune old builds of the same city."""
    build_dir = build_dir.resolve()
    if not build_dir.is_dir():
        raise FileNotFoundError(f"build folder {build_dir} does not exist")
    live.parent.mkdir(parents=True, exist_ok=True)
    target = os.path.relpath(build_dir, live.parent.resolve())
    tmp = live.with_name(f".{live.name}.publish-{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target, target_is_directory=True)
    if live.exists() and not live.is_symlink():
        _retire_real_folder(live, build_dir.parent)
    os.replace(tmp, live)
    prune(build_dir.parent, live)
    return live


def _retire_real_folder(live: Path, builds: Path) -> Path:
    """A live site from before symlinks (first migration): moved aside, never deleted."""
    if not live.is_dir():
        raise FileExistsError(f"{live} exists and is neither a folder nor a symlink")
    n = 1
    while (builds / f"{live.name}-legacy-{n}").exists():
        n += 1
    aside = builds / f"{live.name}-legacy-{n}"
    live.rename(aside)
    return aside


def city_builds(builds: Path, city: str) -> list[Path]:
    """The city's rendered builds (<city>-<YYYY-MM-DD>-…), newest first."""
    pattern = re.compile(rf"^{re.escape(city)}-\d{{4}}-\d{{2}}-\d{{2}}(-[0-9A-Za-z]+)*$")
    found = [
        p for p in builds.iterdir() if p.is_dir() and not p.is_symlink() and pattern.match(p.name)
    ]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)


def prune(builds: Path, live: Path, keep: int = KEEP_BUILDS) -> list[Path]:
    """Remove all but the newest `keep` builds; the live one is never removed."""
    current = live.resolve() if live.is_symlink() else None
    removed = []
    for old in city_builds(builds, live.name)[keep:]:
        if old.resolve() == current:
            continue
        shutil.rmtree(old)
        removed.append(old)
    return removed
