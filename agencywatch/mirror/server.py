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
import logging
import threading
import tomllib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
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


@dataclass(frozen=True)
class Fault:
    """A canned answer that replaces a real file, as a blocked or broken source gives it."""

    status: int
    content_type: str
    body: bytes


FAULTS: dict[str, Fault] = {
    "http500": Fault(500, "text/plain; charset=utf-8", b"Internal Server Error\n"),
    "challenge": Fault(412, "text/html; charset=utf-8", CHALLENGE_PAGE),
    "error_body": Fault(200, "text/plain; charset=utf-8", b"error"),
    "sso_not_login": Fault(200, "application/json", b'{"code":401,"msg":"sso not login."}'),
    "not_found": Fault(404, "text/plain; charset=utf-8", b"Not Found\n"),
}


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
    a fault name from FAULTS; both may be read and changed while the server runs.
    """

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(directory)
        if not self.root.is_dir():
            raise FileNotFoundError(f"no mirror folder at {self.root}")
        self.rules = header_rules(self.root)
        self.hits: Counter[str] = Counter()
        self.faults: dict[str, str] = {}
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

    def fault_for(self, target: str) -> Fault | None:
        path = urlsplit(target).path
        for prefix, name in self.faults.items():
            if path.startswith(prefix):
                if name not in FAULTS:
                    raise KeyError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
                return FAULTS[name]
        return None

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
            fault = server.fault_for(self.path)
            if fault is not None:
                self.reply(fault.status, fault.content_type, fault.body, {}, send_body)
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
