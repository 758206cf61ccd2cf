"""Manual import: an official export goes through the crawl's readers, the inbox and normalize.

The exports are fictional files under tests/fixtures/exports (CSV, JSON, two saved HTML pages);
the XLSX is made here. Nothing here touches the network.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from agencywatch.cli import main
from agencywatch.config import City, ConfigError, parse_city
from agencywatch.importer import PARKED, import_export
from agencywatch.paths import CityPaths
from crawlers.run import MANUAL_IMPORT, crawl_source
from transforms.normalize import normalize_items
from transforms.render import http_url

EXPORTS = Path(__file__).parent / "fixtures" / "exports"

CITY = """
slug = "fixture"
name = "虚构市"
contact_url = "https://agencywatch.example.org/contact"
base_url = "https://credit.fixture-city.example"

[[sources]]
id = "penalties_export"
title = "处罚（人工导出）"
record_type = "penalty"
kind = "manual"
table_selector = "table.list"

[[sources]]
id = "complaints_export"
title = "投诉（人工导出）"
record_type = "complaint"
kind = "manual"
records_path = "data.list"

[[sources]]
id = "phones_export"
title = "电话（人工导出）"
record_type = "phone"
kind = "manual"

[[sources]]
id = "registrations_export"
title = "登记（人工导出）"
record_type = "registration"
kind = "manual"

[[sources]]
id = "crawled"
title = "crawled"
record_type = "phone"
kind = "file_download"
url = "/files/phones.csv"
file_format = "csv"
"""


@pytest.fixture
def city(tmp_path: Path) -> City:
    return parse_city(CITY, tmp_path / "fixture.toml")


@pytest.fixture
def paths(tmp_path: Path) -> CityPaths:
    return CityPaths(root=tmp_path / "out", city="fixture")


def registrations_xlsx(path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "企业登记信息"
    sheet.append(["企业名称", "统一社会信用代码", "注册资本", "成立日期", "登记状态"])
    sheet.append(
        ["虚构市甲乙商务咨询有限公司", "91320322MABLP2X24R", "100万元", "2020-01-02", "存续"]
    )
    book.save(path)
    return path


def imported_items(city: City, paths: CityPaths, source_id: str) -> tuple[dict, list[dict]]:
    log = crawl_source(city, city.source(source_id), paths)
    raw = paths.raw / f"{source_id}.jsonl"
    lines = raw.read_text(encoding="utf-8").splitlines() if raw.exists() else []
    return log, [json.loads(line) for line in lines]


def test_saved_html_pages_import_through_the_table_reader(city, paths) -> None:
    pages = sorted(EXPORTS.glob("penalties_list_*.html"))
    done = import_export(city, "penalties_export", pages, paths)
    assert done.rows == 4
    assert sorted(p.name for p in done.files) == [p.name for p in pages]
    log, items = imported_items(city, paths, "penalties_export")
    assert log["status"] == "ok" and log["rows"] == 4
    assert {i["url"] for i in items} == {MANUAL_IMPORT + p.name for p in pages}
    assert items[0]["place"] == "penalties_list_1.html, row 1"
    assert items[0]["fields"]["行政处罚决定书文号"] == "虚市监罚〔2025〕1号"


def test_imported_records_are_normalized_and_quarantined_like_crawled_ones(city, paths) -> None:
    import_export(city, "penalties_export", sorted(EXPORTS.glob("penalties_list_*.html")), paths)
    _, items = imported_items(city, paths, "penalties_export")
    clean, quarantined, counts = normalize_items(items, city.source("penalties_export"), city)
    assert counts["rows"] == 3 and counts["quarantined"] == 1
    assert quarantined[0]["place"] == "penalties_list_2.html, row 2"
    assert "decided_on" in quarantined[0]["reason"] or "不详" in quarantined[0]["reason"]
    fines = dict(zip(clean["decision_no"], clean["fine_cny"], strict=True))
    assert fines["虚市监罚〔2025〕1号"] == 5000.0
    assert set(clean["url"]) <= {MANUAL_IMPORT + p.name for p in EXPORTS.glob("*.html")}


def test_json_csv_and_xlsx_exports(city, paths, tmp_path) -> None:
    import_export(city, "complaints_export", [EXPORTS / "complaints.json"], paths)
    import_export(city, "phones_export", [EXPORTS / "phones.csv"], paths)
    xlsx = registrations_xlsx(tmp_path / "registrations.xlsx")
    import_export(city, "registrations_export", [xlsx], paths)
    expected = {"complaints_export": 2, "phones_export": 2, "registrations_export": 1}
    for source_id, rows in expected.items():
        log, items = imported_items(city, paths, source_id)
        assert (log["status"], log["rows"], len(items)) == ("ok", rows, rows), source_id
        assert all(i["url"].startswith(MANUAL_IMPORT) for i in items)
    _, items = imported_items(city, paths, "complaints_export")
    assert items[1]["fields"]["created_at"] == "1735689600"


def test_a_manual_import_url_is_never_a_link() -> None:
    assert http_url(MANUAL_IMPORT + "phones.csv") is None


def test_a_new_import_parks_the_previous_export(city, paths) -> None:
    import_export(city, "phones_export", [EXPORTS / "phones.csv"], paths)
    done = import_export(city, "complaints_export", [EXPORTS / "complaints.json"], paths)
    assert done.parked == []
    again = import_export(city, "phones_export", [EXPORTS / "phones.csv"], paths)
    assert len(again.parked) == 1 and PARKED in again.parked[0].parts
    assert again.parked[0].read_bytes() == (EXPORTS / "phones.csv").read_bytes()
    _, items = imported_items(city, paths, "phones_export")
    assert len(items) == 2  # the parked copy is not read a second time


def test_unreadable_export_is_refused_and_the_inbox_untouched(city, paths, tmp_path) -> None:
    challenge = tmp_path / "saved.html"
    shutil.copy(Path(__file__).parent / "fixtures" / "pages" / "waf_challenge.html", challenge)
    with pytest.raises(ValueError, match="challenge|no table"):
        import_export(city, "penalties_export", [challenge], paths)
    assert not (paths.inbox / "penalties_export").exists()


def test_import_into_a_crawled_source_is_refused(city, paths) -> None:
    with pytest.raises(ConfigError, match="manual"):
        import_export(city, "crawled", [EXPORTS / "phones.csv"], paths)


def test_manual_source_with_an_empty_inbox_fails_without_data(city, paths) -> None:
    log, items = imported_items(city, paths, "phones_export")
    assert log["status"] == "failed" and "no export" in log["message"]
    assert items == []


def test_cli_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cities = tmp_path / "cities"
    cities.mkdir()
    (cities / "fixture.toml").write_text(CITY, encoding="utf-8")
    monkeypatch.setenv("AGENCYWATCH_CITIES_DIR", str(cities))
    root = tmp_path / "out"
    args = ["import", "fixture", "phones_export", str(EXPORTS / "phones.csv"), "--root", str(root)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "imported 2 records" in result.output
    assert (root / "data" / "fixture" / "inbox" / "phones_export" / "phones.csv").is_file()
    refused = CliRunner().invoke(main, [*args[:2], "crawled", *args[3:]])
    assert refused.exit_code == 1
