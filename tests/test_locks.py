"""The development lock and the deploy image's lock pin the same versions.

requirements.lock (what `make test` installs) is resolved within deploy/requirements.lock
(what the Docker image installs), so a test run exercises the libraries production runs.
A lock edited by hand, or re-resolved on its own, breaks that; this says which package.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+(?:\[[^\]]+\])?)==(\S+)", re.M)


def pins(path: Path) -> dict[str, str]:
    return {name.lower(): version for name, version in PIN.findall(path.read_text("utf-8"))}


def test_every_package_of_both_locks_has_one_version() -> None:
    dev, deploy = pins(REPO / "requirements.lock"), pins(REPO / "deploy" / "requirements.lock")
    differ = {p: (dev[p], deploy[p]) for p in dev.keys() & deploy.keys() if dev[p] != deploy[p]}
    assert not differ, f"requirements.lock vs deploy/requirements.lock: {differ} (run make lock)"


def test_the_image_installs_the_deploy_lock_with_s3_storage() -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text("utf-8")
    assert "COPY deploy/requirements.lock" in dockerfile
    assert "-r requirements.lock" in dockerfile
    deploy = pins(REPO / "deploy" / "requirements.lock")
    for package in ("s3fs", "apache-airflow", "apache-airflow-providers-celery"):
        assert package in deploy, f"{package} is not pinned in deploy/requirements.lock"
