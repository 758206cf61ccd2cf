"""The storage root: where data, releases and the site live when many machines run the pipeline.

One value, AGENCYWATCH_STORAGE, names it. A plain path (or nothing: AGENCYWATCH_ROOT, else the
current directory) is used in place, as on one machine or on a shared network filesystem. A URL
(`s3://bucket/prefix`, `gs://…`, `file:///srv/agencywatch`, `memory://x`) is reached through
fsspec: a task copies the city's state into a private local folder, runs the stage there with the
same code as the CLI, and sends back only the files the stage added, changed or removed.

Why copy rather than have every stage read and write through fsspec: the stages use pandas,
Scrapy, Great Expectations and atomic renames and symlinks on local files; copying keeps them
unchanged and keeps a half-finished stage invisible to other machines until it is sent back.
Mapped crawl tasks of one run write disjoint files (raw/<source>.*), so sending back only what
changed lets them finish side by side without overwriting each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agencywatch.paths import output_root

STORAGE_ENV = "AGENCYWATCH_STORAGE"
Snapshot = dict[str, str]  # relative path → sha256 of the file, as pulled


def storage_url(url: str | None = None) -> str:
    """The configured storage root: the argument, AGENCYWATCH_STORAGE, else the output root."""
    return url or os.environ.get(STORAGE_ENV) or str(output_root())


def is_url(value: str) -> bool:
    """A URL goes through fsspec; a plain path (even a relative one) is used in place."""
    return "://" in value


@dataclass
class Storage:
    """An fsspec filesystem and the folder in it that stands for the output root."""

    url: str
    fs: Any = field(init=False, repr=False)
    base: str = field(init=False)

    def __post_init__(self) -> None:
        from fsspec.core import url_to_fs

        self.fs, base = url_to_fs(self.url)
        self.base = base.rstrip("/")

    def path(self, rel: str) -> str:
        return f"{self.base}/{rel}" if rel else self.base

    def rel(self, path: str) -> str:
        """A filesystem path (as listed, with or without a leading slash) relative to the base."""
        base = self.base.lstrip("/")
        return path.lstrip("/").removeprefix(base).lstrip("/")

    def files_under(self, rel: str) -> list[str]:
        """Relative paths of every file under a folder; none if the folder is missing."""
        full = self.path(rel)
        if not self.fs.exists(full):
            return []
        return sorted(self.rel(p) for p in self.fs.find(full, detail=False))

    def glob(self, pattern: str) -> list[str]:
        return sorted(self.rel(p) for p in self.fs.glob(self.path(pattern)))

    def read_bytes(self, rel: str) -> bytes | None:
        full = self.path(rel)
        return self.fs.cat_file(full) if self.fs.exists(full) else None

    def write_bytes(self, rel: str, data: bytes) -> None:
        full = self.path(rel)
        self.fs.makedirs(self.fs._parent(full), exist_ok=True)
        self.fs.pipe_file(full, data)

    def get(self, rel: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        self.fs.get_file(self.path(rel), str(local))

    def put(self, local: Path, rel: str) -> None:
        full = self.path(rel)
        self.fs.makedirs(self.fs._parent(full), exist_ok=True)
        self.fs.put_file(str(local), full)

    def remove(self, rel: str) -> None:
        if self.fs.exists(self.path(rel)):
            self.fs.rm_file(self.path(rel))


# --- what one city's tasks read and write --------------------------------------------------------


def city_prefixes(city: str) -> list[str]:
    """Folders holding one city's state; a task pulls them all and sends back what changed."""
    return [f"data/{city}", f"releases/{city}", "public/.builds"]


def pulled_files(storage: Storage, city: str) -> list[str]:
    """The city's own files, and every city's release manifests (the release index lists all)."""
    own = [
        rel
        for prefix in city_prefixes(city)
        for rel in storage.files_under(prefix)
        if not rel.startswith("public/.builds/") or _is_city_build(rel, city)
    ]
    manifests = storage.glob("releases/*/*/manifest.json")
    return sorted(set(own) | set(manifests))


def _is_city_build(rel: str, city: str) -> bool:
    return rel.split("/")[2].startswith(f"{city}-")


def pull(storage: Storage, local: Path, city: str) -> Snapshot:
    """Copy the city's state into local/ and return what it was, to tell changes apart later."""
    snapshot: Snapshot = {}
    for rel in pulled_files(storage, city):
        target = local / rel
        storage.get(rel, target)
        snapshot[rel] = sha256_of(target)
    return snapshot


def push(storage: Storage, local: Path, city: str, before: Snapshot) -> list[str]:
    """Send back files the task added or changed, remove those it deleted; the live site is
    mirrored whole. Returns the relative paths written or removed."""
    after = local_files(local, city)
    changed = [rel for rel, digest in after.items() if before.get(rel) != digest]
    for rel in changed:
        storage.put(local / rel, rel)
    removed = [rel for rel in before if rel not in after and _owned(rel, city)]
    for rel in removed:
        storage.remove(rel)
    return sorted(changed + removed + mirror_site(storage, local, city))


def _owned(rel: str, city: str) -> bool:
    """Other cities' manifests are pulled to index them, never removed by this city's task."""
    return rel.startswith((f"data/{city}/", f"releases/{city}/")) or (
        rel.startswith("public/.builds/") and _is_city_build(rel, city)
    )


def local_files(local: Path, city: str) -> Snapshot:
    """Every file of the city's state in a local root (the live-site symlink excluded)."""
    found: Snapshot = {}
    for prefix in city_prefixes(city):
        folder = local / prefix
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            rel = path.relative_to(local).as_posix()
            if path.is_file() and not path.is_symlink():
                if not rel.startswith("public/.builds/") or _is_city_build(rel, city):
                    found[rel] = sha256_of(path)
    for path in sorted((local / "releases").glob("*")):
        if path.is_file():
            found[path.relative_to(local).as_posix()] = sha256_of(path)
    return found


def mirror_site(storage: Storage, local: Path, city: str) -> list[str]:
    """After a publish, public/<city>/ in storage becomes a plain copy of the live build.

    Object storage has no symlinks and no atomic folder swap: files are written first and
    stale ones removed after, so a reader sees at worst the new pages next to a few old ones.
    """
    live = local / "public" / city
    if not live.exists():
        return []
    prefix, build = f"public/{city}", live.resolve()
    wanted = {  # links followed: the build's `release` link becomes public/<city>/release/
        f"{prefix}/{(Path(folder) / name).relative_to(build).as_posix()}": Path(folder) / name
        for folder, _, names in os.walk(build, followlinks=True)
        for name in sorted(names)
    }
    for rel, path in wanted.items():
        storage.put(path, rel)
    stale = [rel for rel in storage.files_under(prefix) if rel not in wanted]
    for rel in stale:
        storage.remove(rel)
    return sorted(wanted) + stale


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# --- the entry points the DAG tasks use ----------------------------------------------------------


@contextmanager
def city_root(city: str, url: str | None = None) -> Iterator[str]:
    """The output root a stage of `city` runs against, synced with the storage root around it.

    A plain path is yielded as it is. For a URL the stage gets a fresh local folder holding the
    city's state, and what it wrote is sent back even when it failed, as a failed stage leaves
    its files on a local disk: a failed gate's results must reach the run summary. Stages never
    replace a release or the live site until they are complete, so nothing half-made is sent.
    """
    url = storage_url(url)
    if not is_url(url):
        yield url
        return
    storage = Storage(url)
    with tempfile.TemporaryDirectory(prefix=f"agencywatch-{city}-") as tmp:
        local = Path(tmp)
        before = pull(storage, local, city)
        try:
            yield str(local)
        finally:
            push(storage, local, city, before)


def write_json(rel: str, obj: Any, url: str | None = None) -> str:
    """Write one JSON file under the storage root (a path or a URL); returns where it went."""
    text = json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n"
    url = storage_url(url)
    if not is_url(url):
        path = Path(url) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return str(path)
    storage = Storage(url)
    storage.write_bytes(rel, text.encode("utf-8"))
    return storage.path(rel)


def read_json(rel: str, url: str | None = None) -> Any | None:
    """One JSON file under the storage root, or None when it is not there."""
    url = storage_url(url)
    if not is_url(url):
        path = Path(url) / rel
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    data = Storage(url).read_bytes(rel)
    return json.loads(data) if data is not None else None


def portal_files(storage: Storage) -> list[str]:
    """What the portal and the province release read: every release manifest, each city's
    newest release, the run summaries, the portal's own pages and each city's home page (not
    the rest of the cities' sites)."""
    manifests = storage.glob("releases/*/*/manifest.json")
    newest: dict[str, str] = {}
    for rel in manifests:
        city_dir = rel.rsplit("/", 2)[0]
        newest[city_dir] = max(newest.get(city_dir, ""), rel.rsplit("/", 1)[0])
    releases = [f for folder in sorted(newest.values()) for f in storage.files_under(folder)]
    summaries = storage.glob("data/*/last-run.json")
    portal = [rel for rel in storage.glob("public/*") if storage.fs.isfile(storage.path(rel))]
    live = storage.glob("public/*/index.html")  # the portal marks a city live by its home page
    return sorted(set(manifests + releases + summaries + portal + live))


@contextmanager
def site_root(url: str | None = None) -> Iterator[Path]:
    """A local root for the portal DAG; what it adds or changes is sent back afterwards."""
    url = storage_url(url)
    if not is_url(url):
        yield Path(url)
        return
    storage = Storage(url)
    with tempfile.TemporaryDirectory(prefix="agencywatch-portal-") as tmp:
        local = Path(tmp)
        snapshot: Snapshot = {}
        for rel in portal_files(storage):
            storage.get(rel, local / rel)
            snapshot[rel] = sha256_of(local / rel)
        yield local
        for path in sorted(local.rglob("*")):
            rel = path.relative_to(local).as_posix()
            if path.is_file() and snapshot.get(rel) != sha256_of(path):
                storage.put(path, rel)
