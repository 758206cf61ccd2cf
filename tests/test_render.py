"""Site renderer: a page per agency, everything escaped, no foreign origin, relative links."""

from __future__ import annotations

import functools
import json
import os
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import markupsafe
import pandas as pd
import pytest

from agencywatch import fingerprint
from agencywatch.config import City
from agencywatch.paths import CityPaths
from tests.test_release import AS_OF, fictional_city, write_inputs
from transforms import release, render, render_env, render_frame

SITE = Path(render.__file__).resolve().parents[1] / "site"
RUN = {
    "sources": {
        "penalties": {"status": "stale", "rows": 7},
        "registrations": {"status": "ok", "rows": 3},
    }
}


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(page: Path) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.tags


@pytest.fixture
def built(tmp_path: Path) -> tuple[City, CityPaths, Path, Path]:
    city = fictional_city()
    paths = CityPaths(root=tmp_path, city="demo")
    write_inputs(paths)
    release_dir = release.run(city, paths, AS_OF)
    return city, paths, release_dir, render.run(city, paths, release_dir, RUN)


def pages(build: Path) -> list[Path]:
    return sorted(build.rglob("*.html"))


def test_build_is_a_new_folder_under_builds(built) -> None:
    _, paths, release_dir, build = built
    assert build.parent == paths.builds
    assert build.name.startswith(f"demo-{release_dir.name}-")
    for page in (
        "index.html",
        "blacklist.html",
        "warning.html",
        "whitelist.html",
        "no-adverse-record.html",
        "all.html",
        "method.html",
        "downloads.html",
        "about.html",
    ):
        assert (build / page).is_file(), page
    assert (build / "static" / "style.css").is_file()


def test_every_agency_gets_a_page(built) -> None:
    _, _, release_dir, build = built
    ids = pd.read_csv(release_dir / "agencies.csv", encoding="utf-8-sig", dtype=str)["agency_id"]
    assert len(ids) == 3
    for agency_id in ids:
        assert (build / "agency" / f"{agency_id}.html").is_file()
    listed = {
        a["href"]
        for t, a in tags_of(build / "all.html")
        if t == "a" and "agency/" in (a["href"] or "")
    }
    assert listed == {f"agency/{i}.html" for i in ids}


def test_script_in_a_name_is_escaped(built) -> None:
    _, _, _, build = built
    for page in pages(build):
        text = page.read_text(encoding="utf-8")
        assert "<script>alert(1)" not in text, page
    agency = (build / "agency" / "91990000MA00000002.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;丙丁有限公司" in agency
    scripts = [
        (a.get("src"), a.get("type"))
        for t, a in tags_of(build / "agency" / "91990000MA00000002.html")
        if t == "script"
    ]
    assert scripts == [
        ("../static/prefs.js", None),
        ("../static/filter.js", None),
        (None, "application/json"),  # data for search.js, never executed
    ]


def test_javascript_url_is_text_not_link(built) -> None:
    _, _, _, build = built
    page = build / "agency" / "91990000MA00000002.html"
    hrefs = [a.get("href") or "" for _, a in tags_of(page)]
    assert not [h for h in hrefs if h.lower().startswith("javascript:")]
    assert "javascript:alert(1)" in page.read_text(encoding="utf-8")  # still shown, as text
    assert "https://credit.demo-city.example/opendata/registrations.xlsx" in hrefs


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://credit.demo-city.example/a?b=1", True),
        ("http://credit.demo-city.example/", True),
        ("javascript:alert(1)", False),
        ("JAVASCRIPT:alert(1)", False),
        ("data:text/html,<b>x</b>", False),
        ("//evil.example/x", False),
        ("/relative/path", False),
        ("https://x.example/\nevil", False),
        (None, False),
    ],
)
def test_http_url(url: str | None, ok: bool) -> None:
    assert (render.http_url(url) is not None) is ok


def test_csp_meta_on_every_page(built) -> None:
    _, _, _, build = built
    all_pages = pages(build)
    assert len(all_pages) >= 12
    for page in all_pages:
        csp = [
            a.get("content") or ""
            for t, a in tags_of(page)
            if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"
        ]
        assert len(csp) == 1, page
        assert "default-src 'self'" in csp[0]


def test_built_pages_load_nothing_from_elsewhere_and_link_relatively(built) -> None:
    _, _, _, build = built
    for page in pages(build):
        for tag, attrs in tags_of(page):
            src = attrs.get("src")
            if src is not None:
                assert not re.match(r"^([a-z]+:)?//", src, re.I), (page, src)
            href = attrs.get("href") or ""
            assert not href.startswith("/"), (page, href)  # sub-path safe
            if tag != "a":
                assert not re.match(r"^([a-z]+:)?//", href, re.I), (page, tag, href)


def test_templates_and_static_reference_no_other_origin() -> None:
    files = [p for p in (SITE / "templates").rglob("*") if p.is_file()]
    files += [p for p in (SITE / "static").rglob("*") if p.is_file()]
    assert files
    foreign = re.compile(
        r"""(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import""", re.I
    )
    for f in files:
        assert not foreign.search(f.read_text(encoding="utf-8")), f


def test_agency_page_shows_reason_first_evidence_and_expiry(built) -> None:
    _, _, _, build = built
    text = (build / "agency" / "91990000MA00000001.html").read_text(encoding="utf-8")
    assert text.index("登记有效且已备案") < text.index('id="score-h"')
    assert "并不代表推荐" in text  # whitelist is not an endorsement
    assert "bbbbbbbbbbbb" in text and "b" * 13 not in text  # sha256 prefix of the evidence page
    assert "公示期已过" in text  # the expired penalty is marked as such
    assert "2026-11-22" in text  # retrieval date


def test_index_shows_counts_and_source_freshness(built) -> None:
    _, _, _, build = built
    text = (build / "index.html").read_text(encoding="utf-8")
    assert "过期（沿用上次数据）" in text  # penalties reported stale by the run summary
    assert 'action="all.html"' in text
    counts = re.findall(
        r'href="(blacklist|whitelist|not-rated)\.html"><span[^>]*>[^<]+</span> <strong>(\d+)</strong>',
        text,
    )
    assert dict(counts) == {"blacklist": "1", "whitelist": "1", "not-rated": "1"}


def test_downloads_page_lists_manifest_files(built) -> None:
    _, _, release_dir, build = built
    manifest = json.loads((release_dir / "manifest.json").read_text())
    text = (build / "downloads.html").read_text(encoding="utf-8")
    for name, digest in manifest["files"].items():
        assert digest in text
        assert (build / "downloads" / release_dir.name / name).read_bytes() == (
            release_dir / name
        ).read_bytes()


def test_method_page_shows_the_city_weights(tmp_path: Path) -> None:
    city = fictional_city()
    scoring = city.scoring.model_copy(update={"window_months": 24})
    city = city.model_copy(update={"scoring": scoring})
    paths = CityPaths(root=tmp_path, city="demo")
    write_inputs(paths)
    build = render.run(city, paths, release.run(city, paths, AS_OF))
    text = (build / "method.html").read_text(encoding="utf-8")
    assert "24 个月" in text
    assert "40%" in text and "催收非法债务罪" in text


def test_unsafe_agency_id_is_an_error(tmp_path: Path) -> None:
    city = fictional_city()
    paths = CityPaths(root=tmp_path, city="demo")
    write_inputs(paths)
    release_dir = release.run(city, paths, AS_OF)
    agencies = pd.read_parquet(release_dir / "agencies.parquet")
    agencies.loc[0, "agency_id"] = "../../etc"
    agencies.to_parquet(release_dir / "agencies.parquet", index=False)
    with pytest.raises(ValueError, match="not safe"):
        render.run(city, paths, release_dir)
    assert not [p for p in paths.builds.iterdir() if p.name.startswith("demo-")]


def test_same_release_renders_the_same_build(built) -> None:
    city, paths, release_dir, build = built
    again = render.run(city, paths, release_dir, RUN)
    assert again == build
    other = render.run(city, paths, release.run(city, paths, date(2026, 11, 23)), RUN)
    assert other != build and other.is_dir()


def test_method_page_falls_back_to_config_without_the_scorer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "transforms.score", None)  # import now fails
    city = fictional_city()
    view = render.method_view(city)
    assert view["from_scorer"] is False
    assert view["weights"] == city.scoring.weights.model_dump()
    assert view["window_months"] == city.scoring.window_months
    assert {c["code"] for c in view["codes"]} >= {"penalty", "flag_criminal_collection"}


def test_method_page_uses_the_scorer_description_when_present() -> None:
    score = pytest.importorskip("transforms.score")
    city = fictional_city()
    view = render.method_view(city)
    assert view["from_scorer"] is True
    described = score.method_description(city)
    assert [c["code"] for c in view["codes"]] == [c["code"] for c in described["codes"]]


def test_quality_page_shows_each_gate_and_escapes_its_examples(tmp_path: Path) -> None:
    city = fictional_city()
    paths = CityPaths(root=tmp_path, city="demo")
    write_inputs(paths)
    gates = paths.data / "gates"
    gates.mkdir(parents=True)
    failed = {
        "name": "raw_penalties",
        "success": False,
        "failed_expectations": [
            {
                "expectation": "expect_table_row_count_to_be_between",
                "column": None,
                "expected": {"min_value": 5},
                "observed": 1,
                "unexpected_examples": ["<script>alert(1)</script>"],
            }
        ],
        "statistics": {"evaluated_expectations": 3, "successful_expectations": 2},
    }
    (gates / "raw_penalties.json").write_text(json.dumps(failed), encoding="utf-8")
    (gates / "clean.json").write_text('{"name": "clean", "success": true}', encoding="utf-8")
    build = render.run(city, paths, release.run(city, paths, AS_OF))
    text = (build / "quality.html").read_text(encoding="utf-8")
    assert text.index("raw_penalties") < text.index(">clean<")  # failures first
    assert "expect_table_row_count_to_be_between" in text and "2/3" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert "Failed" in (build / "en" / "quality.html").read_text(encoding="utf-8")


def test_search_shards_are_written_beside_the_pages(built) -> None:
    _, _, _, build = built
    meta = json.loads((build / "search" / "meta.json").read_text(encoding="utf-8"))
    assert meta["count"] == 3
    assert list((build / "search" / "docs").glob("*.json"))
    assert not (build / "en" / "search").exists()  # one index serves both languages


def test_portal_lists_each_city_with_counts_and_release(built) -> None:
    from transforms import portal

    _, paths, release_dir, _ = built
    paths.data.mkdir(parents=True, exist_ok=True)
    paths.last_run.write_text(
        json.dumps({"city": "demo", "status": "blocked", "lists": {"blacklist": 7}}),
        encoding="utf-8",
    )
    page = portal.run(paths.root)
    assert page == paths.root / "public" / "index.html"
    text = page.read_text(encoding="utf-8")
    assert release_dir.name in text and ">7<" in text and "被检查拦截" in text
    assert (paths.root / "public" / "_static" / "style.css").is_file()
    assert "Blocked by a check" in (paths.root / "public" / "index.en.html").read_text("utf-8")


# --- the same pages, faster: the specialised environment and the model --------------------------


def pages_and_contexts(
    city: City, paths: CityPaths, release_dir: Path, lang: render.Language
) -> tuple[dict, list[tuple[str, str, dict]]]:
    """The site model and every page's (target, template, context) in one language."""
    model = render.site_model(city, paths, release_dir, RUN)
    model.update(release.site_model(release_dir))
    pages = render.site_pages(city, paths, RUN, model)
    model["site_pages"] = {target for target, _, _ in pages}
    out = [(t, tpl, {**model, **extra, **render.page_context(lang, t)}) for t, tpl, extra in pages]
    for a in model["agencies"]:
        target = render.agency_page(a["agency_id"])
        out.append((target, "agency.html", {**model, "a": a, **render.page_context(lang, target),
                                            "page": "agency"}))  # fmt: skip
    return model, out


@pytest.mark.parametrize("lang", render.LANGUAGES, ids=lambda lang: lang.locale)
def test_the_site_environment_prints_what_plain_jinja2_i18n_prints(
    built, lang: render.Language
) -> None:
    """Every page and evidence snippet, byte for byte, against Jinja2's own i18n extension
    (newstyle gettext per call, label()/loc() globals, macros called every time)."""
    city, paths, release_dir, _ = built
    labels = render.site_labels()
    fast = render.site_environment(lang, labels)
    plain = render.environment(lang)
    plain.globals.update(
        label=lambda kind, key: render._label(labels, kind, key, lang.index),
        loc=lambda row, field: render._localized(row, field, lang),
        site_data=functools.partial(
            render.site_data_json, plain, render.script_labels(labels, lang.index)
        ),
    )
    model, pages = pages_and_contexts(city, paths, release_dir, lang)
    events = [e for a in model["agencies"] for e in a["events"]]
    assert events
    items = render.timeline_items(fast, events)
    assert items == [plain.get_template("timeline_item.html").render(e=e) for e in events]
    timelines = iter(items)
    for a in model["agencies"]:
        a["timeline_html"] = render.Snippet("".join(next(timelines) for _ in a["events"]))
    for target, template, ctx in pages:
        expected = plain.get_template(template).render(ctx)
        assert fast.get_template(template).render(ctx) == expected, target
        assert render._render_shared(fast.get_template(template), {**fast.globals, **ctx}) == (
            expected.encode()
        )


@pytest.mark.parametrize(
    "value",
    ["", "plain", "<script>&'\"", "名称<b>", markupsafe.Markup("<b>ok</b>"), 42, 1.5, None, True],
)
def test_escape_text_is_markupsafe_escape(value: object) -> None:
    assert render_env.escape_text(value) == str(markupsafe.escape(value))


def test_timeline_items_escape_their_data() -> None:
    env = render.site_environment(render.LANGUAGES[1], render.site_labels())
    evil = "<script>alert(1)</script>"
    fields = ("source_title", "url", "fetched_on", "sha_prefix", "record_id", "event_date",
              "record_type", "expired_reason", "match_method", "summary_zh", "summary_en")  # fmt: skip
    event = {"href": None, **dict.fromkeys(fields, evil)}
    (item,) = render.timeline_items(env, [event])
    assert "<script>" not in item
    assert item.count("&lt;script&gt;") == 11  # every field but summary_zh; record_id twice
    assert str(markupsafe.escape(render.Snippet(item))) == item  # inserted as it is


def test_release_files_are_linked_not_copied(built) -> None:
    _, _, release_dir, build = built
    for name in ("agencies.csv", "manifest.json"):
        site_copy = build / "downloads" / release_dir.name / name
        assert site_copy.stat().st_ino == (release_dir / name).stat().st_ino


def test_a_translation_keeps_escaping_its_values() -> None:
    env = render.site_environment(render.LANGUAGES[0], render.site_labels())
    page = env.from_string('{{ _("抓取于 %(date)s", date=d) }}|{{ _("x %%") }}').render(d="<b>")
    assert page == "抓取于 &lt;b&gt;|x %"


def test_agency_pages_rendered_in_worker_processes_are_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "AGENCIES_PER_TASK", 1)  # three agencies, three tasks
    builds = []
    for workers in (1, 2):
        city, paths = fictional_city(), CityPaths(root=tmp_path / f"w{workers}", city="demo")
        write_inputs(paths)
        builds.append(render.run(city, paths, release.run(city, paths, AS_OF), RUN, workers))
    assert builds[0].name == builds[1].name  # the name is the digest of every file's bytes
    assert sorted(p.relative_to(builds[0]) for p in builds[0].rglob("*")) == sorted(
        p.relative_to(builds[1]) for p in builds[1].rglob("*")
    )


# --- a render whose inputs did not change renders nothing ---------------------------------------


def files_under(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file, folder and link under folder: (mtime_ns, inode)."""
    out = {}
    for dirpath, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            st = (Path(dirpath) / name).lstat()
            out[str((Path(dirpath) / name).relative_to(folder))] = (st.st_mtime_ns, st.st_ino)
    return out


def test_same_inputs_return_the_build_and_write_nothing(built) -> None:
    city, paths, release_dir, build = built
    before = files_under(paths.public)
    volatile = {**RUN, "run_id": "another run", "timings_s": {"render": 9.9}, "peak_rss_mb": 1}
    volatile["sources"] = {k: {**v, "pages_fetched": 99} for k, v in RUN["sources"].items()}
    assert render.run(city, paths, release_dir, volatile) == build
    assert files_under(paths.public) == before  # not a file written, touched or added


def change_a_gate(paths: CityPaths) -> str:
    gates = paths.data / "gates"
    gates.mkdir(parents=True, exist_ok=True)
    (gates / "raw_penalties.json").write_text('{"name": "raw_penalties", "success": false}')
    return "raw_penalties"


def change_a_candidate(paths: CityPaths) -> str:
    candidates = pd.DataFrame(
        {"record_id": ["penalties:X9"], "record_type": ["penalty"], "name": ["甲乙商务咨询"],
         "agency_id": ["91990000MA00000001"], "agency_name": ["甲乙商务咨询有限公司"],
         "similarity": [91.0], "unlinked_reason": ["no_match"]}
    )  # fmt: skip
    paths.resolved.mkdir(parents=True, exist_ok=True)
    candidates.to_parquet(paths.resolved / "candidates.parquet", index=False)
    return "penalties:X9"


@pytest.mark.parametrize(
    ("change", "page"),
    [(change_a_gate, "quality.html"), (change_a_candidate, "agency/91990000MA00000001.html")],
)
def test_a_changed_input_renders_a_new_build(built, change, page: str) -> None:
    city, paths, release_dir, build = built
    shown = change(paths)
    again = render.run(city, paths, release_dir, RUN)
    assert again != build and again.is_dir()
    assert shown in (again / page).read_text(encoding="utf-8")
    assert shown not in (build / page).read_text(encoding="utf-8")


def test_a_changed_source_status_renders_a_new_build(built) -> None:
    city, paths, release_dir, build = built
    run = {"sources": {**RUN["sources"], "penalties": {"status": "blocked", "rows": 7}}}
    again = render.run(city, paths, release_dir, run)
    assert again != build
    assert "status-blocked" in (again / "index.html").read_text(encoding="utf-8")


def test_a_build_removed_since_is_rendered_again(built) -> None:
    import shutil

    city, paths, release_dir, build = built
    shutil.rmtree(build)
    assert render.run(city, paths, release_dir, RUN) == build
    assert (build / "index.html").is_file()


def test_reuse_can_be_turned_off(built, monkeypatch: pytest.MonkeyPatch) -> None:
    city, paths, release_dir, build = built
    stamp = (build / "index.html").stat().st_mtime_ns
    monkeypatch.setenv(fingerprint.REUSE_ENV, "0")
    assert render.run(city, paths, release_dir, RUN) == build  # same bytes: the same folder
    record = json.loads(fingerprint.record_path(paths, render.STAGE).read_text("utf-8"))
    assert record["result"]["build"] == build.name
    assert (build / "index.html").stat().st_mtime_ns == stamp  # the staging copy was dropped


class Captured:
    """A BuildWriter stand-in keeping every page's bytes."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}

    def write(self, rel: str, data: bytes) -> None:
        self.pages[rel] = data


@pytest.mark.parametrize("lang", render.LANGUAGES, ids=lambda lang: lang.locale)
def test_agency_pages_from_the_frame_are_the_full_renders(built, lang) -> None:
    city, paths, release_dir, _ = built
    model, _ = pages_and_contexts(city, paths, release_dir, lang)
    env = render.site_environment(lang, render.site_labels())
    framed, full = render.AgencyPages(model), render.AgencyPages(model)
    full._frames[lang.tag] = None  # as when the frame failed its check: every page in full
    a, b = Captured(), Captured()
    framed.write(a, env, lang, range(len(model["agencies"])))
    full.write(b, env, lang, range(len(model["agencies"])))
    assert framed._frames[lang.tag] is not None  # the frame was used
    assert len(a.pages) == len(model["agencies"]) > 1
    assert a.pages == b.pages


def test_a_frame_printing_page_data_is_not_used() -> None:
    base = ("<title>{% block title %}{% endblock %}</title><a href='{{ other_lang.href }}'>"
            "{{ a.name }}</a>{% block main %}{% endblock %}")  # fmt: skip
    child = ('{% extends "base.html" %}{% block title %}{{ a.name }}{% endblock %}'
             "{% block main %}<p>{{ a.text }}</p>{% endblock %}")  # fmt: skip
    env = jinja2.Environment(
        loader=jinja2.DictLoader({"base.html": base, "page.html": child}), autoescape=True
    )
    template = env.get_template("page.html")

    def ctx(name: str) -> dict:
        return {"a": {"name": name, "text": f"<{name}>"}, "other_lang": {"tag": "en", "href": name}}

    frame = render_frame.Framed(template, ctx("first"), ("title", "main"))
    for name in ("first", "second"):
        full = template.render(ctx(name))
        assert frame.verified(ctx(name), name, full) is (name == "first")
    assert frame.render(ctx("first"), "first") == template.render(ctx("first"))


def test_a_first_release_counts_its_lists_instead_of_listing_every_agency_as_new(built) -> None:
    _, _, _, build = built
    text = (build / "changes.html").read_text(encoding="utf-8")
    assert "本市首次发布：所有机构均为新增。" in text  # the fixture's only release
    assert 'class="changes"' not in text  # no table of every agency
    assert "首次发布的名单" in text and "changes.csv" in text
    listed = [a.get("href") or "" for t, a in tags_of(build / "changes.html") if t == "a"]
    assert {"blacklist.html", "whitelist.html"} <= set(listed)
