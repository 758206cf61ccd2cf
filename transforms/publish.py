"""Publish a rendered build by swapping the live symlink in one rename.

Readers of public/<city> must see either the old site or the new one, never half of each, and a
failed run must leave the old site live: so the live path is a symlink to an immutable build
folder, and publishing is a single os.replace() of that symlink (rename(2) is atomic on POSIX).

The latest release switches in the same step: each build holds a `release` symlink to the
release it was rendered from, so `public/<city>/release/` is always the release the live site
shows, and a process killed at any point leaves both old or both new.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

KEEP_BUILDS = 3
RELEASE_LINK = "release"


def run(build_dir: Path, live: Path, release_dir: Path | None = None) -> Path:
    """Point live at build_dir (and so at its release) atomically, then prune old builds."""
    build_dir = build_dir.resolve()
    if not build_dir.is_dir():
        raise FileNotFoundError(f"build folder {build_dir} does not exist")
    live.parent.mkdir(parents=True, exist_ok=True)
    _drop_abandoned_links(live)
    if release_dir is not None:
        _swap_link(build_dir / RELEASE_LINK, release_dir.resolve(), build_dir)
    if live.exists() and not live.is_symlink():
        _retire_real_folder(live, build_dir.parent)
    _swap_link(live, build_dir, live.parent.resolve())
    prune(build_dir.parent, live)
    return live


def live_release(live: Path) -> Path | None:
    """The release folder the live site shows (None before the first publish with one)."""
    link = live / RELEASE_LINK
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def _swap_link(link: Path, target: Path, relative_to: Path) -> None:
    """Make `link` a relative symlink to target in one rename (never absent in between); a link
    that already points there is left alone, so republishing the same build changes nothing."""
    relative = os.path.relpath(target, relative_to)
    if link.is_symlink() and os.readlink(link) == relative:
        return
    tmp = link.with_name(f".{link.name}.publish-{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(relative, target_is_directory=True)
    os.replace(tmp, link)


def _drop_abandoned_links(live: Path) -> None:
    """Temporary links left by a publish that was killed: its pid no longer runs."""
    for tmp in live.parent.glob(f".{live.name}.publish-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
