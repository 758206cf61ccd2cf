"""Personal id numbers and private mobiles are masked before anything is released.

All numbers here are fictional: the resident ids use the unassigned place code 990101 (the
masking checks the check digit and the birth date, not the place), the mobiles are made up.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from stdnum.cn import ric

from agencywatch.config import RECORD_TYPES, parse_city
from agencywatch.paths import CityPaths
from transforms import normalize, privacy
from transforms.privacy import _MAY_HOLD_NUMBER, mask_text, masked_items, masked_table
from transforms.rawfile import parse_raw, table_from_items


def fictional_id(birth: str = "19800101", seq: str = "123") -> str:
    body = f"990101{birth}{seq}"
    return body + ric.calc_check_digit(body + "0")


PERSON_ID = fictional_id()
PERSON_ID_X = next(
    fictional_id(seq=f"{n:03d}") for n in range(1000) if fictional_id(seq=f"{n:03d}")[-1] == "X"
)
MOBILE = "13912345678"
AGENCY_MOBILE = "13805990002"  # the number a complaint says the agency called from
LANDLINE = "0599-67087966"
HOTLINE = "400-612-3456"
USCC_DIGITS = "919991049475698471"  # a company's code from the demo mirror: all digits, kept


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"身份证号{PERSON_ID}。", f"身份证号{PERSON_ID[:4]}**********{PERSON_ID[-4:]}。"),
        (f"证件 {PERSON_ID_X.lower()}", f"证件 {PERSON_ID_X[:4]}**********{PERSON_ID_X[-4:]}"),
        (f"电话{MOBILE}", "电话139****5678"),
        ("手机 +86 139-1234-5678", "手机 139****5678"),
        ("手机１３９１２３４５６７８", "手机139****5678"),
    ],
)
def test_personal_numbers_are_masked(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"公司电话 {LANDLINE}",
        f"客服 {HOTLINE}",
        f"代码 {USCC_DIGITS}",
        "代码 91320322MABLP2X24R",
        PERSON_ID[:-1] + ("0" if PERSON_ID[-1] != "0" else "1"),  # wrong check digit
        "决定书编号 99912120120006",
        "订单号 213912345678901",  # a mobile-looking run inside a longer number
    ],
)
def test_company_numbers_and_other_digits_stay(text: str) -> None:
    assert mask_text(text) == text


def test_masked_items_walk_every_field_and_keep_the_rest() -> None:
    item = {"url": "u", "fields": {"当事人": f"被告人甲（{PERSON_ID}）", "电话": [MOBILE]}}
    [out] = masked_items([item])
    assert out["url"] == "u"
    assert PERSON_ID not in json.dumps(out) and MOBILE not in json.dumps(out)
    assert item["fields"]["电话"] == [MOBILE]  # the input is not changed in place


def test_a_mobile_written_as_a_json_number_is_masked_too() -> None:
    item = {"record_type": "complaint", "fields": {"投诉人电话": int(MOBILE), "金额": 12000,
                                                   "比例": 0.5, "是": True}}  # fmt: skip
    [out] = masked_items([item])
    assert out["fields"]["投诉人电话"] == MOBILE[:3] + "****" + MOBILE[-4:]
    assert out["fields"]["金额"] == 12000 and out["fields"]["比例"] == 0.5
    assert out["fields"]["是"] is True
    assert masked_items([{"fields": {"x": float(MOBILE)}}])[0]["fields"]["x"] != float(MOBILE)


# --- end to end through normalize -----------------------------------------------------------

CITY = """
slug = "privacy"
name = "虚构市"
contact_url = "https://example.org/contact"
base_url = "https://credit.fixture-city.example"
{sources}
"""
SOURCE = """
[[sources]]
id = "{id}"
title = "{id}"
record_type = "{rt}"
kind = "manual"
"""
PLANTED = {
    ("judgments", "judgment"): {
        "案件名称": f"演示市某某商务咨询有限公司、张某催收非法债务一审刑事判决书（张某身份证{PERSON_ID}）",
        "法院名称": "演示市人民法院",
        "案号": "（2025）演0103刑初7号",
        "案件类型": "刑事案件",
        "案由": "催收非法债务",
        "当事人": f"被告单位：演示市某某商务咨询有限公司；被告人：张某（{PERSON_ID_X}，电话{MOBILE}）",
        "罪名": "催收非法债务罪",
        "裁判日期": "2025-07-10",
        "判决结果": f"被告人张某（公民身份号码{PERSON_ID}）犯催收非法债务罪",
    },
    ("complaints", "complaint"): {
        "sn": "DC000000001",
        "title": f"演示市某某商务咨询有限公司爆通讯录，催收员手机{MOBILE}",
        "target": "演示市某某商务咨询有限公司",
        "issue": "骚扰",
        "phone": f"{AGENCY_MOBILE}；{LANDLINE}",
        "created_at": "2026-01-02",
        "status": "处理中",
    },
    ("penalties", "penalty"): {
        "行政相对人名称": "演示市某某商务咨询有限公司",
        "行政处罚决定书文号": "演市监罚〔2026〕1号",
        "违法事实": f"冒用他人身份（身份证号{PERSON_ID}）并以{MOBILE}拨打债务人亲属电话；公司电话{HOTLINE}",
        "处罚决定日期": "2026-03-01",
        "处罚机关": "演示市市场监督管理局",
    },
}


@pytest.fixture(scope="module")
def normalized(tmp_path_factory: pytest.TempPathFactory) -> CityPaths:
    sources = "".join(SOURCE.format(id=sid, rt=rt) for sid, rt in PLANTED)
    city = parse_city(CITY.format(sources=sources), Path("cities/privacy.toml"))
    paths = CityPaths(tmp_path_factory.mktemp("root"), "privacy")
    paths.raw.mkdir(parents=True)
    for (sid, rt), fields in PLANTED.items():
        item = {
            "source_id": sid,
            "record_type": rt,
            "url": f"https://credit.fixture-city.example/{sid}.html",
            "fetched_at": "2026-11-01T00:00:00Z",
            "content_sha256": "0" * 64,
            "place": "page 1, row 1",
            "fields": fields,
        }
        broken = f'{{"source_id": "{sid}", "fields": {{"note": "{PERSON_ID}"'  # unreadable line
        lines = [json.dumps(item, ensure_ascii=False), broken]
        (paths.raw / f"{sid}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    normalize.run(city, paths)
    return paths


def all_text(paths: CityPaths) -> str:
    """Every clean table and the quarantine, but for the agencies' own phone numbers."""
    tables = [pd.read_parquet(paths.clean / f"{rt}.parquet") for rt in RECORD_TYPES]
    tables = [t.drop(columns="number") if "number" in t else t for t in tables]
    return "\n".join(t.astype(str).to_csv() for t in tables) + paths.quarantine.read_text("utf-8")


def test_no_personal_number_survives_normalize(normalized: CityPaths) -> None:
    text = all_text(normalized)
    for number in (PERSON_ID, PERSON_ID_X, MOBILE):
        assert number not in text
    assert not re.search(r"1[3-9]\d{9}", text.replace(AGENCY_MOBILE, ""))  # kept on purpose
    assert f"{PERSON_ID[:4]}**********{PERSON_ID[-4:]}" in text  # masked, not dropped


def test_company_phones_survive_normalize(normalized: CityPaths) -> None:
    phones = pd.read_parquet(normalized.clean / "phone.parquet")
    assert {"059967087966", AGENCY_MOBILE} <= set(phones["number"])  # reported by complaint
    assert HOTLINE in all_text(normalized)


# --- whole parsed files ----------------------------------------------------------------------


def random_items(seed: int, nested: bool, count: int = 300) -> list[dict]:
    """Items of the two record types with an exempt number field, and one without, carrying
    personal numbers, company numbers and plain text in every label (some not text at all)."""
    rng = random.Random(seed)
    pieces = [PERSON_ID, PERSON_ID_X.lower(), MOBILE, "+86 139-1234-5678", "１３９１２３４５６７８",
              LANDLINE, HOTLINE, USCC_DIGITS, "91320322MABLP2X24R", "订单号 213912345678901",
              "测试", "  ", "无", "2025-07-10", "１２３"]  # fmt: skip
    labels = {"complaint": ["phone", "title", "sn"], "phone": ["联系电话", "备注", "名称"],
              "penalty": ["违法事实", "行政相对人名称", "联系电话"]}  # fmt: skip
    items = []
    for n in range(count):
        record_type = rng.choice([*labels, None])
        fields: dict[str, object] = {}
        for label in labels.get(record_type or "penalty", []):
            if rng.random() < 0.8:
                fields[label] = "，".join(rng.choice(pieces) for _ in range(rng.randint(1, 3)))
        if nested and rng.random() < 0.05:
            fields["当事人"] = [MOBILE, {"电话": MOBILE, "n": 13912345678}]
        items.append(
            {"source_id": "s", "record_type": record_type, "place": str(n), "fields": fields}
        )
    return items


@pytest.mark.parametrize(("seed", "nested"), [(1, False), (2, False), (3, True)])
def test_masked_table_masks_as_masked_items_does(tmp_path: Path, seed: int, nested: bool) -> None:
    items = random_items(seed, nested)
    expected = table_from_items(masked_items(items)).fields
    parsed = parse_raw(write_items(tmp_path, items))
    assert (parsed.items is None) == (not nested)  # the pyarrow path for plain text
    for table in (table_from_items(items), parsed):
        got = masked_table(table).fields
        assert list(got.columns) == list(expected.columns)
        for label in expected:
            assert got[label].astype(object).where(got[label].notna(), None).tolist() == (
                expected[label].tolist()
            ), label


def write_items(tmp_path: Path, items: list[dict]) -> Path:
    path = tmp_path / "s.jsonl"
    text = "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_digit_filter_lets_every_python_digit_through() -> None:
    """The pyarrow filter in front of the masking must see every digit Python's \\d matches."""
    digits = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isdecimal()]
    runs = pa.array([d * 18 for d in digits] + [d * 17 + "X" for d in digits])
    assert pc.all(pc.match_substring_regex(runs, _MAY_HOLD_NUMBER)).as_py()
    assert pc.all(pc.match_substring_regex(pa.array(["13912345678"]), _MAY_HOLD_NUMBER)).as_py()


def test_the_filter_lets_through_every_text_the_masking_changes() -> None:
    """Identity numbers next to letters, digits, separators and line breaks, in ASCII and
    full-width forms: whatever mask_text would change must pass the pyarrow filter."""
    rng = random.Random(7)
    edges = ["", "a", "Ａ", "x", "X", "1", "１", "٣", "-", " ", "\n", "*", "：", "号", "+86 "]
    numbers = [PERSON_ID, PERSON_ID_X, PERSON_ID_X.lower(), USCC_DIGITS, MOBILE,
               PERSON_ID.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
               "91320322MABLP2X24R", PERSON_ID[:-1], "+86 139-1234-5678"]  # fmt: skip
    texts = [a + n + b for n in numbers for a in edges for b in edges]
    texts += ["".join(rng.choice("0123456789Xx１６８+ -\n") for _ in range(rng.randint(11, 40)))
              for _ in range(3000)]  # fmt: skip
    passed = pc.match_substring_regex(pa.array(texts), _MAY_HOLD_NUMBER).to_pylist()
    changed = [t for t in texts if mask_text(t) != t]
    assert changed and all(ok for t, ok in zip(texts, passed, strict=True) if t in changed)


def test_a_company_code_ending_in_a_letter_is_not_looked_at() -> None:
    codes = pa.array(["91320322MABLP2X24R", "91991000554921520R"])
    assert not pc.any(pc.match_substring_regex(codes, _MAY_HOLD_NUMBER)).as_py()


def test_a_bare_eighteen_digit_cell_is_masked_as_mask_text_masks_it() -> None:
    cells = [PERSON_ID, PERSON_ID_X, USCC_DIGITS, "919910007669900277", "123456789012345678",
             PERSON_ID[:-1] + "0", PERSON_ID[:-1] + "X"]  # fmt: skip
    for cell in cells:
        assert privacy._BARE_ID.fullmatch(cell)
        assert privacy._masked_code(cell) == mask_text(cell), cell
