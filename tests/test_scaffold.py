"""`agencywatch new-city` and the check-config messages a new city's maintainers will read."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from agencywatch.cli import main
from agencywatch.config import ConfigError, SourceKind, error_line, load_city, parse_city
from agencywatch.scaffold import city_config_text

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-01"  # the date the committed demo mirror is generated as of


@pytest.fixture
def cities_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cities"
    path.mkdir()
    monkeypatch.setenv("AGENCYWATCH_CITIES_DIR", str(path))
    return path


def new_city(tmp_path: Path, *args: str) -> object:
    return CliRunner().invoke(main, ["new-city", *args, "--root", str(tmp_path)])


def test_new_city_writes_a_config_that_passes_check_config(
    tmp_path: Path, cities_dir: Path
) -> None:
    result = new_city(tmp_path, "testville", "--name", "测试市", "--province", "演示省")
    assert result.exit_code == 0, result.output
    config = cities_dir / "testville.toml"
    checked = CliRunner().invoke(main, ["check-config", str(config)])
    assert checked.exit_code == 0, checked.output
    city = load_city(config)
    assert (city.slug, city.name, city.province) == ("testville", "测试市", "演示省")


def test_new_city_shows_one_example_of_every_source_kind(tmp_path: Path, cities_dir: Path) -> None:
    new_city(tmp_path, "testville")
    city = load_city(cities_dir / "testville.toml")
    assert sorted(s.kind for s in city.sources) == sorted(SourceKind.__args__)


def test_new_city_makes_the_inboxes_and_a_corrections_file(
    tmp_path: Path, cities_dir: Path
) -> None:
    result = new_city(tmp_path, "testville")
    city = load_city(cities_dir / "testville.toml")
    manual = [s.id for s in city.sources if s.kind == "manual"]
    assert manual
    for source_id in manual:
        assert (tmp_path / "data" / "testville" / "inbox" / source_id).is_dir()
    corrections = cities_dir / "corrections" / "testville.toml"
    assert corrections.is_file()
    assert tomllib.loads(corrections.read_text(encoding="utf-8")) == {}
    assert str(corrections) in result.output


def test_new_city_never_overwrites_a_config_without_force(tmp_path: Path, cities_dir: Path) -> None:
    new_city(tmp_path, "testville")
    config = cities_dir / "testville.toml"
    config.write_text(config.read_text(encoding="utf-8") + "# maintainers' edit\n", "utf-8")
    again = new_city(tmp_path, "testville")
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert "maintainers' edit" in config.read_text(encoding="utf-8")
    forced = new_city(tmp_path, "testville", "--force")
    assert forced.exit_code == 0, forced.output
    assert "maintainers' edit" not in config.read_text(encoding="utf-8")


@pytest.mark.parametrize("slug", ["Testville", "9city", "test ville", "测试"])
def test_new_city_rejects_a_bad_slug(tmp_path: Path, cities_dir: Path, slug: str) -> None:
    result = new_city(tmp_path, slug)
    assert result.exit_code == 1
    assert "not a valid city slug" in result.output
    assert not list(cities_dir.glob("*.toml"))


def test_values_with_quotes_stay_valid_toml() -> None:
    text = city_config_text("quoted", name='某"市\\', province="演示省")
    city = parse_city(text, Path("cities/quoted.toml"))
    assert city.name == '某"市\\'


# --- check-config: file, line and hint --------------------------------------------------------

BROKEN = """slug = "broken"
name = "坏市"
colour = "red"
contact_url = "https://example.org"

[[sources]]
id = "first"
title = "t"
record_type = "penalty"
kind = "html_table"
url = "/a"

[[sources]]
id = "second"
title = "t"
record_type = "penalty"
kind = "html_table"
url = "/b"
next_page_xpth = "//a"
min_rows = "many"
"""


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_errors_give_the_line_of_the_offending_key(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN, encoding="utf-8")
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 1
    for needle in ("colour", "next_page_xpth", "min_rows"):
        assert f"{path}:{line_of(BROKEN, needle)}: {needle}" in result.output, result.output


def test_errors_give_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_city(path)
    message = str(err.value)
    assert "hint: did you mean 'next_page_xpath'?" in message
    assert "hint: write the value without quotes" in message


def test_a_missing_key_inside_a_source_points_at_its_table() -> None:
    text = BROKEN.replace(
        'title = "t"\nrecord_type = "penalty"\nkind = "html_table"\nurl = "/b"', ""
    )
    lines = text.splitlines()
    second = [i for i, line in enumerate(lines, 1) if line == "[[sources]]"][1]
    assert error_line(text, ("sources", 1, "title")) == second


def test_a_slug_that_does_not_match_the_file_gets_line_and_hint(tmp_path: Path) -> None:
    text = city_config_text("testville")
    path = tmp_path / "othertown.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_city(path)
    assert f"{path}:{line_of(text, 'slug =')}: slug" in str(err.value)
    assert "hint: rename the file to testville.toml" in str(err.value)


# --- the whole path: scaffold, point at a mirror, run, find the site and the release ----------


@pytest.mark.slow
def test_a_scaffolded_city_runs_against_a_mirror_to_a_published_site(
    tmp_path: Path, cities_dir: Path
) -> None:
    from agencywatch.pipeline import run_city

    assert new_city(tmp_path, "testville", "--name", "测试市").exit_code == 0
    mirror = tmp_path / "mirrors" / "demo"
    shutil.copytree(REPO / "mirrors" / "demo", mirror)
    config = cities_dir / "testville.toml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(
        r'^# \[mirror\]\n# dir = "mirrors/demo"', '[mirror]\ndir = "mirrors/demo"', text, flags=re.M
    )
    config.write_text(text, encoding="utf-8")
    inbox = tmp_path / "data" / "testville" / "inbox" / "judgments"
    shutil.copy(mirror / "wenshu" / "judgments.csv", inbox / "judgments.csv")

    summary = run_city("testville", root=str(tmp_path), as_of=AS_OF)

    assert summary["status"] == "published", summary.get("error")
    assert all(s["status"] == "ok" for s in summary["sources"].values()), summary["sources"]
    release = tmp_path / summary["release"]
    assert (release / "agencies.csv").is_file()
    assert (tmp_path / "public" / "testville" / "index.html").is_file()
    assert sum(summary["lists"].values()) > 0


def test_reserved_slugs_are_refused(tmp_path: Path, cities_dir: Path) -> None:
    result = new_city(tmp_path, "province")
    assert result.exit_code == 1
    assert "reserved" in result.output


def test_the_corrections_stub_example_matches_the_corrections_format() -> None:
    corrections = pytest.importorskip("transforms.corrections")
    from agencywatch.scaffold import corrections_text

    text = corrections_text("testville", "测试市")
    assert corrections.parse(text, Path("stub.toml")) == []
    example = "\n".join(
        line[2:]
        for line in text.splitlines()
        if line.startswith("# [[") or re.match(r"# [a-z_]+ = ", line)
    )
    parsed = corrections.parse(example, Path("example.toml"))
    assert [c.action for c in parsed] == ["suppress"]
