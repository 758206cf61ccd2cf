"""Search shards: a phone or code lookup reads one small shard; names match in part and in
traditional characters; keys are computed the same way as site/static/search.js does."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
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


# --- the shards' bytes are those of the plain construction: dicts, then json.dumps ----------


def reference_shards(model: dict, paths: CityPaths) -> dict[str, bytes]:
    """The shards as the index first built them, entry by entry (the reference for the
    column-wise construction; same meta, same bytes)."""
    from collections import defaultdict

    import pyarrow.parquet as pq

    from transforms.render_model import http_url, records
    from transforms.values import name_key, normalize_phone

    def ref(a: dict | None) -> dict:
        if a is None:
            return {"id": None, "name": None, "list": None}
        return {"id": a["agency_id"], "name": a.get("name"), "list": a["list"]}

    def evidence(row: dict) -> dict:
        return {"record_id": row.get("record_id"), "href": http_url(row.get("url")),
                "source": sources.get(str(row.get("source_id")), row.get("source_id")),
                "fetched_on": str(row.get("fetched_at") or "")[:10] or None}  # fmt: skip

    def clean(record_type: str, key: str) -> list[dict]:
        path = paths.clean / f"{record_type}.parquet"
        if path.is_file():
            present = set(pq.read_schema(path).names)
            wanted = [c for c in search_index.CLEAN_COLUMNS if c in present]
            return records(pd.read_parquet(path, columns=wanted))
        if events is not None:
            rows = records(events[events["record_type"] == record_type]) if len(events) else []
        else:
            rows = [e for a in agencies for e in a["events"] if e["record_type"] == record_type]
        return [{**e, key: e["record_id"].split(":", 1)[-1]} for e in rows]

    def buckets(folder: str, entries: dict, count: int) -> dict[str, bytes]:
        split: dict = defaultdict(dict)
        for key in sorted(entries):
            split[search_index.fnv1a(key) % count][key] = entries[key]
        return {f"{folder}/{b}.json": search_index._json(c) for b, c in split.items()}

    agencies, events = model["agencies"], model.get("events")
    sources = {s.id: s.title for s in model["city"].sources}
    docs = [{"id": a["agency_id"], "name": a.get("name") or "", "key": name_key(a.get("name")) or "",
             "list": a["list"], "uscc": a.get("uscc"), "district": a.get("district")}
            for a in agencies]  # fmt: skip
    postings: dict = defaultdict(list)
    for i, d in enumerate(docs):
        for g in sorted(search_index.grams(d["key"])):
            postings[g].append(i)
    linked = {e["record_id"]: a for a in agencies for e in a["events"]}
    codes: dict = defaultdict(list)
    for a in agencies:
        codes[a["agency_id"].upper()].append({"kind": "agency", **ref(a)})
        if a.get("uscc") and a["uscc"].upper() != a["agency_id"].upper():
            codes[a["uscc"].upper()].append({"kind": "agency", **ref(a)})
    for row in clean("filing", "filing_no"):
        number = search_index.normalize_code(row.get("filing_no"))
        if number:
            codes[number].append({
                "kind": "filing", "filing_no": row.get("filing_no"),
                "filing_type": row.get("filing_type") or row.get("category"),
                "issuer": row.get("issuer"),
                "issued_on": row.get("issued_on") or row.get("event_date"),
                "expires_on": row.get("expires_on"), "filed_name": row.get("name"),
                **ref(linked.get(row.get("record_id"))), **evidence(row),
            })  # fmt: skip
    phones: dict = defaultdict(list)
    for row in clean("phone", "number"):
        try:
            number = normalize_phone(row.get("number"))
        except ValueError:
            number = None
        if number:
            agency = linked.get(row.get("record_id"))
            phones[number].append({
                "kind": row.get("kind") or row.get("category"),
                "registered": bool(agency and agency.get("registered")),
                "reported_name": row.get("name"), **ref(agency), **evidence(row),
            })  # fmt: skip
    by_shard: dict = defaultdict(dict)
    for number, entries in phones.items():
        entries.sort(key=lambda e: (str(e["kind"]), str(e["record_id"])))
        by_shard[search_index.phone_shard(number)][number] = entries
    name_buckets = max(1, -(-sum(len(search_index.grams(d["key"])) for d in docs) // 400))
    code_buckets = max(1, -(-len(codes) // 64))
    files = {f"docs/{k // 64}.json": search_index._json(docs[k : k + 64])
             for k in range(0, len(docs), 64)}  # fmt: skip
    files.update(buckets("names", postings, name_buckets))
    files.update(buckets("codes", codes, code_buckets))
    files.update({f"phones/{s}.json": search_index._json(n) for s, n in by_shard.items()})
    files["t2s.json"] = search_index._json(search_index.traditional_map(d["key"] for d in docs))
    meta = {"version": 1, "count": len(docs), "docs_per_shard": 64,
            "name_buckets": name_buckets, "code_buckets": code_buckets}  # fmt: skip
    files["meta.json"] = search_index._json(meta)
    return files


ODD_NAME = '甲"乙\\丙\x01丁 商務'  # quotes, a backslash, a control character, a space


def odd_model(with_events: bool) -> dict:
    """Agencies and events with what JSON must escape, an unnamed agency, a record linked to
    two agencies, unlinked and unregistered ones."""
    a = agency("91990000MA00000001", ODD_NAME, events=[
        event("phones:059961234567", "phone", "published_by_agency"),
        event("filings:99910120140007", "filing", "credit_reporting"),
        event("complaints:13800138000", "phone", "reported"),
    ])  # fmt: skip
    b = agency("u-0123456789ab", "丙丁商務調查有限公司", "blacklist",
               events=[event("complaints:13800138000", "phone", "reported")])  # fmt: skip
    b["registered"] = False
    c = agency("91990000MA00000002", None, "warning")  # type: ignore[arg-type]
    d = agency("u-0123456789ac", 'q"uote\\slash', "warning")  # escapes, no control character
    c["district"] = None
    model = {"agencies": [a, b, c, d], "city": fictional_city()}
    if with_events:
        rows = [{**e, "agency_id": x["agency_id"]} for x in (a, b) for e in x["events"]]
        model["events"] = pd.DataFrame(rows).astype("str")
    return model


def write_clean(paths: CityPaths, shared_record: bool) -> None:
    """Clean phone and filing tables: raw numbers in several forms, odd names, no kind."""
    paths.clean.mkdir(parents=True, exist_ok=True)
    url = "https://credit.demo-city.example/association/phones.csv"
    phones = pd.DataFrame({
        "record_id": ["phones:059961234567", "complaints:13800138000", "complaints:x1",
                      "complaints:x2", "complaints:x3", "complaints:x4", "phones:x5"],
        "source_id": ["phones", "complaints", "complaints", "registrations", "penalties",
                      "complaints", "phones"],
        "url": [url, "javascript:void(0)", None, url, " " + url, url, url],
        "fetched_at": "2026-11-22T02:00:03Z",
        "number": ["0599-61234567", "138 0013 8000", "+86 138-0013-8000", "12", None,
                   "13800138000", "4001234567"],
        "kind": ["published_by_agency", "reported", None, "reported", "reported", "", "x"],
        "name": [ODD_NAME, "丙丁", None, "乙", "甲", 'a"b', "\\"],
    })  # fmt: skip
    if not shared_record:
        phones = phones.drop(index=1)
    phones.to_parquet(paths.clean / "phone.parquet")
    filings = pd.DataFrame({
        "record_id": ["filings:99910120140007", "filings:x"],
        "source_id": ["filings", "filings"], "url": [url, None],
        "fetched_at": "2026-11-22T02:00:03Z", "filing_no": ["999-1012-0140007", None],
        "filing_type": ["credit_reporting", None], "name": [ODD_NAME, None],
        "issuer": ["中国人民银行", None], "issued_on": ["2014-01-01", None],
    })  # fmt: skip
    filings.to_parquet(paths.clean / "filing.parquet")


@pytest.mark.parametrize("with_events", [True, False])
@pytest.mark.parametrize("clean", ["none", "shared_record", "own_records"])
def test_shards_keep_the_bytes_of_the_plain_construction(
    tmp_path: Path, with_events: bool, clean: str
) -> None:
    paths = CityPaths(root=tmp_path, city="demo")
    if clean != "none":
        write_clean(paths, clean == "shared_record")
    model = odd_model(with_events)
    files, meta = search_index.shards(model, paths)
    expected = reference_shards(model, paths)
    assert sorted(files) == sorted(expected)
    for name, data in expected.items():
        assert files[name] == data, name
    assert json.loads(files["meta.json"]) == meta
    phones = {k: v for name, f in files.items() if name.startswith("phones/")
              for k, v in json.loads(f).items()}  # fmt: skip
    if clean == "shared_record":  # the record is on both agencies' timelines: the last one's
        linked = {e["record_id"]: e["id"] for e in phones["13800138000"]}
        assert linked == {"complaints:x1": None, "complaints:x4": None,
                          "complaints:13800138000": "u-0123456789ab"}  # fmt: skip


def test_json_texts_are_those_of_json_dumps() -> None:
    values = [None, True, False, 0, 1.5, float("nan"), "", '"', "\\", "\x00\x1f\x7f", "中文",
              "\u2028", "😀", {"b": 1, "a": [None]}]  # fmt: skip
    for value in values:
        assert search_index.value_json(value) == search_index._json(value).decode()
    for texts in (["a", '"q"', "b\\", "\n", "中"], ['"q"', "b\\"], ["\x1f"]):
        expected = [search_index.value_json(t) for t in texts]
        assert search_index._json_texts(texts).to_pylist() == expected
    plain = ["a", "中", ""]
    assert search_index._json_texts(plain).to_pylist() == ['"a"', '"中"', '""']


def test_postings_and_bucket_hashes_match_the_text_versions() -> None:
    keys = ["甲乙商务", "", "乙商", "😀a😀", "甲乙商务"]
    assert search_index._postings(keys) == search_index._postings_of_texts(keys)
    codes = ["91990000MA00000001", "U-0123456789AB", "", "甲", "😀x"]
    assert search_index.fnv1a_many(codes).tolist() == [search_index.fnv1a(c) for c in codes]
