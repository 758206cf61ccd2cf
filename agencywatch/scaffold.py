"""`agencywatch new-city`: the files a new city starts from, written from templates.

Adding a city is a config file and a walk-through, not a code change, so the scaffold's job is a
config that is valid the moment it is written (it is parsed with the same schema before anything
lands on disk), that shows one commented example of every source kind, and that runs as written
against the bundled demo mirror — a new maintainer sees a published site before editing a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from agencywatch.config import City, ConfigError, parse_city
from agencywatch.paths import city_paths

TEMPLATES = Path(__file__).resolve().parent / "templates"
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")
# Folder names the province release and the portal use beside the cities' own.
RESERVED_SLUGS = frozenset({"province", "portal"})


@dataclass(frozen=True)
class Scaffold:
    """What new-city wrote: the config, the corrections stub and the manual sources' inboxes."""

    config: Path
    corrections: Path
    inboxes: tuple[Path, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.config, self.corrections, *self.inboxes)


def _environment() -> Environment:
    # TOML, not HTML: nothing here is rendered for a browser, and escaping would corrupt quotes.
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _toml_string(value: str) -> str:
    """A value safe inside a TOML basic string (the templates put it between double quotes)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def city_config_text(
    slug: str, name: str = "", name_en: str = "", province: str = "", base_url: str = ""
) -> str:
    """The scaffolded cities/<slug>.toml, checked against the schema before it is returned."""
    if not SLUG_PATTERN.match(slug):
        raise ConfigError(
            f"{slug!r} is not a valid city slug: use lower-case letters, digits, '-' or '_', "
            "starting with a letter (e.g. lianyungang)"
        )
    if slug in RESERVED_SLUGS:
        raise ConfigError(f"{slug!r} is reserved for the province release and portal; pick another")
    values = {
        "slug": slug,
        "name": name or slug,
        "name_en": name_en or slug.replace("-", " ").replace("_", " ").title(),
        "province": province,
        "base_url": base_url or f"https://credit.{slug}.example",
    }
    safe = {k: _toml_string(v) for k, v in values.items()}
    text = _environment().get_template("city.toml.j2").render(**safe)
    parse_city(text, Path(f"cities/{slug}.toml"))
    return text


def corrections_text(slug: str, name: str = "") -> str:
    """The corrections stub: comments only, so it means "no corrections yet"."""
    template = _environment().get_template("corrections.toml.j2")
    return template.render(slug=slug, name=_toml_string(name or slug))


def manual_sources(city: City) -> list[str]:
    return [s.id for s in city.sources if s.kind == "manual"]


def scaffold_city(
    slug: str,
    cities_dir: Path,
    root: str | Path | None = None,
    *,
    name: str = "",
    name_en: str = "",
    province: str = "",
    base_url: str = "",
    force: bool = False,
) -> Scaffold:
    """Write cities/<slug>.toml, cities/corrections/<slug>.toml and data/<slug>/inbox/<source>/.

    An existing config is never overwritten unless `force` is given: it is the maintainers' work.
    """
    config = cities_dir / f"{slug}.toml"
    corrections = cities_dir / "corrections" / f"{slug}.toml"
    text = city_config_text(slug, name, name_en, province, base_url)
    if config.exists() and not force:
        raise FileExistsError(f"{config} already exists (use --force to overwrite it)")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text, encoding="utf-8")
    if not corrections.exists():
        corrections.parent.mkdir(parents=True, exist_ok=True)
        corrections.write_text(corrections_text(slug, name), encoding="utf-8")
    city = parse_city(text, config)
    inbox_root = city_paths(slug, root).inbox
    inboxes = tuple(inbox_root / source_id for source_id in manual_sources(city))
    for inbox in inboxes:
        inbox.mkdir(parents=True, exist_ok=True)
    return Scaffold(config=config, corrections=corrections, inboxes=inboxes)
