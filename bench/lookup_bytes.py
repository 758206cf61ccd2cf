"""Bytes downloaded by one phone-number or code lookup in the browser.

    python -m bench.lookup_bytes [--root DIR]

Serves a built site (default: the first run of bench.demo_e2e, else a fresh demo run) on
127.0.0.1, opens its lookup page in headless Chromium (Playwright, /usr/bin/chromium), then
types one phone number and one 统一社会信用代码 and counts the response bytes each lookup
downloads after the page has loaded (the index shards), and the page load itself. A site
without a lookup page is reported "not yet measurable".
Writes bench/results/lookup.json.
"""

from __future__ import annotations

import argparse
import csv
import functools
import http.server
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

from bench.common import (
    AS_OF,
    RESULTS,
    agencywatch,
    budget,
    ensure_bytecode_cache,
    write_result,
)

BUDGET_BYTES = 50 * 1024
# Where each kind of lookup is typed, by the names a lookup page is given (first match wins).
LOOKUP_PAGES = {
    "phone": ("phone.html", "phone/index.html", "lookup.html", "search.html"),
    "code": ("index.html", "search.html", "lookup.html", "check.html"),
}
CHROMIUM = "/usr/bin/chromium"


def lookup_page(site: Path, kind: str) -> str | None:
    """The page of the city site where this kind of lookup is typed."""
    return next((p for p in LOOKUP_PAGES[kind] if (site / p).is_file()), None)


def has_lookup(site: Path) -> bool:
    """A site can be measured once it publishes a lookup index (search/ or lookup/ shards)."""
    return any((site / d).is_dir() for d in ("search", "lookup"))


def queries(root: Path, city: str) -> dict[str, str]:
    """One code and one phone number the release knows about."""
    out: dict[str, str] = {}
    dated = re.compile(r"\d{4}-\d{2}-\d{2}")
    releases = sorted(
        p for p in (root / "releases" / city).glob("*") if p.is_dir() and dated.fullmatch(p.name)
    )
    if not releases:
        return out
    with (releases[-1] / "agencies.csv").open(encoding="utf-8-sig") as f:
        out["code"] = next((r["uscc"] for r in csv.DictReader(f) if r.get("uscc")), "")
    events = releases[-1] / "events.csv"
    if events.is_file():
        with events.open(encoding="utf-8-sig") as f:
            for r in csv.DictReader(f):
                if r.get("record_type") == "phone" and r.get("record_id", "").count(":"):
                    out["phone"] = r["record_id"].rsplit(":", 1)[1]
                    break
    return {k: v for k, v in out.items() if v}


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def measure(url: str, query: str) -> dict[str, Any]:
    """Bytes of the page load, then of one lookup typed into the page's first search box."""
    from playwright.sync_api import sync_playwright

    seen: list[tuple[str, int]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("response", lambda r: seen.append((r.url, _body_size(r))))
        page.goto(url, wait_until="networkidle")
        loaded = len(seen)
        box = page.locator("input[type=search], input[type=text], input:not([type])").first
        box.fill(query)
        box.press("Enter")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)
        browser.close()
    lookup = seen[loaded:]
    return {"page_load_bytes": sum(n for _, n in seen[:loaded]),
            "lookup_bytes": sum(n for _, n in lookup),
            "lookup_requests": [u.split("/", 3)[-1] for u, _ in lookup]}  # fmt: skip


def _body_size(response: Any) -> int:
    try:
        return len(response.body())
    except Exception:  # noqa: BLE001 - redirects and aborted requests have no body
        return 0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path)
    parser.add_argument("--city", default="demo")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "aw-bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if argv is None:
        ensure_bytecode_cache("bench.lookup_bytes")
    root = args.root or args.work / "demo" / "run0"
    if not (root / "public" / args.city).exists():
        root = args.work / "lookup"
        agencywatch("run", args.city, "--json", "--root", str(root), "--date", AS_OF)
    site = root / "public" / args.city
    figures: dict[str, Any] = {"city": args.city, "site": str(site)}
    if not site.exists() or not has_lookup(site):
        figures.update(status="not yet measurable",
                       note="the site publishes no lookup index yet (public/<city>/search/)",
                       budgets={"lookup_bytes": budget(None, BUDGET_BYTES)})  # fmt: skip
        write_result("lookup", figures, args.results)
        return figures
    server, base = serve(root / "public")
    found: dict[str, Any] = {}
    try:
        for kind, query in queries(root, args.city).items():
            page = lookup_page(site, kind)
            if page:
                found[kind] = {"page": page, "query": query,
                               **measure(f"{base}/{args.city}/{page}", query)}  # fmt: skip
    finally:
        server.shutdown()
    worst = max((m["lookup_bytes"] for m in found.values()), default=None)
    figures.update(status="measured", lookups=found, lookup_bytes_max=worst,
                   budgets={"lookup_bytes": budget(worst, BUDGET_BYTES)})  # fmt: skip
    write_result("lookup", figures, args.results)
    return figures


if __name__ == "__main__":
    main()
