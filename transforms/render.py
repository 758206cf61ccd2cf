"""Render the static site of one release into a fresh build folder.

The site names companies, so everything from the data is escaped (autoescape, StrictUndefined
so a typo fails the build instead of printing nothing), only http(s) links become hrefs, agency
ids must be safe path segments, and no byte comes from another origin (CSP default-src 'self';
many CDNs are unreachable in mainland China). Links are relative so the site works under any
sub-path (public/<city>/) and from file://.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import markupsafe
import pandas as pd
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from agencywatch.config import City
from agencywatch.paths import CityPaths
from transforms import release as release_stage
from transforms import search_index

SITE_DIR = Path(__file__).resolve().parents[1] / "site"
LOOKUPS = Path(__file__).with_name("lookups")
SAFE_ID = re.compile(r"[0-9A-Za-z-]+")
LIST_ORDER = ("blacklist", "warning", "whitelist", "no_adverse_record", "not_rated")
LIST_PAGES = {
    "blacklist": "blacklist.html",
    "warning": "warning.html",
    "whitelist": "whitelist.html",
    "no_adverse_record": "no-adverse-record.html",
    "not_rated": "not-rated.html",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
TRANSLATIONS = SITE_DIR / "translations"
JS_LABELS = ("lists", "phone_kind", "filing_type")  # the words search.js shows


@dataclass(frozen=True)
class Language:
    """One language of the site: its catalogue, its html lang and its folder under the city."""

    locale: str  # gettext catalogue under site/translations/ ("zh_CN", "en")
    tag: str  # BCP 47, for <html lang>
    prefix: str  # "" (the default language at the city's root) or "en/"
    index: int  # which of site_labels.toml's [zh, en] words to show


LANGUAGES = (Language("zh_CN", "zh-CN", "", 0), Language("en", "en", "en/", 1))
EXTRA_FACTS = ("address", "legal_rep", "established_on", "registered_capital_cny", "business_scope")


def run(city: City, paths: CityPaths, release_dir: Path, run: dict | None = None) -> Path:
    """Render the site for release_dir into public/.builds/<city>-<date>-<content hash>/."""
    paths.builds.mkdir(parents=True, exist_ok=True)
    staging = paths.builds / f".{city.slug}-staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        write_site(city, paths, release_dir, run or {}, staging)
        build = paths.builds / f"{city.slug}-{release_dir.name}-{tree_digest(staging)[:12]}"
        if build.exists():  # the same content was rendered before: reuse it, mark it newest
            shutil.rmtree(staging)
            build.touch()
        else:
            staging.rename(build)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return build


def environment(language: Language | None = None) -> jinja2.Environment:
    """Autoescaping, strict Jinja2 with the language's gettext catalogue (none: the msgids,
    which are the Chinese text)."""
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


def http_url(value: object) -> str | None:
    """The url when it is an absolute http(s) url (safe as an href), else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if (
        parts.scheme.lower() in ("http", "https")
        and parts.netloc
        and not any(c.isspace() or ord(c) < 32 for c in text)
    ):
        return text
    return None


def safe_id(agency_id: object) -> str:
    """An agency id usable as a path segment; anything else is refused, never rewritten."""
    if not isinstance(agency_id, str) or not SAFE_ID.fullmatch(agency_id):
        raise ValueError(f"agency id {agency_id!r} is not safe in a path (only 0-9 A-Z a-z -)")
    return agency_id


def site_labels() -> dict[str, dict[str, list[str]]]:
    with (LOOKUPS / "site_labels.toml").open("rb") as f:
        return tomllib.load(f)


def write_site(city: City, paths: CityPaths, release_dir: Path, run: dict, out: Path) -> None:
    """Every page of the site in every language, the static assets, the search shards and the
    release's files, into out."""
    labels = site_labels()
    model = site_model(city, paths, release_dir, run)
    shutil.copytree(SITE_DIR / "static", out / "static")
    downloads = out / "downloads" / release_dir.name
    downloads.mkdir(parents=True)
    for f in model["downloads"]:
        shutil.copy2(release_dir / f["name"], downloads / f["name"])
    model.update(release_stage.site_model(release_dir))  # every release, feeds, changes
    release_stage.copy_into_site(release_dir, out)
    search_index.build(model, paths, out / "search")
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
    model["site_pages"] = {target for target, _, _ in pages}
    for language in LANGUAGES:
        env = environment(language)
        env.globals["label"] = lambda kind, key, i=language.index: _label(labels, kind, key, i)
        env.globals["loc"] = lambda row, field, lang=language: _localized(row, field, lang)
        env.globals["js_labels"] = {
            kind: {k: v[language.index] for k, v in labels.get(kind, {}).items()}
            for kind in JS_LABELS
        }
        base = out / language.prefix
        for target, template, extra in pages:
            ctx = {**model, **extra, **page_context(language, target)}
            _write(env, template, base / target, ctx)
        for agency in model["agencies"]:
            target = f"agency/{agency['agency_id']}/index.html"
            ctx = {**model, "a": agency, **page_context(language, target), "page": "agency"}
            _write(env, "agency.html", base / target, ctx)


def sources_page(city: City, paths: CityPaths, run: dict) -> dict[str, Any]:
    """The sources page's data: each source's health and report card, and the card's rules."""
    from transforms import source_health

    rules = source_health.grade_rules()
    return {
        "source_health": source_health.source_health(city, paths, run),
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


def _write(env: jinja2.Environment, template: str, target: Path, ctx: dict[str, Any]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(env.get_template(template).render(**ctx), encoding="utf-8")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with None for missing values (templates test `is none`, not NaN)."""
    return df.astype(object).where(df.notna(), None).to_dict("records")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def site_model(city: City, paths: CityPaths, release_dir: Path, run: dict) -> dict[str, Any]:
    """Everything the templates show, prepared in Python so templates stay simple."""
    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    as_of = manifest["date"]
    sources = {s.id: s for s in city.sources}
    events = _records(_read(release_dir / "events.parquet"))
    reasons = _records(_read(release_dir / "reasons.parquet"))
    facts = _extra_facts(paths)
    agencies = [
        agency_view(row, facts) for row in _records(_read(release_dir / "agencies.parquet"))
    ]
    _attach(agencies, events, reasons, sources, as_of)
    corrections_log = attach_judgement(agencies, paths, release_dir)
    agencies.sort(key=lambda a: (a["name"] or "", a["agency_id"]))
    return {
        "city": city,
        "as_of": as_of,
        "method_version": manifest.get("method_version", city.scoring.method_version),
        "agencies": agencies,
        "counts": {k: sum(a["list"] == k for a in agencies) for k in LIST_ORDER},
        "list_order": LIST_ORDER,
        "list_pages": LIST_PAGES,
        "freshness": source_freshness(city, paths, run),
        "method": method_view(city),
        "downloads": download_files(release_dir, manifest),
        "release_date": release_dir.name,
        "contact_href": http_url(city.contact_url),
        "corrections_log": corrections_log,
    }


def _extra_facts(paths: CityPaths) -> dict[str, dict[str, Any]]:
    """Registration facts the release leaves out (address, legal rep…), from resolved data."""
    df = _read(paths.resolved / "agencies.parquet")
    if df.empty or "agency_id" not in df.columns:
        return {}
    cols = ["agency_id", *[c for c in EXTRA_FACTS if c in df.columns]]
    return {r["agency_id"]: r for r in _records(df[cols])}


def agency_view(row: dict[str, Any], facts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An agency row with its path-safe id; reasons and events are attached afterwards."""
    extra = facts.get(row["agency_id"], {})
    return {
        **row,
        "agency_id": safe_id(row["agency_id"]),
        "facts": {k: extra.get(k) for k in EXTRA_FACTS},
        "list": row.get("list") or "not_rated",
        "reasons": [],
        "events": [],
    }


def _attach(
    agencies: list[dict[str, Any]],
    events: list[dict[str, Any]],
    reasons: list[dict[str, Any]],
    sources: dict[str, Any],
    as_of: str,
) -> None:
    """Give each agency its timeline and its reasons, each reason with its evidence records."""
    by_id = {a["agency_id"]: a for a in agencies}
    expired_by_record = _expired_records(reasons)
    views: dict[tuple[str, str], dict[str, Any]] = {}
    for ev in events:
        view = event_view(ev, sources, as_of, expired_by_record.get(ev["record_id"]))
        views[(ev["agency_id"], ev["record_id"])] = view
        if ev["agency_id"] in by_id:
            by_id[ev["agency_id"]]["events"].append(view)
    for a in agencies:
        a["events"].sort(key=lambda e: (e["event_date"] or "", e["record_id"]), reverse=True)
    for r in reasons:
        agency = by_id.get(r["agency_id"])
        if agency is None:
            continue
        ids = [i for i in (r.get("evidence") or "").split(";") if i]
        agency["reasons"].append(
            {
                **r,
                "evidence_records": [
                    views.get((r["agency_id"], i)) or {"record_id": i, "missing": True} for i in ids
                ],
            }
        )
    for a in agencies:
        a["reasons"].sort(key=lambda r: (r["component"] != "flag", not r["counts"], r["code"]))


def _expired_records(reasons: Iterable[dict[str, Any]]) -> dict[str, str]:
    """record id → why it no longer counts, from the scorer's reasons."""
    out: dict[str, str] = {}
    for r in reasons:
        if r.get("counts") is not None and not r["counts"] and r.get("expired_reason"):
            for i in (r.get("evidence") or "").split(";"):
                if i:
                    out.setdefault(i, r["expired_reason"])
    return out


def event_view(
    ev: dict[str, Any], sources: dict[str, Any], as_of: str, expired_reason: str | None
) -> dict[str, Any]:
    source = sources.get(ev.get("source_id"))
    publicity_end = ev.get("publicity_end")
    if expired_reason is None and publicity_end and str(publicity_end) < as_of:
        expired_reason = "publicity_ended"
    return {
        **ev,
        "href": http_url(ev.get("url")),
        "source_title": source.title if source else ev.get("source_id"),
        "sha_prefix": (ev.get("content_sha256") or "")[:12],
        "fetched_on": str(ev.get("fetched_at") or "")[:10],
        "expired_reason": expired_reason,
        "missing": False,
    }


def source_freshness(city: City, paths: CityPaths, run: dict) -> list[dict[str, Any]]:
    """Each source's state from the run summary, completed by its crawl log when present."""
    reported = run.get("sources") or {}
    rows = []
    for s in city.sources:
        log_path = paths.raw / f"{s.id}.crawl.json"
        log = json.loads(log_path.read_text(encoding="utf-8")) if log_path.is_file() else {}
        info = {**log, **(reported.get(s.id) or {})}
        rows.append(
            {
                "id": s.id,
                "title": s.title,
                "status": info.get("status"),
                "rows": info.get("rows"),
                "last_success_at": info.get("last_success_at"),
            }
        )
    return rows


def download_files(release_dir: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    names = sorted({*manifest.get("files", {}), "manifest.json"})
    return [
        {
            "name": n,
            "bytes": (release_dir / n).stat().st_size,
            "sha256": manifest.get("files", {}).get(n) or _sha256(release_dir / n),
        }
        for n in names
        if (release_dir / n).is_file()
    ]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def method_view(city: City) -> dict[str, Any]:
    """The method page's facts: transforms.score.method_description when it exists, else the
    city config and the scoring lookup table (the same numbers the scorer reads)."""
    try:
        from transforms.score import method_description
    except ImportError:
        desc: dict[str, Any] = {}
    else:
        desc = method_description(city)
    return _normalized_method(city, desc)


def _normalized_method(city: City, desc: dict[str, Any]) -> dict[str, Any]:
    sc = city.scoring
    thresholds = desc.get("thresholds") or {}
    codes = desc.get("reason_codes") or desc.get("codes") or _lookup_codes(city)
    if isinstance(codes, dict):
        codes = [{"code": k, **v} for k, v in codes.items()]
    return {
        "version": desc.get("method_version") or desc.get("version") or sc.method_version,
        "weights": dict(desc.get("weights") or sc.weights.model_dump()),
        "window_months": desc.get("window_months") or sc.window_months,
        "whitelist_threshold": desc.get(
            "whitelist_threshold", thresholds.get("whitelist", sc.whitelist_threshold)
        ),
        "warning_threshold": desc.get(
            "warning_threshold", thresholds.get("warning", sc.warning_threshold)
        ),
        "red_flag_charges": list(desc.get("red_flag_charges") or sc.red_flag_charges),
        "codes": [_code_view(c) for c in codes],
        "from_scorer": bool(desc),
        # the rules stated in words, the expiry rules and the scope, from scoring.toml via the scorer
        "rules": desc.get("rules") or {},
        "expiry_rules": desc.get("expiry_rules") or {},
        "scope": desc.get("scope") or {},
        "related": desc.get("related") or {},
        "lists_text": desc.get("lists") or {},
    }


def _lookup_codes(city: City) -> list[dict[str, Any]]:
    path = LOOKUPS / "scoring.toml"
    if not path.is_file():
        return []
    with path.open("rb") as f:
        codes = tomllib.load(f).get("codes", {})
    return [
        {"code": k, **v, "points": city.scoring.points.get(k, v.get("points"))}
        for k, v in codes.items()
    ]


def _code_view(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": c.get("code", ""),
        "component": c.get("component", ""),
        "points": c.get("points"),
        "list": c.get("list"),
        "zh": c.get("text_zh") or c.get("zh") or "",
        "en": c.get("text_en") or c.get("en") or "",
    }


def tree_digest(folder: Path) -> str:
    """sha256 over every file's relative path and bytes: the build's content id."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


# --- the judgement on the agency page: relations, corrections, history ------------------------

HISTORY_FIELDS = ("as_of", "agency_id", "score", "list", "list_reason_code", "list_reason_zh",
                  "list_reason_en", "method_version")  # fmt: skip
CHART_W, CHART_H = 300, 100


def attach_judgement(
    agencies: list[dict[str, Any]], paths: CityPaths, release_dir: Path
) -> list[dict[str, Any]]:
    """Give each agency its parent and branches, related parties, possibly related records,
    corrections and list history; return the public corrections log (applied ones)."""
    by_id = {a["agency_id"]: a for a in agencies}
    for a in agencies:
        a.update(parent=None, branches=[], related=[], impersonation=[], candidates=[],
                 corrections=[], history=[], list_changes=[], history_chart=None)  # fmt: skip
    _attach_parents(by_id, _read(paths.resolved / "agencies.parquet"))
    for r in _records(_read(paths.resolved / "related.parquet")):
        if r["agency_id"] in by_id:
            view = {**r, "other_href": r.get("other_agency_id") in by_id}
            by_id[r["agency_id"]][
                "impersonation" if r["kind"] == "impersonation" else "related"
            ].append(view)
    for c in _records(_read(paths.resolved / "candidates.parquet")):
        if c["agency_id"] in by_id:
            by_id[c["agency_id"]]["candidates"].append(c)
    log = [
        c for c in _records(_read(paths.resolved / "corrections_applied.parquet")) if c["applied"]
    ]
    for c in log:
        c["agencies"] = []
        for aid in {c.get("agency_id"), *str(c.get("previous_agency_id") or "").split(";")}:
            if aid in by_id:
                by_id[aid]["corrections"].append(c)
                c["agencies"].append({"agency_id": aid, "name": by_id[aid]["name"]})
    log.sort(key=lambda c: (c["decided_on"], c["correction_id"]), reverse=True)
    for aid, points in release_history(paths, release_dir).items():
        if aid in by_id:
            by_id[aid].update(history=points, list_changes=list_changes(points),
                              history_chart=history_chart(points))  # fmt: skip
    return log


def _attach_parents(by_id: dict[str, dict[str, Any]], resolved: pd.DataFrame) -> None:
    if resolved.empty or "parent_id" not in resolved.columns:
        return
    for aid, pid in zip(resolved["agency_id"], resolved["parent_id"], strict=True):
        if aid in by_id and isinstance(pid, str) and pid in by_id:
            by_id[aid]["parent"] = {"agency_id": pid, "name": by_id[pid]["name"]}
            by_id[pid]["branches"].append({"agency_id": aid, "name": by_id[aid]["name"]})


def release_history(paths: CityPaths, release_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Score and list of every agency in every release up to this one (agencies.csv files)."""
    folders = {release_dir.resolve()}
    if paths.releases.is_dir():
        folders |= {
            d.resolve()
            for d in paths.releases.iterdir()
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", d.name) and d.name <= release_dir.name
        }
    frames = []
    for d in sorted(folders, key=lambda p: p.name):
        if (d / "agencies.csv").is_file():
            df = pd.read_csv(d / "agencies.csv", dtype=str, encoding="utf-8-sig",
                             usecols=lambda c: c in HISTORY_FIELDS, keep_default_na=False)  # fmt: skip
            frames.append(df.assign(release=d.name))
    if not frames:
        return {}
    hist = pd.concat(frames, ignore_index=True).reindex(columns=[*HISTORY_FIELDS, "release"])
    hist["score"] = pd.to_numeric(hist["score"], errors="coerce")
    hist = hist.sort_values(["agency_id", "release"])
    return {aid: _records(rows) for aid, rows in hist.groupby("agency_id", sort=False)}


def list_changes(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The releases in which the agency entered or left a list, with the reason then given."""
    out = []
    for before, now in zip(points, points[1:], strict=False):
        if before["list"] != now["list"]:
            out.append({"release": now["release"], "from": before["list"], "to": now["list"],
                        "reason_code": now["list_reason_code"], "reason_zh": now["list_reason_zh"],
                        "reason_en": now["list_reason_en"]})  # fmt: skip
    return out


def history_chart(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Polyline points (numbers only) for the inline SVG score chart; None for under two scores."""
    scored = [p for p in points if p["score"] is not None and not pd.isna(p["score"])]
    if len(scored) < 2:
        return None
    step = CHART_W / (len(scored) - 1)
    coords = [(round(i * step, 1), round(CHART_H - float(p["score"]) * CHART_H / 100, 1))
              for i, p in enumerate(scored)]  # fmt: skip
    return {
        "width": CHART_W,
        "height": CHART_H,
        "points": " ".join(f"{x:g},{y:g}" for x, y in coords),
        "dots": [
            {"x": x, "y": y, "release": p["release"], "score": p["score"]}
            for (x, y), p in zip(coords, scored, strict=True)
        ],  # fmt: skip
    }
