"""Value parsers: every spelling the demo mirror and the real sources use, and the garbage."""

from __future__ import annotations

import re
import unicodedata

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms import values as v

GOOD = "91320322MABLP2X24R"
GOOD2 = "91441900742973952F"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024年3月5日", "2024-03-05"),
        ("2017年08月03日", "2017-08-03"),
        ("2024-3-5", "2024-03-05"),
        ("2024/03/05", "2024-03-05"),
        ("20240305", "2024-03-05"),
        ("2024.03.05", "2024-03-05"),
        ("1709568000000", "2024-03-05"),  # epoch ms, midnight in China = 16:00 UTC the day before
        (1709568000000, "2024-03-05"),
        ("1709568000", "2024-03-05"),  # epoch s
        ("2025-03-05 12:00:00", "2025-03-05"),
        ("2025-03-05T23:30:00+08:00", "2025-03-05"),
        ("２０２４年３月５日", "2024-03-05"),
        ("２０２４－０３－０５", "2024-03-05"),
        (" 2024 年 3 月 5 日 ", "2024-03-05"),
        ("", None),
        ("-", None),
        ("—", None),
        ("无", None),
        ("null", None),
        (None, None),
    ],
)
def test_parse_date(raw, expected):
    assert v.parse_date(raw) == expected


@pytest.mark.parametrize(
    "raw", ["去年春天", "2024年13月5日", "2024-02-30", "2024年3月", "1800-01-01", "12345", "abc"]
)
def test_parse_date_refuses_garbage_with_a_reason(raw):
    with pytest.raises(ValueError, match="date"):
        v.parse_date(raw)


@pytest.mark.parametrize(
    ("raw", "hint", "expected"),
    [
        ("5", None, 5.0),
        ("5.0", None, 5.0),
        ("５", None, 5.0),
        ("5万", None, 50_000.0),
        ("5万元", None, 50_000.0),
        ("50000元", None, 50_000.0),
        ("1,000,000", None, 1_000_000.0),
        ("１，０００，０００", None, 1_000_000.0),
        ("人民币5万元", None, 50_000.0),
        ("￥1,000.50", None, 1000.5),
        ("1.2亿元", None, 120_000_000.0),
        ("200(万元)", None, 2_000_000.0),
        ("200（万元）", None, 2_000_000.0),
        ("0.5", "万元", 5_000.0),  # 罚款金额（万元）
        ("5", "万元", 50_000.0),
        ("５", "万元", 50_000.0),
        ("50000元", "万元", 50_000.0),  # an explicit unit beats the column hint
        ("1.1", "万元", 11_000.0),  # no binary-float residue
        (3, None, 3.0),
        ("", None, None),
        ("—", "万元", None),
        ("无", None, None),
    ],
)
def test_parse_amount_cny(raw, hint, expected):
    assert v.parse_amount_cny(raw, hint) == expected


@pytest.mark.parametrize("raw", ["100万美元", "五万", "5万英镑", "-5", "5 apples", "1.2.3"])
def test_parse_amount_refuses_what_is_not_yuan(raw):
    with pytest.raises(ValueError, match="amount"):
        v.parse_amount_cny(raw)


@pytest.mark.parametrize(
    ("table", "raw", "expected"),
    [
        ("registration_status", "存续", "active"),
        ("registration_status", "在业", "active"),
        ("registration_status", "开业", "active"),
        ("registration_status", "存续（在营、开业、在册）", "active"),
        ("registration_status", "吊销", "revoked"),
        ("registration_status", "吊销，未注销", "revoked"),
        ("registration_status", "吊銷，未註銷", "revoked"),  # traditional characters
        ("registration_status", "注销", "cancelled"),
        ("registration_status", "迁出", "moved"),
        ("registration_status", "歇业登记", "other"),
        ("registration_status", "", "other"),
        ("complaint_status", "已完成", "resolved"),
        ("complaint_status", "已回复", "resolved"),
        ("complaint_status", "处理中", "unresolved"),
        ("complaint_status", "待分配", "unresolved"),
        ("complaint_category", "暴力催收", "violence"),
        ("complaint_category", "爆通讯录", "third_party_contact"),
        ("complaint_category", "骚扰家人", "harassment"),
        ("complaint_category", "冒充公检法", "harassment"),
        ("complaint_category", "乱收费", "fees"),
        ("complaint_category", "泄露个人信息", "privacy"),
        ("complaint_category", "其他", "other"),
        ("list_type", "经营异常名录", "abnormal"),
        ("list_type", "严重违法失信名单", "serious_violation"),
        ("list_type", "严重违法失信企业名单", "serious_violation"),
        ("case_type", "刑事案件", "criminal"),
        ("case_type", "民事案件", "civil"),
        ("case_type", "执行案件", "enforcement"),
        ("case_type", "执恢", "enforcement"),
        ("case_type", "破申", "other"),
        ("phone_kind", "机构公布", "published_by_agency"),
        ("phone_kind", "投诉举报", "reported"),
        ("filing_type", "企业征信机构备案名单", "credit_reporting"),
        ("party_role", "被告单位", "defendant_org"),
        ("party_role", "被告人", "defendant_person"),
        ("party_role", "被告", "defendant"),
        ("party_role", "原告", "plaintiff"),
        ("party_role", "公诉机关", "prosecutor"),
    ],
)
def test_enum_value(table, raw, expected):
    assert v.enum_value(raw, table) == expected


def test_enum_table_must_exist():
    with pytest.raises(KeyError, match="no_such_table"):
        v.enum_value("x", "no_such_table")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("演示市某某商务咨询有限公司", "演示市某某商务咨询有限公司"),
        ("演示市某某商務諮詢有限公司", "演示市某某商务咨询有限公司"),
        ("演示市 某某 商务咨询 有限公司", "演示市某某商务咨询有限公司"),
        ("演示市某某商务咨询有限公司（分公司）", "演示市某某商务咨询有限公司分公司"),
        ("演示市某某商务咨询有限公司(南浦区分公司)", "演示市某某商务咨询有限公司南浦区分公司"),
        ("演示市某某商务咨询有限公司【分公司】", "演示市某某商务咨询有限公司分公司"),
        ("演示市ＡＢＣ商务咨询有限公司", "演示市abc商务咨询有限公司"),
        ("演示市·某某、商务咨询有限公司。", "演示市某某商务咨询有限公司"),
        ("—", None),
        (None, None),
    ],
)
def test_name_key(raw, expected):
    assert v.name_key(raw) == expected


def test_name_keys_series_matches_scalar():
    names = pd.Series(["商務諮詢（分公司）", None, "商務諮詢（分公司）", "信息 咨询"])
    assert v.name_keys(names).tolist() == [v.name_key(n) for n in names]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (GOOD, GOOD),
        (GOOD2, GOOD2),
        ("９１３２０３２２ＭＡＢＬＰ２Ｘ２４Ｒ", GOOD),  # full-width
        ("91320322mablp2x24r", GOOD),
        (" 91320322-MABLP2X24R ", GOOD),
        ("91320322MABLP2X24A", None),  # wrong check character
        ("320322000123456", None),  # old 15-digit registration number
        ("-", None),
        ("", None),
        (None, None),
    ],
)
def test_clean_uscc(raw, expected):
    assert v.clean_uscc(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(2024)苏0706民初1234号", (2024, "苏0706", "民初", 1234)),
        ("（2024）苏0706民初1234号", (2024, "苏0706", "民初", 1234)),
        ("〔2023〕演01刑终5号", (2023, "演01", "刑终", 5)),
        ("(2024)演0101执恢12号", (2024, "演0101", "执恢", 12)),
        ("(2024) 演0101 执 7 号", (2024, "演0101", "执", 7)),
        ("(2022)演0102破申3号", (2022, "演0102", "破申", 3)),
        ("(2019)京民终12号", (2019, "京", "民终", 12)),
    ],
)
def test_parse_case_no(raw, expected):
    parsed = v.parse_case_no(raw)
    assert tuple(parsed) == expected
    assert v.canonical_case_no(raw) == str(parsed)


@pytest.mark.parametrize("raw", ["", "苏0706民初1234号", "(24)苏民初1号", "案号不详"])
def test_parse_case_no_refuses(raw):
    with pytest.raises(ValueError, match="case number"):
        v.parse_case_no(raw)


def test_canonical_case_no_keeps_unparsed_text():
    assert v.canonical_case_no("案号 不详") == "案号不详"
    assert v.canonical_case_no("—") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13805990001", "13805990001"),
        ("138 0599 0001", "13805990001"),
        ("+86 138-0599-0001", "13805990001"),
        ("008613805990001", "13805990001"),
        ("8613805990001", "13805990001"),
        ("０５９９－６１２３４５６７", "059961234567"),
        ("0599-61234567", "059961234567"),
        ("(0599)6123-4567", "059961234567"),
        ("0599-61234567转801", "059961234567"),
        ("+86 599 6123 4567", "059961234567"),
        ("010-61234567", "01061234567"),
        ("400-123-4567", "4001234567"),
        ("400 1234 567", "4001234567"),
        ("800-123-4567", "8001234567"),
        ("-", None),
        ("", None),
    ],
)
def test_normalize_phone(raw, expected):
    assert v.normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "61234567", "1234567890123456", "电话"])
def test_normalize_phone_refuses(raw):
    with pytest.raises(ValueError, match="phone"):
        v.normalize_phone(raw)


def test_split_phones():
    assert v.split_phones("0599-61234567；13805990001/ 400-123-4567") == [
        "0599-61234567",
        "13805990001",
        "400-123-4567",
    ]


@pytest.mark.parametrize(
    "marker", ["", " ", "-", "—", "——", "无", "null", "NULL", "None", "ｎｕｌｌ"]
)
def test_empty_markers(marker):
    assert v.clean_text(marker) is None


def test_clean_text_keeps_content():
    assert v.clean_text("  无锡  ") == "无锡"  # a word starting with 无 is not empty


def test_map_unique_calls_parser_once_per_distinct_value():
    calls: list[str] = []

    def parse(x: str) -> str:
        calls.append(x)
        return v.parse_date(x)

    series = pd.Series(["2024-3-5", "2024-3-5", None, "bad", "2024-3-5"])
    parsed, errors = v.map_unique(series, parse)
    assert parsed.tolist() == ["2024-03-05", "2024-03-05", None, None, "2024-03-05"]
    assert errors.notna().tolist() == [False, False, False, True, False]
    assert sorted(calls) == ["2024-3-5", "bad"]


PARSERS = [
    v.parse_date,
    v.parse_amount_cny,
    lambda x: v.parse_amount_cny(x, "万元"),
    v.parse_case_no,
    v.normalize_phone,
    v.clean_uscc,
    v.name_key,
    v.canonical_case_no,
    lambda x: v.enum_value(x, "registration_status"),
]

DIRTY = st.text(
    alphabet=st.sampled_from(
        list("0123456789０１２年月日-/.:, 万元号()（）〔〕+*xX转民初执苏演吊销")
    ),
    max_size=30,
)


@pytest.mark.parametrize("parser", PARSERS)
@settings(max_examples=150, deadline=None)
@given(text=st.one_of(st.text(max_size=40), DIRTY))
def test_parsers_return_or_raise_value_error(parser, text):
    try:
        result = parser(text)
    except ValueError as e:
        assert str(e), "a refusal must say why"
    else:
        assert result is None or isinstance(result, str | float | tuple)


# --- whole columns: the fast paths agree with the per-value parsers ---------------------------


def test_map_unique_lines_up_results_and_errors_around_refusals():
    series = pd.Series(["2024-3-5", "bad", None, "worse", "2024-3-6", "bad", "a;b"])
    parsed, errors = v.map_unique(series, v.parse_date)
    assert parsed.tolist() == ["2024-03-05", None, None, None, "2024-03-06", None, None]
    assert [e is not None for e in errors] == [False, True, False, True, False, True, True]
    assert "'worse'" in errors[3]
    lists = v.map_unique(pd.Series(["a;b", "c；d", "a;b"]), v.split_list)[0]
    assert lists.tolist() == [["a", "b"], ["c", "d"], ["a", "b"]]  # lists stay cells


TEXTS = st.one_of(
    st.none(),
    st.sampled_from(["无", " N/A ", "——", "null", "暂 无", "测试市甲乙商务咨询有限公司",
                     "ＡＢＣ有限公司", "91320322MABLP2X24R", "9132 0322-mablp2x24r", "ﬁve ﬁ", "x\x1cy",
                     "甲\u3000乙", "\u00a8\u00a8\u00a8\u00a8\u00a8", "Straße", "〔2024〕12号"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXTS, max_size=30))
def test_column_cleaners_agree_with_the_per_value_ones(cells):
    series = pd.Series(cells, dtype=object)
    assert v.clean_texts(series).tolist() == [v.clean_text(c) for c in cells]
    assert v.display_texts(series).tolist() == [v.display_text(c) for c in cells]
    assert v.clean_usccs(series).tolist() == [v.clean_uscc(c) for c in cells]


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_clean_text_short_cut_agrees_with_the_marker_rule(text):
    """clean_text skips the marker test for long text without spaces; the rule it stands for:"""
    if text is None:
        return
    cleaned = unicodedata.normalize("NFKC", text).strip()
    marker = re.sub(r"\s+", "", cleaned).casefold() in v._empty_markers()
    assert v.clean_text(text) == (None if marker else cleaned)
    if not marker:
        assert v.display_text(text) == re.sub(r"\s+", " ", text).strip()


def class_chars(spec: str) -> list[str]:
    """The characters of an RE2 class body written as \\xNN / \\x{NNNN} and ranges of them."""
    tokens = re.findall(r"\\x\{?([0-9a-fA-F]+)\}?(?:-\\x\{?([0-9a-fA-F]+)\}?)?", spec)
    assert re.sub(r"\\x\{?[0-9a-fA-F]+\}?(?:-\\x\{?[0-9a-fA-F]+\}?)?", "", spec) == ""
    return [chr(c) for a, b in tokens for c in range(int(a, 16), int(b or a, 16) + 1)]


def test_ideograph_names_are_their_own_pre_key():
    """name_keys' fast path: a run of CJK ideographs is a name's pre-key as it stands."""
    for c in class_chars(v._IDEOGRAPHS):
        assert v._name_pre_key(c * 5) == c * 5, hex(ord(c))


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXTS, max_size=30))
def test_name_keys_agree_with_name_key(cells):
    cells = [*cells, "澄榆市觅璞榆商务调查有限公司", "演示市某某（南浦区分公司）", "臺灣某某公司"]
    assert v.name_keys(pd.Series(cells, dtype=object)).tolist() == [v.name_key(c) for c in cells]
    assert v.name_keys(pd.Series(cells, dtype="str")).tolist() == [v.name_key(c) for c in cells]


def test_plain_characters_are_their_own_nfkc_form_and_no_space():
    """The character classes the column fast paths trust, checked against unicodedata."""
    for c in class_chars(v._OWN_NFKC):
        assert unicodedata.normalize("NFKC", c) == c and not c.isspace(), hex(ord(c))
    for c in class_chars(v._FULL_WIDTH):
        folded = unicodedata.normalize("NFKC", c)
        assert len(folded) == 1 and not folded.isspace() and not c.isspace(), hex(ord(c))


PHONE_CELLS = st.one_of(
    TEXTS,
    st.sampled_from(["059965482543", "(0599)68712189", "0599-68712189", "13805990001",
                     "8613805990001", "008613805990001", "+86 138 0599 0001", "0599-6123 4567",
                     "13805990001；0599-61234567", "400-123-4567", "0599-61234567转8", "----",
                     "１３８０５９９０００１", "0086599612345678", "1380599000", "(0)"]),
    st.text(alphabet="0123456789()-+ ;x", max_size=16),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(PHONE_CELLS, max_size=30))
def test_phone_numbers_agree_with_split_and_normalize(cells):
    def numbers(cell):
        found = []
        for part in v.split_phones(cell):
            try:
                number = v.normalize_phone(part)
            except ValueError:
                continue
            found += [number] if number else []
        return found

    series = pd.Series(cells, dtype=object)
    assert v.phone_numbers(series).tolist() == [numbers(c) for c in cells]
    assert v.phone_numbers(series.astype("str")).tolist() == [numbers(c) for c in cells]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(TEXTS, st.sampled_from(["暴力催收", "爆通讯录", "騷擾", "其他"])), max_size=30
    )
)
def test_enum_values_agree_with_enum_value(cells):
    series = pd.Series(cells, dtype=object)
    for table in ("complaint_category", "registration_status"):
        assert v.enum_values(series, table).tolist() == [v.enum_value(c, table) for c in cells]
