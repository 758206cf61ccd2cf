"""Raw files parsed once: pyarrow and json.loads read the same table, and the hand-over between
the raw gate and normalize is used only for the very bytes it was parsed from.

All records are invented; the file layouts are the odd ones a crawl or a hand edit can leave.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from transforms import rawfile
from transforms.rawfile import RawTable, load, parse_raw, read_raw


def line(n: int, **fields: object) -> str:
    return json.dumps(
        {
            "source_id": "penalties",
            "record_type": "penalty",
            "url": f"https://credit.test-city.example/list_{n}.html",
            "fetched_at": "2026-11-22T02:00:03Z",
            "place": f"row {n}",
            "fields": fields,
        },
        ensure_ascii=False,
    )


PLAIN = [
    line(1, 名称="测试市甲乙商务咨询有限公司", 日期="2024-03-05"),
    line(2, 名称="测试市丙丁信息咨询有限公司", 文号="测市监罚〔2024〕2号", 日期="2024-03-06"),
    line(3, 名称="  ", 文号=None),
]

# Each of these must come out of parse_raw exactly as json.loads line by line reads it.
LAYOUTS = {
    "plain": "\n".join(PLAIN) + "\n",
    "no final newline": "\n".join(PLAIN),
    "dates only (pyarrow would read timestamps)": "\n".join(
        line(n, 日期=f"2024-03-0{n}", 时间=f"2024-03-0{n}T10:00:00Z") for n in range(1, 4)
    ),
    "a label first seen late": "\n".join([PLAIN[0], line(4, 新栏目="x"), PLAIN[1]]) + "\n",
    "a number value": "\n".join([PLAIN[0], line(5, 金额=12345, 名称="x")]) + "\n",
    "a nested value": "\n".join([PLAIN[0], line(6, 当事人=["甲", "乙"])]) + "\n",
    "a malformed line": "\n".join([PLAIN[0], '{"fields": {broken', PLAIN[1]]) + "\n",
    "not a raw item": "\n".join([PLAIN[0], "[1, 2]", '{"place": "x"}', "null"]) + "\n",
    "a blank line": "\n".join([PLAIN[0], "", PLAIN[1], "   \t"]) + "\n",
    "two objects on a line": PLAIN[0] + " " + PLAIN[1] + "\n",
    "windows newlines": "\r\n".join(PLAIN) + "\r\n",
    "a byte order mark": "\ufeff" + "\n".join(PLAIN) + "\n",
    "a line starting with a space": " " + "\n".join(PLAIN) + "\n",
    "escapes": line(7, 名称='\u00e9\U0001f600 \\ " \u0000 end') + "\n",
    "a duplicated key": '{"fields": {"a": "1", "a": "2"}}\n',
    "a number in provenance": '{"place": 5, "fields": {"a": "1"}}\n',
    "empty": "",
}


def as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame's cells as Python objects, None where missing (Arrow text and objects alike)."""
    return pd.DataFrame(
        {c: frame[c].astype(object).where(frame[c].notna(), None) for c in frame.columns},
        index=frame.index,
    )


def assert_same_table(a: RawTable, b: RawTable) -> None:
    assert list(a.fields.columns) == list(b.fields.columns)
    pd.testing.assert_frame_equal(as_objects(a.fields), as_objects(b.fields))
    pd.testing.assert_frame_equal(as_objects(a.provenance), as_objects(b.provenance))
    assert a.lines.tolist() == b.lines.tolist()
    assert a.unreadable == b.unreadable


@pytest.mark.parametrize("layout", LAYOUTS)
def test_pyarrow_and_line_by_line_reads_agree(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "penalties.jsonl"
    path.write_bytes(LAYOUTS[layout].encode("utf-8"))
    fast = parse_raw(path)
    careful = rawfile._python_table(path.read_bytes(), path)
    assert_same_table(fast, careful)
    bad: list[dict] = []
    assert len(read_raw(path, bad)) == len(fast)
    assert bad == fast.unreadable
    rows = list(range(len(fast)))
    assert fast.items_at(rows) == careful.items_at(rows) == read_raw(path, [])


@pytest.mark.parametrize("block", [300, 700, 5000])
def test_a_file_read_in_small_blocks_reads_as_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Labels first met in a later block come last, as json.loads meets them; a line longer
    than a block takes the careful path and reads the same."""
    lines = [line(n, 名称=f"公司{n}", **({f"栏目{n // 7}": "x"} if n % 5 == 0 else {}))
             for n in range(40)]  # fmt: skip
    lines.insert(20, line(99, 长文本="长" * 400, 名称=None))
    path = tmp_path / "penalties.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(rawfile, "_BLOCK_BYTES", block)
    fast = parse_raw(path)
    assert_same_table(fast, rawfile._python_table(path.read_bytes(), path))
    assert (fast.items is None) == (block > 2000)  # the long line fits only the large block


def test_plain_crawler_output_takes_the_pyarrow_path(tmp_path: Path) -> None:
    path = tmp_path / "penalties.jsonl"
    path.write_text(LAYOUTS["plain"], encoding="utf-8")
    table = parse_raw(path)
    assert table.items is None  # items are read back from the file only when asked for
    assert isinstance(table.fields["名称"].dtype, pd.StringDtype)


def test_the_handover_is_reused_for_the_same_bytes(tmp_path: Path, monkeypatch) -> None:
    raw = tmp_path / "penalties.jsonl"
    raw.write_text(LAYOUTS["a malformed line"], encoding="utf-8")
    first = load(raw, tmp_path / "parsed")
    assert (tmp_path / "parsed" / "penalties.parquet").exists()

    def no_parse(*_: object) -> RawTable:
        raise AssertionError("parsed again although the hand-over matches")

    monkeypatch.setattr(rawfile, "parse_raw", no_parse)
    again = load(raw, tmp_path / "parsed")
    assert_same_table(again, first)
    assert again.unreadable and again.unreadable == first.unreadable  # quarantine stays complete
    assert again.items_at([0, 1]) == read_raw(raw, [])


def test_the_handover_is_not_reused_after_the_raw_file_changes(tmp_path: Path) -> None:
    raw = tmp_path / "penalties.jsonl"
    raw.write_text(LAYOUTS["plain"], encoding="utf-8")
    load(raw, tmp_path / "parsed")
    changed = LAYOUTS["plain"].replace("甲乙", "戊己")  # same length, other bytes
    raw.write_text(changed, encoding="utf-8")
    table = load(raw, tmp_path / "parsed")
    assert table.fields["名称"].iloc[0] == "测试市戊己商务咨询有限公司"
    assert_same_table(load(raw, tmp_path / "parsed"), parse_raw(raw))


def test_a_handover_of_another_format_is_parsed_again(tmp_path: Path, monkeypatch) -> None:
    raw = tmp_path / "penalties.jsonl"
    raw.write_text(LAYOUTS["plain"], encoding="utf-8")
    load(raw, tmp_path / "parsed")
    monkeypatch.setattr(rawfile, "FORMAT", "next")
    parsed: list[Path] = []
    real_parse = rawfile.parse_raw
    monkeypatch.setattr(
        rawfile, "parse_raw", lambda p, d=None: parsed.append(p) or real_parse(p, d)
    )
    load(raw, tmp_path / "parsed")
    assert parsed == [raw]


def test_values_that_are_not_text_are_not_handed_over(tmp_path: Path) -> None:
    raw = tmp_path / "penalties.jsonl"
    raw.write_text(LAYOUTS["a number value"], encoding="utf-8")
    table = load(raw, tmp_path / "parsed")
    assert table.fields["金额"].tolist() == [None, 12345]
    assert not (tmp_path / "parsed" / "penalties.parquet").exists()


def test_a_damaged_handover_is_parsed_again(tmp_path: Path) -> None:
    raw = tmp_path / "penalties.jsonl"
    raw.write_text(LAYOUTS["plain"], encoding="utf-8")
    load(raw, tmp_path / "parsed")
    handover = tmp_path / "parsed" / "penalties.parquet"
    handover.write_bytes(handover.read_bytes()[: handover.stat().st_size // 2])
    assert_same_table(load(raw, tmp_path / "parsed"), parse_raw(raw))
    assert [p.name for p in (tmp_path / "parsed").iterdir()] == ["penalties.parquet"]


def test_quarantine_reads_back_the_bytes_that_were_parsed(tmp_path: Path) -> None:
    """A raw file replaced after loading (a crawl finishing) lends no fields to quarantine."""
    raw = tmp_path / "penalties.jsonl"
    raw.write_text(LAYOUTS["plain"], encoding="utf-8")
    table = load(raw, tmp_path / "parsed")
    raw.write_text(LAYOUTS["plain"].replace("甲乙", "戊己"), encoding="utf-8")
    assert table.items_at([0])[0]["fields"]["名称"] == "测试市甲乙商务咨询有限公司"


def test_the_next_load_in_the_same_process_takes_the_parse_from_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "penalties.jsonl"
    raw.write_text(LAYOUTS["plain"], encoding="utf-8")
    first = load(raw, tmp_path / "parsed")  # the raw gate
    (tmp_path / "parsed" / "penalties.parquet").unlink()  # not read: the parse is in memory
    again = load(raw, tmp_path / "parsed")  # normalize
    assert_same_table(again, first)
    assert again.items_at([0]) == read_raw(raw, [])[:1]
    parsed: list[Path] = []
    real_parse = rawfile.parse_raw
    monkeypatch.setattr(
        rawfile, "parse_raw", lambda p, d=None: parsed.append(p) or real_parse(p, d)
    )
    load(raw, tmp_path / "parsed")  # taken once only: now neither memory nor file holds it
    assert parsed == [raw]


def test_a_parse_in_memory_is_not_taken_for_other_bytes(tmp_path: Path) -> None:
    raw = tmp_path / "penalties.jsonl"
    raw.write_text(LAYOUTS["plain"], encoding="utf-8")
    load(raw, tmp_path / "parsed")
    raw.write_text(LAYOUTS["plain"].replace("甲乙", "戊己"), encoding="utf-8")  # same size
    table = load(raw, tmp_path / "parsed")
    assert table.fields["名称"].iloc[0] == "测试市戊己商务咨询有限公司"


def test_only_one_citys_parses_are_kept_in_memory(tmp_path: Path) -> None:
    for city in ("a", "b"):
        raw = tmp_path / city / "penalties.jsonl"
        raw.parent.mkdir()
        raw.write_text(LAYOUTS["plain"], encoding="utf-8")
        load(raw, tmp_path / city / "parsed")
    assert [Path(k).parent.parent.name for k in rawfile._in_memory] == ["b"]
