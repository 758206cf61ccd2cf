"""The CLI: every command is documented in the README, and config errors exit cleanly."""

from pathlib import Path

from click.testing import CliRunner

from agencywatch.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_command_is_documented_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    for name in main.commands:
        assert f"`agencywatch {name}" in readme, f"agencywatch {name} is not in README.md"


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8")[:600]
    assert "make demo" in head and "make test" in head


def test_check_config_passes_on_bundled_cities() -> None:
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 0, result.output
    assert "demo.toml" in result.output


def test_check_config_reports_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('slug = "bad"\nname = "坏"\ncolour = "red"\nsources = []\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["check-config", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: colour: unknown key" in result.output
    assert "contact_url: required key is missing" in result.output


def test_run_unknown_city_exits_1() -> None:
    result = CliRunner().invoke(main, ["run", "no-such-city"])
    assert result.exit_code == 1
    assert "no-such-city.toml: no such city config" in result.output
