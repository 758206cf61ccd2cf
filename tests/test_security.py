"""Bad input: whatever a source page says, the site shows it as text.

An attacker controls the pages we crawl. Every text field of the released tables and of the run
summary is poisoned here with markup, then the site is rendered: no page may contain a live tag
or attribute from the data, links keep only http(s), and ids cannot leave their folder.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from agencywatch.paths import CityPaths
from tests.test_release import AS_OF, fictional_city, write_inputs
from transforms import release, render

PAYLOAD = '<script>alert("aw")</script><img src=x onerror=alert(2)>"\'><a href="javascript:x">'
# columns that are keys, enums or dates: contract-checked before rendering, so not free text
NOT_FREE_TEXT = {
    "agency_id", "record_id", "list", "component", "record_type", "match_method", "category",
    "status", "code", "list_reason_code", "method_version", "as_of", "event_date", "fetched_at",
    "first_seen", "last_seen", "publicity_end", "established_on", "evidence", "source_id",
    "expired_reason", "uscc", "content_sha256",
}  # fmt: skip


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def poison(paths: CityPaths) -> list[str]:
    """Every free-text column of the stage inputs gets the payload appended; returns them."""
    poisoned = []
    for table in [*paths.resolved.glob("*.parquet"), *paths.scored.glob("*.parquet")]:
        df = pd.read_parquet(table)
        for col in df.columns:
            if col in NOT_FREE_TEXT or not pd.api.types.is_string_dtype(df[col]):
                continue
            if not df[col].map(lambda v: isinstance(v, str) or pd.isna(v)).all():
                continue
            df[col] = df[col].astype("string").fillna("") + PAYLOAD
            poisoned.append(f"{table.stem}.{col}")
        df.to_parquet(table)
    return poisoned


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    city = fictional_city()
    paths = CityPaths(tmp_path_factory.mktemp("root"), "demo")
    write_inputs(paths)
    poisoned = poison(paths)
    events = pd.read_parquet(paths.resolved / "events.parquet")
    events["url"] = "javascript:alert(3)"  # an evidence link that is not http(s)
    events.to_parquet(paths.resolved / "events.parquet")
    run = {
        "sources": {
            s.id: {"status": "blocked", "rows": 0, "message": PAYLOAD} for s in city.sources
        }
    }
    release_dir = release.run(city, paths, AS_OF)
    return render.run(city, paths, release_dir, run), poisoned


def test_the_payload_reached_many_fields(site: tuple[Path, list[str]]) -> None:
    _, poisoned = site
    assert {"agencies.name", "events.summary_zh", "reasons.text_zh"} <= set(poisoned), poisoned


def test_no_page_carries_markup_from_the_data(site: tuple[Path, list[str]]) -> None:
    build, _ = site
    pages = sorted(build.rglob("*.html"))
    assert pages
    shown = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert '<script>alert("aw")' not in text, page
        assert "<img src=x" not in text, page
        shown += text.count("&lt;script&gt;alert(")
        parser = Tags()
        parser.feed(text)
        for tag, attrs in parser.tags:
            assert not any(k.startswith("on") for k in attrs), (page, tag, attrs)
            for key in ("href", "src", "action"):
                value = (attrs.get(key) or "").strip().lower()
                assert not value.startswith(("javascript:", "data:text")), (page, tag, attrs)
    assert shown > 0  # the payload is shown, escaped, not dropped


def test_source_messages_on_the_sources_page_are_escaped(site: tuple[Path, list[str]]) -> None:
    build, _ = site
    sources = build / "sources.html"
    if not sources.is_file():
        pytest.skip("no sources page in this build")
    text = sources.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(" in text and '<script>alert("aw")' not in text


@pytest.mark.parametrize(
    "agency_id", ["../../etc", "..", "a/b", "a\\b", "%2e%2e", "", "x\x00", "ａ", "a b"]
)
def test_ids_that_could_leave_their_folder_are_refused(agency_id: str) -> None:
    with pytest.raises(ValueError, match="not safe in a path"):
        render.safe_id(agency_id)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "//evil.example/x",
        "https://ok.example/\njavascript:x",
        "file:///etc/passwd",
    ],
)
def test_links_from_data_keep_only_http(url: str) -> None:
    assert render.http_url(url) is None
