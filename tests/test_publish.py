"""Publish: the live symlink switches in one rename and old builds are pruned."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from transforms import publish


def make_build(builds: Path, name: str, text: str) -> Path:
    build = builds / name
    build.mkdir(parents=True)
    (build / "index.html").write_text(text, encoding="utf-8")
    return build


def age(path: Path, seconds_ago: float) -> None:
    t = time.time() - seconds_ago
    os.utime(path, (t, t))


def test_live_symlink_switches_to_the_new_build(tmp_path: Path) -> None:
    builds, live = tmp_path / "public" / ".builds", tmp_path / "public" / "demo"
    first = make_build(builds, "demo-2026-11-22-aaaa", "old")
    assert publish.run(first, live) == live
    assert live.is_symlink() and (live / "index.html").read_text() == "old"
    second = make_build(builds, "demo-2026-11-23-bbbb", "new")
    publish.run(second, live)
    assert live.resolve() == second.resolve()
    assert (live / "index.html").read_text() == "new"
    assert not os.path.isabs(os.readlink(live))  # relative: the public root can move
    assert [p.name for p in live.parent.iterdir() if p.name.startswith(".demo")] == []


def test_old_builds_are_pruned_to_the_last_three(tmp_path: Path) -> None:
    builds, live = tmp_path / "public" / ".builds", tmp_path / "public" / "demo"
    made = []
    for i in range(5):
        build = make_build(builds, f"demo-2026-11-2{i}-b{i}", str(i))
        age(build, 100 - i)
        made.append(build)
    other_city = make_build(builds, "demo2-2026-11-20-x", "another city")
    age(other_city, 1000)
    publish.run(made[-1], live)
    assert sorted(p.name for p in builds.iterdir()) == sorted(
        [*(b.name for b in made[2:]), other_city.name]
    )


def test_the_live_build_is_never_pruned(tmp_path: Path) -> None:
    builds, live = tmp_path / "public" / ".builds", tmp_path / "public" / "demo"
    oldest = make_build(builds, "demo-2026-11-01-live", "live")
    publish.run(oldest, live)
    age(oldest, 1000)
    for i in range(4):
        age(make_build(builds, f"demo-2026-11-1{i}-n{i}", str(i)), 100 - i)
    removed = publish.prune(builds, live)
    assert oldest.is_dir() and oldest not in removed
    assert len(removed) == 1 and removed[0].name == "demo-2026-11-10-n0"
    assert (live / "index.html").read_text() == "live"


def test_a_real_live_folder_is_moved_aside_not_deleted(tmp_path: Path) -> None:
    public = tmp_path / "public"
    live = public / "demo"
    live.mkdir(parents=True)
    (live / "index.html").write_text("hand-made site", encoding="utf-8")
    build = make_build(public / ".builds", "demo-2026-11-22-cccc", "rendered")
    publish.run(build, live)
    assert live.is_symlink() and (live / "index.html").read_text() == "rendered"
    legacy = public / ".builds" / "demo-legacy-1"
    assert (legacy / "index.html").read_text() == "hand-made site"


# --- killed at random points -----------------------------------------------------------------

WORKER = r"""
import itertools, os, sys
from pathlib import Path
from transforms import publish

public, releases = Path(sys.argv[1]), Path(sys.argv[2])
for i in itertools.count(int(sys.argv[3])):
    release = releases / ("2026-11-01", "2026-11-02")[i % 2]
    staging = public / ".builds" / f".demo-staging-{os.getpid()}"
    for n in range(12):  # a small site: nested pages that all name their build
        page = staging / "agency" / str(n) / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"build {i} of {release.name}")
    (staging / "index.html").write_text(f"build {i} of {release.name}")
    build = public / ".builds" / f"demo-{release.name}-b{i}"
    staging.rename(build)
    publish.run(build, public / "demo", release)
"""


def live_state(live: Path) -> set[str]:
    """What the live tree says about itself: one element when it is one build."""
    markers = {p.read_text() for p in live.rglob("*") if p.is_file()}
    release = publish.live_release(live)
    return {*markers, f"release {release.name if release else None}"}


def consistent(state: set[str]) -> bool:
    """Every page names the same build, and that build's release is the live release."""
    pages = {s for s in state if s.startswith("build ")}
    [release] = [s.removeprefix("release ") for s in state if s.startswith("release ")]
    return len(pages) == 1 and next(iter(pages)).endswith(f"of {release}")


def test_the_consistency_check_sees_a_mixed_tree(tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    (releases / "2026-11-01").mkdir(parents=True)
    build = make_build(
        tmp_path / "public" / ".builds", "demo-2026-11-01-x", "build 1 of 2026-11-01"
    )
    publish.run(build, tmp_path / "public" / "demo", releases / "2026-11-01")
    assert consistent(live_state(tmp_path / "public" / "demo"))
    (build / "other.html").write_text("build 2 of 2026-11-02")
    assert not consistent(live_state(tmp_path / "public" / "demo"))


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_the_live_site_old_or_new(tmp_path: Path) -> None:
    import random
    import signal
    import subprocess
    import sys

    public, releases = tmp_path / "public", tmp_path / "releases" / "demo"
    for day in ("2026-11-01", "2026-11-02"):
        (releases / day).mkdir(parents=True)
    first = make_build(public / ".builds", "demo-2026-11-02-first", "build -1 of 2026-11-02")
    publish.run(first, public / "demo", releases / "2026-11-02")
    rng = random.Random(9)
    seen, start = set(), 0
    for _ in range(24):
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(public), str(releases), str(start)],
            cwd=Path(__file__).resolve().parents[1],
        )
        try:
            worker.wait(timeout=rng.uniform(0.15, 0.6))
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        state = live_state(public / "demo")
        assert consistent(state), state
        seen |= state
        start += 1000  # build names of the next worker never collide with leftovers
    assert len({s for s in seen if s.startswith("build ")}) > 2  # the kills hit live swaps
    last = make_build(public / ".builds", "demo-2026-11-01-last", "build last of 2026-11-01")
    publish.run(last, public / "demo", releases / "2026-11-01")  # leftovers do not block it
    assert consistent(live_state(public / "demo"))
    assert not list(public.glob(".demo.publish-*"))


def test_republishing_the_live_build_changes_no_link(tmp_path: Path) -> None:
    builds, live = tmp_path / "public" / ".builds", tmp_path / "public" / "demo"
    release = tmp_path / "releases" / "demo" / "2026-11-22"
    release.mkdir(parents=True)
    build = make_build(builds, "demo-2026-11-22-aaaa", "page")
    publish.run(build, live, release)
    links = [live, build / publish.RELEASE_LINK]
    before = [(os.lstat(p).st_ino, os.lstat(p).st_mtime_ns) for p in links]
    publish.run(build, live, release)
    assert [(os.lstat(p).st_ino, os.lstat(p).st_mtime_ns) for p in links] == before
    newer = tmp_path / "releases" / "demo" / "2026-11-23"
    newer.mkdir()
    publish.run(build, live, newer)  # a link whose target changes is still swapped
    assert (live / publish.RELEASE_LINK).resolve() == newer.resolve()
