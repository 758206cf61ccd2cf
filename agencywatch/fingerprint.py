"""Input fingerprints: may a stage reuse what its last successful run left, instead of running?

A daily run whose sources did not change would otherwise redo every stage and write the same
bytes again (issue 8: a no-change rerun costs at most a tenth of a full run and rewrites no
published file). Each skippable stage hashes what it reads (raw files or the previous stage's
outputs, the city config and corrections, the run date where it matters, and the code, lookups
and suites that run) into one fingerprint. After a success it records that fingerprint with its
result and the digests of the files it wrote, in `data/<city>/fingerprints/<stage>.json`. A
later run with the same fingerprint reuses the result, but only while those files are still the
ones it wrote: a failed run in between, a hand edit or a lost file makes it run again. Digests,
not mtimes, because storage copies (agencywatch/storage.py) do not keep mtimes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from agencywatch.config import City
from agencywatch.paths import CityPaths

PROJECT_DIR = Path(__file__).resolve().parents[1]
CODE_GLOBS = (
    "agencywatch/**/*.py",
    "transforms/**/*.py",
    "expectations/**/*.py",
    "transforms/lookups/*.toml",
    "expectations/suites/*.json",
    "site/templates/release/*",
)
LIBRARIES = ("pandas", "pyarrow", "numpy", "great_expectations", "opencc", "python-stdnum",
             "rapidfuzz", "jinja2")  # fmt: skip
RECORDS_DIR = "fingerprints"
REUSE_ENV = "AGENCYWATCH_REUSE"  # "0": every stage runs in full (an operator's escape hatch)

_digests: dict[tuple[str, int, int, int], str] = {}


def file_digest(path: Path) -> str | None:
    """sha256 of a file's bytes (None when it does not exist), hashed once per process per
    version of the file: the raw gate and normalize read the same raw files."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _digests:
        with path.open("rb") as f:
            _digests[key] = hashlib.file_digest(f, "sha256").hexdigest()
    return _digests[key]


def files_digests(files: list[Path], base: Path) -> dict[str, str | None]:
    """{path relative to base: sha256}, for the files a stage read or wrote."""
    return {_rel(p, base): file_digest(p) for p in sorted(files)}


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def files_in(folder: Path, pattern: str = "*") -> list[Path]:
    """The files directly in folder matching pattern (none when the folder is missing)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))


@cache
def code_digest() -> str:
    """The code, lookups, suites and release templates that run, and the library versions:
    a change to any of them may change every output."""
    h = hashlib.sha256()
    for pattern in CODE_GLOBS:
        for path in sorted(PROJECT_DIR.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(f"{path.relative_to(PROJECT_DIR)}\0{file_digest(path)}\n".encode())
    h.update(sys.version.encode())
    for name in LIBRARIES:
        h.update(f"{name}={library_version(name)}\n".encode())
    return h.hexdigest()


def library_version(distribution: str) -> str:
    """The installed version, or "absent": an upgrade must invalidate what the library made."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def config_digest(city: City) -> str:
    """The city config as validated (defaults included) and its reviewed corrections file."""
    from transforms.corrections import corrections_path

    corrections = file_digest(corrections_path(city))
    text = city.model_dump_json() + f"\ncorrections={corrections}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fingerprint(parts: dict[str, Any]) -> str:
    """One digest of everything a stage's result depends on (canonical JSON of the parts)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_path(paths: CityPaths, stage: str) -> Path:
    return paths.data / RECORDS_DIR / f"{stage}.json"


def reuse_enabled() -> bool:
    return os.environ.get(REUSE_ENV, "1") != "0"


def reusable(
    paths: CityPaths, stage: str, inputs: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[str]]:
    """(the last successful run's record of stage, []) when it had these inputs and every file
    it wrote is still as it wrote it; else (None, why the stage must run: the inputs that
    changed, "outputs" or "no record"), which the stage record keeps for whoever wonders."""
    if not reuse_enabled():
        return None, [f"{REUSE_ENV}=0"]
    try:
        record = json.loads(record_path(paths, stage).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None, ["no record"]
    if record.get("fingerprint") != fingerprint(inputs):
        before = record.get("inputs") or {}
        changed = sorted(k for k in {*before, *inputs} if before.get(k) != inputs.get(k))
        return None, changed or ["inputs"]
    outputs: dict[str, str | None] = record.get("outputs") or {}
    for rel, digest in outputs.items():  # None: the stage left no such file, and still none
        if file_digest(paths.root / rel) != digest:
            return None, ["outputs"]
    return record, []


def remember(
    paths: CityPaths,
    stage: str,
    inputs: dict[str, Any],
    run_id: str,
    result: dict[str, Any],
    outputs: list[Path],
) -> dict[str, Any]:
    """Record a successful run of stage: its inputs and their fingerprint, its result and the
    digests of the files it wrote."""
    record = {
        "stage": stage,
        "fingerprint": fingerprint(inputs),
        "run_id": run_id,
        "inputs": inputs,
        "result": result,
        "outputs": files_digests(outputs, paths.root),
    }
    path = record_path(paths, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str), "utf-8")
    os.replace(tmp, path)
    return record


def forget(paths: CityPaths, stage: str) -> None:
    """Drop stage's record before it runs again: a run that fails half-way leaves none."""
    record_path(paths, stage).unlink(missing_ok=True)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write data to path (atomically, via a rename) unless the file already holds exactly
    these bytes; True when written. A rerun then leaves published files, their mtimes and
    inodes alone, so mirrors and caches see no change."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True
