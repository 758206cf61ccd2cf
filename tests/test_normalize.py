"""normalize: label mapping, raw reading and the whole stage on hand-written fictional raw items.

Every name, code and number below is invented for the tests (codes are synthesised with a valid
or a deliberately broken check character; phone numbers use the fictional area code 0599).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest

from agencywatch.config import RECORD_TYPES, Source, parse_city
from agencywatch.paths import CityPaths
from transforms import normalize, rawfile
from transforms.labels import (
    RawFileError,
    canonical,
    canonical_frame,
    column_for,
    label_map,
    normalize_label,
    read_raw,
    unmapped_labels,
)
from transforms.normalize import normalize_items
from transforms.values import name_key

GOOD = "91320322MABLP2X24R"
GOOD2 = "91441900742973952F"
BAD = "91320322MABLP2X24A"  # wrong check character

CITY_TOML = """
slug = "testcity"
name = "测试市"
contact_url = "https://example.org/contact"
base_url = "https://credit.test-city.example"

[labels.penalty]
"处罚对象（自定义）" = "name"

{sources}
"""

SOURCE_TOML = """
[[sources]]
id = "{id}"
title = "{title}"
record_type = "{rt}"
kind = "manual"
"""

SOURCES = [
    ("registrations", "registration", "企业登记"),
    ("penalties", "penalty", "行政处罚"),
    ("abnormal", "abnormal_listing", "经营异常名录"),
    ("judgments", "judgment", "裁判文书"),
    ("dishonest", "dishonest_debtor", "失信被执行人"),
    ("complaints", "complaint", "投诉平台"),
    ("filings", "filing", "企业征信机构备案名单"),
    ("phones", "phone", "会员公布电话"),
]


def make_city():
    sources = "".join(SOURCE_TOML.format(id=i, rt=rt, title=t) for i, rt, t in SOURCES)
    return parse_city(CITY_TOML.format(sources=sources), Path("cities/testcity.toml"))


def item(source_id: str, record_type: str, n: int, fields: dict) -> dict:
    return {
        "source_id": source_id,
        "record_type": record_type,
        "url": f"https://credit.test-city.example/{source_id}/list_{n // 20 + 1}.html",
        "fetched_at": "2026-11-22T02:00:03Z",
        "content_sha256": "0" * 64,
        "place": f"page {n // 20 + 1}, row {n % 20 + 1}",
        "fields": fields,
    }


RAW = {
    "registrations": [
        {"企业名称": "测试市甲乙商務諮詢有限公司", "统一社会信用代码": GOOD, "法定代表人": "王某",
         "注册资本": "100", "成立日期": "2019年3月5日", "登记状态": "存续（在营、开业、在册）",
         "住所": "测试市某路1号", "所属区县": "东区", "经营范围": "商务信息咨询", "登记机关": "东区市场监管局"},
        {"企业名称": "测试市丙丁信息咨询有限公司", "统一社会信用代码": "９１４４１９００７４２９７３９５２Ｆ",
         "注册资本": "50万元", "成立日期": "20200101", "登记状态": "吊销，未注销"},
        # no name, no code: quarantined
        {"企业名称": "—", "统一社会信用代码": "", "登记状态": "注销"},
    ],
    "penalties": [
        {"行政相对人名称": "测试市甲乙商务咨询有限公司", "行政相对人代码_1(统一社会信用代码)": GOOD,
         "行政处罚决定书文号": "测市监罚〔2024〕12号", "罚款金额（万元）": "0.5",
         "处罚决定日期（处罚生效期）": "2024/03/05", "公示截止期": "2025.03.05", "处罚机关": "测试市市场监管局",
         "处罚内容": "罚款"},
        # the same record on another page: a duplicate
        {"行政相对人名称": "测试市甲乙商务咨询有限公司", "行政相对人代码_1(统一社会信用代码)": GOOD,
         "行政处罚决定书文号": "测市监罚〔2024〕12号", "罚款金额（万元）": "０.５",
         "处罚决定日期（处罚生效期）": "2024-3-5", "公示截止期": "2025-03-05", "处罚机关": "测试市市场监管局",
         "处罚内容": "罚款"},
        {"CF_XDR_MC": "测试市戊己商务调查有限公司", "CF_XDR_SHXYM": BAD, "CF_WSH": "测市监罚〔2024〕13号",
         "CF_NR_FK": "50000元", "CF_JDRQ": "1709568000000", "CF_CFJG": "测试市市场监管局"},
        # garbage decision date: quarantined
        {"处罚对象（自定义）": "测试市庚辛商务咨询有限公司", "CF_WSH": "测市监罚〔2024〕14号",
         "CF_JDRQ": "去年春天"},
    ],
    "abnormal": [
        {"企业名称": "测试市甲乙商务咨询有限公司", "统一社会信用代码/注册号": GOOD, "名录类型": "严重违法失信名单",
         "列入原因": "通过登记的住所或者经营场所无法联系的", "列入日期": "2024-06-01", "移出日期": "-",
         "作出决定机关（列入）": "测试市市场监管局"},
        {"企业名称": "测试市丙丁信息咨询有限公司", "统一社会信用代码/注册号": GOOD2, "名录类型": "经营异常名录",
         "列入日期": "2023年1月2日", "移出日期": "2023年6月1日"},
    ],
    "judgments": [
        {"案件名称": "测试市甲乙商务咨询有限公司催收非法债务案", "法院名称": "测试市东区人民法院",
         "案号": "（2024）测0101刑初12号", "案件类型": "刑事案件", "案由": "催收非法债务",
         "当事人": f"公诉机关：测试市东区人民检察院；被告单位：测试市甲乙商务咨询有限公司（统一社会信用代码：{GOOD}）；被告人：张某、李某",
         "罪名": "催收非法债务罪；寻衅滋事罪", "裁判日期": "2024-09-10", "文书类型": "判决书", "判决结果": "罚金"},
        {"案号": "(2023)测0101民初7号", "法院名称": "测试市东区人民法院", "当事人": "原告：赵某；被告：测试市丙丁信息咨询有限公司",
         "裁判日期": "2023年5月6日", "案件类型": ""},
    ],
    "dishonest": [
        {"iname": "测试市丙丁信息咨询有限公司", "cardNum": GOOD2, "caseCode": "(2024)测0101执345号",
         "courtName": "测试市东区人民法院", "duty": "支付款项", "performance": "全部未履行",
         "disruptTypeName": "有履行能力而拒不履行生效法律文书确定义务", "regDate": 1704067200000,
         "publishDate": "2024年02月03日", "businessEntity": "钱某"},
        {"iname": "孙某某", "cardNum": "3201**********1234", "caseCode": "(2024)测0101执346号",
         "courtName": "测试市东区人民法院", "regDate": "2024年01月05日", "publishDate": "2024年02月05日"},
    ],
    "complaints": [
        {"sn": "17000001", "title": "被暴力催收", "target": "测试市甲乙商务咨询有限公司", "uscc": "",
         "appeal": "停止骚扰", "issue": "暴力催收", "phone": "0599-61234567", "created_at": "2025-03-05 12:00:00",
         "status": "已完成"},
        {"sn": "17000002", "title": "冒充法院", "target": "测试市甲乙商务咨询有限公司", "uscc": GOOD,
         "issue": "冒充公检法", "phone": "+86 138 0599 0001", "created_at": 1741147200, "status": "处理中"},
        {"sn": "17000003", "title": "乱收费", "target": "测试市无名催收工作室", "issue": "其他",
         "phone": "13805990001", "created_at": "2025-04-01 08:00:00", "status": "已回复"},
    ],
    "filings": [
        {"序号": "1", "机构名称": "测试市甲乙商务咨询有限公司", "统一社会信用代码": GOOD, "备案机关": "人民银行测试市分行",
         "备案时间": "2022-01-10", "备案编号": "ZX-0001", "注册地址": "测试市某路1号"},
    ],
    "phones": [
        {"机构名称": "测试市甲乙商务咨询有限公司", "统一社会信用代码": GOOD, "联系电话": "0599-6123 4567",
         "类型": "机构公布", "备注": "客服"},
        {"机构名称": "测试市丙丁信息咨询有限公司", "统一社会信用代码": GOOD2, "联系电话": "12345", "类型": "机构公布"},
    ],
}  # fmt: skip


def write_raw(paths: CityPaths) -> None:
    paths.raw.mkdir(parents=True)
    for source_id, record_type, _ in SOURCES:
        lines = [
            json.dumps(item(source_id, record_type, n, f), ensure_ascii=False)
            for n, f in enumerate(RAW[source_id])
        ]
        if source_id == "filings":
            lines.append('{"source_id": "filings", "fields": {broken')
        (paths.raw / f"{source_id}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    paths = CityPaths(root=tmp_path_factory.mktemp("root"), city="testcity")
    write_raw(paths)
    summary = normalize.run(make_city(), paths)
    tables = {rt: pd.read_parquet(paths.clean / f"{rt}.parquet") for rt in RECORD_TYPES}
    quarantine = [json.loads(line) for line in paths.quarantine.read_text("utf-8").splitlines()]
    return paths, summary, tables, quarantine


# --- labels -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record_type", "label", "column"),
    [
        ("penalty", "行政相对人名称", "name"),
        ("penalty", "CF_XDR_MC", "name"),
        ("penalty", "cf_xdr_mc", "name"),
        ("penalty", "行政相对人代码_1(统一社会信用代码)", "uscc"),
        ("penalty", "行政相对人代码_1（统一社会信用代码）", "uscc"),
        ("penalty", "CF_XDR_SHXYM", "uscc"),
        ("penalty", "CF_WSH", "decision_no"),
        ("penalty", "行政处罚决定书文号", "decision_no"),
        ("penalty", "违法行为类型", "violation"),
        ("penalty", "CF_WFXW", "violation"),
        ("penalty", "处罚内容", "penalty"),
        ("penalty", "罚款金额（万元）", "fine_cny"),
        ("penalty", "罚款金额(万元)", "fine_cny"),
        ("penalty", "CF_NR_FK", "fine_cny"),
        ("penalty", "处罚决定日期（处罚生效期）", "decided_on"),
        ("penalty", "处罚决定日期 (处罚生效期)", "decided_on"),
        ("penalty", "CF_JDRQ", "decided_on"),
        ("penalty", "公示截止期", "publicity_end"),
        ("penalty", "CF_GSJZQ", "publicity_end"),
        ("penalty", "处罚机关", "authority"),
        ("penalty", "CF_CFJG", "authority"),
        ("filing", "XK_XDR_MC", "name"),
        ("filing", "XK_XDR_SHXYM", "uscc"),
        ("filing", "XK_XKBH", "filing_no"),
        ("filing", "XK_JDRQ", "issued_on"),
        ("filing", "XK_YXQZI", "expires_on"),
        ("filing", "XK_XKJG", "issuer"),
        ("filing", "备案编号", "filing_no"),
        ("filing", "备案时间", "issued_on"),
        ("filing", "备案机关", "issuer"),
        ("registration", "企业名称", "name"),
        ("registration", "注册资本", "registered_capital_cny"),
        ("registration", "登记状态", "status"),
        ("registration", "所属区县", "district"),
        ("registration", "uniscId", "uscc"),
        ("abnormal_listing", "统一社会信用代码/注册号", "uscc"),
        ("abnormal_listing", "名录类型", "list_type"),
        ("abnormal_listing", "作出决定机关（列入）", "authority"),
        ("abnormal_listing", "移出日期", "removed_on"),
        ("judgment", "案号", "case_no"),
        ("judgment", "当事人", "parties"),
        ("judgment", "罪名", "charges"),
        ("judgment", "裁判日期", "judged_on"),
        ("judgment", "判决结果", "outcome"),
        *[
            ("dishonest_debtor", k, c)
            for k, c in [
                ("iname", "name"), ("cardNum", "uscc"), ("caseCode", "case_no"),
                ("courtName", "court"), ("gistId", "gist_id"), ("gistUnit", "gist_unit"),
                ("duty", "obligation"), ("performance", "performance"),
                ("disruptTypeName", "behaviour"), ("regDate", "filed_on"),
                ("publishDate", "published_on"), ("businessEntity", "legal_rep"),
            ]
        ],
        *[
            ("complaint", k, c)
            for k, c in [
                ("sn", "complaint_id"), ("title", "title"), ("target", "target_name"),
                ("uscc", "uscc"), ("appeal", "appeal"), ("issue", "issue"), ("phone", "phone"),
                ("created_at", "filed_on"), ("status", "status"),
            ]
        ],
        ("phone", "联系电话", "number"),
        ("phone", "类型", "kind"),
        ("phone", "备注", "source_note"),
    ],
)  # fmt: skip
def test_label_variants_map_to_columns(record_type, label, column):
    assert column_for(label, label_map(record_type)) == column


def test_unknown_label_maps_to_nothing():
    assert column_for("与催收无关的栏目", label_map("penalty")) is None


def test_normalize_label_folds_width_case_and_brackets():
    assert normalize_label("罚款金额（万元）") == normalize_label("罚款金额 (万元)")
    assert normalize_label("CF_XDR_MC") == normalize_label("cf-xdr mc")


def test_city_labels_extend_the_lookup():
    city = make_city()
    assert column_for("处罚对象（自定义）", label_map("penalty")) is None
    assert column_for("处罚对象(自定义)", label_map("penalty", city)) == "name"


def test_canonical_frame_columns_values_and_unmapped():
    items = [
        item("penalties", "penalty", 0, {"CF_XDR_MC": "甲", "CF_NR_FK": 5, "奇怪的栏目": "x"}),
        item("penalties", "penalty", 1, {"行政相对人名称": "乙", "罚款金额": "3", "CF_JDRQ": None}),
    ]
    result = canonical(items, "penalty")
    frame = canonical_frame(items, "penalty")
    assert list(frame.columns[:6]) == [
        "source_id", "record_type", "url", "fetched_at", "content_sha256", "place",
    ]  # fmt: skip
    assert frame["name"].tolist() == ["甲", "乙"]
    assert frame["fine_cny"].tolist() == ["5", "3"]  # a JSON number becomes its text
    assert "奇怪的栏目" not in frame.columns
    assert frame.attrs["unmapped_labels"] == ["奇怪的栏目"]
    assert unmapped_labels(items, "penalty") == {"奇怪的栏目": 1}
    assert result.unit_hints["fine_cny"].tolist() == ["万元", None]


def test_first_listed_label_wins_when_an_item_has_several():
    fields = {"违法事实": "事实", "违法行为类型": "类型"}
    frame = canonical_frame([item("p", "penalty", 0, fields)], "penalty")
    assert frame.loc[0, "violation"] == "类型"


def test_read_raw_quarantines_or_raises_with_file_and_line(tmp_path):
    path = tmp_path / "penalties.jsonl"
    good = json.dumps(item("penalties", "penalty", 0, {"CF_XDR_MC": "甲"}), ensure_ascii=False)
    path.write_text(f"{good}\n{{not json\n[1, 2]\n", encoding="utf-8")
    bad: list[dict] = []
    assert len(read_raw(path, bad)) == 1
    assert [b["place"] for b in bad] == ["penalties.jsonl line 2", "penalties.jsonl line 3"]
    assert all(b["source_id"] == "penalties" for b in bad)
    with pytest.raises(RawFileError, match=r"penalties\.jsonl:2"):
        read_raw(path)


# --- the stage --------------------------------------------------------------------------


def test_every_record_type_gets_a_table_with_contract_columns(stage):
    _, summary, tables, _ = stage
    for record_type in RECORD_TYPES:
        assert list(tables[record_type].columns) == normalize.output_columns(record_type)
        assert summary["tables"][record_type] == len(tables[record_type])


def test_empty_table_for_a_type_without_source(tmp_path):
    city = make_city()
    paths = CityPaths(root=tmp_path, city="testcity")
    paths.raw.mkdir(parents=True)
    (paths.raw / "penalties.jsonl").write_text(
        json.dumps(item("penalties", "penalty", 0, RAW["penalties"][0]), ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    summary = normalize.run(city, paths)
    assert set(summary["sources"]) == {"penalties"}
    judgments = pd.read_parquet(paths.clean / "judgment.parquet")
    assert judgments.empty and list(judgments.columns) == normalize.output_columns("judgment")
    assert summary["tables"]["penalty"] == 1


def test_registration_values(stage):
    reg = stage[2]["registration"].set_index("uscc")
    first = reg.loc[GOOD]
    assert first["record_id"] == f"registrations:{GOOD}"
    assert first["name"] == "测试市甲乙商務諮詢有限公司"  # the source's spelling is kept
    assert first["name_key"] == "测试市甲乙商务咨询有限公司"
    assert first["registered_capital_cny"] == 1_000_000.0  # 注册资本 is in 万元
    assert first["established_on"] == "2019-03-05"
    assert first["status"] == "active"
    second = reg.loc[GOOD2]
    assert second["uscc_raw"] == GOOD2  # NFKC of the full-width code
    assert second["registered_capital_cny"] == 500_000.0
    assert second["status"] == "revoked"
    assert pd.isna(second["legal_rep"])


def test_penalties_duplicates_units_and_invalid_codes(stage):
    _, summary, tables, _ = stage
    pen = tables["penalty"].set_index("decision_no")
    assert summary["sources"]["penalties"]["duplicates"] == 1
    assert summary["sources"]["penalties"]["quarantined"] == 1
    first = pen.loc["测市监罚〔2024〕12号"]
    assert first["fine_cny"] == 5000.0 and first["decided_on"] == "2024-03-05"
    assert first["publicity_end"] == "2025-03-05"
    assert first["record_id"] == "penalties:测市监罚〔2024〕12号"
    other = pen.loc["测市监罚〔2024〕13号"]
    assert other["fine_cny"] == 50000.0  # an explicit unit beats the label's 万元
    assert pd.isna(other["uscc"]) and other["uscc_raw"] == BAD
    assert other["decided_on"] == "2024-03-05"  # epoch milliseconds, China time


def test_abnormal_listing(stage):
    ab = stage[2]["abnormal_listing"].set_index("uscc")
    assert ab.loc[GOOD, "list_type"] == "serious_violation"
    assert pd.isna(ab.loc[GOOD, "removed_on"])  # "-" is empty
    assert ab.loc[GOOD, "authority"] == "测试市市场监管局"
    assert ab.loc[GOOD2, "list_type"] == "abnormal"
    assert ab.loc[GOOD2, "record_id"] == f"abnormal:{GOOD2}:2023-01-02"


def test_judgment_parties_charges_and_case_type(stage):
    jud = stage[2]["judgment"].set_index("case_no")
    crim = jud.loc["(2024)测0101刑初12号"]
    assert crim["case_type"] == "criminal"
    assert json.loads(crim["charges"]) == ["催收非法债务罪", "寻衅滋事罪"]
    parties = json.loads(crim["parties"])
    assert {"name": "测试市甲乙商务咨询有限公司", "role": "defendant_org", "uscc": GOOD} in parties
    assert [p["name"] for p in parties if p["role"] == "defendant_person"] == ["张某", "李某"]
    assert parties[0]["role"] == "prosecutor"
    civil = jud.loc["(2023)测0101民初7号"]
    assert civil["case_type"] == "civil"  # from the case number when 案件类型 is empty
    assert json.loads(civil["charges"]) == []
    assert civil["judged_on"] == "2023-05-06"


def test_dishonest_debtor_person_flag(stage):
    dis = stage[2]["dishonest_debtor"].set_index("case_no")
    org = dis.loc["(2024)测0101执345号"]
    assert not org["is_person"] and org["uscc"] == GOOD2
    assert org["filed_on"] == "2024-01-01" and org["published_on"] == "2024-02-03"
    person = dis.loc["(2024)测0101执346号"]
    assert person["is_person"]
    assert pd.isna(person["uscc_raw"])  # a person's masked ID number is not republished


def test_complaints_category_status_and_phones(stage):
    _, _, tables, _ = stage
    com = tables["complaint"].set_index("complaint_id")
    assert com.loc["17000001", "category"] == "violence"
    assert com.loc["17000001", "status"] == "resolved"
    assert com.loc["17000002", "category"] == "harassment"  # 冒充公检法: documented choice
    assert com.loc["17000002", "status"] == "unresolved"
    assert com.loc["17000002", "filed_on"] == "2025-03-05"  # epoch seconds
    assert com.loc["17000003", "category"] == "fees"  # issue says 其他, the title says 乱收费
    assert com.loc["17000003", "status"] == "resolved"
    assert com.loc["17000001", "platform"] == "投诉平台"
    reported = tables["phone"][tables["phone"]["kind"] == "reported"].set_index("number")
    assert set(reported.index) == {"059961234567", "13805990001"}
    # one number that called for an agency and for an unregistered outfit: two rows
    assert reported.loc["13805990001"].shape[0] == 2


def test_phones_filings_and_quarantine(stage):
    _, summary, tables, quarantine = stage
    published = tables["phone"][tables["phone"]["source_id"] == "phones"]
    assert published["number"].tolist() == ["059961234567"]
    assert published["kind"].tolist() == ["published_by_agency"]
    fil = tables["filing"].iloc[0]
    assert fil["filing_type"] == "credit_reporting"  # from the source title
    assert fil["issued_on"] == "2022-01-10" and fil["record_id"] == "filings:ZX-0001"
    reasons = {(q["source_id"], q["reason"].split(":")[0]) for q in quarantine}
    assert ("registrations", "no name and no code") in reasons
    assert ("phones", "phone '12345'") in reasons
    assert any(q["source_id"] == "penalties" and "去年春天" in q["reason"] for q in quarantine)
    assert any(q["source_id"] == "filings" and "line 2" in q["place"] for q in quarantine)
    assert sum(s["quarantined"] for s in summary["sources"].values()) == len(quarantine)


def test_output_is_sorted_and_deterministic(stage, tmp_path):
    paths, summary, tables, _ = stage
    for frame in tables.values():
        assert frame["record_id"].tolist() == sorted(frame["record_id"])
        assert frame["record_id"].is_unique
    again = CityPaths(root=tmp_path, city="testcity")
    write_raw(again)
    assert normalize.run(make_city(), again) == summary
    for rt in RECORD_TYPES:
        pd.testing.assert_frame_equal(pd.read_parquet(again.clean / f"{rt}.parquet"), tables[rt])


def test_same_key_different_content_keeps_both():
    city = make_city()
    source = city.source("dishonest")
    items = [
        item("dishonest", "dishonest_debtor", n, {"iname": name, "caseCode": "(2024)测0101执9号",
             "publishDate": "2024-01-01"})
        for n, name in enumerate(["测试市甲乙商务咨询有限公司", "测试市丙丁信息咨询有限公司"])
    ]  # fmt: skip
    clean, quarantined, counts = normalize.normalize_items(items, source, city)
    assert counts["duplicates"] == 0 and not quarantined
    assert clean["record_id"].str.startswith("dishonest:(2024)测0101执9号#").all()
    assert clean["record_id"].is_unique


# --- label variants of the demo mirror, read from fixture pages -----------------------------

VARIANTS = Path(__file__).parent / "fixtures" / "variants"


def _fixture_items(name: str, record_type: str, **source_keys: str) -> tuple[list[dict], Source]:
    """A fixture page read by the crawl's own reader, as raw items of a manual source."""
    from crawlers.spiders.file_download import SUFFIXES, file_records

    path = VARIANTS / name
    source = Source(id="v", title="fixture", record_type=record_type, kind="manual", **source_keys)
    reader = source.model_copy(update={"file_format": SUFFIXES[path.suffix]})
    items = [
        {"source_id": "v", "record_type": record_type, "url": f"manual-import:{name}",
         "fetched_at": "2026-11-01T00:00:00Z", "content_sha256": "0" * 64, "place": place,
         "fields": fields}
        for place, fields in file_records(path.read_bytes(), reader)
    ]  # fmt: skip
    return items, source


def test_penalty_json_with_shuanggongshi_cf_keys() -> None:
    items, source = _fixture_items("penalties_cf.json", "penalty", records_path="data.list")
    clean, quarantined, counts = normalize_items(items, source)
    assert counts["unmapped_labels"] == 0 and not quarantined
    rows = clean.set_index("decision_no")
    first = rows.loc["虚市监罚〔2025〕7号"]
    assert first["uscc"] == "91320322MABLP2X24R"
    assert first["fine_cny"] == 5000.0  # CF_NR_FK is in 万元
    assert (first["decided_on"], first["publicity_end"]) == ("2025-03-05", "2026-03-05")
    second = rows.loc["虚市监罚〔2025〕8号"]
    assert second["fine_cny"] == 20000.0 and second["decided_on"] == "2025-04-01"
    assert second["name_key"] == name_key("虚构市丙丁信息咨询有限公司")  # traditional → simplified


def test_licence_json_with_xk_keys_is_a_filing() -> None:
    items, source = _fixture_items("licences_xk.json", "filing", records_path="data.list")
    clean, quarantined, counts = normalize_items(items, source)
    assert counts["unmapped_labels"] == 0 and not quarantined
    row = clean.iloc[0]
    assert row["filing_no"] == "99910120230015"
    assert row["filing_type"] == "credit_reporting"
    assert row["issued_on"] == "2023-03-21" and pd.isna(row["expires_on"])
    assert row["issuer"] == "中国人民银行虚构市分行" and row["uscc"] == "91320322MABLP2X24R"


def test_abnormal_page_with_ascii_bracket_labels() -> None:
    items, source = _fixture_items(
        "abnormal_ascii_brackets.html", "abnormal_listing", table_selector="table#result"
    )
    clean, quarantined, counts = normalize_items(items, source)
    assert counts["unmapped_labels"] == 0 and not quarantined
    by_type = clean.set_index("list_type")
    assert by_type.loc["serious_violation", "listed_on"] == "2025-01-02"
    assert pd.isna(by_type.loc["serious_violation", "removed_on"])
    assert by_type.loc["abnormal", "removed_on"] == "2024-09-01"
    assert set(clean["authority"]) == {"虚构市市场监督管理局"}


def test_every_label_of_the_demo_mirror_maps_to_a_column() -> None:
    """Each source's first page in the committed mirror: no label is left unmapped."""
    from agencywatch.config import load_city
    from crawlers.spiders.file_download import file_records

    repo = Path(__file__).resolve().parents[1]
    city = load_city(repo / "cities" / "demo.toml")
    for source in city.sources:
        path, _, query = source.url.lstrip("/").partition("?")
        page = repo / "mirrors" / "demo" / path / (f"{query}.json" if query else "")
        fmt = {"html_table": "html", "json_api": "json"}.get(source.kind, source.file_format)
        reader = source.model_copy(update={"file_format": fmt})
        fields = [{"fields": f} for _, f in file_records(page.read_bytes(), reader)]
        assert fields, source.id
        assert unmapped_labels(fields, source.record_type, city) == {}, source.id


# --- parsed once: the raw gate's hand-over ----------------------------------------------------


def test_a_rerun_reads_the_handover_and_writes_the_same(stage, monkeypatch):
    paths, summary, tables, quarantine = stage
    handed_over = {p.stem for p in (paths.data / "work" / "parsed").glob("*.parquet")}
    assert {"penalties", "filings"} <= handed_over  # filings has an unreadable line
    parsed: list[str] = []
    real_parse = rawfile.parse_raw
    monkeypatch.setattr(
        rawfile, "parse_raw", lambda p, d=None: parsed.append(p.stem) or real_parse(p, d)
    )
    assert normalize.run(make_city(), paths) == summary
    # sources with a number among their values are parsed line by line each time
    assert sorted(parsed) == ["complaints", "dishonest"]
    assert not handed_over & set(parsed)
    for rt in RECORD_TYPES:
        pd.testing.assert_frame_equal(pd.read_parquet(paths.clean / f"{rt}.parquet"), tables[rt])
    again = [json.loads(line) for line in paths.quarantine.read_text("utf-8").splitlines()]
    assert again == quarantine  # quarantined items are read back from their raw lines


def test_a_changed_raw_file_is_parsed_again(tmp_path):
    paths = CityPaths(root=tmp_path, city="testcity")
    write_raw(paths)
    normalize.run(make_city(), paths)
    raw = paths.raw / "penalties.jsonl"
    raw.write_text(
        raw.read_text("utf-8").replace("测市监罚〔2024〕13号", "测市监罚〔2024〕99号"), "utf-8"
    )
    normalize.run(make_city(), paths)
    penalties = pd.read_parquet(paths.clean / "penalty.parquet")
    assert "测市监罚〔2024〕99号" in set(penalties["decision_no"])
    assert "测市监罚〔2024〕13号" not in set(penalties["decision_no"])


def test_arrow_sort_orders_as_pandas_does():
    rng = random.Random(3)
    pool = [
        "",
        "a",
        "b",
        "ab",
        "B",
        "é",
        "中",
        "中文",
        "Z",
        None,
        "a\x00",
        "\U0001f600",
        "ｚ",
        float("nan"),
    ]
    for _ in range(200):
        n = rng.randint(0, 40)
        columns = {c: pd.Series([rng.choice(pool) for _ in range(n)], dtype=object) for c in "wxyz"}
        frame = pd.DataFrame(columns).set_axis(rng.sample(range(1000), n))
        expected = frame.sort_values(list("wxyz"), kind="stable", na_position="last")
        assert normalize._sorted(frame, list("wxyz")).index.tolist() == expected.index.tolist()
