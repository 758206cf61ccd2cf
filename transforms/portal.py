"""The portal: public/index.html (and index.en.html) listing every city the root holds.

A visitor may not know which city's site to open; the portal lists each city with its list
counts, its latest release and how its last run went, read from the same files machines read
(data/<city>/last-run.json, releases/<city>/<date>/). It is re-written after every publish and
by the portal DAG, so it never needs a city's pipeline to run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agencywatch.config import RESERVED_SLUGS
from agencywatch.fingerprint import write_if_changed
from transforms import render

STATIC_FILES = ("style.css", "prefs.js")


def run(root: Path) -> Path:
    """Write the portal pages under root/public/ and return the Chinese page."""
    public = Path(root) / "public"
    public.mkdir(parents=True, exist_ok=True)
    static = public / "_static"
    static.mkdir(exist_ok=True)
    for name in STATIC_FILES:  # unchanged files are not written again (no new mtime)
        write_if_changed(static / name, (render.SITE_DIR / "static" / name).read_bytes())
    cities = city_rows(Path(root))
    labels = render.site_labels()
    pages = {
        lang: public / ("index.html" if not lang.prefix else "index.en.html")
        for lang in render.LANGUAGES
    }
    for lang, target in pages.items():
        other = next(p for lg, p in pages.items() if lg is not lang)
        env = render.environment(lang)
        env.globals["label"] = lambda kind, key, i=lang.index: render._label(labels, kind, key, i)
        html = env.get_template("portal.html").render(
            lang=lang.tag,
            lang_index=lang.index,
            other_lang={"tag": "en" if lang.index == 0 else "zh-CN", "href": other.name},
            list_order=render.LIST_ORDER,
            cities=[_localized(c, lang) for c in cities],
        )
        write_if_changed(target, html.encode("utf-8"))  # renamed in: never half a page
    return pages[render.LANGUAGES[0]]


def city_rows(root: Path) -> list[dict[str, Any]]:
    """One row per city with a run summary or a release under root, sorted by slug."""
    slugs = {p.parent.name for p in (root / "data").glob("*/last-run.json")}
    slugs |= {p.name for p in (root / "releases").glob("*") if p.is_dir()}
    slugs -= set(RESERVED_SLUGS)  # releases/province/ is the combined release, not a city
    return [_city_row(root, slug) for slug in sorted(slugs) if render.SAFE_ID.fullmatch(slug)]


def _city_row(root: Path, slug: str) -> dict[str, Any]:
    summary_path = root / "data" / slug / "last-run.json"
    summary: dict[str, Any] = {}
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except ValueError:
            summary = {}
    releases = sorted(p.name for p in (root / "releases" / slug).glob("[0-9]*") if p.is_dir())
    name, name_en = _city_names(slug)
    sources = summary.get("sources") or {}
    return {
        "slug": slug,
        "name": name,
        "name_en": name_en,
        "live": (root / "public" / slug / "index.html").is_file(),
        "lists": {k: v for k, v in (summary.get("lists") or {}).items() if isinstance(v, int)},
        "release": releases[-1] if releases else None,
        "status": summary.get("status"),
        "stale_sources": sum(1 for s in sources.values() if (s or {}).get("status") != "ok"),
    }


def _city_names(slug: str) -> tuple[str, str]:
    """The city's names from its config; the slug when the config is not at hand."""
    try:
        from agencywatch.config import load_city

        city = load_city(slug)
    except Exception:  # a city published from another checkout: its slug still identifies it
        return slug, slug
    return city.name, city.name_en or city.name


def _localized(row: dict[str, Any], lang: render.Language) -> dict[str, Any]:
    return {
        **row,
        "name": row["name_en"] if lang.index == 1 else row["name"],
        "lang_prefix": lang.prefix,
    }
