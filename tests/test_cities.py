"""The five example cities: valid configs, honest comments, fictional fixtures, end-to-end runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from agencywatch.cli import main
from agencywatch.config import load_city
from agencywatch.mirror.fixture import fixture_base_url, fixture_config_text, prepare_fixture_city
from agencywatch.mirror.reshape import profile_slugs, reshape_mirror

REPO = Path(__file__).resolve().parents[1]
CITIES = ("lianyungang", "taizhou", "jinhua", "suzhou", "wuxi")
AS_OF = "2026-11-01"  # the date the demo mirror (and so every fixture) is generated as of


def city_file(slug: str) -> Path:
    return REPO / "cities" / f"{slug}.toml"


@pytest.mark.parametrize("slug", CITIES)
def test_each_city_passes_check_config(slug: str) -> None:
    result = CliRunner().invoke(main, ["check-config", str(city_file(slug))])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("slug", CITIES)
def test_each_city_says_its_sources_are_not_yet_checked(slug: str) -> None:
    head = city_file(slug).read_text(encoding="utf-8")[:1500]
    assert "NOT YET CHECKED AGAINST THE LIVE SITES" in head


@pytest.mark.parametrize("slug", CITIES)
def test_each_city_feeds_the_province_portal_and_imports_national_lists(slug: str) -> None:
    city = load_city(city_file(slug))
    assert city.province in ("江苏省", "浙江省")
    assert city.mirror is None  # a real city crawls its real sites; tests add the mirror
    manual = {s.record_type for s in city.sources if s.kind == "manual"}
    assert {"dishonest_debtor", "judgment", "complaint"} <= manual
    assert any(s.kind != "manual" for s in city.sources)


@pytest.mark.parametrize("slug", CITIES)
def test_each_fixture_mirror_is_marked_fictional_and_names_no_real_institution(slug: str) -> None:
    """Fixture records carry the city's name only as "<city>演示市", so no fictional penalty or
    judgment is ever pinned on a real court, regulator or company of that city."""
    mirror = REPO / "mirrors" / slug
    assert "ENTIRELY FICTIONAL" in (mirror / "README.txt").read_text(encoding="utf-8")
    city = load_city(city_file(slug))
    fictional = city.name.removesuffix("市") + "演示市"
    for path in mirror.rglob("*"):
        if path.suffix in (".html", ".json", ".csv"):
            body = path.read_bytes()
            text = body.decode("utf-8", "ignore") + body.decode("gb18030", "ignore")
            assert city.name not in text, path
            assert fictional in text or path.name.startswith("filings"), path


@pytest.mark.parametrize("slug", CITIES)
def test_each_fixture_covers_every_source_of_its_city(slug: str) -> None:
    city = load_city(city_file(slug))
    mirror = REPO / "mirrors" / slug
    for source in city.sources:
        if source.kind == "manual":
            assert list((mirror / "_inbox" / source.id).glob("*")), source.id
        else:
            host_and_path = re.sub(r"^https?://", "", source.url).split("?")[0]
            assert (mirror / host_and_path).is_file() or (mirror / host_and_path).is_dir(), (
                source.id
            )


def test_the_committed_fixtures_are_what_the_profiles_make(tmp_path: Path) -> None:
    assert set(profile_slugs()) == set(CITIES)
    for slug in CITIES:
        out = tmp_path / slug
        reshape_mirror(slug, REPO / "mirrors" / "demo", out)
        made = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
        committed = {
            p.relative_to(REPO / "mirrors" / slug).as_posix()
            for p in (REPO / "mirrors" / slug).rglob("*")
            if p.is_file()
        }
        assert made == committed, slug


def test_the_fixture_config_moves_hosts_under_the_mirror_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    original = load_city(city_file("wuxi"))
    text = fixture_config_text(city_file("wuxi").read_text(encoding="utf-8"), "wuxi", tmp_path)
    path = tmp_path / "wuxi.toml"
    path.write_text(text, encoding="utf-8")
    fixture = load_city(path)
    assert fixture.base_url == fixture_base_url("wuxi")
    assert fixture.mirror is not None and Path(fixture.mirror.dir) == tmp_path.resolve()
    for before, after in zip(original.sources, fixture.sources, strict=True):
        if before.url:
            assert after.url == "/" + re.sub(r"^https?://", "", before.url)
        assert before.model_dump(exclude={"url"}) == after.model_dump(exclude={"url"})


# --- end to end: every city against its fixture mirror, one shared date -------------------------


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    """All five cities run into one root (as a province deployment would), with their summaries."""
    from agencywatch.pipeline import run_city

    root = tmp_path_factory.mktemp("province")
    cities_dir = root / "cities"
    for slug in CITIES:
        prepare_fixture_city(slug, cities_dir, root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENCYWATCH_CITIES_DIR", str(cities_dir))
        summaries = {slug: run_city(slug, root=str(root), as_of=AS_OF) for slug in CITIES}
    return root, summaries


@pytest.mark.slow
@pytest.mark.parametrize("slug", CITIES)
def test_each_city_publishes_from_its_fixture(province: tuple[Path, dict], slug: str) -> None:
    root, summaries = province
    summary = summaries[slug]
    assert summary["status"] == "published", summary.get("error")
    assert all(s["status"] == "ok" for s in summary["sources"].values()), summary["sources"]
    assert (root / "releases" / slug / AS_OF / "agencies.csv").is_file()
    assert (root / "public" / slug / "index.html").is_file()
    lists = summary["lists"]
    assert lists["blacklist"] > 0 and lists["warning"] > 0, lists


@pytest.mark.slow
def test_the_portal_lists_every_city(province: tuple[Path, dict]) -> None:
    portal = pytest.importorskip("transforms.portal")
    root, _ = province
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENCYWATCH_CITIES_DIR", str(root / "cities"))
        page = portal.run(root).read_text(encoding="utf-8")
    for slug in CITIES:
        assert load_city(city_file(slug)).name in page, slug
        assert f"{slug}/" in page, slug


@pytest.mark.slow
def test_the_province_release_joins_every_city(province: tuple[Path, dict]) -> None:
    province_stage = pytest.importorskip("transforms.province")
    import pandas as pd

    root, _ = province
    release = province_stage.run(root)
    assert release is not None
    agencies = pd.read_parquet(release / "agencies.parquet")
    assert set(agencies["city"]) == set(CITIES)
