"""Manual import: an official export, dropped into a source's inbox by a person.

Sources behind captchas, logins or WAF challenges are never crawled around; a person downloads
the official export (CSV, XLSX, JSON, or the listing's pages saved as HTML) and imports it. The
file is checked with the very readers the crawl uses before it is accepted, then copied into
`data/<city>/inbox/<source>/`; the next run's crawl stage reads it there (crawlers.run) and the
same gates and normalization take it from there. Raw items of an import carry the url
`manual-import:<file name>`, so its provenance is plain and the site never links it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agencywatch.config import City, ConfigError
from agencywatch.paths import CityPaths

PARKED = "_replaced"  # earlier exports are moved here, never deleted (files under _ are not read)


@dataclass(frozen=True)
class Imported:
    """What an import did: the files now in the inbox, their record count, what was parked."""

    inbox: Path
    files: list[Path]
    rows: int
    parked: list[Path]


def import_export(
    city: City, source_id: str, files: list[Path], paths: CityPaths, add: bool = False
) -> Imported:
    """Check each file with the source's readers, then copy them into its inbox.

    Without `add` the import replaces the export in the inbox (an official export is a whole
    snapshot); earlier files are parked under `_replaced/<time>/`. Raises ConfigError for a
    source that is not `manual` and ValueError for a file the readers cannot read.
    """
    source = city.source(source_id)
    if source.kind != "manual":
        raise ConfigError(
            f"source {source_id!r} is crawled (kind {source.kind!r}); give the export its own "
            f'source with kind = "manual" and the same record_type, then import into that'
        )
    rows = sum(_checked_rows(city, source_id, f) for f in files)
    inbox = paths.inbox / source_id
    inbox.mkdir(parents=True, exist_ok=True)
    parked = [] if add else _park(inbox)
    copied = []
    for f in files:
        target = inbox / f.name
        shutil.copy2(f, target)  # keeps the file's time: when the export was downloaded
        copied.append(target)
    return Imported(inbox, copied, rows, parked)


def _checked_rows(city: City, source_id: str, path: Path) -> int:
    from crawlers.spiders.file_download import SUFFIXES, file_records

    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    source = city.source(source_id)
    fmt = SUFFIXES.get(path.suffix.lower()) or source.file_format
    if not fmt:
        raise ValueError(f"{path.name}: unknown export type (use .csv, .xlsx, .json or .html)")
    records = file_records(path.read_bytes(), source.model_copy(update={"file_format": fmt}))
    if not records:
        raise ValueError(f"{path.name}: no records found")
    return len(records)


def _park(inbox: Path) -> list[Path]:
    current = [p for p in inbox.iterdir() if p.is_file() and not p.name.startswith((".", "_"))]
    if not current:
        return []
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = inbox / PARKED / stamp
    folder.mkdir(parents=True)
    moved = []
    for p in sorted(current):
        moved.append(folder / p.name)
        p.rename(moved[-1])
    return moved
