"""Release stage: stable bytes, safe CSVs, a valid Data Package and a verifiable chain."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agencywatch.config import City, Source
from agencywatch.paths import CityPaths
from transforms import release

AS_OF = date(2026, 11, 22)
EVIL_NAME = '=HYPERLINK("http://x","y")'
FRICTIONLESS = Path(sys.executable).with_name("frictionless")


def fictional_city() -> City:
    """A city config of fiction: fictional hosts, no real company."""
    return City(
        slug="demo",
        name="演示市",
        name_en="Demo City (fictional)",
        contact_url="https://agencywatch.example.org/contact",
        base_url="https://credit.demo-city.example",
        sources=[
            Source(
                id="penalties",
                title="信用演示 · 行政处罚公示",
                title_en="City credit site · penalties",
                record_type="penalty",
                kind="html_table",
                url="/credit/penalty/list_1.html",
            ),
            Source(
                id="registrations",
                title="演示市公共数据开放平台 · 企业登记信息",
                record_type="registration",
                kind="file_download",
                url="/opendata/registrations.xlsx",
                file_format="xlsx",
            ),
        ],
    )


def write_inputs(
    paths: CityPaths, names: tuple[str, ...] = ("甲乙商务咨询有限公司", EVIL_NAME)
) -> None:
    """Resolved and scored tables with exactly the contract's columns, all fictional."""
    ids = ["91990000MA00000001", "u-0123456789ab", "91990000MA00000002"][: len(names) + 1]
    agencies = pd.DataFrame(
        {
            "agency_id": ids,
            "uscc": [ids[0], None, ids[2]][: len(ids)],
            "name": [*names, "<script>alert(1)</script>丙丁有限公司"][: len(ids)],
            "name_key": ["k1", "k2", "k3"][: len(ids)],
            "verified": [True, False, True][: len(ids)],
            "registered": [True, False, True][: len(ids)],
            "status": ["active", None, "revoked"][: len(ids)],
            "district": ["东区", "+西区", None][: len(ids)],
            "address": ["演示路1号", None, "演示路3号"][: len(ids)],
            "legal_rep": ["张某", None, "李某"][: len(ids)],
            "established_on": ["2015-03-01", None, "2012-01-09"][: len(ids)],
            "registered_capital_cny": [1_000_000.0, None, 500_000.0][: len(ids)],
            "business_scope": ["商务信息咨询", None, "-债务咨询"][: len(ids)],
        }
    )
    scores = pd.DataFrame(
        {
            "agency_id": ids,
            "score": [92.5, None, 40.0][: len(ids)],
            "compliance": [100.0, None, 20.0][: len(ids)],
            "courts": [100.0, None, 50.0][: len(ids)],
            "complaints": [75.0, None, 60.0][: len(ids)],
            "list": ["whitelist", "not_rated", "blacklist"][: len(ids)],
            "list_reason_code": ["whitelist", "no_registration", "revoked_advertising"][: len(ids)],
            "list_reason_zh": ["登记有效且已备案", "未找到登记记录", "登记已吊销仍在宣传"][
                : len(ids)
            ],
            "list_reason_en": [
                "Active and filed",
                "No registration found",
                "Revoked yet advertising",
            ][: len(ids)],
            "method_version": ["1.0"] * len(ids),
            "as_of": [AS_OF.isoformat()] * len(ids),
        }
    )
    events = pd.DataFrame(
        {
            "record_id": ["registrations:R1", "penalties:P1", "penalties:P2", "registrations:R3"],
            "agency_id": [ids[0], ids[0], ids[-1], ids[-1]],
            "record_type": ["registration", "penalty", "penalty", "registration"],
            "match_method": ["uscc", "uscc", "exact_name", "uscc"],
            "event_date": ["2015-03-01", "2021-05-06", "2025-01-02", "2012-01-09"],
            "category": ["registration", "penalty", "penalty", "registration"],
            "summary_zh": ["设立登记", "=1+2 罚款", "警告", "设立登记"],
            "summary_en": ["Registered", "Fine", "Warning", "Registered"],
            "source_id": ["registrations", "penalties", "penalties", "registrations"],
            "url": [
                "https://credit.demo-city.example/opendata/registrations.xlsx",
                "https://credit.demo-city.example/credit/penalty/list_1.html",
                "javascript:alert(1)",
                "https://credit.demo-city.example/opendata/registrations.xlsx",
            ],
            "fetched_at": ["2026-11-22T02:00:03Z"] * 4,
            "content_sha256": ["a" * 64, "b" * 64, "c" * 64, "d" * 64],
            "publicity_end": [None, "2022-05-06", "2028-01-02", None],
            "first_seen": ["2026-10-01"] * 4,
            "last_seen": ["2026-11-22"] * 4,
        }
    )
    reasons = pd.DataFrame(
        {
            "agency_id": [ids[0], ids[-1], ids[-1]],
            "code": ["penalty", "penalty", "revoked_advertising"],
            "component": ["compliance", "compliance", "flag"],
            "points": [-10.0, -15.0, 0.0],
            "text_zh": ["行政处罚", "行政处罚", "登记已吊销仍在宣传"],
            "text_en": [
                "Administrative penalty",
                "Administrative penalty",
                "Revoked yet advertising",
            ],
            "evidence": ["penalties:P1", "penalties:P2", "registrations:R3"],
            "counts": [False, True, True],
            "expired_reason": ["publicity_ended", None, None],
        }
    )
    unlinked = pd.DataFrame(
        {
            "record_id": ["complaints:C9"],
            "record_type": ["complaint"],
            "name": ["某某"],
            "reason": ["no_match"],
        }
    )
    paths.resolved.mkdir(parents=True, exist_ok=True)
    paths.scored.mkdir(parents=True, exist_ok=True)
    agencies.to_parquet(paths.resolved / "agencies.parquet", index=False)
    events.to_parquet(paths.resolved / "events.parquet", index=False)
    unlinked.to_parquet(paths.resolved / "unlinked.parquet", index=False)
    scores.to_parquet(paths.scored / "scores.parquet", index=False)
    reasons.to_parquet(paths.scored / "reasons.parquet", index=False)


@pytest.fixture
def released(tmp_path: Path) -> tuple[City, CityPaths, Path]:
    city = fictional_city()
    paths = CityPaths(root=tmp_path, city="demo")
    write_inputs(paths)
    return city, paths, release.run(city, paths, AS_OF)


def _bytes_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_release_writes_every_file(released: tuple[City, CityPaths, Path]) -> None:
    _, paths, out = released
    assert out == paths.release("2026-11-22")
    names = {p.name for p in out.iterdir()}
    for table in release.TABLES:
        assert {f"{table}.csv", f"{table}.parquet"} <= names
    assert {"datapackage.json", "SHA256SUMS", "manifest.json"} <= names
    assert not [p for p in paths.releases.iterdir() if p.name.startswith(".")]


def test_same_inputs_give_identical_bytes(tmp_path: Path) -> None:
    city = fictional_city()
    outputs = []
    for run_dir in ("a", "b"):
        paths = CityPaths(root=tmp_path / run_dir, city="demo")
        write_inputs(paths)
        outputs.append(_bytes_of(release.run(city, paths, AS_OF)))
    assert outputs[0] == outputs[1]


def test_rerun_same_date_replaces_release_with_same_bytes(
    released: tuple[City, CityPaths, Path],
) -> None:
    city, paths, out = released
    before = _bytes_of(out)
    (out / "stray.txt").write_text("left over")
    again = release.run(city, paths, AS_OF)
    assert again == out
    assert _bytes_of(again) == before


def test_agencies_csv_has_contract_columns_and_bom(released: tuple[City, CityPaths, Path]) -> None:
    _, _, out = released
    raw = (out / "agencies.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].split(b"\n", 1)[0].decode()
    assert header.split(",") == [
        f["name"] for f in release.field_dictionary()["agencies"]["fields"]
    ]
    assert "address" not in header


def test_formula_injection_is_inert(released: tuple[City, CityPaths, Path]) -> None:
    _, _, out = released
    agencies = pd.read_csv(out / "agencies.csv", encoding="utf-8-sig", dtype=str)
    names = set(agencies["name"])
    assert "'" + EVIL_NAME in names
    assert EVIL_NAME not in names
    assert "'+西区" in set(agencies["district"])
    events = pd.read_csv(out / "events.csv", encoding="utf-8-sig", dtype=str)
    assert "'=1+2 罚款" in set(events["summary_zh"])
    reasons_text = (out / "reasons.csv").read_text(encoding="utf-8-sig")
    assert ",-10.0," in reasons_text  # numbers stay numbers, even negative ones
    assert "'-10" not in reasons_text


def test_parquet_keeps_values_without_index(released: tuple[City, CityPaths, Path]) -> None:
    _, _, out = released
    agencies = pd.read_parquet(out / "agencies.parquet")
    assert EVIL_NAME in set(agencies["name"])  # Parquet is not a spreadsheet: original text
    assert list(agencies.columns) == [
        f["name"] for f in release.field_dictionary()["agencies"]["fields"]
    ]
    assert list(agencies["agency_id"]) == sorted(agencies["agency_id"])


def test_sums_and_manifest_match_files(released: tuple[City, CityPaths, Path]) -> None:
    _, _, out = released
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["city"] == "demo" and manifest["date"] == "2026-11-22"
    assert manifest["previous_manifest_sha256"] is None
    on_disk = {p.name for p in out.iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert manifest["files"][name] == digest


def test_manifest_chain_and_index(released: tuple[City, CityPaths, Path]) -> None:
    city, paths, first = released
    second = release.run(city, paths, date(2026, 11, 23))
    chained = json.loads((second / "manifest.json").read_text())["previous_manifest_sha256"]
    assert chained == hashlib.sha256((first / "manifest.json").read_bytes()).hexdigest()
    index = json.loads((paths.root / "releases" / "index.json").read_text())
    assert [(e["city"], e["date"]) for e in index["releases"]] == [
        ("demo", "2026-11-22"),
        ("demo", "2026-11-23"),
    ]
    assert (
        index["releases"][1]["manifest_sha256"]
        == hashlib.sha256((second / "manifest.json").read_bytes()).hexdigest()
    )


def test_datapackage_passes_frictionless_validate(released: tuple[City, CityPaths, Path]) -> None:
    _, _, out = released
    package = json.loads((out / "datapackage.json").read_text())
    assert package["licenses"][0]["name"] == "CC-BY-4.0"
    events = next(r for r in package["resources"] if r["name"] == "events")
    assert events["schema"]["foreignKeys"][0]["reference"]["resource"] == "agencies"
    result = subprocess.run(
        [str(FRICTIONLESS), "validate", "--json", str(out / "datapackage.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    assert report["valid"], json.dumps(report, ensure_ascii=False)[:3000]


def test_frictionless_catches_a_tampered_file(released: tuple[City, CityPaths, Path]) -> None:
    _, _, out = released
    with (out / "agencies.csv").open("a", encoding="utf-8") as f:
        f.write("u-ffffffffffff,,伪造,false,false,,,,,,,not_a_list,,,,1.0,2026-11-22\n")
    result = subprocess.run(
        [str(FRICTIONLESS), "validate", "--json", str(out / "datapackage.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert json.loads(result.stdout)["valid"] is False


def test_missing_contract_column_is_reported(tmp_path: Path) -> None:
    paths = CityPaths(root=tmp_path, city="demo")
    write_inputs(paths)
    events = pd.read_parquet(paths.resolved / "events.parquet").drop(columns=["content_sha256"])
    events.to_parquet(paths.resolved / "events.parquet", index=False)
    with pytest.raises(ValueError, match="content_sha256"):
        release.run(fictional_city(), paths, AS_OF)


DATES = (date(2026, 11, 22), date(2026, 11, 29), date(2026, 12, 6))


def release_chain(root: Path) -> tuple[City, CityPaths, list[Path]]:
    """Three weekly releases: the whitelisted agency drops to the warning list in the second,
    the not-rated one disappears in the third."""
    city = fictional_city()
    paths = CityPaths(root=root, city="demo")
    write_inputs(paths)
    folders = [release.run(city, paths, DATES[0])]
    scores = pd.read_parquet(paths.scored / "scores.parquet")
    first = scores["agency_id"] == "91990000MA00000001"
    scores.loc[first, ["list", "list_reason_code", "list_reason_zh", "list_reason_en"]] = [
        "warning",
        "low_score",
        "评分低于警示线",
        "Score below the warning threshold",
    ]
    scores.loc[first, "score"] = 55.0
    scores.to_parquet(paths.scored / "scores.parquet", index=False)
    folders.append(release.run(city, paths, DATES[1]))
    for table in ("resolved/agencies", "scored/scores"):
        path = paths.data / f"{table}.parquet"
        df = pd.read_parquet(path)
        df[df["agency_id"] != "u-0123456789ab"].to_parquet(path, index=False)
    folders.append(release.run(city, paths, DATES[2]))
    return city, paths, folders


def test_release_has_readmes_generated_from_the_dictionary(
    released: tuple[City, CityPaths, Path],
) -> None:
    _, _, out = released
    for lang, heading in (("en", "## How to verify"), ("zh", "## 如何核验")):
        text = (out / f"README.{lang}.md").read_text(encoding="utf-8")
        assert heading in text
        for name, table in release.field_dictionary().items():
            assert f"`{name}.csv`" in text
            for f in table["fields"]:
                assert f"| `{f['name']}` |" in text, (lang, name, f["name"])
        assert "CC-BY-4.0" in text
    assert "README.en.md" in json.loads((out / "manifest.json").read_text())["files"]


def test_readme_values_are_inert_markdown() -> None:
    city = fictional_city().model_copy(update={"name_en": "<img src=x onerror=alert(1)> [x](y)"})
    text = release.readme_texts(city, "2026-11-22")["en"]
    assert re.search(r"(?<!\\)[<\[]", text) is None  # every < and [ is escaped
    assert r"\<img src=x onerror=alert(1)\> \[x\](y)" in text


def test_chain_of_three_releases_links_each_manifest(tmp_path: Path) -> None:
    _, paths, folders = release_chain(tmp_path)
    for earlier, later in itertools.pairwise(folders):
        manifest = json.loads((later / "manifest.json").read_text())
        assert manifest["previous_release"] == earlier.name
        assert manifest["previous_manifest_sha256"] == release.sha256_file(
            earlier / "manifest.json"
        )
    index = json.loads((paths.root / "releases" / "index.json").read_text())
    assert [e["date"] for e in index["releases"]] == [d.isoformat() for d in DATES]


def test_history_spans_every_release(tmp_path: Path) -> None:
    _, _, folders = release_chain(tmp_path)
    history = pd.read_csv(folders[-1] / "history.csv", encoding="utf-8-sig", dtype=str)
    assert list(history.columns) == [
        "as_of",
        "agency_id",
        "score",
        "list",
        "list_reason_code",
        "method_version",
    ]
    first = history[history["agency_id"] == "91990000MA00000001"]
    assert list(zip(first["as_of"], first["list"], strict=True)) == [
        ("2026-11-22", "whitelist"),
        ("2026-11-29", "warning"),
        ("2026-12-06", "warning"),
    ]
    gone = history[history["agency_id"] == "u-0123456789ab"]
    assert list(gone["as_of"]) == ["2026-11-22", "2026-11-29"]


@pytest.mark.slow
def test_every_release_of_a_chain_passes_frictionless(tmp_path: Path) -> None:
    _, _, folders = release_chain(tmp_path)
    for folder in folders[1:]:
        result = subprocess.run(
            [str(FRICTIONLESS), "validate", "--json", str(folder / "datapackage.json")],
            capture_output=True,
            text=True,
            timeout=300,
        )
        report = json.loads(result.stdout)
        assert report["valid"], json.dumps(report, ensure_ascii=False)[:3000]


def test_chain_of_releases_and_feeds_are_byte_identical_across_runs(tmp_path: Path) -> None:
    trees = []
    for run_dir in ("a", "b"):
        release_chain(tmp_path / run_dir)
        root = tmp_path / run_dir / "releases"
        trees.append({p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()})
    assert trees[0] == trees[1]
    assert any(p.suffix == ".atom" for p in trees[0])


def test_no_csv_cell_of_a_chain_starts_like_a_formula(tmp_path: Path) -> None:
    """Every text cell of every table of every release, read as a spreadsheet would."""
    import csv

    _, _, folders = release_chain(tmp_path)
    numeric = {
        f["name"]
        for table in release.field_dictionary().values()
        for f in table["fields"]
        if f["type"] == "number"
    }
    seen_inert = 0
    for folder in folders:
        for path in folder.glob("*.csv"):
            with path.open(encoding="utf-8-sig", newline="") as f:
                for row in csv.DictReader(f):
                    for col, cell in row.items():
                        if col in numeric:
                            assert cell == "" or float(cell) == float(cell), (path.name, col)
                        else:
                            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
                            seen_inert += cell.startswith("'=HYPERLINK")
    assert seen_inert >= 3  # the name in agencies, changes of the first and the last release


def _stats_of(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_rerun_with_the_same_inputs_writes_no_file(
    released: tuple[City, CityPaths, Path],
) -> None:
    city, paths, out = released
    index, feeds = paths.root / "releases" / "index.json", paths.releases / "feeds"
    before = (_stats_of(out), _stats_of(feeds), index.stat().st_ino, index.stat().st_mtime_ns)
    release.run(city, paths, AS_OF)
    after = (_stats_of(out), _stats_of(feeds), index.stat().st_ino, index.stat().st_mtime_ns)
    assert after == before


def test_rerun_with_a_changed_table_rewrites_only_the_files_that_change(
    released: tuple[City, CityPaths, Path],
) -> None:
    city, paths, out = released
    before, old_bytes = _stats_of(out), _bytes_of(out)
    events = pd.read_parquet(paths.resolved / "events.parquet")
    events["summary_en"] = events["summary_en"] + " (amended)"
    events.to_parquet(paths.resolved / "events.parquet", index=False)
    release.run(city, paths, AS_OF)
    after, new_bytes = _stats_of(out), _bytes_of(out)
    changed = {n for n in new_bytes if new_bytes[n] != old_bytes[n]}
    assert {"events.csv", "events.parquet", "manifest.json", release.SUMS} <= changed
    assert {n for n in after if after[n] != before[n]} == changed  # the rest keep inode, mtime


def _pandas_csv(df: pd.DataFrame) -> bytes:
    """The writer before it was vectorized: inert per cell, then pandas' to_csv."""
    from transforms import csvsafe

    out = df.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(csvsafe.inert, na_action="ignore")
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


CELL = st.text(alphabet=st.sampled_from(list("a中é ,\"\n\r\t=+-@'0.x\u2028")), max_size=6)


@given(
    texts=st.lists(st.one_of(st.none(), CELL), min_size=0, max_size=12),
    numbers=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), max_size=12
    ),
)
@settings(max_examples=150, deadline=None)
def test_fast_csv_is_byte_identical_to_pandas_and_as_inert(texts, numbers) -> None:
    from transforms import csvsafe

    n = min(len(texts), len(numbers))
    texts, numbers = texts[:n], numbers[:n]
    flags = [None if t is None else len(t) % 2 == 0 for t in texts]
    df = pd.DataFrame(
        {
            "name": pd.array(texts, dtype="string"),
            "str": pd.array(texts, dtype="str"),
            "obj": pd.Series(texts, dtype=object),
            "fine": pd.array(numbers, dtype="float64"),
            "ok": pd.array(flags, dtype="boolean"),
            'odd,"head': pd.array(texts, dtype="str"),
        }
    )
    assert csvsafe.csv_bytes(df) == _pandas_csv(df)
    assert csvsafe.csv_bytes(df[["name", "fine"]]) == _pandas_csv(df[["name", "fine"]])
    assert csvsafe.csv_bytes(df[["name"]]) == _pandas_csv(df[["name"]])


def test_inert_text_marks_formula_starts_in_a_sliced_array() -> None:
    import pyarrow as pa

    from transforms import csvsafe

    cells = ["=a", "+1", "-", "@x", "\tq", "\rr", "a=", "", None, "中", "'=", "＝x", "é="]
    expected = [csvsafe.inert(c) for c in cells]
    values = pa.array(["=pad", *cells, "=pad"], pa.large_string())  # what _csv_field hands it
    assert csvsafe.inert_text(values.slice(1, len(cells))).to_pylist() == expected
    assert csvsafe.inert_text(values).to_pylist() == ["'=pad", *expected, "'=pad"]
