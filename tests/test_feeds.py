"""Atom feeds of list entries and exits: valid Atom 1.0, stable ids, dates from releases."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.test_release import DATES, fictional_city, release_chain
from transforms import feeds

NS = {"a": "http://www.w3.org/2005/Atom"}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


@pytest.fixture(scope="module")
def feed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, paths, _ = release_chain(tmp_path_factory.mktemp("feeds"))
    return paths.releases / "feeds"


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def test_one_feed_per_city_and_per_list(feed_dir: Path) -> None:
    assert sorted(p.name for p in feed_dir.iterdir()) == sorted(
        str(f["file"]) for f in feeds.feed_files()
    )
    assert {f["list"] for f in feeds.feed_files()} >= {None, "blacklist", "warning", "whitelist"}


def test_feeds_have_what_atom_requires(feed_dir: Path) -> None:
    """RFC 4287: feed and entry each have one id, title, updated; the feed an author."""
    for path in feed_dir.iterdir():
        root = parse(path)
        assert root.tag == "{http://www.w3.org/2005/Atom}feed", path.name
        for element in [root, *root.findall("a:entry", NS)]:
            for tag in ("id", "title", "updated"):
                assert len(element.findall(f"a:{tag}", NS)) == 1, (path.name, tag)
            assert RFC3339.match(element.findtext("a:updated", namespaces=NS) or "")
            assert (element.findtext("a:id", namespaces=NS) or "").startswith("tag:")
        assert root.find("a:author/a:name", NS) is not None
        assert root.find("a:link[@rel='self']", NS) is not None
        ids = [e.findtext("a:id", namespaces=NS) for e in root.findall("a:entry", NS)]
        assert len(ids) == len(set(ids)), path.name


def test_warning_feed_has_the_entry_and_whitelist_feed_the_exit(feed_dir: Path) -> None:
    moved = DATES[1].isoformat()
    warning = parse(feed_dir / "warning.atom").findall("a:entry", NS)
    whitelist = parse(feed_dir / "whitelist.atom").findall("a:entry", NS)
    entered = [e for e in warning if moved in (e.findtext("a:id", namespaces=NS) or "")]
    left = [e for e in whitelist if "/DEL/" in (e.findtext("a:id", namespaces=NS) or "")]
    assert len(entered) == 1 and len(left) == 1
    assert "甲乙商务咨询有限公司" in (entered[0].findtext("a:title", namespaces=NS) or "")
    assert "评分低于警示线" in (entered[0].findtext("a:content", namespaces=NS) or "")
    assert entered[0].findtext("a:updated", namespaces=NS) == f"{moved}T00:00:00+08:00"
    newest = parse(feed_dir / "warning.atom").findtext("a:updated", namespaces=NS)
    assert newest == f"{moved}T00:00:00+08:00"  # the newest entry, not the clock


def test_ids_are_stable_across_rebuilds(feed_dir: Path) -> None:
    before = {p.name: p.read_bytes() for p in feed_dir.iterdir()}
    feeds.write_feeds(fictional_city(), feed_dir.parent)
    assert {p.name: p.read_bytes() for p in feed_dir.iterdir()} == before


def test_city_feed_has_every_list_move(feed_dir: Path) -> None:
    entries = parse(feed_dir / "changes.atom").findall("a:entry", NS)
    per_list = sum(
        len(parse(feed_dir / f"{key}.atom").findall("a:entry", NS)) for key in feeds.list_keys()
    )
    assert len(entries) == per_list > 0
    dates = [e.findtext("a:updated", namespaces=NS) or "" for e in entries]
    assert dates == sorted(dates, reverse=True)
