"""Search shards: a phone or code lookup reads one small shard; names match in part and in
traditional characters; keys are computed the same way as site/static/search.js does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agencywatch.paths import CityPaths
from tests.test_release import fictional_city
from transforms import search_index


def agency(agency_id: str, name: str, lst: str = "whitelist", events=()) -> dict:
    return {
        "agency_id": agency_id,
        "name": name,
        "uscc": agency_id if not agency_id.startswith("u-") else None,
        "list": lst,
        "district": "东区",
        "registered": True,
        "events": list(events),
    }


def event(record_id: str, record_type: str, category: str) -> dict:
    return {
        "record_id": record_id,
        "record_type": record_type,
        "category": category,
        "event_date": None,
        "source_id": "phones",
        "url": "https://credit.demo-city.example/association/phones.csv",
        "fetched_at": "2026-11-22T02:00:03Z",
    }


@pytest.fixture
def index(tmp_path: Path) -> Path:
    agencies = [
        agency(
            "91990000MA00000001",
            "甲乙商务咨询有限公司",
            events=[
                event("phones:059961234567", "phone", "published_by_agency"),
                event("filings:99910120140007", "filing", "credit_reporting"),
            ],
        ),
        agency(
            "u-0123456789ab",
            "丙丁商務調查有限公司",
            "blacklist",
            events=[event("complaints:4001234589", "phone", "reported")],
        ),
    ]
    model = {"agencies": agencies, "city": fictional_city()}
    out = tmp_path / "search"
    search_index.build(model, CityPaths(root=tmp_path, city="demo"), out)
    return out


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_fnv1a_matches_the_reference_values() -> None:
    # Reference values of 32-bit FNV-1a (the same function search.js runs with Math.imul).
    assert search_index.fnv1a("") == 0x811C9DC5
    assert search_index.fnv1a("a") == 0xE40C292C
    assert search_index.fnv1a("foobar") == 0xBF9CF968


def test_phone_lookup_is_one_shard_named_by_the_last_two_digits(index: Path) -> None:
    shard = load(index / "phones" / "67.json")
    assert list(shard) == ["059961234567"]
    (entry,) = shard["059961234567"]
    assert entry["kind"] == "published_by_agency" and entry["id"] == "91990000MA00000001"
    assert entry["href"].startswith("https://") and entry["registered"] is True
    other = load(index / "phones" / f"{search_index.phone_shard('4001234589')}.json")
    assert other["4001234589"][0]["kind"] == "reported"
    assert other["4001234589"][0]["list"] == "blacklist"


def test_codes_find_agencies_and_filings(index: Path) -> None:
    meta = load(index / "meta.json")

    def lookup(code: str) -> list[dict]:
        bucket = search_index.fnv1a(code) % meta["code_buckets"]
        return load(index / "codes" / f"{bucket}.json").get(code, [])

    assert [e["id"] for e in lookup("91990000MA00000001")] == ["91990000MA00000001"]
    (filing,) = lookup("99910120140007")
    assert filing["kind"] == "filing" and filing["id"] == "91990000MA00000001"
    assert lookup("U-0123456789AB")[0]["list"] == "blacklist"
    assert search_index.normalize_code(" 9199-0000 ma00000001 ") == "91990000MA00000001"


def test_partial_and_traditional_names_find_the_agency(index: Path) -> None:
    meta = load(index / "meta.json")
    t2s = load(index / "t2s.json")
    assert t2s["務"] == "务" and t2s["調"] == "调"

    def postings(gram: str) -> list[int]:
        bucket = search_index.fnv1a(gram) % meta["name_buckets"]
        return load(index / "names" / f"{bucket}.json").get(gram, [])

    docs = load(index / "docs" / "0.json")
    query = "".join(t2s.get(c, c) for c in "商務調查")  # as search.js folds the input
    hits = set(postings(query[:2])) & set(postings(query[1:3])) & set(postings(query[2:]))
    assert [docs[i]["name"] for i in hits] == ["丙丁商務調查有限公司"]
    assert query in docs[next(iter(hits))]["key"]


def test_phone_numbers_that_cannot_be_normalized_are_left_out(tmp_path: Path) -> None:
    bad = agency("91990000MA00000001", "甲", events=[event("phones:12", "phone", "reported")])
    out = tmp_path / "s"
    search_index.build(
        {"agencies": [bad], "city": fictional_city()}, CityPaths(tmp_path, "demo"), out
    )
    assert not (out / "phones").exists()
