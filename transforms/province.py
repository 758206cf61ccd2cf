"""The province release: every city's newest release joined into one set of tables.

A province-level reader (a provincial regulator, a journalist comparing cities) wants one file
per table, not one per city. The province release is derived only from the city releases it
names, with their manifest hashes, so it is as verifiable as they are; it is dated by the newest
city release it contains (no clock inside), so rebuilding it from the same releases gives the same
bytes, and it chains to the previous province release as the city releases do.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from transforms.csvsafe import write_csv
from transforms.release import (
    MANIFEST,
    SUMS,
    TABLES,
    sha256_file,
    write_index,
    write_parquet,
)

PROVINCE = "province"  # releases/province/: reserved, never a city slug
DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def latest_city_releases(releases_root: Path) -> dict[str, Path]:
    """Each city's newest complete release (one with a manifest), by city slug."""
    latest: dict[str, Path] = {}
    for city_dir in sorted(p for p in releases_root.iterdir() if p.is_dir()):
        if city_dir.name == PROVINCE or city_dir.name.startswith("."):
            continue
        dated = sorted(
            p for p in city_dir.iterdir() if DATE_DIR.match(p.name) and (p / MANIFEST).is_file()
        )
        if dated:
            latest[city_dir.name] = dated[-1]
    return latest


def combined_tables(releases: dict[str, Path]) -> dict[str, pd.DataFrame]:
    """Every released table with a leading `city` column, cities in slug order; a table an older
    release does not have yet is joined from the releases that have it."""
    out: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        frames = []
        for city, folder in sorted(releases.items()):
            if (folder / f"{name}.parquet").is_file():
                df = pd.read_parquet(folder / f"{name}.parquet")
                df.insert(0, "city", city)
                frames.append(df)
        if frames:
            out[name] = pd.concat(frames, ignore_index=True)
    return out


def run(root: Path) -> Path | None:
    """Write releases/province/<date>/ from every city's newest release; None if there is none."""
    releases_root = root / "releases"
    releases = latest_city_releases(releases_root) if releases_root.is_dir() else {}
    if not releases:
        return None
    date_str = max(folder.name for folder in releases.values())
    target = releases_root / PROVINCE / date_str
    staging = target.with_name(f".{date_str}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _write(staging, releases, date_str, _previous(releases_root / PROVINCE, date_str))
        old = target.with_name(f".{date_str}.old-{os.getpid()}")
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_index(releases_root)
    return target


def _previous(province_dir: Path, date_str: str) -> tuple[str, str] | None:
    if not province_dir.is_dir():
        return None
    earlier = sorted(
        p
        for p in province_dir.iterdir()
        if DATE_DIR.match(p.name) and p.name < date_str and (p / MANIFEST).is_file()
    )
    return (earlier[-1].name, sha256_file(earlier[-1] / MANIFEST)) if earlier else None


def _write(
    out: Path, releases: dict[str, Path], date_str: str, previous: tuple[str, str] | None
) -> None:
    for name, df in combined_tables(releases).items():
        write_csv(df, out / f"{name}.csv")
        write_parquet(df, out / f"{name}.parquet")
    files = {p.name: sha256_file(p) for p in sorted(out.iterdir())}
    (out / SUMS).write_text("".join(f"{h}  {n}\n" for n, h in files.items()), encoding="utf-8")
    files[SUMS] = sha256_file(out / SUMS)
    manifests = {city: _manifest(folder) for city, folder in releases.items()}
    manifest = {
        "city": PROVINCE,
        "date": date_str,
        "method_version": ",".join(sorted({m["method_version"] for m in manifests.values()})),
        "cities": [
            {
                "city": city,
                "date": folder.name,
                "manifest_sha256": sha256_file(folder / MANIFEST),
            }
            for city, folder in sorted(releases.items())
        ],
        "files": dict(sorted(files.items())),
        "previous_release": previous[0] if previous else None,
        "previous_manifest_sha256": previous[1] if previous else None,
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    (out / MANIFEST).write_text(text, encoding="utf-8")


def _manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
