"""Render the static site of one release into a fresh build folder.

The site names companies, so everything from the data is escaped (autoescape, StrictUndefined
so a typo fails the build instead of printing nothing), only http(s) links become hrefs, agency
ids must be safe path segments, and no byte comes from another origin (CSP default-src 'self';
many CDNs are unreachable in mainland China). Links are relative so the site works under any
sub-path (public/<city>/) and from file://.

A province renders 200,000 agency pages, so the work per page is kept small: each language
has its own environment that translates and looks up constant labels when a template is
compiled (transforms/render_env.py), the site model is built column-wise
(transforms/render_model.py), the timeline entries of a batch of agencies are rendered in one
pass, base.html's frame around an agency page is rendered once (transforms/render_frame.py),
and the build's content id is hashed from the bytes as they are written. `run` does not render at all when a build of the same inputs exists
(transforms/render_inputs.py).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import io
import json
import os
import shutil
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2.utils import htmlsafe_json_dumps

from agencywatch import fingerprint
from agencywatch.config import City
from agencywatch.paths import CityPaths
from transforms import changes, feeds, render_inputs, search_index
from transforms import release as release_stage
from transforms.render_env import SiteEnvironment
from transforms.render_frame import Framed
from transforms.render_model import (  # noqa: F401  (re-exported: render.http_url, render.site_model…)
    EXTRA_FACTS,
    LIST_ORDER,
    LIST_PAGES,
    LOOKUPS,
    SAFE_ID,
    http_url,
    method_view,
    safe_id,
    site_model,
)

SITE_DIR = Path(__file__).resolve().parents[1] / "site"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
TRANSLATIONS = SITE_DIR / "translations"
JS_LABELS = ("lists", "phone_kind", "filing_type")  # the words search.js shows
WORKERS_ENV = "AGENCYWATCH_RENDER_WORKERS"
STAGE = "render"  # its record in data/<city>/fingerprints/
AGENCIES_PER_TASK = 256
WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
# macros whose output depends on their arguments alone (and the language): rendered once per
# value instead of once per call (a list page calls score() 25,000 times; most agencies share
# their status and score sections with many others)
AGENCY_BLOCKS = ("title", "main")  # what differs between agency pages, besides their address
MEMOIZED_MACROS = {"macros.html": ("list_badge", "score", "status_section", "score_section")}


@dataclass(frozen=True)
class Language:
    """One language of the site: its catalogue, its html lang and its folder under the city."""

    locale: str  # gettext catalogue under site/translations/ ("zh_CN", "en")
    tag: str  # BCP 47, for <html lang>
    prefix: str  # "" (the default language at the city's root) or "en/"
    index: int  # which of site_labels.toml's [zh, en] words to show


LANGUAGES = (Language("zh_CN", "zh-CN", "", 0), Language("en", "en", "en/", 1))


def run(
    city: City,
    paths: CityPaths,
    release_dir: Path,
    run: dict | None = None,
    workers: int | None = None,
) -> Path:
    """Render the site for release_dir into public/.builds/<city>-<date>-<content hash>/, or
    return the build an earlier render made from the same inputs without writing anything
    (AGENCYWATCH_REUSE=0 renders anyway; a build with the same bytes is still reused).

    workers: processes rendering agency pages (default $AGENCYWATCH_RENDER_WORKERS, else 1, so
    two city workers side by side do not oversubscribe two cores)."""
    summary = run or {}
    inputs = render_inputs.inputs(city, paths, release_dir, summary)
    reused = reusable_build(paths, inputs)
    if reused is not None:
        return reused
    paths.builds.mkdir(parents=True, exist_ok=True)
    staging = paths.builds / f".{city.slug}-staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        digest = write_site(city, paths, release_dir, summary, staging, render_workers(workers))
        build = paths.builds / f"{city.slug}-{release_dir.name}-{digest[:12]}"
        if build.exists():  # the same content was rendered before: reuse it as it is
            shutil.rmtree(staging)
        else:
            staging.rename(build)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    fingerprint.remember(
        paths, STAGE, inputs, str(summary.get("run_id") or ""), {"build": build.name}, []
    )
    return build


def reusable_build(paths: CityPaths, inputs: dict[str, Any]) -> Path | None:
    """The build recorded for exactly these inputs, when it still exists.

    Checking its index.html is enough: a build folder only ever appears by renaming a staging
    folder whose every file has been written (run), and its name carries its content digest."""
    record, _why = fingerprint.reusable(paths, STAGE, inputs)
    if record is None:
        return None
    build = paths.builds / str(record.get("result", {}).get("build", ""))
    if build.parent == paths.builds and build.name and (build / "index.html").is_file():
        return build
    return None


def render_workers(workers: int | None) -> int:
    if workers is None:
        workers = int(os.environ.get(WORKERS_ENV) or 1)
    return max(1, workers)


def environment(language: Language | None = None) -> jinja2.Environment:
    """Autoescaping, strict Jinja2 with the language's gettext catalogue (none: the msgids,
    which are the Chinese text). The portal's environment; the city site uses
    site_environment, which gives the same output faster."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(SITE_DIR / "templates"),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    if language is None:
        env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    else:
        env.install_gettext_translations(catalogue(language.locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["csp"] = markupsafe.Markup(CSP)  # our constant, not data
    return env


def site_environment(
    language: Language, labels: dict[str, dict[str, list[str]]]
) -> SiteEnvironment:
    """The city site's environment for one language (transforms/render_env.py), made once per
    process and set of labels: a worker rendering several cities compiles the templates once."""
    key = (language, json.dumps(labels, sort_keys=True, ensure_ascii=False))
    if key not in _ENVIRONMENTS:
        _ENVIRONMENTS[key] = _new_site_environment(language, labels)
    return _ENVIRONMENTS[key]


_ENVIRONMENTS: dict[tuple[Language, str], SiteEnvironment] = {}


def _new_site_environment(
    language: Language, labels: dict[str, dict[str, list[str]]]
) -> SiteEnvironment:
    env = SiteEnvironment(
        SITE_DIR / "templates",
        translate=catalogue(language.locale).gettext,
        label=label_filter(labels, language.index),
        localized=localized_filter(language),
        memoized_macros=MEMOIZED_MACROS,
    )
    env.globals["csp"] = markupsafe.Markup(CSP)  # our constant, not data
    js_labels = script_labels(labels, language.index)
    env.globals["site_data"] = functools.cache(
        lambda root, assets, lang: site_data_json(env, js_labels, root, assets, lang)
    )
    return env


def script_labels(labels: dict[str, dict[str, list[str]]], index: int) -> dict[str, Any]:
    """The words for codes that site/static/search.js shows, in one language."""
    return {kind: {k: v[index] for k, v in labels.get(kind, {}).items()} for kind in JS_LABELS}


def site_data_json(
    env: jinja2.Environment, js_labels: dict[str, Any], root: str, assets: str, lang: str
) -> markupsafe.Markup:
    """The JSON block site/static/search.js reads (site_data.html's words, the page's roots,
    the labels), as `|tojson` prints it; the same for every page of a language and depth."""
    words = env.get_template("site_data.html").module.t  # type: ignore[attr-defined]
    data = {"root": root, "assets": assets, "lang": lang, "labels": js_labels, "t": words}
    return htmlsafe_json_dumps(
        data, dumps=env.policies["json.dumps_function"], **env.policies["json.dumps_kwargs"]
    )


def label_filter(
    labels: dict[str, dict[str, list[str]]], index: int
) -> Callable[[object, str], str]:
    """`key|label(kind)`: _label with the language's words looked up once, not per call."""
    words = {
        kind: {key: _label(labels, kind, key, index) for key, pair in pairs.items() if pair}
        for kind, pairs in labels.items()
        if isinstance(pairs, dict)
    }

    def label(key: object, kind: str) -> str:
        if key is None:
            return ""
        word = words.get(kind, {}).get(str(key))
        return _label(labels, kind, key, index) if word is None else word

    return label


def localized_filter(language: Language) -> Callable[[dict[str, Any], str], Any]:
    """`row|loc(field)`: _localized for one language."""
    if language.index != 1:
        return lambda row, field: row.get(field + "_zh")

    def localized(row: dict[str, Any], field: str) -> Any:
        return row.get(field + "_en") or row.get(field + "_zh")

    return localized


def catalogue(locale: str) -> Translations:
    """The compiled catalogue of a locale, compiled from its .po at render time so the .po stays
    the only copy in git (no binary .mo to forget to rebuild); a missing .po gives the msgids."""
    po = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return Translations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def site_labels() -> dict[str, dict[str, list[str]]]:
    with (LOOKUPS / "site_labels.toml").open("rb") as f:
        return tomllib.load(f)


class BuildWriter:
    """Writes the build's files and keeps each one's sha256, so the build's content id (the
    same digest a walk over the finished tree would give) needs no second read of the tree."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.digests: dict[str, bytes] = {}
        self._folders: set[str] = set()

    def write(self, rel: str, data: bytes) -> None:
        folder = rel.rpartition("/")[0]
        if folder not in self._folders:
            try:
                os.mkdir(os.path.join(self.root, folder))  # the parent exists
            except (FileNotFoundError, FileExistsError):
                os.makedirs(os.path.join(self.root, folder), exist_ok=True)
            self._folders.add(folder)
        fd = os.open(os.path.join(self.root, rel), WRITE_FLAGS, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        self.digests[rel] = hashlib.sha256(data).digest()

    def copy(self, source: Path, rel: str) -> None:
        self.write(rel, source.read_bytes())

    def link(self, source: Path, rel: str) -> None:
        """A hard link to an immutable file (a published release's), else a copy."""
        target = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.link(source, target)
        except OSError:  # another filesystem, or one without hard links
            self.copy(source, rel)
            return
        with open(target, "rb") as f:
            self.digests[rel] = hashlib.file_digest(f, "sha256").digest()

    def copy_tree(self, source: Path, rel: str) -> None:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                self.copy(path, f"{rel}/{path.relative_to(source).as_posix()}")

    def digest(self) -> str:
        """sha256 over every file's relative path and sha256, in the order of the tree's paths."""
        h = hashlib.sha256()
        for rel in sorted(self.digests, key=lambda r: r.split("/")):
            h.update(rel.encode() + b"\0")
            h.update(self.digests[rel])
        return h.hexdigest()


def write_site(
    city: City, paths: CityPaths, release_dir: Path, run: dict, out: Path, workers: int = 1
) -> str:
    """Every page of the site in every language, the static assets, the search shards and the
    releases' files, into out; returns the build's content digest."""
    labels = site_labels()
    with collector_paused():  # a million small dicts and lists, no cycle among them
        model = site_model(city, paths, release_dir, run)
        model.update(release_stage.site_model(release_dir))  # every release, feeds, changes
    with model_frozen():
        return _write_site(city, paths, release_dir, run, out, workers, labels, model)


def _write_site(
    city: City,
    paths: CityPaths,
    release_dir: Path,
    run: dict,
    out: Path,
    workers: int,
    labels: dict[str, dict[str, list[str]]],
    model: dict[str, Any],
) -> str:
    writer = BuildWriter(out)
    writer.copy_tree(SITE_DIR / "static", "static")
    for source, rel, immutable in release_copies(release_dir, model["downloads"]):
        (writer.link if immutable else writer.copy)(source, rel)
    shards, _meta = search_index.shards(model, paths)
    for name, data in shards.items():
        writer.write(f"search/{name}", data)
    pages = site_pages(city, paths, run, model)
    model["site_pages"] = {target for target, _, _ in pages}
    agency_pages = AgencyPages(model)
    for lang in LANGUAGES:
        env = site_environment(lang, labels)
        for target, template, extra in pages:
            ctx = {**model, **extra, **page_context(lang, target)}
            writer.write(lang.prefix + target, _render(env, template, ctx))
        if workers <= 1 or len(model["agencies"]) <= AGENCIES_PER_TASK:
            agency_pages.write(writer, env, lang, range(len(model["agencies"])))
        else:
            writer.digests.update(agency_pages.write_in_processes(out, env, lang, workers))
    return writer.digest()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while the site model is built: it would otherwise walk the
    growing model again and again (a fifth of the render's time) for cycles it has none of."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def model_frozen() -> Iterator[None]:
    """The site model (and everything else alive) out of the cycle collector's sight while
    pages are rendered: the collector still frees each page's garbage, without walking the
    model's million objects every time it runs."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def site_pages(
    city: City, paths: CityPaths, run: dict, model: dict[str, Any]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(page, template, its own context) of every page that is not an agency page."""
    pages: list[tuple[str, str, dict[str, Any]]] = [
        ("index.html", "index.html", {}),
        ("all.html", "list.html", {"list_key": None, "rows": model["agencies"]}),
        ("method.html", "method.html", {}),
        ("downloads.html", "downloads.html", {}),
        ("changes.html", "changes.html", {}),
        ("about.html", "about.html", {}),
        ("corrections.html", "corrections.html", {}),
        ("phone.html", "phone.html", {}),
        ("filing.html", "filing.html", {}),
        ("batch.html", "batch.html", {}),
        ("quality.html", "quality.html", {"gates": gate_results(paths)}),
        ("sources.html", "sources.html", sources_page(city, paths, run)),
    ]
    for key, page in LIST_PAGES.items():
        rows = [a for a in model["agencies"] if a["list"] == key]
        pages.append((page, "list.html", {"list_key": key, "rows": rows}))
    return pages


def release_copies(
    release_dir: Path, downloads: list[dict[str, Any]]
) -> Iterator[tuple[Path, str, bool]]:
    """(file, its place in the site, immutable): every file of every release up to this one
    under downloads/<date>/ and the feeds under feeds/, as release.copy_into_site lays them out.

    A published release's files are immutable (a new release is a new folder; verify checks
    them against the manifest), so the site may hard-link them instead of copying; the feeds
    are rewritten in place by every release and are copied."""
    seen: set[str] = set()
    for folder in changes.release_folders(release_dir.parent):
        if folder.name <= release_dir.name:
            for f in sorted(folder.iterdir()):
                if f.is_file():
                    seen.add(f"downloads/{folder.name}/{f.name}")
                    yield f, f"downloads/{folder.name}/{f.name}", True
    for d in downloads:  # this release's files, had its folder no manifest
        rel = f"downloads/{release_dir.name}/{d['name']}"
        if rel not in seen:
            yield release_dir / d["name"], rel, False
    feed_dir = release_dir.parent / feeds.FEEDS_DIR
    if feed_dir.is_dir():
        for f in sorted(feed_dir.rglob("*")):
            if f.is_file():
                yield f, f"{feeds.FEEDS_DIR}/{f.relative_to(feed_dir).as_posix()}", False


def timeline_items(env: SiteEnvironment, events: list[dict[str, Any]]) -> list[str]:
    """timeline_item.html for each event, rendered in one pass for a batch of pages: one
    template render per 256 agencies instead of a loop in each page (a province has a million
    records)."""
    return env.render_each("timeline_item.html", events, "e")


class Snippet(str):
    """Rendered, escaped HTML inserted as it is (like Markup, without Markup's Python-level
    constructor)."""

    __slots__ = ()

    def __html__(self) -> str:
        return self


class AgencyPages:
    """The agency pages of one language: agency/<id>.html or en/agency/<id>.html.

    One file per page and no folder per agency: creating a folder costs as much as creating
    the page's file, and a province has 200,000 agency pages (BENCHMARKS.md)."""

    def __init__(self, model: dict[str, Any]) -> None:
        self.model = model
        self._frames: dict[str, Framed | None] = {}  # by language

    def write(
        self, writer: BuildWriter, env: SiteEnvironment, lang: Language, indices: range
    ) -> None:
        """The pages of agencies[i] for i in indices, AGENCIES_PER_TASK at a time: their
        timelines rendered in one pass, then their pages (the timelines of one batch only are
        held at a time)."""
        for k in range(indices.start, indices.stop, AGENCIES_PER_TASK):
            batch = self.model["agencies"][k : min(k + AGENCIES_PER_TASK, indices.stop)]
            items = iter(timeline_items(env, [e for a in batch for e in a["events"]]))
            for a in batch:
                a["timeline_html"] = Snippet("".join(next(items) for _ in a["events"]))
            self._write_pages(writer, env, lang, batch)
            for a in batch:
                del a["timeline_html"]

    def _write_pages(
        self,
        writer: BuildWriter,
        env: SiteEnvironment,
        lang: Language,
        agencies: list[dict[str, Any]],
    ) -> None:
        template = env.get_template("agency.html")
        # one context for every page, changed in place: what Template.render would copy into
        # a new dict for each page (globals included, as shared=True expects)
        ctx = {**template.globals, **self.model, **page_context(lang, agency_page("x"))}
        ctx["page"] = "agency"
        tag = ctx["other_lang"]["tag"]
        other = ctx["other_lang"]["href"].removesuffix(
            agency_page("x")
        )  # the other language's root
        frame = self._frame(template, ctx, lang, agencies, other)
        for a in agencies:
            target = agency_page(a["agency_id"])
            ctx["a"] = a
            ctx["other_lang"] = {"tag": tag, "href": other + target}
            if frame is None:
                page = _render_shared(template, ctx)
            else:
                page = frame.render(ctx, other + target).encode("utf-8")
            writer.write(lang.prefix + target, page)

    def _frame(
        self,
        template: jinja2.Template,
        ctx: dict[str, Any],
        lang: Language,
        agencies: list[dict[str, Any]],
        other: str,
    ) -> Framed | None:
        """agency.html's frame for this language (transforms/render_frame.py), when it gives
        the full render of the batch's first and last page; else None: render in full."""
        if lang.tag not in self._frames:
            self._frames[lang.tag] = Framed(template, ctx, AGENCY_BLOCKS)
        frame = self._frames[lang.tag]
        if frame is None:
            return None
        for a in {id(a): a for a in (agencies[0], agencies[-1])}.values():
            href = other + agency_page(a["agency_id"])
            page = {**ctx, "a": a, "other_lang": {**ctx["other_lang"], "href": href}}
            if not frame.verified(page, href, _render_shared(template, page).decode("utf-8")):
                self._frames[lang.tag] = None  # base.html prints something page-specific
                return None
        return frame

    def write_in_processes(
        self, out: Path, env: SiteEnvironment, lang: Language, workers: int
    ) -> dict[str, bytes]:
        """The pages in forked worker processes (they inherit the model and the compiled
        templates); returns every written file's sha256."""
        import multiprocessing

        n = len(self.model["agencies"])
        chunks = [range(k, min(k + AGENCIES_PER_TASK, n)) for k in range(0, n, AGENCIES_PER_TASK)]
        global _FORKED
        _FORKED = (self, out, env, lang)
        try:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                digests: dict[str, bytes] = {}
                for part in pool.imap_unordered(_write_chunk, chunks):
                    digests.update(part)
        finally:
            _FORKED = None
        return digests


def agency_page(agency_id: str) -> str:
    """An agency's page, relative to its language's root (the templates and search.js write
    the same path)."""
    return f"agency/{agency_id}.html"


_FORKED: tuple[AgencyPages, Path, SiteEnvironment, Language] | None = None  # for forked workers


def _write_chunk(indices: range) -> dict[str, bytes]:
    assert _FORKED is not None
    pages, out, env, lang = _FORKED
    writer = BuildWriter(out)
    pages.write(writer, env, lang, indices)
    return writer.digests


def _render(env: jinja2.Environment, template: str, ctx: dict[str, Any]) -> bytes:
    return _render_template(env.get_template(template), ctx)


def _render_template(template: jinja2.Template, ctx: dict[str, Any]) -> bytes:
    return template.render(ctx).encode("utf-8")


def _render_shared(template: jinja2.Template, ctx: dict[str, Any]) -> bytes:
    """Template.render(ctx) without copying ctx (it must hold the template's globals)."""
    try:
        text = "".join(template.root_render_func(template.new_context(ctx, shared=True)))
    except Exception:
        template.environment.handle_exception()
    return text.encode("utf-8")


SHOWN_HEALTH = ("id", "title", "title_en", "kind", "status", "message", "last_success_at",
                "age_days", "rows", "quarantined", "grade")  # fmt: skip


def sources_page(city: City, paths: CityPaths, run: dict) -> dict[str, Any]:
    """The sources page's data: each source's health and report card, and the card's rules.

    Only what the page prints is passed (so it is also all render_inputs fingerprints): the
    crawl's page counts change from run to run and are not on the page."""
    from transforms import source_health

    rules = source_health.grade_rules()
    health = [
        {**{k: row[k] for k in SHOWN_HEALTH},
         "grades": {d: {"letter": g["letter"]} for d, g in row["grades"].items()}}
        for row in source_health.source_health(city, paths, run)
    ]  # fmt: skip
    return {
        "source_health": health,
        "grade_rules": rules,
        "grade_titles": {r["key"]: r["title"] for r in rules},
    }


def page_context(language: Language, target: str) -> dict[str, Any]:
    """Relative roots of a page: `root` for pages of its language, `assets` for what both
    languages share (static/, search/, downloads/), and the same page in the other language."""
    up = "../" * target.count("/")
    other = LANGUAGES[1] if language is LANGUAGES[0] else LANGUAGES[0]
    if language.prefix:
        other_href = f"{up}../{target}"
    else:
        other_href = f"{up}{other.prefix}{target}"
    return {
        "root": up,
        "assets": up + "../" * language.prefix.count("/"),
        "page": target,
        "lang": language.tag,
        "lang_index": language.index,
        "other_lang": {"tag": other.tag, "href": other_href},
    }


def _localized(row: dict[str, Any], field: str, language: Language) -> Any:
    """row[field_en] on English pages when the data has it, else the Chinese field."""
    if language.index == 1 and row.get(f"{field}_en"):
        return row[f"{field}_en"]
    return row.get(f"{field}_zh")


def gate_results(paths: CityPaths) -> list[dict[str, Any]]:
    """The gate results of the run (docs/architecture.md, "Gates"), for the data-quality page."""
    folder = paths.data / "gates"
    if not folder.is_dir():
        return []
    out = []
    for f in sorted(folder.glob("*.json")):
        try:
            gate = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            gate = {"name": f.stem, "success": False, "unreadable": True}
        stats = gate.get("statistics") or {}
        out.append(
            {
                "name": str(gate.get("name") or f.stem),
                "success": bool(gate.get("success")),
                "unreadable": bool(gate.get("unreadable")),
                "evaluated": stats.get("evaluated_expectations"),
                "successful": stats.get("successful_expectations"),
                "rows": stats.get("rows") if isinstance(stats.get("rows"), dict) else {},
                "failed": [_failed_view(e) for e in gate.get("failed_expectations") or []],
            }
        )
    out.sort(key=lambda g: (g["success"], g["name"]))
    return out


def _failed_view(e: dict[str, Any]) -> dict[str, Any]:
    def text(v: object) -> str:
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)

    return {
        "expectation": text(e.get("expectation")),
        "column": e.get("column"),
        "expected": text(e.get("expected")),
        "observed": text(e.get("observed")),
        "examples": [text(x) for x in (e.get("unexpected_examples") or [])[:10]],
    }


def _label(labels: dict[str, dict[str, list[str]]], kind: str, key: object, index: int = 0) -> str:
    """The word for a code in the page's language; an unknown code is shown as itself."""
    if key is None:
        return ""
    pair = labels.get(kind, {}).get(str(key))
    if not pair:
        return str(key)
    return pair[index] if index < len(pair) else pair[0]
