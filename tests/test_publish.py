"""Publish: the live symlink switches in one rename and old builds are pruned."""

from __future__ import annotations

import os
import time
from pathlib import Path

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
