"""Where each stage reads and writes. One place, so the CLI, tests and Airflow agree.

Outputs (data/, releases/, public/) are not source: they live under a root that defaults to the
current directory and is set with AGENCYWATCH_ROOT or --root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def output_root(root: str | Path | None = None) -> Path:
    if root is not None:
        return Path(root)
    return Path(os.environ.get("AGENCYWATCH_ROOT", "."))


@dataclass(frozen=True)
class CityPaths:
    """The files of one city under one output root (see docs/architecture.md)."""

    root: Path
    city: str

    @property
    def data(self) -> Path:
        return self.root / "data" / self.city

    @property
    def raw(self) -> Path:
        """raw/<source_id>.jsonl (last good crawl) and raw/<source_id>.crawl.json (its log)."""
        return self.data / "raw"

    @property
    def inbox(self) -> Path:
        """inbox/<source_id>/: official exports dropped in by hand (manual import)."""
        return self.data / "inbox"

    @property
    def clean(self) -> Path:
        """clean/<record_type>.parquet, written by normalize."""
        return self.data / "clean"

    @property
    def quarantine(self) -> Path:
        """quarantine.jsonl: records that could not be parsed, with the reason and place."""
        return self.data / "quarantine.jsonl"

    @property
    def resolved(self) -> Path:
        """resolved/agencies.parquet, events.parquet, unlinked.parquet."""
        return self.data / "resolved"

    @property
    def scored(self) -> Path:
        """scored/scores.parquet, reasons.parquet."""
        return self.data / "scored"

    @property
    def gates(self) -> Path:
        """gates/<gate>.json: Great Expectations validation results of the last run."""
        return self.data / "gates"

    @property
    def runs(self) -> Path:
        """runs/<run_id>.json: one run summary per run; last-run.json is the newest."""
        return self.data / "runs"

    @property
    def last_run(self) -> Path:
        return self.data / "last-run.json"

    @property
    def releases(self) -> Path:
        return self.root / "releases" / self.city

    def release(self, date_str: str) -> Path:
        return self.releases / date_str

    @property
    def public(self) -> Path:
        return self.root / "public"

    @property
    def site(self) -> Path:
        """public/<city>: the live site, a symlink swapped atomically on publish."""
        return self.public / self.city

    @property
    def builds(self) -> Path:
        """public/.builds/: rendered sites; the live symlink points at one of them."""
        return self.public / ".builds"


def city_paths(city: str, root: str | Path | None = None) -> CityPaths:
    return CityPaths(root=output_root(root), city=city)
