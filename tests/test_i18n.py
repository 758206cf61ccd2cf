"""Two languages: every message of the templates has an English translation, and the English
pages come out in English, under en/, each linked to its Chinese twin."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from agencywatch.paths import CityPaths
from tests.test_release import AS_OF, fictional_city, write_inputs
from transforms import release, render

TRANSLATIONS = render.SITE_DIR / "translations"


def template_messages() -> set[str]:
    """The msgids of the templates, extracted as pybabel does with site/translations/babel.cfg."""
    found = extract_from_dir(
        str(render.SITE_DIR / "templates"),
        method_map=[("**.html", "jinja2")],
        options_map={"**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}},
    )
    return {msg[2] if isinstance(msg[2], str) else msg[2][0] for msg in found}


def catalogue(locale: str):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=locale)


def test_every_template_message_has_an_english_translation() -> None:
    messages = template_messages()
    assert len(messages) > 50
    english = catalogue("en")
    missing = sorted(m for m in messages if not (english.get(m) and english.get(m).string))
    assert missing == [], "run pybabel extract/update (site/translations/README.md): " + repr(
        missing[:10]
    )


def test_placeholders_survive_translation() -> None:
    for message in catalogue("en"):
        if message.id and message.string:
            for name in ("%(date)s", "%(n)s", "%(version)s", "%(points)s", "%(months)s"):
                assert (name in message.id) == (name in message.string), message.id


@pytest.fixture
def build(tmp_path: Path) -> Path:
    city = fictional_city()
    paths = CityPaths(root=tmp_path, city="demo")
    write_inputs(paths)
    return render.run(city, paths, release.run(city, paths, AS_OF), {})


def test_english_pages_mirror_the_chinese_ones(build: Path) -> None:
    chinese = {p.relative_to(build) for p in build.rglob("*.html") if p.parts[-2:][0] != "en"}
    chinese = {p for p in chinese if p.parts[0] != "en"}
    english = {p.relative_to(build / "en") for p in (build / "en").rglob("*.html")}
    assert chinese == english
    text = (build / "en" / "phone.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in text and "Phone lookup" in text
    assert "电话查询" not in text.replace('lang="zh-CN">中文', "")
    assert 'href="../static/style.css"' in text
    assert 'class="lang-switch" href="../phone.html"' in text
    zh = (build / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in zh and 'class="lang-switch" href="en/index.html"' in zh


def test_labels_follow_the_language(build: Path) -> None:
    text = (build / "en" / "blacklist.html").read_text(encoding="utf-8")
    assert "<h1>Blacklist" in text
    assert "<h1>黑名单" in (build / "blacklist.html").read_text(encoding="utf-8")


def test_missing_catalogue_falls_back_to_the_chinese_text() -> None:
    t = render.catalogue("xx_NONE")
    assert t.gettext("电话查询") == "电话查询"
    assert render.catalogue("en").gettext("电话查询") == "Phone lookup"
