"""Corrections (right of reply): the reviewed file is validated, applied and audited."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from agencywatch.config import ConfigError, load_city
from tests.test_resolve import city, code, registration, resolved, row
from transforms import corrections

REPO = Path(__file__).resolve().parents[1]
NAME = "演示市甲子商务咨询有限公司"

ENTRY = """
[[corrections]]
id = "t-1"
action = "{action}"
record_id = "{record_id}"
reason = "checked against the source"
requested_on = 2026-10-01
decided_on = 2026-10-05
reviewer = "tester"
"""


def write_corrections(root: Path, text: str) -> None:
    folder = root / "cities" / "corrections"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "demo.toml").write_text(text, encoding="utf-8")


def test_every_city_corrections_file_in_the_repo_is_valid() -> None:
    files = sorted((REPO / "cities" / "corrections").glob("*.toml"))
    assert files, "the demo city ships a corrections file"
    for path in files:
        parsed = corrections.parse(path.read_text("utf-8"), path)
        assert all(c.reason and c.reviewer for c in parsed)
    assert len(corrections.load(load_city(REPO / "cities" / "demo.toml"))) >= 3


def test_errors_name_the_file_and_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    with pytest.raises(ConfigError, match=r"x\.toml: corrections\[0\].*record_id"):
        corrections.parse(ENTRY.format(action="suppress", record_id=""), path)
    with pytest.raises(ConfigError, match="appears twice"):
        corrections.parse(ENTRY.format(action="suppress", record_id="a:1") * 2, path)
    bad_dates = ENTRY.format(action="suppress", record_id="a:1").replace("2026-10-05", "2026-09-01")
    with pytest.raises(ConfigError, match="before requested_on"):
        corrections.parse(bad_dates, path)


def test_run_applies_the_file_and_writes_the_audit(tmp_path: Path, monkeypatch) -> None:
    complaint = row("complaint", "c1", complaint_id="c1", target_name=NAME, name_key=NAME,
                    filed_on="2026-06-01", category="violence", status="unresolved")  # fmt: skip
    write_corrections(tmp_path, ENTRY.format(action="suppress", record_id="complaints:c1"))
    cfg = city().model_copy(update={"config_path": tmp_path / "cities" / "demo.toml"})
    monkeypatch.setattr("tests.test_resolve.city", lambda: cfg)
    out = resolved(tmp_path, [registration(1, NAME), complaint])
    assert "complaints:c1" not in set(out["events"]["record_id"])
    un = out["unlinked"].set_index("record_id")
    assert un.loc["complaints:c1", "reason"] == "suppressed"
    audit = pd.read_parquet(tmp_path / "data" / "demo" / "resolved" / "corrections_applied.parquet")
    assert audit.loc[0, "correction_id"] == "t-1"
    assert bool(audit.loc[0, "applied"]) and audit.loc[0, "previous_agency_id"] == code(1)


def test_a_named_corrections_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    cfg = city().model_copy(
        update={
            "corrections_file": "nowhere.toml",
            "config_path": tmp_path / "cities" / "demo.toml",
        }
    )
    with pytest.raises(ConfigError, match="does not exist"):
        corrections.load(cfg)
    assert (
        corrections.load(city().model_copy(update={"config_path": tmp_path / "c" / "demo.toml"}))
        == []
    )
