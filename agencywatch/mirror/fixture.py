"""Run a real city's config against its fictional fixture mirror, unchanged but for its hosts.

A real city's sources live on several hosts (the city and province credit sites, a central bank
branch), while a bundled mirror stands in for one `base_url`. So the fixture copy of a config
moves every absolute url `https://<host>/<path>` under the mirror as `/<host>/<path>`, points
`base_url` at a `.example` host (evidence links of fictional records must never point at a real
government site) and adds `[mirror]`. Selectors, labels, encodings, record paths and bounds are
the city's own: that is what the fixture tests. Manual sources get the mirror's `_inbox/` files.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from agencywatch.config import load_city
from agencywatch.paths import city_paths

REPO = Path(__file__).resolve().parents[2]
_URL = re.compile(r'^(\s*url\s*=\s*)"https?://([^"]+)"', re.M)
_BASE_URL = re.compile(r"^\s*base_url\s*=.*$", re.M)
_MIRROR = re.compile(r"^\s*\[mirror\]", re.M)


def fixture_base_url(slug: str) -> str:
    return f"https://{slug}.fixture.example"


def fixture_config_text(text: str, slug: str, mirror_dir: Path) -> str:
    """The city config with its hosts moved under the mirror (see the module docstring)."""
    if _MIRROR.search(text):
        raise ValueError(f"{slug}: the config already has a [mirror]; run it as it is")
    text = _URL.sub(lambda m: f'{m.group(1)}"/{m.group(2)}"', text)
    base = f'base_url = "{fixture_base_url(slug)}"'
    text, found = _BASE_URL.subn(base, text, count=1)
    if not found:
        text = re.sub(r"^(slug\s*=.*)$", rf"\1\n{base}", text, count=1, flags=re.M)
    mirror = mirror_dir.resolve().as_posix().replace('"', '\\"')
    return text.rstrip("\n") + f'\n\n[mirror]\ndir = "{mirror}"\n'


def prepare_fixture_city(
    slug: str, cities_out: Path, root: Path, repo: Path = REPO, mirror_dir: Path | None = None
) -> Path:
    """Write the fixture config into `cities_out`, fill the inboxes under `root`; the config path.

    Point AGENCYWATCH_CITIES_DIR at `cities_out` and run the city with `root` as output root.
    """
    mirror_dir = mirror_dir or repo / "mirrors" / slug
    source = repo / "cities" / f"{slug}.toml"
    cities_out.mkdir(parents=True, exist_ok=True)
    target = cities_out / f"{slug}.toml"
    text = fixture_config_text(source.read_text(encoding="utf-8"), slug, mirror_dir)
    target.write_text(text, encoding="utf-8")
    city = load_city(target)
    inbox = city_paths(slug, root).inbox
    for source_cfg in city.sources:
        if source_cfg.kind != "manual":
            continue
        dest = inbox / source_cfg.id
        dest.mkdir(parents=True, exist_ok=True)
        for export in sorted((mirror_dir / "_inbox" / source_cfg.id).glob("*")):
            shutil.copy(export, dest / export.name)
    return target
