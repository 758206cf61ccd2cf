"""What creating a file and a folder costs on the file system a benchmark writes to.

    python -m bench.fs_cost [--work DIR] [--files 2000]

A province's site is 200,000 files, so its render time depends on the file system as much as
on the renderer: on the machine BENCHMARKS.md was measured on, creating a file on the virtual
disk costs tens to hundreds of microseconds of kernel time, against a few on tmpfs. The
province and render benchmarks record this beside their figures (`file_system`), so a reader
can tell the renderer's share from the disk's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, discard, empty_trash, write_result

PAGE = b"x" * 16_384  # a median agency page is 8-18 KB
TMPFS = Path("/dev/shm")


def creation_cost(folder: Path, files: int = 2000, defer_delete: bool = True) -> dict[str, Any]:
    """Microseconds (wall, and kernel CPU) per folder made and per file written in folder.

    defer_delete: leave the files for empty_trash() (on the benchmark's own disk, where
    deleting them now would slow the run that follows)."""
    work = Path(tempfile.mkdtemp(prefix="aw-fs-", dir=folder))
    try:
        dirs = _timed(lambda i: os.mkdir(work / f"d{i}"), files)
        pages = _timed(lambda i: (work / f"p{i}.html").write_bytes(PAGE), files)
    finally:
        if defer_delete:
            discard(work)  # deleted with the bench's other leftovers, after its measured runs
        else:
            shutil.rmtree(work, ignore_errors=True)
    return {"folder": str(folder), "mkdir_us": dirs, "write_16kb_file_us": pages, **journal(folder)}


def journal(folder: Path) -> dict[str, Any]:
    """Whether folder is on ext4 without a journal, where deleting many files makes creating
    files slow for minutes after (bench.common.discard); {} when it cannot be told."""
    device = _mount_device(folder)
    ext4 = Path("/proc/fs/ext4") / device if device else None
    if ext4 is None or not ext4.is_dir():
        return {}
    return {"ext4_journal": any(Path("/proc/fs/jbd2").glob(f"{device}-*"))}


def _mount_device(folder: Path) -> str:
    """The block device name (vda, sda1) of the mount folder is on, by the longest mount point."""
    best, device = "", ""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    where = str(folder.resolve())
    for line in mounts:
        dev, point = line.split()[:2]
        inside = where == point or where.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, device = point, dev
    return device.removeprefix("/dev/").replace("/", "!") if device.startswith("/dev/") else ""


def _timed(op: Any, n: int) -> dict[str, float]:
    start, kernel = time.perf_counter(), os.times().system
    for i in range(n):
        op(i)
    wall, system = time.perf_counter() - start, os.times().system - kernel
    return {"wall": round(wall / n * 1e6, 1), "kernel_cpu": round(system / n * 1e6, 1)}


def file_systems(work: Path, files: int = 2000) -> dict[str, Any]:
    """The cost on the benchmark's work folder, and on tmpfs for comparison when there is one."""
    work.mkdir(parents=True, exist_ok=True)
    out = {"work": creation_cost(work, files)}
    if TMPFS.is_dir() and os.access(TMPFS, os.W_OK):
        out["tmpfs"] = creation_cost(TMPFS, files, defer_delete=False)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "aw-bench")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    figures = {"file_system": file_systems(args.work, args.files)}
    write_result("fs_cost", figures, args.results)
    empty_trash(args.work)
    return figures


if __name__ == "__main__":
    main()
