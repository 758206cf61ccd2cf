"""Atom feeds of list entries and exits, per city and per list, rebuilt from the releases.

A journalist subscribes once and hears of every agency that enters or leaves the blacklist.
Feeds are recomputed from every release's changes table, so they hold no state of their own:
ids are tag URIs built from the city, the release date, the list and the agency (stable across
rebuilds), and every timestamp is midnight of a release date in the city's timezone, never the
clock, so the same releases always give the same bytes.
"""

from __future__ import annotations

import io
import re
import tomllib
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pandas as pd

from agencywatch.config import City
from agencywatch.fingerprint import write_if_changed
from transforms.changes import release_folders

ATOM = "http://www.w3.org/2005/Atom"
FEEDS_DIR = "feeds"
CITY_FEED = "changes"
MAX_ENTRIES = 200
TAG_DATE = "2026"  # the tag URI's date: fixed, so ids never change
SAFE_ID = re.compile(r"[0-9A-Za-z-]+")
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
LABELS_FILE = Path(__file__).with_name("lookups") / "site_labels.toml"
FIELDS_FILE = Path(__file__).with_name("lookups") / "release_fields.toml"
VERBS = {"ADD": ("进入", "Entered"), "DEL": ("离开", "Left")}


def list_keys() -> list[str]:
    """The lists a feed can be about: the enum of changes.csv's list column."""
    with FIELDS_FILE.open("rb") as f:
        fields = tomllib.load(f)["tables"]["changes"]["fields"]
    return next(f["enum"] for f in fields if f["name"] == "list")


def feed_files() -> list[dict[str, str | None]]:
    """Every feed's file name and the list it follows (None for the whole city)."""
    return [{"list": None, "file": f"{CITY_FEED}.atom"}] + [
        {"list": key, "file": f"{key}.atom"} for key in list_keys()
    ]


def write_feeds(city: City, city_releases: Path) -> list[Path]:
    """releases/<city>/feeds/*.atom from every release's changes table."""
    rows = list_changes(city_releases, limit=MAX_ENTRIES)
    releases = [p.name for p in release_folders(city_releases)]
    latest = releases[-1] if releases else None
    out = city_releases / FEEDS_DIR
    out.mkdir(parents=True, exist_ok=True)
    labels = _list_labels()
    written = []
    for spec in feed_files():
        key = spec["list"]
        chosen = [r for r in rows if key is None or r["list"] == key]
        feed = atom_feed(city, key, chosen[:MAX_ENTRIES], latest, labels)
        written.append(_write_xml(feed, out / str(spec["file"])))
    return written


def list_changes(city_releases: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Entries into and exits from lists across all releases, newest release first.

    With `limit`, only the rows a feed of that many entries can show: the first `limit` of
    all, and the first `limit` of each list (a first release lists every agency).
    """
    frames = [
        pd.read_parquet(folder / "changes.parquet")
        for folder in release_folders(city_releases)
        if (folder / "changes.parquet").is_file()
    ]
    if not frames:
        return []
    df = pd.concat(frames, ignore_index=True)
    df = df[df["scope"] == "list"]
    df = df.sort_values(
        ["as_of", "list", "change", "agency_id"],
        ascending=[False, True, True, True],
        kind="mergesort",
    )
    if limit is not None:
        first = pd.Series(range(len(df)), index=df.index) < limit
        df = df[first.to_numpy() | (df.groupby("list", sort=False).cumcount() < limit).to_numpy()]
    return df.astype(object).where(df.notna(), None).to_dict("records")


def _list_labels() -> dict[str, list[str]]:
    with LABELS_FILE.open("rb") as f:
        return tomllib.load(f).get("lists", {})


def atom_feed(
    city: City,
    list_key: str | None,
    rows: list[dict[str, Any]],
    latest: str | None,
    labels: dict[str, list[str]],
) -> ET.Element:
    """An Atom 1.0 feed element (RFC 4287) of list entries and exits."""
    name = f"{list_key or CITY_FEED}.atom"
    zh, en = labels.get(list_key, [list_key, list_key]) if list_key else ("名单", "lists")
    feed = ET.Element("feed", {"xmlns": ATOM, "xml:lang": "zh-CN"})
    _text(feed, "id", f"{_tag(city)}{city.slug}/feeds/{list_key or CITY_FEED}")
    _text(feed, "title", f"{city.name} · {zh}变动 / {city.name_en or city.slug} · {en} changes")
    updated = rows[0]["as_of"] if rows else latest
    _text(feed, "updated", release_time(city, updated or "1970-01-01"))
    author = ET.SubElement(feed, "author")
    _text(author, "name", "催收机构信用观察 AgencyWatch")
    if urlsplit(city.contact_url).scheme in ("http", "https"):
        _text(author, "uri", city.contact_url)
    ET.SubElement(feed, "link", {"rel": "self", "type": "application/atom+xml", "href": name})
    ET.SubElement(
        feed, "link", {"rel": "alternate", "type": "text/html", "href": "../changes.html"}
    )
    _text(feed, "rights", "CC-BY-4.0")
    for row in rows:
        feed.append(atom_entry(city, row, labels))
    return feed


def atom_entry(city: City, row: dict[str, Any], labels: dict[str, list[str]]) -> ET.Element:
    verb_zh, verb_en = VERBS[row["change"]]
    list_zh, list_en = labels.get(row["list"], [row["list"], row["list"]])
    entry = ET.Element("entry")
    _text(
        entry,
        "id",
        f"{_tag(city)}{city.slug}/{row['as_of']}/{row['list']}/{row['change']}/{row['agency_id']}",
    )
    name = row.get("name") or row["agency_id"]
    _text(entry, "title", f"{verb_zh}{list_zh}：{name} / {verb_en} {list_en}: {name}")
    _text(entry, "updated", release_time(city, row["as_of"]))
    if SAFE_ID.fullmatch(str(row["agency_id"])):
        href = f"../agency/{row['agency_id']}.html"
        ET.SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": href})
    ET.SubElement(entry, "category", {"term": f"{row['list']}-{row['change'].lower()}"})
    _text(entry, "content", _content(row), {"type": "text"})
    return entry


def _content(row: dict[str, Any]) -> str:
    before, after = _score(row.get("score_before")), _score(row.get("score_after"))
    lines = [
        f"{row.get('list_reason_zh') or ''}",
        f"{row.get('list_reason_en') or ''} ({row.get('list_reason_code') or ''})",
        f"评分 / score: {before} → {after}",
        f"发布 / release: {row['as_of']}"
        + (f" (since {row['since']})" if row.get("since") else ""),
    ]
    return "\n".join(line for line in lines if line.strip())


def _score(value: object) -> str:
    return "–" if value is None else f"{float(value):.1f}"  # type: ignore[arg-type]


def release_time(city: City, day: str) -> str:
    """Midnight of a release date in the city's timezone, as RFC 3339."""
    moment = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(city.timezone))
    return moment.isoformat()


def _tag(city: City) -> str:
    host = urlsplit(city.contact_url).hostname or "agencywatch.invalid"
    return f"tag:{host},{TAG_DATE}:"


def _text(parent: ET.Element, tag: str, text: str, attrs: dict[str, str] | None = None) -> None:
    ET.SubElement(parent, tag, attrs or {}).text = NOT_XML.sub("", text)


def _write_xml(feed: ET.Element, path: Path) -> Path:
    """The feed's file, written only when its bytes change: readers poll it with If-Modified-Since."""
    tree = ET.ElementTree(feed)
    ET.indent(tree)
    buffer = io.BytesIO()
    tree.write(buffer, encoding="utf-8", xml_declaration=True)
    write_if_changed(path, buffer.getvalue())
    return path
