"""Page weight and search download sizes of a built city site.

Usage: python bench/site_weight.py public/demo [--pagefind]

Prints the bytes of an agency page (HTML + the CSS and JS it loads), and what one phone, code
or name lookup downloads from the search shards (meta.json + the shard it needs); with
--pagefind, indexes a copy of the site with Pagefind (extended) for comparison.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def size(path: Path) -> int:
    return path.stat().st_size


def page_weight(page: Path) -> dict[str, int]:
    """The page and every local stylesheet and script it references."""
    html = page.read_text(encoding="utf-8")
    out = {"html": size(page)}
    for ref in re.findall(r'(?:href|src)="([^"]+\.(?:css|js))"', html):
        out[ref.rsplit("/", 1)[-1]] = size((page.parent / ref).resolve())
    return out


def shard_stats(folder: Path) -> tuple[int, float, int]:
    sizes = [size(p) for p in folder.glob("*.json")] or [0]
    return max(sizes), sum(sizes) / len(sizes), len(sizes)


def main(site: Path, pagefind: bool) -> None:
    agency = next((site / "agency").glob("*.html"))
    weight = page_weight(agency)
    print(f"agency page {agency.parent.name}: {weight} total {sum(weight.values())} B")
    search = site / "search"
    meta = size(search / "meta.json")
    js = size(site / "static" / "search.js")
    for kind in ("phones", "codes", "names", "docs"):
        biggest, mean, n = shard_stats(search / kind)
        print(f"{kind:7} {n:4} shards, largest {biggest} B, mean {mean:.0f} B")
    phones_max = shard_stats(search / "phones")[0]
    codes_max = shard_stats(search / "codes")[0]
    print(f"phone lookup: at most {phones_max} B of data (+ search.js {js} B, cached)")
    print(f"code lookup:  at most {meta + codes_max} B of data (+ search.js {js} B, cached)")
    total = sum(p.stat().st_size for p in search.rglob("*.json"))
    print(f"whole search index: {total} B; t2s.json {size(search / 't2s.json')} B")
    if pagefind:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "site"
            shutil.copytree(site, copy, symlinks=False)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pagefind",
                    "--site",
                    str(copy),
                    "--force-language",
                    "zh-cn",
                ],
                check=True,
                capture_output=True,
            )
            pf = copy / "pagefind"
            runtime = size(pf / "pagefind.js") + size(next(pf.glob("wasm.*.pagefind")))
            meta_pf = size(next(pf.glob("*.pf_meta")))
            chunk = max(size(p) for p in (pf / "index").glob("*"))
            print(
                f"pagefind: whole index {sum(p.stat().st_size for p in pf.rglob('*') if p.is_file())} B;"
                f" one query needs pagefind.js + wasm {runtime} B + meta {meta_pf} B"
                f" + an index chunk up to {chunk} B + fragments"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]), "--pagefind" in sys.argv[2:])
