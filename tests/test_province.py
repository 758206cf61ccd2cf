"""The province release joins each city's newest release, reproducibly and verifiably."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from transforms import province
from transforms.release import MANIFEST, TABLES, sha256_file, write_parquet


def city_release(root: Path, city: str, date_str: str, agencies: list[str]) -> Path:
    """A minimal city release: one parquet per table and a manifest."""
    folder = root / "releases" / city / date_str
    folder.mkdir(parents=True)
    for name in TABLES:
        df = pd.DataFrame({"agency_id": agencies, "note": [f"{name} of {a}" for a in agencies]})
        write_parquet(df, folder / f"{name}.parquet")
    manifest = {"city": city, "date": date_str, "method_version": "1.0", "files": {}}
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_no_city_release_means_no_province_release(tmp_path):
    assert province.run(tmp_path) is None


def test_the_newest_release_of_every_city_is_joined_with_a_city_column(tmp_path):
    city_release(tmp_path, "alpha", "2026-11-01", ["old"])
    newest = city_release(tmp_path, "alpha", "2026-11-20", ["a1", "a2"])
    city_release(tmp_path, "beta", "2026-11-22", ["b1"])
    out = province.run(tmp_path)
    assert out == tmp_path / "releases" / "province" / "2026-11-22"
    agencies = pd.read_csv(out / "agencies.csv", encoding="utf-8-sig")
    assert agencies[["city", "agency_id"]].values.tolist() == [
        ["alpha", "a1"],
        ["alpha", "a2"],
        ["beta", "b1"],
    ]
    assert (out / "agencies.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    manifest = json.loads((out / MANIFEST).read_text("utf-8"))
    assert manifest["cities"][0] == {
        "city": "alpha",
        "date": "2026-11-20",
        "manifest_sha256": sha256_file(newest / MANIFEST),
    }
    assert manifest["files"]["agencies.csv"] == sha256_file(out / "agencies.csv")
    index = json.loads((tmp_path / "releases" / "index.json").read_text("utf-8"))
    assert {"province", "alpha", "beta"} == {e["city"] for e in index["releases"]}


def test_rebuilding_from_the_same_releases_gives_the_same_bytes(tmp_path):
    city_release(tmp_path, "alpha", "2026-11-20", ["a1"])
    out = province.run(tmp_path)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    province.run(tmp_path)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_a_new_province_release_chains_to_the_previous_one(tmp_path):
    city_release(tmp_path, "alpha", "2026-11-20", ["a1"])
    first = province.run(tmp_path)
    city_release(tmp_path, "alpha", "2026-11-21", ["a1", "a2"])
    second = province.run(tmp_path)
    manifest = json.loads((second / MANIFEST).read_text("utf-8"))
    assert manifest["previous_release"] == first.name
    assert manifest["previous_manifest_sha256"] == sha256_file(first / MANIFEST)


def test_a_table_missing_from_an_older_release_is_joined_from_the_others(tmp_path):
    city_release(tmp_path, "alpha", "2026-11-20", ["a1"])
    newer = city_release(tmp_path, "beta", "2026-11-21", ["b1"])
    (tmp_path / "releases/alpha/2026-11-20" / f"{TABLES[-1]}.parquet").unlink()
    out = province.run(tmp_path)
    last = pd.read_parquet(out / f"{TABLES[-1]}.parquet")
    assert last["city"].tolist() == ["beta"]
    assert newer.name == out.name
