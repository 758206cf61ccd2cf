"""The agency page's history: score and list per release, read from the releases' agencies.csv."""

from __future__ import annotations

from pathlib import Path

from agencywatch.paths import CityPaths
from transforms import render_model as render

HEADER = "agency_id,name,score,list,list_reason_code,list_reason_zh,list_reason_en,method_version,as_of\n"


def write_release(paths: CityPaths, day: str, score: str, lst: str, code: str) -> Path:
    folder = paths.releases / day
    folder.mkdir(parents=True)
    line = f"A1,演示市甲,{score},{lst},{code},理由{code},reason {code},1.0,{day}\n"
    (folder / "agencies.csv").write_text("\ufeff" + HEADER + line, encoding="utf-8")
    return folder


def test_history_reads_every_release_up_to_this_one_and_says_why_lists_changed(
    tmp_path: Path,
) -> None:
    paths = CityPaths(root=tmp_path, city="demo")
    write_release(paths, "2026-09-01", "90.0", "whitelist", "whitelist")
    write_release(paths, "2026-10-01", "52.5", "warning", "warning_low_score")
    current = write_release(paths, "2026-11-01", "52.5", "warning", "warning_low_score")
    write_release(paths, "2026-12-01", "10.0", "blacklist", "flag_dishonest_debtor")  # later
    points = render.release_history(paths, current)["A1"]
    assert [p["release"] for p in points] == ["2026-09-01", "2026-10-01", "2026-11-01"]
    changes = render.list_changes(points)
    assert [(c["release"], c["from"], c["to"], c["reason_code"]) for c in changes] == [
        ("2026-10-01", "whitelist", "warning", "warning_low_score")
    ]
    chart = render.history_chart(points)
    assert chart is not None
    ys = [d["y"] for d in chart["dots"]]
    assert ys[0] < ys[1] == ys[2]  # a lower score is drawn lower (larger y)
    assert all(c in "0123456789., " for c in chart["points"])


def test_a_single_release_has_no_chart(tmp_path: Path) -> None:
    paths = CityPaths(root=tmp_path, city="demo")
    current = write_release(paths, "2026-11-01", "80.0", "no_adverse_record", "no_adverse_record")
    points = render.release_history(paths, current)["A1"]
    assert render.history_chart(points) is None and render.list_changes(points) == []
