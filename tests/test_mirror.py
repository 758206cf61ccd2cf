"""The demo mirror: its generator is deterministic and plants what it says, and its server maps,
hides, caches and fails the way the crawl tests rely on."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.error
import urllib.request
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from stdnum.cn import uscc

from agencywatch.config import load_city
from agencywatch.mirror.server import MirrorServer, serve_mirror
from agencywatch.mirror.synth import LABELS, SOURCES, synth_mirror

PROJECT = Path(__file__).resolve().parent.parent
COMMITTED = PROJECT / "mirrors" / "demo"


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mirror")
    synth_mirror(out, n_agencies=50, seed=7)
    return out


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


# ---- generator ---------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    synth_mirror(tmp_path / "a", n_agencies=40, seed=11)
    synth_mirror(tmp_path / "b", n_agencies=40, seed=11)
    synth_mirror(tmp_path / "c", n_agencies=40, seed=12)
    a, b, c = (files_of(tmp_path / x) for x in "abc")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert a["opendata/registrations.xlsx"] != c["opendata/registrations.xlsx"]


def test_committed_mirror_is_what_the_generator_writes(tmp_path: Path) -> None:
    synth_mirror(tmp_path, n_agencies=300, seed=2026, as_of=date(2026, 11, 1))
    fresh, committed = files_of(tmp_path), files_of(COMMITTED)
    assert sorted(fresh) == sorted(committed)
    assert [k for k in fresh if fresh[k] != committed[k]] == []
    assert sum(len(v) for v in committed.values()) < 2_000_000


def test_committed_mirror_fits_the_city_row_bounds() -> None:
    counts = json.loads((COMMITTED / "_truth.json").read_text(encoding="utf-8"))["counts"]
    city = load_city(PROJECT / "cities" / "demo.toml")
    for source in city.sources:
        assert source.min_rows <= counts[source.id] <= source.max_rows, source.id


def test_planted_lists_have_a_plausible_mix() -> None:
    truth = json.loads((COMMITTED / "_truth.json").read_text(encoding="utf-8"))
    lists = Counter(a["expected_list"] for a in truth["agencies"])
    n = truth["n_agencies"]
    assert 15 <= lists["whitelist"] <= 25
    assert 0.10 * n <= lists["warning"] <= 0.15 * n
    assert 0.03 * n <= lists["blacklist"] <= 0.08 * n
    assert lists["no_adverse_record"] >= 0.55 * n
    unregistered = [a for a in truth["agencies"] if not a["registered"]]
    assert 8 <= len(unregistered) <= 12
    assert all(a["records"].get("complaints") for a in unregistered)
    kinds = Counter(c["kind"] for c in truth["cases"])
    for kind in ("branch", "shared_name", "impersonation", "invalid_code", "name_variant",
                 "duplicate", "window", "natural_person"):  # fmt: skip
        assert kinds[kind] >= 1, kind


def test_counts_match_the_files(small: Path) -> None:
    counts = json.loads((small / "_truth.json").read_text(encoding="utf-8"))["counts"]
    assert set(counts) == set(SOURCES)
    pages = sorted((small / "credit/penalty").glob("list_*.html"))
    rows = sum(p.read_bytes().count(b"<tr><td") for p in pages)
    assert rows == counts["penalties"]
    listed = [
        json.loads(p.read_text(encoding="utf-8"))["data"]["list"]
        for p in (small / "complaints/api/list").glob("page=*.json")
    ]
    assert sum(len(x) for x in listed) == counts["complaints"]
    phones = (small / "association/phones.csv").read_bytes().decode("gb18030")
    assert len(list(csv.reader(io.StringIO(phones)))) == counts["phones"] + 1


def test_registrations_xlsx_has_the_labels_and_real_date_cells(small: Path) -> None:
    wb = openpyxl.load_workbook(small / "opendata/registrations.xlsx", read_only=True)
    rows = list(wb["企业登记信息"].iter_rows(values_only=True))
    assert list(rows[0]) == LABELS["registrations"]
    established = [r[4] for r in rows[1:]]
    assert any(isinstance(v, datetime) for v in established)
    assert any(isinstance(v, str) and "年" in v for v in established)


def test_codes_are_valid_unless_broken_on_purpose() -> None:
    truth = json.loads((COMMITTED / "_truth.json").read_text(encoding="utf-8"))
    codes = [a["uscc"] for a in truth["agencies"] if a["uscc"]]
    assert codes and all(uscc.is_valid(c) and c.startswith("91999") for c in codes)
    broken = [c for c in truth["cases"] if c["kind"] == "invalid_code"]
    assert broken and not any(uscc.is_valid(c["written"]) for c in broken)


def test_window_cases_sit_on_the_right_side_of_the_window() -> None:
    truth = json.loads((COMMITTED / "_truth.json").read_text(encoding="utf-8"))
    start = date.fromisoformat(truth["window_start"])
    cases = [c for c in truth["cases"] if c["kind"] == "window"]
    assert any(c["counts"] for c in cases) and any(not c["counts"] for c in cases)
    for c in cases:
        inside = date.fromisoformat(c["date"]) >= start
        if c["counts"]:
            assert inside and (date.fromisoformat(c["date"]) - start).days <= 31
        elif c["why"] == "before the window":
            assert not inside


def test_penalty_pages_are_gbk_and_paginated() -> None:
    first = (COMMITTED / "credit/penalty/list_1.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        first.decode("utf-8")
    text = first.decode("gbk")
    assert "charset=gb2312" in text and '<table class="list"' in text
    assert all(label in text for label in LABELS["penalties"])
    assert re.search(r'<a href="list_2.html">下一页</a>', text)
    pages = sorted((COMMITTED / "credit/penalty").glob("list_*.html"))
    last = max(pages, key=lambda p: int(p.stem.removeprefix("list_")))
    assert ">下一页</a>" not in last.read_bytes().decode("gbk")


def test_judgments_csv_has_a_bom(small: Path) -> None:
    raw = (small / "wenshu/judgments.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw.decode("utf-8-sig").splitlines()[0].split(",")
    assert header == LABELS["judgments"]


def test_names_are_fictional_city_names(small: Path) -> None:
    truth = json.loads((small / "_truth.json").read_text(encoding="utf-8"))
    registered = [a["name"] for a in truth["agencies"] if a["registered"]]
    assert all(name.startswith("演示市") for name in registered)
    shared = [a["name"] for a in truth["agencies"] if a["scenario"] == "shared_name"]
    assert [n for n, k in Counter(registered).items() if k > 1] == shared
    phones = [p for a in truth["agencies"] for p in a["phones"]]
    assert phones and all(re.fullmatch(r"05996\d{7}|400\d{7}", p) for p in phones)


def test_too_few_agencies_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 10"):
        synth_mirror(tmp_path, n_agencies=3)


# ---- server ------------------------------------------------------------------------------


def test_server_content_types(small: Path) -> None:
    with serve_mirror(small) as url:
        status, headers, _ = get(url + "/credit/penalty/list_1.html")
        assert status == 200 and headers["Content-Type"] == "text/html"
        status, headers, _ = get(url + "/samr/abnormal/index.html")
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        status, headers, _ = get(url + "/opendata/registrations.xlsx")
        assert headers["Content-Type"].startswith("application/vnd.openxmlformats")
        status, headers, body = get(url + "/robots.txt")
        assert status == 200 and b"Disallow: /admin/" in body


def test_server_maps_query_strings_to_files(small: Path) -> None:
    with serve_mirror(small) as url:
        status, headers, body = get(url + "/zxgk/api/dishonest?page=1")
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert body == (small / "zxgk/api/dishonest/page=1.json").read_bytes()
        assert json.loads(body)[0]["totalPage"] >= 1
        assert get(url + "/complaints/api/list?page=1")[0] == 200
        assert get(url + "/complaints/api/list?page=999")[0] == 404


def test_server_hides_underscore_files_and_escapes(small: Path) -> None:
    with serve_mirror(small) as url:
        assert (small / "_truth.json").is_file()
        assert get(url + "/_truth.json")[0] == 404
        assert get(url + "/_headers.toml")[0] == 404
        assert get(url + "/%2E%2E/%2E%2E/etc/passwd")[0] == 404


def test_server_answers_conditional_requests_with_304(small: Path) -> None:
    with serve_mirror(small) as url:
        status, headers, body = get(url + "/pbc/filings.html")
        assert status == 200 and body
        etag, modified = headers["ETag"], headers["Last-Modified"]
        assert get(url + "/pbc/filings.html", {"If-None-Match": etag})[0] == 304
        assert get(url + "/pbc/filings.html", {"If-None-Match": '"other"'})[0] == 200
        assert get(url + "/pbc/filings.html", {"If-Modified-Since": modified})[0] == 304


def test_server_counts_hits_and_injects_faults(small: Path) -> None:
    with MirrorServer(small) as server:
        server.faults["/credit/"] = "http500"
        server.faults["/zxgk/"] = "challenge"
        assert get(server.url + "/credit/penalty/list_1.html")[0] == 500
        status, _, body = get(server.url + "/zxgk/api/dishonest?page=1")
        assert status == 412 and b"<script>" in body
        server.faults.clear()
        assert get(server.url + "/credit/penalty/list_1.html")[0] == 200
        assert server.hits["/credit/penalty/list_1.html"] == 2
        assert server.hits["/zxgk/api/dishonest?page=1"] == 1


def test_server_stops_when_the_block_ends(small: Path) -> None:
    with serve_mirror(small) as url:
        assert get(url + "/robots.txt")[0] == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/robots.txt", timeout=2)
