"""changes.csv: ADD / MOD / DEL per agency and per list against the previous release."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.test_release import EVIL_NAME, release_chain
from transforms.changes import change_summary, changes_table

FIRST, EVIL = "91990000MA00000001", "u-0123456789ab"


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return release_chain(tmp_path_factory.mktemp("changes"))[2]


def read_changes(folder: Path) -> pd.DataFrame:
    return pd.read_csv(
        folder / "changes.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False
    )


def rows(df: pd.DataFrame) -> set[tuple[str, str, str, str]]:
    return set(zip(df["scope"], df["change"], df["agency_id"], df["list"], strict=True))


def test_first_release_adds_every_agency(folders: list[Path]) -> None:
    df = read_changes(folders[0])
    agencies = pd.read_csv(folders[0] / "agencies.csv", encoding="utf-8-sig", dtype=str)
    expected = {
        (scope, "ADD", a, lst)
        for a, lst in zip(agencies["agency_id"], agencies["list"], strict=True)
        for scope in ("agency", "list")
    }
    assert rows(df) == expected
    assert set(df["since"]) == {""}


def test_list_move_is_a_mod_an_exit_and_an_entry(folders: list[Path]) -> None:
    df = read_changes(folders[1])
    assert rows(df) == {
        ("agency", "MOD", FIRST, "warning"),
        ("list", "DEL", FIRST, "whitelist"),
        ("list", "ADD", FIRST, "warning"),
    }
    mod = df[df["change"] == "MOD"].iloc[0]
    assert (mod["score_before"], mod["score_after"]) == ("92.5", "55.0")
    assert (mod["list_before"], mod["list_after"]) == ("whitelist", "warning")
    assert mod["what_changed"] == "list;score;reason"
    assert mod["list_reason_code"] == "low_score"
    assert mod["list_reason_en"] == "Score below the warning threshold"
    assert set(df["since"]) == {folders[0].name}


def test_vanished_agency_is_deleted_with_a_reason_and_inert_name(folders: list[Path]) -> None:
    df = read_changes(folders[2])
    assert rows(df) == {("agency", "DEL", EVIL, "not_rated"), ("list", "DEL", EVIL, "not_rated")}
    assert set(df["list_reason_code"]) == {"not_in_release"}
    assert all(df["list_reason_zh"]) and all(df["list_reason_en"])
    assert set(df["name"]) == {"'" + EVIL_NAME}  # formula-safe in the CSV
    parquet = pd.read_parquet(folders[2] / "changes.parquet")
    assert set(parquet["name"]) == {EVIL_NAME}


def test_unchanged_agency_gives_no_row() -> None:
    agencies = pd.DataFrame(
        {"agency_id": ["a-1"], "name": ["甲"], "list": ["warning"], "score": [50.0]}
    )
    assert changes_table(agencies, agencies.copy(), "2026-11-29", "2026-11-22").empty


def test_summary_counts_entries_and_exits(folders: list[Path]) -> None:
    summary = change_summary(pd.read_parquet(folders[1] / "changes.parquet"))
    assert summary == {
        "since": folders[0].name,
        "agencies": {"ADD": 0, "MOD": 1, "DEL": 0},
        "entered": {"warning": 1},
        "left": {"whitelist": 1},
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    """The site of the newest release of a three-release chain."""
    from transforms import render

    city, paths, chain = release_chain(tmp_path_factory.mktemp("site"))
    return chain, render.run(city, paths, chain[-1], {})


def hrefs(page: Path) -> list[str]:
    return re.findall(r'href="([^"]+)"', page.read_text(encoding="utf-8"))


def test_downloads_page_lists_every_release_with_checksums(site: tuple[list[Path], Path]) -> None:
    chain, build = site
    page = build / "downloads.html"
    text = page.read_text(encoding="utf-8")
    for folder in chain:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert f'id="release-{folder.name}"' in text
        for name, digest in manifest["files"].items():
            assert digest in text
            assert (build / "downloads" / folder.name / name).read_bytes() == (
                folder / name
            ).read_bytes()
    for href in hrefs(page):
        if href.startswith(("downloads/", "feeds/")):
            assert (build / href).is_file(), href
    assert "feeds/changes.atom" in hrefs(page)


def test_changes_page_names_the_exit_with_its_reason(site: tuple[list[Path], Path]) -> None:
    _, build = site
    text = (build / "changes.html").read_text(encoding="utf-8")
    assert "not_in_release" not in text  # the reason is shown in words
    assert "本次发布中已无此机构" in text
    assert "&#39;=HYPERLINK" not in text and "=HYPERLINK(&#34;http://x&#34;" in text
    assert 'href="agency/u-0123456789ab.html' not in text  # no page for an agency gone
    for href in hrefs(build / "changes.html"):
        if href.startswith(("downloads/", "feeds/", "agency/")):
            assert (build / href.split("#")[0]).is_file(), href


def _reference_changes(previous, current, as_of, since) -> list[tuple]:
    """The rules row by row, as the first version computed them (the spec of changes_table)."""
    from transforms.changes import AGENCY_COLUMNS, change_reasons

    def by_id(df):
        if df is None or df.empty:
            return {}
        df = df.reindex(columns=AGENCY_COLUMNS)
        return {str(r["agency_id"]): r for r in
                df.astype(object).where(df.notna(), None).to_dict("records")}  # fmt: skip

    before, after = by_id(previous), by_id(current)
    gone = change_reasons().get("not_in_release", {})
    out = []
    for aid in sorted(before.keys() | after.keys()):
        b, a = before.get(aid), after.get(aid)
        code = a["list_reason_code"] if a else "not_in_release"
        zh = a["list_reason_zh"] if a else gone.get("zh")
        name = (a or b)["name"]
        was, now = (b or {}).get("list"), (a or {}).get("list")
        facts = (as_of, since, aid, name, was, now, (b or {}).get("score"),
                 (a or {}).get("score"), code, zh)  # fmt: skip
        if b is None:
            out.append((*facts, "agency", "ADD", now, None))
        elif a is None:
            out.append((*facts, "agency", "DEL", was, None))
        else:
            what = [w for k, w in (("list", "list"), ("score", "score"),
                                   ("list_reason_code", "reason")) if b[k] != a[k]]  # fmt: skip
            if what:
                out.append((*facts, "agency", "MOD", now, ";".join(what)))
        if was != now:
            out += [(*facts, "list", "DEL", was, None)] if was is not None else []
            out += [(*facts, "list", "ADD", now, None)] if now is not None else []
    return out


def test_changes_table_follows_the_row_by_row_rules() -> None:
    import random

    rng = random.Random(5)

    def frame(ids: list[str]) -> pd.DataFrame:
        pick = rng.choice
        return pd.DataFrame({
            "agency_id": ids,
            "name": [pick(["甲", "乙", None, "=x"]) for _ in ids],
            "list": [pick(["blacklist", "warning", "whitelist", None]) for _ in ids],
            "score": pd.array([pick([None, 55.0, 92.5, 100.0]) for _ in ids], dtype="float64"),
            "list_reason_code": [pick(["a", "b", None]) for _ in ids],
            "list_reason_zh": [pick(["甲", None]) for _ in ids],
        })  # fmt: skip

    columns = ["as_of", "since", "agency_id", "name", "list_before", "list_after",
               "score_before", "score_after", "list_reason_code", "list_reason_zh", "scope",
               "change", "list", "what_changed"]  # fmt: skip
    for _ in range(200):
        pool = [f"id{i}" for i in range(rng.randint(0, 10))]
        previous = (
            frame(rng.sample(pool, rng.randint(0, len(pool)))) if rng.random() < 0.9 else None
        )
        current = frame(rng.sample(pool, rng.randint(0, len(pool))))
        since = rng.choice([None, "2026-11-01"])
        got = changes_table(previous, current, "2026-11-02", since)[columns]
        got = got.astype(object).where(got.notna(), None)
        rows = [tuple(r) for r in got.itertuples(index=False)]
        assert rows == _reference_changes(previous, current, "2026-11-02", since)


def test_same_values_is_same_element_by_element() -> None:
    import numpy as np
    import pandas as pd

    from transforms import changes

    kinds = [None, float("nan"), np.float64("nan"), 1.0, 1, "a", "nan", 0.0, -0.0, 2.5, True]
    pairs = [(p, q) for p in kinds for q in kinds]
    x = pd.Series([p for p, _ in pairs], dtype=object)
    y = pd.Series([q for _, q in pairs], dtype=object)
    assert changes._same_values(x, y).tolist() == [changes._same(p, q) for p, q in pairs]
