"""City configs: every bundled one validates; a broken one is reported by file and key."""

from pathlib import Path

import pytest

from agencywatch.config import ConfigError, all_cities, load_city, parse_city

DEMO = Path(__file__).resolve().parents[1] / "cities" / "demo.toml"


def test_every_bundled_city_config_validates() -> None:
    cities = all_cities()
    assert "demo" in [c.slug for c in cities]
    for city in cities:
        assert city.sources, city.slug


def test_demo_covers_every_record_type() -> None:
    from agencywatch.config import RECORD_TYPES

    city = load_city("demo")
    assert {s.record_type for s in city.sources} == set(RECORD_TYPES)


def _demo_with(old: str, new: str) -> str:
    text = DEMO.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


def test_unknown_key_names_file_and_key() -> None:
    text = _demo_with('kind = "html_table"', 'kind = "html_table"\nnext_page_xpth = "//a"')
    with pytest.raises(ConfigError) as err:
        parse_city(text, Path("cities/broken.toml"))
    message = str(err.value)
    assert "cities/broken.toml" in message
    assert "sources.1.next_page_xpth" in message
    assert "unknown key" in message


def test_missing_field_is_named() -> None:
    text = _demo_with('contact_url = "https://agencywatch.example.org/contact"\n', "")
    with pytest.raises(ConfigError, match=r"contact_url: required key is missing"):
        parse_city(text, Path("cities/broken.toml"))


def test_wrong_type_says_what_was_expected() -> None:
    text = _demo_with("min_rows = 200", 'min_rows = "many"')
    with pytest.raises(ConfigError) as err:
        parse_city(text, Path("cities/broken.toml"))
    assert "sources.0.min_rows" in str(err.value)
    assert "integer" in str(err.value)
    assert "'many'" in str(err.value)


def test_weights_must_add_up() -> None:
    text = _demo_with("compliance = 0.4", "compliance = 0.5")
    with pytest.raises(ConfigError, match="add up to 1.1"):
        parse_city(text, Path("cities/broken.toml"))


def test_invalid_toml_is_reported_with_file() -> None:
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML"):
        parse_city("slug = ", Path("cities/broken.toml"))


def test_slug_must_match_file_name(tmp_path: Path) -> None:
    (tmp_path / "other.toml").write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ConfigError, match="must match the file name"):
        load_city(tmp_path / "other.toml")


def test_duplicate_source_ids_rejected() -> None:
    text = _demo_with('id = "penalties"', 'id = "registrations"')
    with pytest.raises(ConfigError, match="appears twice"):
        parse_city(text, Path("cities/broken.toml"))


def test_reserved_slugs_are_refused() -> None:
    text = _demo_with('slug = "demo"', 'slug = "province"')
    with pytest.raises(ConfigError, match="reserved for the province"):
        parse_city(text, Path("cities/province.toml"))
