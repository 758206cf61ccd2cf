"""A localhost HTTP server for a source mirror, so the demo crawl is a real crawl.

It behaves like the sources it stands in for where the pipeline cares: query strings select
files (`/zxgk/api/dishonest?page=3` → `zxgk/api/dishonest/page=3.json`), a GBK page is served as
bare `text/html` as the old CMS does, conditional requests get 304 (incremental crawls), and
faults can be injected per path prefix (a 500, a WAF challenge page) to test that a crawl reports
a source as blocked instead of empty. Files and folders starting with `_` (the generator's
`_truth.json`, `_headers.toml`) are never served.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import logging
import re
import threading
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xml": "application/xml",
}
QUERY_SUFFIXES = ("", ".json", ".html")  # `<path>/<query>` is looked up with these endings

CHALLENGE_PAGE = b"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>\xe5\xae\x89\xe5\x85\xa8\xe9\xaa\x8c\xe8\xaf\x81</title>
<script>var _0x=[0x61,0x62];document.cookie="__jsl_clearance="+(_0x[0]*7+_0x[1])+";path=/";location.reload();</script>
</head><body><noscript>Please enable JavaScript to continue.</noscript></body></html>
"""


log = logging.getLogger(__name__)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple) -> None:
        """A client that hangs up mid-answer is normal in a crawl; keep it off stderr."""
        log.debug("error answering %s", client_address, exc_info=True)


Rewrite = Callable[[bytes, str], tuple[bytes, str]]  # (body, content type) -> the same, broken

# A site redesign renames its columns: these label changes hit one column of each demo source.
RENAMED_LABELS: dict[str, str] = {
    "行政相对人名称": "相对人",
    "企业名称": "主体名称",
    "机构名称": "单位",
    "iname": "partyName",
    "target": "object",
    "案号": "案件编号",
}
OFFSITE = "http://offsite.invalid"  # `.invalid` never resolves (RFC 2606): no request leaves


@dataclass(frozen=True)
class Fault:
    """How a broken or blocking source answers instead of the real file.

    A canned `body` replaces the file; otherwise the file (or, for `same_page`, the first file
    served under the prefix) is sent through `rewrite`. `stall` answers after the server's
    `stall_s`, `truncate` closes the connection halfway through the declared length,
    `oversize` declares and streams `oversize_bytes`, `redirect` sends a 302 to that host.
    """

    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    body: bytes | None = None
    rewrite: Rewrite | None = None
    stall: bool = False
    truncate: bool = False
    oversize: bool = False
    redirect: str = ""
    same_page: bool = False


def _charset(content_type: str, charset: str) -> str:
    return content_type.split(";")[0].strip() + f"; charset={charset}"


def _as_gbk_labelled_utf8(body: bytes, ctype: str) -> tuple[bytes, str]:
    """GBK bytes sent with `charset=utf-8`, as a CMS migrated halfway does."""
    try:
        body = body.decode("utf-8").encode("gb18030")
    except UnicodeDecodeError:
        pass  # already GBK (the old credit CMS)
    return body, _charset(ctype or "text/html", "utf-8")


def _without_records(body: bytes, ctype: str) -> tuple[bytes, str]:
    """The page with its layout intact and no record in it: the "zero rows" answer."""
    if body.startswith(b"PK"):
        return _xlsx_header_only(body), ctype
    text, encoding = _text_of(body)
    stripped = text.lstrip("\ufeff").lstrip()
    if stripped.startswith(("{", "[")):
        return json.dumps(_emptied(json.loads(stripped)), ensure_ascii=False).encode(), ctype
    if "<table" in text.lower():
        return _rows_removed(text).encode(encoding), ctype
    return text.splitlines(keepends=True)[0].encode(encoding), ctype


def _rows_removed(html: str) -> str:
    """Rows of every tbody removed; a table without tbody keeps its first row (the header)."""
    if re.search(r"<tbody\b", html, re.I):
        return re.sub(r"(<tbody\b[^>]*>).*?(</tbody>)", r"\1\2", html, flags=re.S | re.I)
    seen = 0

    def keep_first(match: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        return match.group(0) if seen == 1 else ""

    return re.sub(r"<tr\b.*?</tr>", keep_first, html, flags=re.S | re.I)


def _emptied(data: Any) -> Any:
    """Every innermost list of records emptied; envelopes (totals, paging) left as they were."""
    if isinstance(data, dict):
        return {k: _emptied(v) for k, v in data.items()}
    if isinstance(data, list):
        if (
            data
            and all(isinstance(x, dict) for x in data)
            and not any(isinstance(v, list) for x in data for v in x.values())
        ):
            return []
        return [_emptied(x) for x in data]
    return data


def _xlsx_header_only(body: bytes) -> bytes:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(body))
    for sheet in book.worksheets:
        if sheet.max_row > 1:
            sheet.delete_rows(2, sheet.max_row - 1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _renamed_column(body: bytes, ctype: str) -> tuple[bytes, str]:
    """One column's label changed (RENAMED_LABELS), the rest of the page untouched."""
    text, encoding = _text_of(body)
    for old, new in RENAMED_LABELS.items():
        text = text.replace(old, new)
    return text.encode(encoding), ctype


def _malformed(body: bytes, ctype: str) -> tuple[bytes, str]:
    """A complete answer (right Content-Length) holding a JSON document cut short."""
    return body[: max(1, len(body) * 2 // 3)], ctype


def _links_made_new(body: bytes) -> bytes:
    """Every relative link made to point one folder deeper: the same bytes then lead to a new
    url on every page, the classic crawler trap of a CMS that repeats a page forever."""
    return re.sub(rb'href="(?!https?:|/|#|javascript:)([^"]+)"', rb'href="more/\1"', body)


def _text_of(body: bytes) -> tuple[str, str]:
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return body.decode("gb18030"), "gb18030"


FAULTS: dict[str, Fault] = {
    "http500": Fault(500, body=b"Internal Server Error\n"),
    "challenge": Fault(412, "text/html; charset=utf-8", CHALLENGE_PAGE),
    "error_body": Fault(200, body=b"error"),
    "sso_not_login": Fault(200, "application/json", b'{"code":401,"msg":"sso not login."}'),
    "not_found": Fault(404, body=b"Not Found\n"),
    "timeout": Fault(stall=True),
    "truncated": Fault(truncate=True),
    "zero_rows": Fault(rewrite=_without_records),
    "renamed_column": Fault(rewrite=_renamed_column),
    "gbk_as_utf8": Fault(rewrite=_as_gbk_labelled_utf8),
    "oversized": Fault(oversize=True),
    "offsite_redirect": Fault(302, redirect=OFFSITE),
    "malformed_json": Fault(rewrite=_malformed),
    "same_page": Fault(same_page=True),
}
STALL_S = 30.0  # longer than any test's download timeout; stop() ends the wait at once
OVERSIZE_BYTES = 21 * 1024 * 1024  # just over the crawl's DOWNLOAD_MAXSIZE (20 MiB)


def file_for(root: Path, target: str) -> Path | None:
    """The file a request target maps to, or None (missing, hidden, or outside the root)."""
    parts = urlsplit(target)
    rel = unquote(parts.path).lstrip("/")
    segments = [s for s in rel.split("/") if s]
    if any(s.startswith(("_", ".")) for s in segments):
        return None
    base = root.joinpath(*segments)
    if parts.query:
        pairs = sorted(parse_qsl(parts.query, keep_blank_values=True))
        name = "&".join(f"{k}={v}" for k, v in pairs)
        if name.startswith(("_", ".")) or "/" in name:
            return None
        candidates = [base / (name + suffix) for suffix in QUERY_SUFFIXES]
    elif rel == "" or rel.endswith("/"):
        candidates = [base / "index.html"]
    else:
        candidates = [base, base / "index.html"]
    resolved_root = root.resolve()
    for path in candidates:
        if path.is_file() and path.resolve().is_relative_to(resolved_root):
            return path
    return None


def header_rules(root: Path) -> list[tuple[str, str]]:
    """(glob, content type) pairs from the mirror's `_headers.toml`, first match wins."""
    spec = root / "_headers.toml"
    if not spec.is_file():
        return []
    rules = tomllib.loads(spec.read_text(encoding="utf-8")).get("content_type", [])
    return [(r["glob"], r["value"]) for r in rules]


class MirrorServer:
    """A threaded HTTP server over one mirror folder, started and stopped as a context manager.

    `hits` counts requests per request target (path and query), `faults` maps a path prefix to
    a fault name from FAULTS; both may be read and changed while the server runs. `stall_s` is
    how long a `timeout` fault keeps the client waiting, `oversize_bytes` how much `oversized`
    sends.
    """

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(directory)
        if not self.root.is_dir():
            raise FileNotFoundError(f"no mirror folder at {self.root}")
        self.rules = header_rules(self.root)
        self.hits: Counter[str] = Counter()
        self.faults: dict[str, str] = {}
        self.stall_s = STALL_S
        self.oversize_bytes = OVERSIZE_BYTES
        self.stopping = threading.Event()
        self._first_file: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._etags: dict[Path, tuple[int, str]] = {}
        self._httpd = _QuietServer((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> MirrorServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="mirror-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # release handlers held by a `timeout` fault
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> MirrorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def count(self, target: str) -> None:
        with self._lock:
            self.hits[target] += 1

    def fault_for(self, target: str) -> tuple[str, Fault] | None:
        """The (path prefix, fault) that applies to a request target, if any."""
        path = urlsplit(target).path
        for prefix, name in self.faults.items():
            if path.startswith(prefix):
                if name not in FAULTS:
                    raise KeyError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
                return prefix, FAULTS[name]
        return None

    def first_file(self, prefix: str, path: Path | None) -> Path | None:
        """The first file served under a `same_page` prefix: every later request gets it too."""
        with self._lock:
            if path is not None:
                self._first_file.setdefault(prefix, path)
            return self._first_file.get(prefix)

    def content_type(self, path: Path) -> str:
        rel = path.relative_to(self.root).as_posix()
        for glob, value in self.rules:
            if fnmatch.fnmatchcase(rel, glob):
                return value
        return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")

    def etag(self, path: Path, body: bytes, mtime_ns: int) -> str:
        """sha256 of the body, cached per file while its mtime stays the same."""
        with self._lock:
            cached = self._etags.get(path)
            if cached is None or cached[0] != mtime_ns:
                cached = (mtime_ns, '"' + hashlib.sha256(body).hexdigest() + '"')
                self._etags[path] = cached
            return cached[1]


def not_modified(inm: str | None, ims: str | None, etag: str, mtime: float) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since when both are sent."""
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    if ims:
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
        return int(mtime) <= since
    return False


def _handler_for(server: MirrorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "DemoMirror/1.0"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: a crawl of thousands of pages must not flood the test output."""
            log.debug("%s " + format, self.address_string(), *args)

        def do_GET(self) -> None:
            self.answer(send_body=True)

        def do_HEAD(self) -> None:
            self.answer(send_body=False)

        def answer(self, send_body: bool) -> None:
            server.count(self.path)
            found = server.fault_for(self.path)
            if found is not None:
                self.inject(*found, send_body=send_body)
                return
            path = file_for(server.root, self.path)
            if path is None:
                self.reply(404, "text/plain; charset=utf-8", b"Not Found\n", {}, send_body)
                return
            body = path.read_bytes()
            stat = path.stat()
            etag = server.etag(path, body, stat.st_mtime_ns)
            headers = {
                "ETag": etag,
                "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
            }
            inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            if not_modified(inm, ims, etag, stat.st_mtime):
                self.reply(304, "", b"", headers, send_body=False)
                return
            self.reply(200, server.content_type(path), body, headers, send_body)

        def inject(self, prefix: str, fault: Fault, send_body: bool) -> None:
            """Answer as the fault says, from the file the request would have had."""
            if fault.stall:
                server.stopping.wait(server.stall_s)
                self.close_connection = True
                return
            if fault.redirect:
                location = fault.redirect + self.path
                self.reply(fault.status, "", b"", {"Location": location}, send_body)
                return
            if fault.body is not None:
                self.reply(fault.status, fault.content_type, fault.body, {}, send_body)
                return
            if fault.oversize:
                self.stream_oversized(send_body)
                return
            path = file_for(server.root, self.path)
            if fault.same_page:
                path = server.first_file(prefix, path)
            if path is None:
                self.reply(404, "text/plain; charset=utf-8", b"Not Found\n", {}, send_body)
                return
            body, ctype = path.read_bytes(), server.content_type(path)
            if fault.rewrite is not None:
                body, ctype = fault.rewrite(body, ctype)
            if fault.same_page:
                body = _links_made_new(body)
            if fault.truncate:
                self.send_truncated(body, ctype, send_body)
                return
            self.reply(fault.status, ctype, body, {}, send_body)

        def send_truncated(self, body: bytes, ctype: str, send_body: bool) -> None:
            """The full Content-Length is announced, half the body sent, the connection closed."""
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
            self.close_connection = True

        def stream_oversized(self, send_body: bool) -> None:
            """An answer far larger than any register page: declared, then streamed."""
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(server.oversize_bytes))
            self.end_headers()
            self.close_connection = True
            if not send_body:
                return
            chunk = b"<p>" + b"x" * 65_532 + b"</p>"
            try:
                for _ in range(server.oversize_bytes // len(chunk)):
                    if server.stopping.is_set():
                        return
                    self.wfile.write(chunk)
            except OSError:  # the crawler gave up on it, as it should
                return

        def reply(
            self, status: int, ctype: str, body: bytes, headers: dict[str, str], send_body: bool
        ) -> None:
            self.send_response(status, HTTPStatus(status).phrase)
            if ctype:
                self.send_header("Content-Type", ctype)
            for key, value in headers.items():
                self.send_header(key, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body and status != 304:
                self.wfile.write(body)

    return Handler


@contextmanager
def serve_mirror(directory: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve a mirror folder in a background thread for the length of a `with` block; yields
    its base url. Use MirrorServer directly to read hits or inject faults."""
    with MirrorServer(directory, host, port) as server:
        yield server.url
