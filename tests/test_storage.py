"""The storage root: a plain path is used in place, a URL is synced around each task.

memory:// and file:// stand in for object storage (S3 and the like) here: the same fsspec calls
reach them all.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from agencywatch import pipeline, storage


@pytest.fixture(params=["memory", "file"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh storage root reached through fsspec."""
    if request.param == "memory":
        return f"memory://aw-{uuid.uuid4().hex}"
    return (tmp_path / "bucket").as_uri()


def put(url: str, rel: str, text: str) -> None:
    storage.Storage(url).write_bytes(rel, text.encode())


def get(url: str, rel: str) -> str | None:
    data = storage.Storage(url).read_bytes(rel)
    return data.decode() if data is not None else None


def test_a_plain_path_is_used_in_place(tmp_path):
    with storage.city_root("demo", str(tmp_path)) as root:
        assert root == str(tmp_path)


def test_storage_defaults_to_the_output_root(monkeypatch, tmp_path):
    monkeypatch.delenv(storage.STORAGE_ENV, raising=False)
    monkeypatch.setenv("AGENCYWATCH_ROOT", str(tmp_path))
    assert storage.storage_url() == str(tmp_path)
    monkeypatch.setenv(storage.STORAGE_ENV, "memory://x")
    assert storage.storage_url() == "memory://x"


def test_a_task_sees_the_city_state_and_sends_back_what_it_changed(url):
    put(url, "data/demo/raw/a.jsonl", "old a\n")
    put(url, "data/demo/raw/b.jsonl", "b\n")
    put(url, "data/demo/raw/gone.jsonl", "x\n")
    put(url, "data/other/raw/a.jsonl", "other city\n")
    with storage.city_root("demo", url) as root:
        local = Path(root)
        assert (local / "data/demo/raw/b.jsonl").read_text() == "b\n"
        assert not (local / "data/other").exists()
        (local / "data/demo/raw/a.jsonl").write_text("new a\n")
        (local / "data/demo/raw/gone.jsonl").unlink()
        (local / "data/demo/work/r1").mkdir(parents=True)
        (local / "data/demo/work/r1/crawl-a.json").write_text("{}")
    assert get(url, "data/demo/raw/a.jsonl") == "new a\n"
    assert get(url, "data/demo/raw/b.jsonl") == "b\n"
    assert get(url, "data/demo/raw/gone.jsonl") is None
    assert get(url, "data/demo/work/r1/crawl-a.json") == "{}"
    assert get(url, "data/other/raw/a.jsonl") == "other city\n"


def test_parallel_tasks_only_send_their_own_changes(url):
    """Two crawls of one run, on two workers: the later push must not undo the earlier one."""
    put(url, "data/demo/raw/a.jsonl", "a0\n")
    put(url, "data/demo/raw/b.jsonl", "b0\n")
    first, second = storage.city_root("demo", url), storage.city_root("demo", url)
    root_a, root_b = Path(first.__enter__()), Path(second.__enter__())
    (root_a / "data/demo/raw/a.jsonl").write_text("a1\n")
    (root_b / "data/demo/raw/b.jsonl").write_text("b1\n")
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)
    assert get(url, "data/demo/raw/a.jsonl") == "a1\n"
    assert get(url, "data/demo/raw/b.jsonl") == "b1\n"


def test_a_failed_stage_still_sends_its_gate_results(url):
    with pytest.raises(RuntimeError):
        with storage.city_root("demo", url) as root:
            gate = Path(root) / "data/demo/gates/raw_a.json"
            gate.parent.mkdir(parents=True)
            gate.write_text('{"success": false}')
            raise RuntimeError("gate failed")
    assert json.loads(get(url, "data/demo/gates/raw_a.json")) == {"success": False}


def test_the_live_site_is_mirrored_as_plain_files(url):
    put(url, "public/demo/stale.html", "old page")
    with storage.city_root("demo", url) as root:
        local = Path(root)
        build = local / "public/.builds/demo-2026-11-22-abc"
        (build / "agency").mkdir(parents=True)
        (build / "index.html").write_text("home")
        (build / "agency/1.html").write_text("agency")
        os.symlink(os.path.relpath(build, local / "public"), local / "public/demo")
        release = local / "releases/demo/2026-11-22"
        release.mkdir(parents=True)
        (release / "agencies.csv").write_text("rows")
        os.symlink(os.path.relpath(release, build), build / "release")
    assert get(url, "public/demo/index.html") == "home"
    assert get(url, "public/demo/release/agencies.csv") == "rows"
    assert get(url, "public/demo/agency/1.html") == "agency"
    assert get(url, "public/demo/stale.html") is None
    assert get(url, "public/.builds/demo-2026-11-22-abc/index.html") == "home"


def test_other_cities_manifests_are_read_but_never_removed(url):
    put(url, "releases/other/2026-11-01/manifest.json", '{"city": "other"}')
    put(url, "releases/other/2026-11-01/agencies.csv", "big table")
    with storage.city_root("demo", url) as root:
        local = Path(root)
        assert (local / "releases/other/2026-11-01/manifest.json").is_file()
        assert not (local / "releases/other/2026-11-01/agencies.csv").exists()
        (local / "releases/other/2026-11-01/manifest.json").unlink()
    assert get(url, "releases/other/2026-11-01/manifest.json") == '{"city": "other"}'


def test_json_files_round_trip_through_a_path_or_a_url(url, tmp_path):
    for where in (url, str(tmp_path / "plain")):
        assert storage.read_json("data/demo/x.json", where) is None
        storage.write_json("data/demo/x.json", {"城市": "演示市"}, where)
        assert storage.read_json("data/demo/x.json", where) == {"城市": "演示市"}


def test_the_portal_root_holds_each_city_newest_release_and_sends_back_new_files(url):
    put(url, "releases/demo/2026-11-01/manifest.json", "{}")
    put(url, "releases/demo/2026-11-01/agencies.parquet", "old")
    put(url, "releases/demo/2026-11-22/manifest.json", "{}")
    put(url, "releases/demo/2026-11-22/agencies.parquet", "new")
    put(url, "public/demo/index.html", "city site")
    put(url, "public/demo/agency/1.html", "agency page")
    with storage.site_root(url) as root:
        assert not (root / "public/demo/agency").exists()
        assert (root / "releases/demo/2026-11-22/agencies.parquet").read_text() == "new"
        assert not (root / "releases/demo/2026-11-01/agencies.parquet").exists()
        assert (root / "public/demo/index.html").read_text() == "city site"
        (root / "public").mkdir(exist_ok=True)
        (root / "public/index.html").write_text("portal")
    assert get(url, "public/index.html") == "portal"
    assert get(url, "releases/demo/2026-11-01/agencies.parquet") == "old"


# --- failure reports ---------------------------------------------------------------------------


def test_failures_of_one_run_are_collected_in_one_report(url):
    pipeline.record_failure("demo", "run1", {"task_id": "crawl", "error": "boom"}, url)
    report = pipeline.record_failure("demo", "run1", {"task_id": "build", "error": "bang"}, url)
    assert [f["task_id"] for f in report["failures"]] == ["crawl", "build"]
    stored = json.loads(get(url, "data/demo/failures/run1.json"))
    assert stored == report


class _Inbox(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Inbox.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_failure_report_is_posted_to_the_webhook():
    server = HTTPServer(("127.0.0.1", 0), _Inbox)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        report = {"city": "demo", "run_id": "r", "failures": [{"task_id": "crawl"}]}
        assert pipeline.post_webhook(url, report) == 204
    finally:
        server.shutdown()
        server.server_close()
    assert _Inbox.received[-1] == report


def test_a_webhook_must_be_http():
    with pytest.raises(ValueError):
        pipeline.post_webhook("file:///etc/passwd", {})
