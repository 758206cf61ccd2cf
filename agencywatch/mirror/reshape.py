"""Fixture mirrors for the example cities, reshaped from the fictional demo mirror.

Each example city reads its sources in its own way — other hosts and paths, other labels,
UTF-8 where the demo is GBK, another JSON envelope, an official export in the inbox instead of a
crawl — and its end-to-end test needs saved pages shaped like that. Rather than a generator per
city, one profile per city (`agencywatch/mirror/profiles/<slug>.toml`, data only) says how to
reshape the demo mirror's records: the records stay the demo's invented ones (the invented 字号
are kept; only place words change), so no real company can enter a fixture.

A fixture mirror is laid out as `<host>/<path>` for crawled sources and `_inbox/<source id>/` for
manual imports (`_` folders are never served); see agencywatch/mirror/fixture.py for running a
city against it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import html as lxml_html

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
Record = dict[str, Any]

README = """{title} — ENTIRELY FICTIONAL fixture mirror.

Every company, person, case number and phone number in these files is invented: the records are
the demo mirror's (agencywatch.mirror.synth), reshaped by agencywatch.mirror.reshape with the
profile agencywatch/mirror/profiles/{slug}.toml so that they look like the way {name}'s own
sources publish (hosts and paths, labels, encodings, JSON envelopes, official exports). Only
the place words were changed; the company names keep their invented 字号. The folder names are
the real sites' host names so the city's config can be tested unchanged, but nothing here was
fetched from those sites, and nothing here is a fact about anyone. Do not cite it.

Layout: <host>/<path> is served on 127.0.0.1 during a test crawl; _inbox/<source id>/ holds the
files a maintainer would drop into data/{slug}/inbox/ (manual import).
Regenerate: python -m agencywatch.mirror.reshape {slug}
"""


@dataclass(frozen=True)
class Place:
    """The place words of one profile: literal replacements, then regex ones."""

    words: dict[str, str]
    patterns: list[tuple[str, str]]

    def apply(self, text: str) -> str:
        for old, new in self.words.items():
            text = text.replace(old, new)
        for pattern, repl in self.patterns:
            text = re.sub(pattern, repl, text)
        return text

    def value(self, value: Any) -> Any:
        return self.apply(value) if isinstance(value, str) else value


def load_profile(slug: str, profiles_dir: Path = PROFILES_DIR) -> dict[str, Any]:
    return tomllib.loads((profiles_dir / f"{slug}.toml").read_text(encoding="utf-8"))


def profile_slugs(profiles_dir: Path = PROFILES_DIR) -> list[str]:
    return sorted(p.stem for p in profiles_dir.glob("*.toml"))


def _place(profile: dict[str, Any]) -> Place:
    patterns = [(r["pattern"], r["repl"]) for r in profile.get("regex", [])]
    return Place(words=dict(profile.get("words", {})), patterns=patterns)


# --- reading the demo's records ----------------------------------------------------------------


def _page_number(path: Path) -> tuple[int, str]:
    """list_10.html after list_9.html; index.html (no number) first."""
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else 0, path.name)


def _pages(demo: Path, pattern: str) -> list[Path]:
    pages = sorted(demo.glob(pattern), key=_page_number)
    if not pages:
        raise FileNotFoundError(f"{demo}: no file matches {pattern!r}")
    return pages


def _html_text(body: bytes) -> str:
    head = body[:400].decode("ascii", "replace").lower()
    return body.decode("gb18030" if "gb2312" in head or "gbk" in head else "utf-8")


def html_records(body: bytes) -> list[Record]:
    """Rows of the first table, by header label; a cell's title wins over its shortened text."""
    table = lxml_html.fromstring(_html_text(body)).xpath("//table")[0]
    labels = [th.text_content().strip() for th in table.xpath(".//thead//th")]
    out = []
    for tr in table.xpath(".//tbody/tr"):
        cells = [td.get("title") or td.text_content().strip() for td in tr.xpath("./td")]
        out.append(dict(zip(labels, cells, strict=False)))
    return out


def _dig(data: Any, dotted: str) -> Any:
    for part in filter(None, dotted.split(".")):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def demo_records(demo: Path, spec: dict[str, Any]) -> list[Record]:
    """Every record of one demo dataset (HTML pages, JSON pages, a CSV or an XLSX file)."""
    out: list[Record] = []
    for page in _pages(demo, spec["from"]):
        body = page.read_bytes()
        if page.suffix == ".html":
            out += html_records(body)
        elif page.suffix == ".json":
            out += _dig(json.loads(body), spec.get("records", ""))
        elif page.suffix == ".csv":
            text = body.decode("utf-8-sig") if _is_utf8(body) else body.decode("gb18030")
            out += list(csv.DictReader(io.StringIO(text)))
        elif page.suffix == ".xlsx":
            out += _xlsx_records(page)
    return out


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _xlsx_records(path: Path) -> list[Record]:
    import openpyxl

    rows = list(
        openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True)
    )
    labels = [str(v) for v in rows[0]]
    return [
        dict(zip(labels, ("" if v is None else v for v in row), strict=False)) for row in rows[1:]
    ]


def reshaped(records: Iterable[Record], spec: dict[str, Any], place: Place) -> list[Record]:
    """Labels renamed (and dropped where renamed to ""), place words replaced in values."""
    rename: dict[str, str] = spec.get("rename", {})
    out = []
    for record in records:
        new: Record = {}
        for label, value in record.items():
            target = rename.get(label, label)
            if target:
                new[target] = place.value(value)
        out.append(new)
    return out


# --- writing the city's shapes -----------------------------------------------------------------


def write_pages(demo: Path, out: Path, spec: dict[str, Any], place: Place) -> list[Path]:
    """HTML list pages copied under the city's path: relabelled, re-encoded, place words swapped."""
    written = []
    encoding = spec.get("encoding", "utf-8")
    for page in _pages(demo, spec["from"]):
        text = place.apply(_html_text(page.read_bytes()))
        for old, new in spec.get("edits", {}).items():
            text = text.replace(old, new)
        for old, new in spec.get("rename", {}).items():
            text = re.sub(rf"<th>\s*{re.escape(old)}\s*</th>", f"<th>{new}</th>", text)
        charset = "gb2312" if encoding in ("gbk", "gb18030", "gb2312") else "utf-8"
        text = re.sub(r"charset=[\w-]+", f"charset={charset}", text, count=1)
        target = out / spec["to"] / page.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("gb18030" if charset == "gb2312" else "utf-8"))
        written.append(target)
    return written


def _filled(template: Any, values: dict[str, Any]) -> Any:
    """The envelope template with "$list", "$page"… replaced by their values (types kept)."""
    if isinstance(template, str) and template.startswith("$"):
        return values[template[1:]]
    if isinstance(template, dict):
        return {k: _filled(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_filled(v, values) for v in template]
    return template


def write_api(demo: Path, out: Path, spec: dict[str, Any], place: Place) -> list[Path]:
    """A paged JSON API: the records re-paged into the city's envelope, one file per page."""
    records = reshaped(demo_records(demo, spec), spec, place)
    size = int(spec["page_size"])
    pages = max(1, -(-len(records) // size))
    envelope = json.loads(spec["envelope"])
    written = []
    for number in range(1, pages + 1):
        chunk = records[(number - 1) * size : number * size]
        values = {"list": chunk, "page": number, "pages": pages, "total": len(records)}
        values["size"] = size
        target = out / spec["to"] / spec["file"].format(page=number)
        target.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(_filled(envelope, values), ensure_ascii=False, separators=(",", ":"))
        target.write_text(body, encoding="utf-8")
        written.append(target)
    return written


def write_export(demo: Path, out: Path, spec: dict[str, Any], place: Place) -> list[Path]:
    """An official export for the inbox (manual import): CSV, XLSX or JSON."""
    records = reshaped(demo_records(demo, spec), spec, place)
    target = out / spec["to"]
    target.parent.mkdir(parents=True, exist_ok=True)
    fmt = target.suffix.lstrip(".")
    if fmt == "json":
        envelope = json.loads(spec.get("envelope", '"$list"'))
        body = _filled(envelope, {"list": records, "total": len(records)})
        target.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    elif fmt == "xlsx":
        _write_xlsx(target, records, spec.get("sheet", "Sheet1"))
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_labels(records), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(records)
        encoding = spec.get("encoding", "utf-8-sig")
        target.write_bytes(buffer.getvalue().encode(encoding))
    return [target]


def _labels(records: list[Record]) -> list[str]:
    """Every label in order of first appearance (a CSV header must name them all)."""
    return list(dict.fromkeys(label for record in records for label in record))


def _write_xlsx(target: Path, records: list[Record], sheet: str) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    labels = _labels(records)
    ws.append(labels)
    for record in records:
        ws.append([str(record.get(label, "")) for label in labels])
    book.save(target)


WRITERS = {"pages": write_pages, "api": write_api, "export": write_export}


def reshape_mirror(slug: str, demo: Path, out: Path, profiles_dir: Path = PROFILES_DIR) -> int:
    """Write mirrors/<slug>/ from the demo mirror; returns the number of files written."""
    profile = load_profile(slug, profiles_dir)
    place = _place(profile)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    count = 0
    for kind, writer in WRITERS.items():
        for spec in profile.get(kind, []):
            count += len(writer(demo, out, spec, place))
    _write_headers(out, profile)
    (out / "README.txt").write_text(
        README.format(title=profile["title"], slug=slug, name=profile["name"]), encoding="utf-8"
    )
    return count


def _write_headers(out: Path, profile: dict[str, Any]) -> None:
    """_headers.toml: GBK pages are sent as bare text/html, as old CMSs do."""
    rules = [
        f'[[content_type]]\nglob = "{spec["to"].rstrip("/")}/*.html"\nvalue = "text/html"\n'
        for spec in profile.get("pages", [])
        if spec.get("encoding", "utf-8") != "utf-8"
    ]
    if rules:
        header = "# Content-Type per file (agencywatch/mirror/server.py); written by reshape.\n"
        (out / "_headers.toml").write_text(header + "\n".join(rules), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """python -m agencywatch.mirror.reshape [SLUG…]: regenerate the example cities' mirrors."""
    import sys

    repo = Path(__file__).resolve().parents[2]
    slugs = (argv if argv is not None else sys.argv[1:]) or profile_slugs()
    for slug in slugs:
        n = reshape_mirror(slug, repo / "mirrors" / "demo", repo / "mirrors" / slug)
        print(f"mirrors/{slug}: {n} files")


if __name__ == "__main__":
    main()
