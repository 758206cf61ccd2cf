"""Release stage: dated, immutable, verifiable tables for people who download and cite.

A release is what journalists quote, so it must be byte-identical for the same inputs (no clock
inside), open cleanly in a Chinese-locale Excel (BOM), be harmless in a spreadsheet (no formula
cells from scraped text) and chain to the previous release (manifest hash), so that anyone can
prove a past release was not rewritten.
"""

from __future__ import annotations

import copy
import filecmp
import functools
import hashlib
import json
import os
import re
import shutil
import tomllib
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jinja2
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from agencywatch.config import City
from agencywatch.fingerprint import write_if_changed
from agencywatch.paths import CityPaths
from transforms import changes, feeds
from transforms.csvsafe import csv_pieces
from transforms.frames import sorted_rows

FIELDS_FILE = Path(__file__).with_name("lookups") / "release_fields.toml"
TABLES = ("agencies", "events", "reasons", "changes", "history")
SORT_KEYS = {
    "agencies": ["agency_id"],
    "events": ["agency_id", "event_date", "record_id"],
    "reasons": ["agency_id", "component", "code", "evidence"],
    "changes": ["scope", "list", "change", "agency_id"],
    "history": ["agency_id", "as_of"],
}
README_TEMPLATES = Path(__file__).resolve().parents[1] / "site" / "templates" / "release"
README_LANGUAGES = ("zh", "en")
SITE_LABELS = Path(__file__).with_name("lookups") / "site_labels.toml"
LICENSE = {
    "name": "CC-BY-4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
    "title": "Creative Commons Attribution 4.0 International",
}
DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"


def run(city: City, paths: CityPaths, as_of: date) -> Path:
    """Write releases/<city>/<as_of>/ (replacing a release of the same date) and the index."""
    date_str = as_of.isoformat()
    tables = released_tables(paths, as_of, city.scoring.method_version)
    target = paths.release(date_str)
    staging = paths.releases / f".{date_str}.tmp-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        _write_release(city, tables, staging, date_str, _previous_release(paths, date_str))
        _swap_in(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    write_index(paths.root / "releases")
    feeds.write_feeds(city, paths.releases)
    return target


def field_dictionary() -> dict[str, dict[str, Any]]:
    """The data dictionary (release_fields.toml): the columns and schema of each table."""
    return copy.deepcopy(_toml(FIELDS_FILE)["tables"])


def _toml(path: Path) -> dict[str, Any]:
    """A lookup file, parsed once per version of the file (a release reads each several times,
    a worker releases city after city)."""
    st = path.stat()
    return _parsed_toml(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _parsed_toml(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    with open(path, "rb") as f:
        return tomllib.load(f)


def released_tables(paths: CityPaths, as_of: date, method_version: str) -> dict[str, pd.DataFrame]:
    """The released tables, with exactly the dictionary's columns, typed and sorted."""
    agencies = pd.read_parquet(paths.resolved / "agencies.parquet")
    scores = pd.read_parquet(paths.scored / "scores.parquet")
    _require(scores, ["agency_id"], "scored/scores.parquet")
    scores = scores.drop(
        columns=[c for c in scores.columns if c in agencies.columns and c != "agency_id"]
    )
    joined = agencies.merge(scores, on="agency_id", how="left", validate="one_to_one")
    for col, default in (("method_version", method_version), ("as_of", as_of.isoformat())):
        if col not in joined.columns:
            joined[col] = pd.NA
        joined[col] = joined[col].astype(object).where(joined[col].notna(), default)
    raw = {
        "agencies": joined,
        "events": pd.read_parquet(paths.resolved / "events.parquet"),
        "reasons": pd.read_parquet(paths.scored / "reasons.parquet"),
    }
    spec = field_dictionary()
    out = {name: _shaped(raw[name], spec[name], name) for name in ("agencies", "events", "reasons")}
    date_str = as_of.isoformat()
    earlier = changes.release_folders(paths.releases, before=date_str)
    previous = changes.released_agencies(earlier[-1]) if earlier else None
    since = earlier[-1].name if earlier else None
    diff = changes.changes_table(previous, out["agencies"], date_str, since)
    history = changes.history_table(paths.releases, out["agencies"], date_str)
    out["changes"] = _shaped(diff, spec["changes"], "changes")
    out["history"] = _shaped(history, spec["history"], "history")
    return out


def _require(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks the contract columns {missing} (docs/architecture.md)")


def _shaped(df: pd.DataFrame, spec: dict[str, Any], name: str) -> pd.DataFrame:
    """Contract columns only, in dictionary order, with stable dtypes and a stable row order."""
    fields = spec["fields"]
    _require(df, [f["name"] for f in fields], name)
    out = pd.DataFrame({f["name"]: _typed(df[f["name"]], f["type"]) for f in fields})
    keys = SORT_KEYS[name]
    return sorted_rows(out, keys).reset_index(drop=True)  # stable, missing values last


def _typed(col: pd.Series, kind: str) -> pd.Series:
    if kind == "number":
        return pd.to_numeric(col, errors="raise").astype("float64")
    if kind == "boolean":
        return col.astype("boolean")
    if kind == "date":  # a timestamp at midnight is still that day
        return _text(col).str.slice(0, 10)
    return _text(col)


def _text(col: pd.Series) -> pd.Series:
    """Strings; dates and datetimes as ISO 8601 text so CSV and Parquet say the same."""
    if pd.api.types.is_datetime64_any_dtype(col):
        col = col.map(lambda v: v.isoformat().replace("+00:00", "Z"), na_action="ignore")
    elif col.dtype == object:
        col = col.map(lambda v: v.isoformat() if isinstance(v, date) else v, na_action="ignore")
    return col.astype("string")


def _write_release(
    city: City,
    tables: dict[str, pd.DataFrame],
    out: Path,
    date_str: str,
    previous: tuple[str, str] | None,
) -> None:
    written: dict[str, tuple[int, str]] = {}  # file name → (size, sha256) of what was written
    for name, df in tables.items():
        _write_pieces(out / f"{name}.csv", csv_pieces(df), written)
        _write_pieces(out / f"{name}.parquet", [parquet_bytes(df)], written)
    package = datapackage(city, tables, out, date_str, written)
    _write_pieces(out / "datapackage.json", [_json_bytes(package)], written)
    for lang, text in readme_texts(city, date_str).items():
        _write_pieces(out / f"README.{lang}.md", [text.encode("utf-8")], written)
    files = {p.name: _sha256(p, written) for p in sorted(out.iterdir())}
    (out / SUMS).write_text("".join(f"{h}  {n}\n" for n, h in files.items()), encoding="utf-8")
    files[SUMS] = sha256_file(out / SUMS)
    manifest = {
        "city": city.slug,
        "date": date_str,
        "method_version": city.scoring.method_version,
        "files": dict(sorted(files.items())),
        "previous_release": previous[0] if previous else None,
        "previous_manifest_sha256": previous[1] if previous else None,
    }
    _write_json(out / MANIFEST, manifest)


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Parquet without the index and with fixed settings, so equal frames give equal bytes."""
    path.write_bytes(parquet_bytes(df))


def parquet_bytes(df: pd.DataFrame) -> pa.Buffer:
    """The bytes write_parquet writes (a Parquet file's bytes do not depend on where it goes)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", compression_level=3, write_statistics=True)
    return sink.getvalue()


def _write_pieces(path: Path, pieces: list[Any], written: dict[str, tuple[int, str]]) -> None:
    """Write the byte pieces one after the other and note the file's size and sha256, so the
    checksums and the data package need not read the release back (180 MB for a province
    city)."""
    digest, size = hashlib.sha256(), 0
    with path.open("wb") as f:
        for piece in pieces:
            f.write(piece)
            digest.update(piece)
            size += memoryview(piece).nbytes
    written[path.name] = (size, digest.hexdigest())


def _sha256(path: Path, written: dict[str, tuple[int, str]]) -> str:
    """The file's sha256: noted when it was written, else read."""
    return written[path.name][1] if path.name in written else sha256_file(path)


def _write_json(path: Path, obj: Any) -> None:
    path.write_bytes(_json_bytes(obj))


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def datapackage(
    city: City,
    tables: dict[str, pd.DataFrame],
    folder: Path,
    date_str: str,
    written: dict[str, tuple[int, str]] | None = None,
) -> dict[str, Any]:
    """A Frictionless Data Package describing the files already written in folder
    (`written`: the size and sha256 of those noted as they were written)."""
    spec = field_dictionary()
    city_en = city.name_en or city.slug
    facts = written or {}
    resources = [_csv_resource(n, spec[n], tables[n], folder, facts) for n in TABLES]
    resources += [_parquet_resource(n, spec[n], folder, facts) for n in TABLES]
    return {
        "profile": "data-package",
        "name": f"agencywatch-{city.slug}-{date_str}",
        "title": f"催收机构信用观察 · {city.name} · {date_str} / AgencyWatch · {city_en} · {date_str}",
        "description": (
            f"{city.name}催收机构的公开记录、评分与名单（评分方法 {city.scoring.method_version}）。"
            "白名单不代表推荐。 / "
            f"Public records, scores and lists of debt-collection agencies in {city_en} "
            f"(method {city.scoring.method_version}). The whitelist is not an endorsement."
        ),
        "version": date_str,
        "licenses": [LICENSE],
        "sources": _sources(city),
        "homepage": city.contact_url,
        "resources": resources,
    }


def _sources(city: City) -> list[dict[str, str]]:
    out = []
    for s in city.sources:
        entry = {"title": f"{s.title} / {s.title_en}" if s.title_en else s.title}
        if s.url:
            entry["path"] = urljoin(city.base_url, s.url) if city.base_url else s.url
        out.append(entry)
    return out


def _file_facts(path: Path, written: dict[str, tuple[int, str]]) -> dict[str, Any]:
    size, digest = written.get(path.name) or (path.stat().st_size, sha256_file(path))
    return {"bytes": size, "hash": f"sha256:{digest}"}


def _csv_resource(
    name: str, spec: dict[str, Any], df: pd.DataFrame, folder: Path, written: dict
) -> dict:
    schema: dict[str, Any] = {"fields": [_schema_field(f, df[f["name"]]) for f in spec["fields"]]}
    if spec.get("primary_key"):
        schema["primaryKey"] = spec["primary_key"]
    if spec.get("foreign_keys"):
        schema["foreignKeys"] = [
            {
                "fields": fk["fields"],
                "reference": {"resource": fk["resource"], "fields": fk["reference"]},
            }
            for fk in spec["foreign_keys"]
        ]
    return {
        "name": name,
        "type": "table",
        "path": f"{name}.csv",
        "scheme": "file",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8-sig",
        "title": f"{spec['title_zh']} / {spec['title_en']}",
        "description": f"{spec['description_zh']} / {spec['description_en']}",
        **_file_facts(folder / f"{name}.csv", written),
        "schema": schema,
    }


def _parquet_resource(name: str, spec: dict[str, Any], folder: Path, written: dict) -> dict:
    return {
        "name": f"{name}-parquet",
        "type": "file",
        "path": f"{name}.parquet",
        "scheme": "file",
        "format": "parquet",
        "mediatype": "application/vnd.apache.parquet",
        "title": f"{spec['title_zh']}（Parquet）/ {spec['title_en']} (Parquet)",
        "description": f"Same rows and columns as {name}.csv.",
        **_file_facts(folder / f"{name}.parquet", written),
    }


def _schema_field(field: dict[str, Any], col: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": field["name"],
        "type": _auto_type(col) if field["type"] == "auto" else field["type"],
        "title": f"{field['title_zh']} / {field['title_en']}",
    }
    if field.get("description_en"):
        out["description"] = field["description_en"]
    constraints = {k: field[k] for k in ("required", "enum") if k in field}
    if constraints:
        out["constraints"] = constraints
    return out


def _auto_type(col: pd.Series) -> str:
    """date or datetime when every value is one, else string: upstream may send either.
    Each distinct value is looked at once (dates repeat over a city's 300,000 events)."""
    values = pd.Series(col.dropna().astype(str).unique())  # the same dtype, so the same regex
    if values.empty:
        return "string"
    if values.str.fullmatch(ISO_DATE).all():
        return "date"
    if values.str.fullmatch(ISO_DATETIME).all():
        return "datetime"
    return "string"


def previous_manifest_sha256(paths: CityPaths, date_str: str) -> str | None:
    """Hash of the newest earlier release's manifest: the link that makes releases a chain."""
    previous = _previous_release(paths, date_str)
    return previous[1] if previous else None


def _previous_release(paths: CityPaths, date_str: str) -> tuple[str, str] | None:
    """(date, manifest sha256) of the newest earlier release, if any."""
    earlier = changes.release_folders(paths.releases, before=date_str)
    return (earlier[-1].name, sha256_file(earlier[-1] / MANIFEST)) if earlier else None


def _swap_in(staging: Path, target: Path) -> None:
    """Replace target by staging; the old folder is only removed once the new one is in place.

    A file whose bytes did not change keeps its inode and mtime (the staged copy is replaced by
    a hard link to the published one), and when no file changed the folder is left as it is:
    a rerun must not look like a new release to mirrors, caches and `rsync`.
    """
    if not target.exists():
        staging.rename(target)
        return
    if _link_unchanged(staging, target):
        shutil.rmtree(staging)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if old.exists():
        shutil.rmtree(old)
    target.rename(old)
    staging.rename(target)
    shutil.rmtree(old)


def _link_unchanged(staging: Path, target: Path) -> bool:
    """Hard-link each staged file that equals the published one; True when all of them do and
    the folders hold the same names (nothing to publish)."""
    staged = {p.name for p in staging.iterdir()}
    unchanged = 0
    for name in sorted(staged):
        new, published = staging / name, target / name
        if not (new.is_file() and published.is_file() and not published.is_symlink()):
            continue
        if not filecmp.cmp(new, published, shallow=False):
            continue
        tmp = staging / f".{name}.link"
        try:
            os.link(published, tmp)
        except OSError:  # a filesystem without hard links: the staged copy stays
            continue
        os.replace(tmp, new)
        unchanged += 1
    return unchanged == len(staged) and staged == {p.name for p in target.iterdir()}


def write_index(releases_root: Path) -> Path:
    """releases/index.json: every release of every city, sorted, for machines to poll."""
    entries = []
    for manifest_path in sorted(releases_root.glob("*/*/" + MANIFEST)):
        folder = manifest_path.parent
        if not DATE_DIR.match(folder.name):
            continue
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries.append(
            {
                "city": manifest["city"],
                "date": manifest["date"],
                "path": f"{folder.parent.name}/{folder.name}",
                "method_version": manifest["method_version"],
                "manifest_sha256": sha256_file(manifest_path),
            }
        )
    entries.sort(key=lambda e: (e["city"], e["date"]))
    index = releases_root / "index.json"
    write_if_changed(index, _json_bytes({"releases": entries}))  # machines poll it: no new mtime
    return index


class MarkdownSafe(str):
    """Text the README templates built themselves (code spans), passed through as is."""


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~])")
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def markdown_text(value: object) -> str:
    """Any value as one line of inert Markdown: no HTML, links, code or line breaks from data."""
    if isinstance(value, MarkdownSafe):
        return value
    if value is None:
        return ""
    return MARKDOWN_SPECIAL.sub(r"\\\1", CONTROL.sub(" ", str(value)))


def code_span(value: object) -> MarkdownSafe:
    """A Markdown code span of value, which cannot be closed early by a backtick in it."""
    return MarkdownSafe("`" + CONTROL.sub(" ", str(value)).replace("`", "'") + "`")


def readme_environment() -> jinja2.Environment:
    """Jinja for Markdown: no HTML autoescape (it is not HTML), every value made inert instead."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(README_TEMPLATES),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=markdown_text,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["code"] = code_span
    return env


@functools.cache
def _readme_environment() -> jinja2.Environment:
    """One environment per process: its templates are compiled once (and again only when a
    template file changes), not once per city."""
    return readme_environment()


def readme_texts(city: City, date_str: str) -> dict[str, str]:
    """README.<lang>.md of a release: files, columns, lists, citing, verifying, licence."""
    labels = _toml(SITE_LABELS)
    spec = field_dictionary()
    context = {
        "city": city,
        "city_en": city.name_en or city.slug,
        "date": date_str,
        "method": city.scoring,
        "tables": [{"name": n, **spec[n]} for n in TABLES],
        "lists": [
            {
                "key": key,
                "zh": names[0],
                "en": names[-1],
                "meaning_zh": labels.get("list_meaning", {}).get(key, [""])[0],
                "meaning_en": labels.get("list_meaning", {}).get(key, [""])[-1],
            }
            for key, names in labels.get("lists", {}).items()
        ],
        "license": LICENSE,
        "sources": _sources(city),
    }
    env = _readme_environment()
    return {
        lang: env.get_template(f"README.{lang}.md.j2").render(**context)
        for lang in README_LANGUAGES
    }


def site_model(release_dir: Path) -> dict[str, Any]:
    """What the downloads and changes pages show: every release up to this one (newest first)
    with its files, sizes, checksums and change summary; the feeds; this release's changes."""
    folders = [f for f in changes.release_folders(release_dir.parent) if f.name <= release_dir.name]
    current = release_dir / "changes.parquet"
    rows = pd.read_parquet(current) if current.is_file() else pd.DataFrame()
    released_ids = set(pd.read_parquet(release_dir / "agencies.parquet")["agency_id"])
    change_rows = [
        {**r, "has_page": r["agency_id"] in released_ids}
        for r in rows.astype(object).where(rows.notna(), None).to_dict("records")
    ]
    releases = [_release_view(f) for f in reversed(folders)]
    return {
        "releases": releases,
        "feeds": feeds.feed_files(),
        "changes": change_rows,
        "changes_since": releases[0]["previous_release"] if releases else None,
    }


def _release_view(folder: Path) -> dict[str, Any]:
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    hashes = {**manifest.get("files", {}), MANIFEST: sha256_file(folder / MANIFEST)}
    files = [
        {"name": n, "bytes": (folder / n).stat().st_size, "sha256": h}
        for n, h in sorted(hashes.items())
        if (folder / n).is_file()
    ]
    diff = folder / "changes.parquet"
    return {
        "date": folder.name,
        "method_version": manifest.get("method_version"),
        "previous_release": manifest.get("previous_release"),
        "manifest_sha256": hashes[MANIFEST],
        "files": files,
        "bytes": sum(f["bytes"] for f in files),
        "summary": changes.change_summary(pd.read_parquet(diff)) if diff.is_file() else None,
    }


def copy_into_site(release_dir: Path, out: Path) -> None:
    """Every release up to this one under out/downloads/<date>/, and the feeds under out/feeds/."""
    for folder in changes.release_folders(release_dir.parent):
        if folder.name > release_dir.name:
            continue
        target = out / "downloads" / folder.name
        target.mkdir(parents=True, exist_ok=True)
        for f in folder.iterdir():
            if f.is_file():
                shutil.copy2(f, target / f.name)
    feed_dir = release_dir.parent / feeds.FEEDS_DIR
    if feed_dir.is_dir():
        shutil.copytree(feed_dir, out / feeds.FEEDS_DIR, dirs_exist_ok=True)
