"""Check a release and the chain of releases before it, as a reader holding the files would.

A release is trusted because anyone can recompute it: every file's SHA-256 is in manifest.json
(and SHA256SUMS), and each manifest holds the hash of the previous release's manifest, so
rewriting any past file breaks a link that later releases (and releases/index.json) pinned.
The first file or release that does not match is named, because "something is wrong" does not
help a journalist decide what they can still cite.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
INDEX = "index.json"
DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Finding:
    """The first thing that did not match: which release, which file (if one), and how."""

    release: str
    file: str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.release}/{self.file}" if self.file else self.release
        return f"{where}: {self.problem}"


@dataclass
class Verification:
    """The releases checked, newest first, and the first finding (None when all match)."""

    checked: list[str] = field(default_factory=list)
    finding: Finding | None = None

    @property
    def ok(self) -> bool:
        return self.finding is None


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def verify_chain(release_dir: Path) -> Verification:
    """Verify release_dir, then every release its manifests chain back to."""
    result = Verification()
    folder = release_dir.resolve()
    finding = _index_mismatch(folder)
    while finding is None:
        manifest, finding = _checked_release(folder)
        if finding is not None or manifest is None:
            break
        result.checked.append(folder.name)
        previous_hash = manifest.get("previous_manifest_sha256")
        if not previous_hash:
            break
        folder, finding = _previous_folder(folder, manifest, previous_hash)
    result.finding = finding
    return result


def verify_release(release_dir: Path) -> Finding | None:
    """The first file of one release that does not match its manifest, or None."""
    return _checked_release(release_dir.resolve())[1]


def _checked_release(folder: Path) -> tuple[dict[str, Any] | None, Finding | None]:
    name = folder.name
    if not folder.is_dir():
        return None, Finding(name, None, "release folder not found")
    manifest, finding = _manifest(folder)
    if finding is not None:
        return None, finding
    files: dict[str, str] = manifest.get("files") or {}
    for file_name in sorted(files):
        finding = _file_mismatch(folder, file_name, files[file_name])
        if finding is not None:
            return manifest, finding
    unlisted = sorted(
        p.name for p in folder.iterdir() if p.name not in files and p.name != MANIFEST
    )
    if unlisted:
        return manifest, Finding(name, unlisted[0], "file not listed in manifest.json")
    return manifest, _sums_mismatch(folder, files) or _package_mismatch(folder)


def _manifest(folder: Path) -> tuple[dict[str, Any], Finding | None]:
    path = folder / MANIFEST
    if not path.is_file():
        return {}, Finding(folder.name, MANIFEST, "missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return {}, Finding(folder.name, MANIFEST, f"not valid JSON ({e})")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return {}, Finding(folder.name, MANIFEST, "has no files table")
    return manifest, None


def _file_mismatch(folder: Path, name: str, expected: str) -> Finding | None:
    path = folder / name
    if "/" in name or "\\" in name or name.startswith("."):
        return Finding(folder.name, name, "not a plain file name")
    if not path.is_file():
        return Finding(folder.name, name, "listed in manifest.json but missing")
    actual = sha256_file(path)
    if actual != expected:
        return Finding(folder.name, name, f"sha256 {actual} differs from manifest.json {expected}")
    return None


def _sums_mismatch(folder: Path, files: dict[str, str]) -> Finding | None:
    """SHA256SUMS must say what manifest.json says about every other file."""
    path = folder / SUMS
    if not path.is_file():
        return Finding(folder.name, SUMS, "missing")
    listed: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    expected = {n: h for n, h in files.items() if n != SUMS}
    for name in sorted(expected.keys() | listed.keys()):
        if listed.get(name) != expected.get(name):
            return Finding(folder.name, SUMS, f"line for {name} differs from manifest.json")
    return None


def _package_mismatch(folder: Path) -> Finding | None:
    """datapackage.json's bytes and hash per resource, as `frictionless validate` reads them."""
    path = folder / "datapackage.json"
    if not path.is_file():
        return None
    package = json.loads(path.read_text(encoding="utf-8"))
    for res in package.get("resources", []):
        target = folder / str(res.get("path", ""))
        if not target.is_file():
            return Finding(folder.name, res.get("path"), "named in datapackage.json but missing")
        stated = str(res.get("hash", "")).removeprefix("sha256:")
        if res.get("bytes") != target.stat().st_size or stated != sha256_file(target):
            return Finding(folder.name, target.name, "bytes or hash differ from datapackage.json")
    return None


def _previous_folder(
    folder: Path, manifest: dict[str, Any], expected: str
) -> tuple[Path, Finding | None]:
    """The release a manifest links to, and a finding when it is gone or was rewritten."""
    date = manifest.get("previous_release") or _newest_before(folder)
    if not date:
        return folder, Finding(folder.name, MANIFEST, "links to a previous release that is gone")
    previous = folder.parent / str(date)
    path = previous / MANIFEST
    if not path.is_file():
        return previous, Finding(str(date), MANIFEST, f"missing (linked from {folder.name})")
    actual = sha256_file(path)
    if actual != expected:
        return previous, Finding(
            str(date),
            MANIFEST,
            f"sha256 {actual} differs from previous_manifest_sha256 {expected} "
            f"recorded by {folder.name}: the chain is broken here",
        )
    return previous, None


def _newest_before(folder: Path) -> str | None:
    """For manifests that name only the hash: the newest dated sibling before folder."""
    earlier = sorted(
        p.name
        for p in folder.parent.iterdir()
        if DATE_DIR.match(p.name) and p.name < folder.name and (p / MANIFEST).is_file()
    )
    return earlier[-1] if earlier else None


def _index_mismatch(folder: Path) -> Finding | None:
    """releases/index.json pins the newest manifests; a rewritten one shows up there."""
    index = folder.parent.parent / INDEX
    if not index.is_file() or not (folder / MANIFEST).is_file():
        return None
    try:
        entries = json.loads(index.read_text(encoding="utf-8")).get("releases", [])
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Finding(folder.name, None, f"{index} is not valid JSON")
    wanted = f"{folder.parent.name}/{folder.name}"
    for entry in entries:
        if entry.get("path") == wanted and entry.get("manifest_sha256") != sha256_file(
            folder / MANIFEST
        ):
            return Finding(folder.name, MANIFEST, "sha256 differs from releases/index.json")
    return None
