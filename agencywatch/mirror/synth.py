"""A seeded generator of the fictional demo source mirror (see docs/demo-mirror.md).

The mirror is shaped like the real sources and carries their dirt on purpose, so that every
later stage (crawl, gates, normalize, resolve, score) is exercised by a real crawl of realistic
files. What was planted is written to `_truth.json`, which the tests compare the pipeline's
verdicts against; the pipeline itself never reads it.

Everything is derived from one `random.Random(seed)`, no set is iterated and every timestamp
is fixed, so the same seed gives byte-identical files on any machine.
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
import re
import tomllib
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from itertools import product
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import opencc
from openpyxl import Workbook
from stdnum.cn import uscc as uscc_std

WORDS: dict[str, Any] = tomllib.loads(
    Path(__file__).with_name("words.toml").read_text(encoding="utf-8")
)
WINDOW_MONTHS = 36  # cities/demo.toml scoring.window_months: the edges are planted around it
PAGE_ROWS = 20  # penalties, abnormal, complaints
DISHONEST_PAGE_ROWS = 10
CST = timezone(timedelta(hours=8))
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z

LABELS: dict[str, list[str]] = {
    "registrations": ["企业名称", "统一社会信用代码", "法定代表人", "注册资本", "成立日期", "登记状态",
                      "住所", "所属区县", "经营范围", "登记机关"],
    "penalties": ["行政相对人名称", "行政相对人代码_1(统一社会信用代码)", "法定代表人", "行政处罚决定书文号",
                  "违法行为类型", "处罚类别", "处罚内容", "罚款金额（万元）", "处罚决定日期（处罚生效期）",
                  "公示截止期", "处罚机关"],
    "abnormal": ["企业名称", "统一社会信用代码/注册号", "名录类型", "列入原因", "列入日期", "移出原因",
                 "移出日期", "作出决定机关（列入）"],
    "judgments": ["案件名称", "法院名称", "案号", "审判程序", "案件类型", "案由", "当事人", "罪名", "裁判日期",
                  "文书类型", "判决结果"],
    "filings": ["序号", "机构名称", "统一社会信用代码", "备案机关", "备案时间", "备案编号", "注册地址"],
    "phones": ["机构名称", "统一社会信用代码", "联系电话", "类型", "备注"],
}  # fmt: skip
SOURCES = ("registrations", "penalties", "abnormal", "dishonest", "judgments", "complaints",
           "filings", "phones", "penalties_api", "licences")  # fmt: skip
# Every n-th penalty (by decision serial) is published by the platform's JSON API with 双公示
# CF_* keys instead of the HTML list, every n-th filing as a licence with XK_* keys: the same
# records under the label variants of real sources. Chosen by serial, so no random draw moves.
PENALTY_API_EVERY = 5
LICENCE_EVERY = 3
CF_KEYS = ("CF_XDR_MC", "CF_XDR_SHXYM", "CF_FRDB", "CF_WSH", "CF_WFXW", "CF_CFLB", "CF_NR",
           "CF_NR_FK", "CF_JDRQ", "CF_GSJZQ", "CF_CFJG")  # fmt: skip


def licence_record(row: list[Any], spec: dict[str, str]) -> dict[str, Any]:
    """A filing row ([serial, name, code, issuer, date, number, address]) as XK_* fields."""
    _, name, code, issuer, issued, number, _address = row
    return {"XK_XDR_MC": name, "XK_XDR_SHXYM": code, "XK_XKWS": spec["document"],
            "XK_WSH": number, "XK_XKLB": spec["category"], "XK_XKBH": number,
            "XK_NR": spec["content"], "XK_JDRQ": issued, "XK_YXQZ": issued, "XK_YXQZI": "",
            "XK_XKJG": issuer}  # fmt: skip


PLANTS = (
    "filing", "published_phone", "published_phone_sometimes", "advertised_phone", "reported_phone",
    "penalty_outside_window", "penalty_publicity_ended", "penalties_recent", "penalty_just_inside",
    "abnormal_current", "abnormal_removed", "serious_violation", "complaint_resolved",
    "complaints_some", "complaints_heavy", "civil_judgment", "criminal_judgment",
    "criminal_judgment_old", "dishonest_current",
)  # fmt: skip

_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}
_S2T = opencc.OpenCC("s2t")
_T2S = opencc.OpenCC("t2s")


@dataclass
class Agency:
    """One planted entity: a registered agency, a branch, or an unregistered outfit."""

    key: str
    name: str
    uscc: str
    district: dict[str, str]
    scenario: str
    expected: str
    registered: bool
    status: str
    legal_rep: str
    established: date
    capital_wan: int
    phones: list[str] = field(default_factory=list)
    parent_uscc: str = ""
    records: dict[str, int] = field(default_factory=dict)


def months_back(day: date, months: int) -> date:
    """The same calendar day `months` earlier (the 28th when the month is shorter)."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(y, m + 1, min(day.day, 28))


def uscc_with_check(body17: str) -> str:
    """A valid GB 32100-2015 code: the 17 leading characters and their check character."""
    return body17 + uscc_std.calc_check_digit(body17)


def fullwidth(text: str) -> str:
    return text.translate(_FULLWIDTH)


class _Synth:
    """Holds the random stream and the rows being planted; one instance per mirror."""

    def __init__(self, n: int, seed: int, as_of: date) -> None:
        self.rng = random.Random(seed)
        self.n = n
        self.as_of = as_of
        self.window_start = months_back(as_of, WINDOW_MONTHS)
        self.rows: dict[str, list[Any]] = {s: [] for s in SOURCES}
        self.cases: list[dict[str, Any]] = []
        self.agencies: list[Agency] = []
        self.serial: Counter[str] = Counter()
        self._used_codes: set[str] = set()
        self._used_phones: set[str] = set()
        self._used_names: set[str] = set()
        self._names = self._name_stream()

    # ---- random building blocks -------------------------------------------------------

    # random.randrange / randint / choice cost several calls each; the generator makes
    # millions of draws at benchmark sizes, so they all come from one random() here.
    def randrange(self, n: int) -> int:
        return int(self.rng.random() * n)

    def randint(self, lo: int, hi: int) -> int:
        return lo + int(self.rng.random() * (hi - lo + 1))

    def choice(self, items: Sequence[Any]) -> Any:
        return items[int(self.rng.random() * len(items))]

    def ago(self, lo: int, hi: int) -> date:
        return self.as_of - timedelta(days=self.randint(lo, hi))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def next_serial(self, kind: str) -> int:
        self.serial[kind] += 1
        return self.serial[kind]

    def _name_stream(self) -> Iterator[str]:
        """字号s in random order: all two-character ones, then three, then four characters."""
        first, second = WORDS["first"], WORDS["second"]
        for tail_len in (1, 2):
            pool = [a + "".join(t) for a in first for t in product(second, repeat=tail_len)]
            self.rng.shuffle(pool)
            yield from pool
        while True:
            yield self.choice(first) + "".join(self.choice(second) for _ in range(3))

    def new_trade_name(self) -> str:
        """A 字号 not used before (so only the planted shared name is ever shared)."""
        while True:
            if self.chance(WORDS["latin_share"]):
                letters = "ABCDEFGHJKLMNPRSTWXYZ"
                name = self.choice(letters) + self.choice(letters) + self.choice(WORDS["second"])
            else:
                name = next(self._names)
            if name not in self._used_names:
                self._used_names.add(name)
                return name

    def new_person(self) -> str:
        given = self.choice(WORDS["given"])
        if self.chance(0.6):
            given += self.choice(WORDS["given"])
        return self.choice(WORDS["surnames"]) + given

    def anonymous_person(self) -> str:
        """Judgments and complaints name private people as 张某, as the real documents do."""
        return self.choice(WORDS["surnames"]) + "某"

    def new_uscc(self, district_code: str) -> str:
        while True:
            body = "91" + district_code + f"{self.randrange(10**9):09d}"
            if body not in self._used_codes:
                self._used_codes.add(body)
                return uscc_with_check(body)

    def new_phone(self, kind: str = "local") -> str:
        """A fictional number as digits: 0599 + 6xxxxxxx, or a 400 number."""
        while True:
            tail = f"{self.randrange(10**7):07d}"
            number = WORDS["area_code"] + "6" + tail if kind == "local" else "400" + tail
            if number not in self._used_phones:
                self._used_phones.add(number)
                return number

    def address(self, district: dict[str, str]) -> str:
        return (
            f"{WORDS['city']}{district['name']}{self.choice(WORDS['roads'])}"
            f"{self.randint(1, 399)}号{self.randint(1, 28)}{self.randint(1, 20):02d}室"
        )

    # ---- dirt -------------------------------------------------------------------------

    def empty(self) -> str:
        return self.choice(WORDS["dirt"]["empties"])

    def fmt_date(self, day: date, source: str) -> Any:
        style = self.choice(WORDS["dirt"]["dates"][source])
        if style == "cell":
            return datetime(day.year, day.month, day.day)
        if style == "epoch_ms":
            return int(datetime(day.year, day.month, day.day, tzinfo=CST).timestamp()) * 1000
        hour, minute = self.randint(8, 20), self.randint(0, 59)
        if style == "epoch_s":
            moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=CST)
            return int(moment.timestamp())
        text = style.format(y=day.year, m=day.month, d=day.day, H=hour, M=minute)
        return fullwidth(text) if self.chance(WORDS["dirt"]["p_fullwidth_digits"] / 4) else text

    def fmt_amount(self, wan: float, formats: list[str]) -> str:
        style = self.choice(formats)
        text = style.format(w=f"{wan:g}", w1=f"{wan:.1f}", fw=fullwidth(f"{wan:g}"),
                            yuan=int(round(wan * 10000)))  # fmt: skip
        return text

    def fmt_phone(self, number: str) -> str:
        dirt = WORDS["dirt"]
        if number.startswith("400"):
            text = self.choice(dirt["phone_formats_400"]).format(a=number[3:6], b=number[6:])
        else:
            n = number[4:]
            text = self.choice(dirt["phone_formats_local"]).format(
                area=number[:4], n=n, n4=n[:4], n_4=n[4:]
            )
        return fullwidth(text) if self.chance(dirt["p_fullwidth_digits"]) else text

    def dirty_name(self, name: str, source: str, record: str) -> str:
        """The name as a careless source writes it; a case is logged when it differs."""
        if not self.chance(WORDS["dirt"]["p_name_variant"]):
            return name
        options = ["spaces", "traditional"]
        if re.search(r"[A-Za-z0-9]", name):
            options.append("fullwidth")
        if "（" in name or "(" in name:
            options.append("brackets")
        kind = self.choice(options)
        variant = self._name_variant(name, kind)
        if variant != name:
            self.cases.append({"kind": "name_variant", "variant": kind, "source": source,
                               "record": record, "written": variant, "canonical": name})  # fmt: skip
        return variant

    def _name_variant(self, name: str, kind: str) -> str:
        if kind == "traditional":
            trad = _S2T.convert(name)
            return trad if _T2S.convert(trad) == name else name
        if kind == "fullwidth":
            return fullwidth(name)
        if kind == "brackets":
            return name.replace("（", "(").replace("）", ")")
        city = WORDS["city"]
        space = self.choice([" ", "\u3000", "  "])
        return name.replace(city, city + space, 1) if name.startswith(city) else name + " "

    def dirty_code(self, code: str, source: str, record: str) -> str:
        dirt = WORDS["dirt"]
        roll = self.rng.random()
        if not code or roll < dirt["p_code_missing"]:
            return self.empty()
        roll -= dirt["p_code_missing"]
        if roll < dirt["p_code_fullwidth"]:
            return fullwidth(code)
        roll -= dirt["p_code_fullwidth"]
        if roll < dirt["p_code_badcheck"]:
            alphabet = USCC_ALPHABET
            wrong = alphabet[(alphabet.index(code[-1]) + self.randint(1, 30)) % 31]
            broken = code[:-1] + wrong
            self.cases.append({"kind": "invalid_code", "source": source, "record": record,
                               "written": broken, "uscc": code})  # fmt: skip
            return broken
        return code

    # ---- planting ---------------------------------------------------------------------

    def add(self, source: str, row: Any, agency: Agency | None) -> None:
        self.rows[source].append(row)
        if agency is not None:
            agency.records[source] = agency.records.get(source, 0) + 1

    def window_case(self, source: str, record: str, agency: Agency, day: date, counts: bool,
                    why: str) -> None:  # fmt: skip
        self.cases.append({"kind": "window", "source": source, "record": record,
                           "agency": agency.key, "date": day.isoformat(), "counts": counts,
                           "why": why})  # fmt: skip

    def plant(self, name: str, agency: Agency) -> None:
        getattr(self, "plant_" + name)(agency)

    def plant_published_phone(self, agency: Agency, kind: str = "机构公布", note: str = "") -> None:
        for _ in range(2 if self.chance(0.1) else 1):
            number = self.new_phone("local" if self.chance(0.8) else "400")
            agency.phones.append(number)
            self.add_phone_row(agency, agency.name, number, kind, note or self.empty())

    def add_phone_row(self, agency: Agency, name: str, number: str, kind: str, note: str) -> None:
        record = "phone:" + number
        self.add("phones", [self.dirty_name(name, "phones", record),
                            self.dirty_code(agency.uscc, "phones", record),
                            self.fmt_phone(number), kind, note], agency)  # fmt: skip

    def plant_published_phone_sometimes(self, agency: Agency) -> None:
        if self.chance(0.6):
            self.plant_published_phone(agency)

    def plant_advertised_phone(self, agency: Agency) -> None:
        self.plant_published_phone(agency, note="网络广告公布，未见登记信息")

    def plant_reported_phone(self, agency: Agency) -> None:
        self.plant_published_phone(agency, kind="投诉举报", note="投诉人反映的来电号码")

    def plant_filing(self, agency: Agency) -> None:
        issued = min(agency.established + timedelta(days=self.randint(20, 400)),
                     self.as_of - timedelta(days=30))  # fmt: skip
        spec = WORDS["filing"]
        serial = self.next_serial("filing")
        number = spec["number_format"].format(district_code=agency.district["code"],
                                              year=issued.year, serial=serial)  # fmt: skip
        row = [0, self.dirty_name(agency.name, "filings", number),
               self.dirty_code(agency.uscc, "filings", number), spec["issuer"],
               self.fmt_date(issued, "filings"), number, self.address(agency.district)]  # fmt: skip
        if serial % LICENCE_EVERY:
            self.add("filings", row, agency)
        else:  # the same kind of record, published as a 双公示 licence with XK_* keys
            self.add("licences", licence_record(row, WORDS["licence"]), agency)

    def add_penalty(self, agency: Agency, decided: date, publicity_end: date) -> str:
        spec = WORDS["penalty"]
        serial = self.next_serial("pen")
        number = spec["number_format"].format(year=decided.year, serial=serial)
        wan = self.choice(spec["fine_wan"])
        authority = self.choice(spec["authorities"]).format(district=agency.district["name"])
        rep = agency.legal_rep if self.chance(0.8) else self.empty()
        row = [self.dirty_name(agency.name, "penalties", number),
               self.dirty_code(agency.uscc, "penalties", number), rep, number,
               self.choice(spec["violations"]), self.choice(spec["categories"]),
               spec["content_format"].format(yuan=int(wan * 10000)),
               self.fmt_amount(wan, spec["fine_formats"]),
               self.fmt_date(decided, "penalties"),
               self.fmt_date(publicity_end, "penalties"), authority]  # fmt: skip
        if serial % PENALTY_API_EVERY:
            self.add("penalties", row, agency)
        else:  # the provincial platform's JSON API: the same fields under CF_* keys
            self.add("penalties_api", dict(zip(CF_KEYS, row, strict=True)), agency)
        return number

    def plant_penalty_outside_window(self, agency: Agency) -> None:
        decided = self.window_start - timedelta(days=self.randint(5, 60))
        number = self.add_penalty(agency, decided, decided + timedelta(days=365 * 3 + 30))
        self.window_case("penalties", number, agency, decided, False, "before the window")

    def plant_penalty_publicity_ended(self, agency: Agency) -> None:
        decided = self.ago(400, 700)
        end = decided + timedelta(days=365)
        number = self.add_penalty(agency, decided, end)
        self.window_case("penalties", number, agency, decided, False,
                         f"publicity period ended {end.isoformat()}")  # fmt: skip

    def plant_penalties_recent(self, agency: Agency) -> None:
        for _ in range(self.randint(2, 3)):
            decided = self.ago(30, 700)
            self.add_penalty(agency, decided, decided + timedelta(days=365 * 3))

    def plant_penalty_just_inside(self, agency: Agency) -> None:
        decided = self.window_start + timedelta(days=self.randint(3, 30))
        number = self.add_penalty(agency, decided, decided + timedelta(days=365 * 3 + 30))
        self.window_case("penalties", number, agency, decided, True, "just inside the window")

    def add_abnormal(self, agency: Agency, kind: str, listed: date, removed: date | None) -> None:
        spec = WORDS["abnormal"]
        record = f"{agency.uscc}:{listed.isoformat()}"
        reasons = spec["serious_reasons"] if kind == "serious" else spec["reasons"]
        self.add("abnormal", [self.dirty_name(agency.name, "abnormal", record),
                              self.dirty_code(agency.uscc, "abnormal", record),
                              spec["list_types"][kind], self.choice(reasons),
                              self.fmt_date(listed, "abnormal"),
                              self.choice(spec["removal_reasons"]) if removed else self.empty(),
                              self.fmt_date(removed, "abnormal") if removed else self.empty(),
                              spec["authority"]], agency)  # fmt: skip

    def plant_abnormal_current(self, agency: Agency) -> None:
        self.add_abnormal(agency, "abnormal", self.ago(60, 700), None)

    def plant_abnormal_removed(self, agency: Agency) -> None:
        listed = self.ago(300, 900)
        self.add_abnormal(agency, "abnormal", listed, listed + timedelta(self.randint(60, 200)))

    def plant_serious_violation(self, agency: Agency) -> None:
        self.add_abnormal(agency, "serious", self.ago(30, 500), None)

    def add_complaint(self, agency: Agency, day: date, heavy: bool, closed: bool,
                      name: str | None = None, phone: str | None = None) -> str:  # fmt: skip
        spec = WORDS["complaints"]
        sn = f"DC{17000000 + self.next_serial('complaint') * 37:09d}"
        target = self.dirty_name(name or agency.name, "complaints", sn)
        issue = self.choice(spec["issues_heavy"] if heavy else spec["issues_light"])
        if phone is None:
            phone = self.choice(agency.phones) if agency.phones else self.new_phone()
        code = agency.uscc if name is None and self.chance(0.3) else ""
        self.add("complaints", {
            "sn": sn,
            "title": self.choice(spec["titles"]).format(target=target, issue=issue),
            "target": target,
            "uscc": self.dirty_code(code, "complaints", sn) if code else "",
            "appeal": self.choice(spec["appeals"]),
            "issue": issue,
            "phone": self.fmt_phone(phone),
            "created_at": self.fmt_date(day, "complaints"),
            "status": self.choice(spec["closed_status"] if closed else spec["open_status"]),
        }, agency)  # fmt: skip
        return sn

    def plant_complaint_resolved(self, agency: Agency) -> None:
        self.add_complaint(agency, self.ago(100, 900), self.chance(0.3), True)

    def plant_complaints_some(self, agency: Agency) -> None:
        for _ in range(self.randint(2, 3)):
            self.add_complaint(agency, self.ago(20, 800), self.chance(0.6), self.chance(0.3))

    def plant_complaints_heavy(self, agency: Agency) -> None:
        for _ in range(self.randint(4, 7)):
            self.add_complaint(agency, self.ago(10, 700), True, self.chance(0.15))
        day = self.window_start - timedelta(days=self.randint(5, 120))
        sn = self.add_complaint(agency, day, True, False)
        self.window_case("complaints", sn, agency, day, False, "before the window")

    def case_number(self, court_i: int, year: int, kind: str) -> str:
        code = WORDS["courts"]["codes"][court_i]
        return f"（{year}）{WORDS['court_abbr']}{code}{kind}{self.next_serial(kind)}号"

    def party(self, agency: Agency) -> str:
        code = agency.uscc if agency.uscc and self.chance(0.7) else ""
        return f"{agency.name}（统一社会信用代码：{code}）" if code else agency.name

    def add_criminal(self, agency: Agency, day: date, charges: list[str]) -> str:
        courts = WORDS["courts"]
        i = self.randrange(len(courts["names"]) - 1)
        case_no = self.case_number(i, day.year, "刑初")
        people = [self.anonymous_person() for _ in range(self.randint(1, 3))]
        cause = charges[0].removesuffix("罪")
        parties = (
            f"公诉机关：{courts['prosecutors'][i]}；被告单位：{self.party(agency)}；"
            + "；".join(f"被告人：{p}" for p in people)
        )
        outcome = (f"被告单位{agency.name}犯{charges[0]}，判处罚金人民币{self.randint(2, 30)}万元；"
                   f"被告人{people[0]}犯{charges[0]}，判处有期徒刑{self.randint(1, 4)}年")  # fmt: skip
        self.add("judgments", [f"{agency.name}、{people[0]}{cause}一审刑事判决书", courts["names"][i],
                               case_no, "一审", "刑事案件", cause, parties, "；".join(charges),
                               self.fmt_date(day, "judgments"), "判决书", outcome], agency)  # fmt: skip
        return case_no

    def plant_criminal_judgment(self, agency: Agency) -> None:
        self.add_criminal(
            agency, self.ago(60, 800), self.choice(WORDS["courts"]["criminal_charges"])
        )

    def plant_criminal_judgment_old(self, agency: Agency) -> None:
        day = self.window_start - timedelta(days=self.randint(10, 200))
        case_no = self.add_criminal(agency, day, self.choice(WORDS["courts"]["old_charges"]))
        self.window_case("judgments", case_no, agency, day, False, "before the window")

    def plant_civil_judgment(self, agency: Agency) -> None:
        courts = WORDS["courts"]
        i = self.randrange(len(courts["names"]) - 1)
        day = self.ago(60, 800)
        cause = self.choice(courts["civil_causes"])
        person = self.anonymous_person()
        outcome = (f"被告{agency.name}于本判决生效之日起十日内向原告{person}赔礼道歉，"
                   f"并赔偿精神损害抚慰金{self.randint(2, 20) * 1000}元")  # fmt: skip
        self.add("judgments", [f"{person}与{agency.name}{cause}一审民事判决书", courts["names"][i],
                               self.case_number(i, day.year, "民初"), "一审", "民事案件", cause,
                               f"原告：{person}；被告：{self.party(agency)}", self.empty(),
                               self.fmt_date(day, "judgments"), "判决书", outcome], agency)  # fmt: skip

    def add_dishonest(self, agency: Agency | None, name: str, card: str, rep: str) -> dict:
        courts = WORDS["courts"]
        i = self.randrange(len(courts["names"]))
        filed = self.ago(200, 700)
        published = filed + timedelta(days=self.randint(30, 90))
        row = {
            "iname": name, "cardNum": card,
            "caseCode": self.case_number(i, filed.year, "执"),
            "courtName": courts["names"][i], "areaName": WORDS["province"],
            "gistId": self.case_number(i, filed.year - 1, "民初"), "gistUnit": courts["names"][i],
            "duty": f"被执行人于判决生效后十日内支付申请人款项{self.randint(1, 90) * 1000}元",
            "performance": self.choice(courts["dishonest_performance"]),
            "disruptTypeName": self.choice(courts["dishonest_behaviour"]),
            "regDate": self.fmt_date(filed, "dishonest"),
            "publishDate": self.fmt_date(published, "dishonest"),
            "businessEntity": rep,
        }  # fmt: skip
        self.add("dishonest", row, agency)
        return row

    def plant_dishonest_current(self, agency: Agency) -> None:
        card = agency.uscc if self.chance(0.8) else agency.uscc[8:16] + "-" + agency.uscc[16]
        self.add_dishonest(agency, agency.name, card, agency.legal_rep)

    # ---- the population ---------------------------------------------------------------

    def new_agency(self, scenario: str, spec: dict[str, Any], name: str | None = None) -> Agency:
        district = self.choice(WORDS["districts"])
        registered = spec.get("registered", True)
        if name is None:
            trade = self.new_trade_name()
            kinds = WORDS["agency_kinds"] if registered else WORDS["outfit_kinds"]
            city = WORDS["city"] if registered or self.chance(0.5) else ""
            name = city + trade + self.choice(kinds)
        status = self.choice(WORDS["registration"]["status_words"][spec.get("status", "active")])
        agency = Agency(
            key=f"a{len(self.agencies) + 1:06d}", name=name,
            uscc=self.new_uscc(district["code"]) if registered else "",
            district=district, scenario=scenario, expected=spec["expected"],
            registered=registered, status=status if registered else "",
            legal_rep=self.new_person(),
            established=self.ago(365 * 2, 365 * 15), capital_wan=self.choice(WORDS["registration"]["capital_wan"]),
        )  # fmt: skip
        self.agencies.append(agency)
        return agency

    def scenario_counts(self) -> list[tuple[str, int]]:
        """How many agencies each scenario gets: its share, at least its minimum, capped by n."""
        left = self.n
        counts: list[tuple[str, int]] = []
        for name, spec in WORDS["scenarios"].items():
            if name == "clean":
                continue
            k = min(left, max(spec["min"], round(self.n * spec["share"])))
            counts.append((name, k))
            left -= k
        counts.append(("clean", left))
        return counts

    def populate(self) -> None:
        plan = [name for name, k in self.scenario_counts() for _ in range(k)]
        self.rng.shuffle(plan)
        for scenario in plan:
            spec = WORDS["scenarios"][scenario]
            agency = self.new_agency(scenario, spec)
            for plant in spec["plants"]:
                self.plant(plant, agency)
        self.plant_resolution_cases()
        self.plant_bystanders()

    def plant_resolution_cases(self) -> None:
        """Branches, a shared name and an impersonation, each on its own clean agency."""
        wanted = max(1, self.n // 100) + (2 if self.n >= 20 else 0)
        pool = [a for a in self.agencies if a.scenario in ("clean", "whitelist")]
        picked = self.rng.sample(pool, min(wanted, len(pool)))
        clean = [a for a in picked if a.scenario == "clean"]
        if self.n >= 20 and len(clean) >= 2:
            self.plant_shared_name(clean[0])
            self.plant_impersonation(clean[1])
            picked = [a for a in picked if a is not clean[0] and a is not clean[1]]
        for parent in picked[: max(1, self.n // 100)]:
            self.plant_branch(parent)

    def plant_branch(self, parent: Agency) -> None:
        """A 分公司 has its own code; sources write its name with either kind of bracket."""
        district = self.choice(WORDS["districts"])
        spec = {"expected": "no_adverse_record"}
        branch = self.new_agency("branch", spec, f"{parent.name}{district['name']}分公司")
        branch.parent_uscc = parent.uscc
        seen = []
        for bracket in ("（{}）", "({})"):
            written = parent.name + bracket.format(district["name"] + "分公司")
            number = self.new_phone()
            branch.phones.append(number)
            self.add("phones", [written, self.dirty_code(branch.uscc, "phones", number),
                                self.fmt_phone(number), "机构公布", "分支机构"], branch)  # fmt: skip
            seen.append(written)
        self.cases.append({"kind": "branch", "agency": branch.key, "uscc": branch.uscc,
                           "parent_uscc": parent.uscc, "names_seen": seen})  # fmt: skip

    def plant_shared_name(self, first: Agency) -> None:
        """Two companies, one name: an old cancelled one and the live one; name-only records
        about that name must stay unlinked as ambiguous."""
        spec = {"expected": "no_adverse_record", "status": "cancelled"}
        second = self.new_agency("shared_name", spec, first.name)
        second.established = self.ago(365 * 16, 365 * 20)
        sn = self.add_complaint(first, self.ago(30, 400), False, True, name=first.name,
                                phone=self.new_phone())  # fmt: skip
        self.rows["complaints"][-1]["target"] = first.name
        self.rows["complaints"][-1]["uscc"] = ""
        self.cases.append({"kind": "shared_name", "name": first.name,
                           "usccs": [first.uscc, second.uscc], "ambiguous_records": [sn],
                           "expected": "unlinked: ambiguous_name"})  # fmt: skip

    def plant_impersonation(self, victim: Agency) -> None:
        """An unregistered outfit calls in a registered agency's name from its own number."""
        number = self.new_phone()
        self.add("phones", [victim.name, self.empty(), self.fmt_phone(number), "投诉举报",
                            "冒用该机构名义催收，号码非该机构公布"], None)  # fmt: skip
        sns = [self.add_complaint(victim, self.ago(20, 300), True, False, name=victim.name,
                                  phone=number) for _ in range(2)]  # fmt: skip
        self.cases.append({"kind": "impersonation", "victim": victim.key, "uscc": victim.uscc,
                           "phones": [number], "records": sns,
                           "expected": "victim gets an impersonation warning"})  # fmt: skip

    def bystander(self) -> Agency:
        """A company that is not an agency: its records must not link to any agency."""
        spec = {"expected": "none"}
        name = WORDS["city"] + self.new_trade_name() + self.choice(WORDS["bystander_kinds"])
        by = Agency(key="", name=name, uscc=self.new_uscc(self.choice(WORDS["districts"])["code"]),
                    district=self.choice(WORDS["districts"]), scenario="bystander",
                    expected=spec["expected"], registered=False, status="",
                    legal_rep=self.new_person(), established=self.as_of, capital_wan=0)  # fmt: skip
        return by

    def plant_bystanders(self) -> None:
        share = WORDS["bystanders"]
        for _ in range(round(self.n * share["penalties"])):
            decided = self.ago(10, 1500)
            self.add_penalty(self.bystander(), decided, decided + timedelta(days=365))
        for _ in range(round(self.n * share["abnormal"])):
            listed = self.ago(10, 1500)
            removed = listed + timedelta(days=90) if self.chance(0.4) else None
            self.add_abnormal(
                self.bystander(),
                "abnormal",
                listed,
                removed if removed and removed < self.as_of else None,
            )
        for _ in range(round(self.n * share["dishonest_companies"])):
            by = self.bystander()
            self.add_dishonest(None, by.name, by.uscc, by.legal_rep)
        for _ in range(max(2, round(self.n * share["dishonest_persons"]))):
            name = self.new_person()
            card = f"9999{'*' * 10}{self.randrange(10**4):04d}"
            row = self.add_dishonest(None, name, card, "")
            self.cases.append({"kind": "natural_person", "source": "dishonest",
                               "record": row["caseCode"], "expected": "unlinked: natural_person"})  # fmt: skip
        for _ in range(round(self.n * share["judgments"])):
            self.plant_bystander_judgment()

    def plant_bystander_judgment(self) -> None:
        courts = WORDS["courts"]
        a, b = self.bystander(), self.bystander()
        i = self.randrange(len(courts["names"]))
        day = self.ago(30, 1500)
        cause = self.choice(courts["bystander_causes"])
        self.add("judgments", [f"{a.name}与{b.name}{cause}一审民事判决书", courts["names"][i],
                               self.case_number(i, day.year, "民初"), "一审", "民事案件", cause,
                               f"原告：{a.name}；被告：{b.name}", self.empty(),
                               self.fmt_date(day, "judgments"), "判决书",
                               "驳回原告的诉讼请求"], None)  # fmt: skip

    def registration_rows(self) -> list[list[Any]]:
        spec = WORDS["registration"]
        rows = []
        for a in self.agencies:
            if not a.registered:
                continue
            a.records["registrations"] = 1
            code = fullwidth(a.uscc) if self.chance(0.02) else a.uscc
            rows.append([a.name, code, a.legal_rep,
                         self.fmt_amount(a.capital_wan, spec["capital_formats"]),
                         self.fmt_date(a.established, "registrations"), a.status,
                         self.address(a.district), a.district["name"], self.choice(spec["scope"]),
                         WORDS["abnormal"]["authority"]])  # fmt: skip
        return rows

    def duplicate(self, source: str, rows: list[Any], key: Callable[[Any], str]) -> None:
        """Repeat one row far enough down to land on another page, as real lists do."""
        if len(rows) < 2:
            return
        i = self.randrange(len(rows))
        rows.insert(min(len(rows), i + PAGE_ROWS + 1), rows[i])
        self.cases.append({"kind": "duplicate", "source": source, "record": key(rows[i])})

    def finish(self) -> None:
        """Registrations from the population, every list shuffled, a few rows repeated."""
        self.rows["registrations"] = self.registration_rows()
        for source in SOURCES:
            self.rng.shuffle(self.rows[source])
        self.duplicate("registrations", self.rows["registrations"], lambda r: r[1])
        self.duplicate("penalties", self.rows["penalties"], lambda r: r[3])
        self.duplicate("complaints", self.rows["complaints"], lambda r: r["sn"])
        self.duplicate("dishonest", self.rows["dishonest"], lambda r: r["caseCode"])
        for i, row in enumerate(self.rows["filings"], start=1):
            row[0] = i


# ---- writers -------------------------------------------------------------------------------

PAGE_HEAD = (
    '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta http-equiv="Content-Type" '
    'content="text/html; charset={charset}">\n<title>{title}</title>\n</head>\n<body>\n'
    '<div class="crumbs">当前位置：<a href="/">首页</a> &gt; {title}</div>\n'
)


def cell(value: Any, truncate_over: int = 0) -> str:
    text = "" if value is None else str(value)
    if truncate_over and len(text) > truncate_over:
        return f'<td title="{html.escape(text)}">{html.escape(text[: truncate_over - 1])}…</td>'
    return f"<td>{html.escape(text)}</td>"


def table_html(attrs: str, labels: list[str], rows: Iterable[list[Any]], truncate: int = 0,
               thead: bool = True) -> str:  # fmt: skip
    head = "<tr>" + "".join(f"<th>{html.escape(x)}</th>" for x in labels) + "</tr>\n"
    body = "".join("<tr>" + "".join(cell(v, truncate) for v in r) + "</tr>\n" for r in rows)
    if thead:
        return f"<table {attrs}>\n<thead>\n{head}</thead>\n<tbody>\n{body}</tbody>\n</table>\n"
    return f"<table {attrs}>\n{head}{body}</table>\n"


def pager_html(page: int, pages: int, total: int, href: Callable[[int], str]) -> str:
    """The 首页 / 上一页 / 下一页 / 尾页 bar; on the last page 下一页 is plain text, not a link."""
    parts = [f"共{total}条记录 第{page}/{pages}页", f'<a href="{href(1)}">首页</a>']
    parts.append(f'<a href="{href(page - 1)}">上一页</a>' if page > 1 else "<span>上一页</span>")
    parts.append(
        f'<a href="{href(page + 1)}">下一页</a>' if page < pages else "<span>下一页</span>"
    )
    parts.append(f'<a href="{href(pages)}">尾页</a>')
    return '<div class="pagination">' + " ".join(parts) + "</div>\n"


def pages_of(rows: list[Any], size: int) -> list[list[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]


def write_penalties(out: Path, rows: list[list[Any]]) -> None:
    folder = out / "credit" / "penalty"
    pages = pages_of(rows, PAGE_ROWS)
    truncate = WORDS["dirt"]["truncate_over"]
    for n, chunk in enumerate(pages, start=1):
        text = (PAGE_HEAD.format(charset="gb2312", title="行政处罚公示")
                + table_html('class="list" width="100%"', LABELS["penalties"], chunk, truncate)
                + pager_html(n, len(pages), len(rows), lambda p: f"list_{p}.html")
                + "</body>\n</html>\n")  # fmt: skip
        (folder / f"list_{n}.html").write_bytes(text.encode("gbk", errors="xmlcharrefreplace"))


def write_abnormal(out: Path, rows: list[list[Any]]) -> None:
    """Even pages write the authority label with ASCII brackets: a label variant on purpose."""
    folder = out / "samr" / "abnormal"
    pages = pages_of(rows, PAGE_ROWS)

    def href(p: int) -> str:
        return "index.html" if p == 1 else f"index_{p}.html"

    for n, chunk in enumerate(pages, start=1):
        labels = list(LABELS["abnormal"])
        if n % 2 == 0:
            labels[-1] = labels[-1].replace("（", "(").replace("）", ")")
        text = (PAGE_HEAD.format(charset="utf-8", title="经营异常名录与严重违法失信名单")
                + table_html('id="result" class="table"', labels, chunk)
                + pager_html(n, len(pages), len(rows), href) + "</body>\n</html>\n")  # fmt: skip
        (folder / href(n)).write_text(text, encoding="utf-8")


def write_filings(out: Path, rows: list[list[Any]]) -> None:
    text = (PAGE_HEAD.format(charset="utf-8", title="企业征信机构备案名单")
            + "<p>根据《征信业管理条例》，现将已备案企业征信机构名单公示如下：</p>\n"
            + table_html('border="1" cellspacing="0"', LABELS["filings"], rows, thead=False)
            + "</body>\n</html>\n")  # fmt: skip
    (out / "pbc" / "filings.html").write_text(text, encoding="utf-8")


def csv_text(labels: list[str], rows: Iterable[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(labels)
    writer.writerows(rows)
    return buf.getvalue()


def write_json_pages(folder: Path, rows: list[dict], size: int, body: Callable) -> None:
    pages = pages_of(rows, size)
    for n, chunk in enumerate(pages, start=1):
        payload = body(n, len(pages), len(rows), chunk)
        (folder / f"page={n}.json").write_text(
            json.dumps(payload, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )


def dishonest_body(n: int, pages: int, total: int, chunk: list[dict]) -> list[dict]:
    return [{"result": chunk, "totalPage": pages, "totalSize": total}]


def complaints_body(n: int, pages: int, total: int, chunk: list[dict]) -> dict:
    data = {"page": n, "page_size": PAGE_ROWS, "total": total, "list": chunk}
    return {"status": 0, "message": "ok", "data": data}


def fixed_zip(data: bytes, stamp: datetime, replace: dict[str, bytes]) -> bytes:
    """Rewrite an XLSX with fixed entry timestamps and document dates (openpyxl stamps now),
    swapping in the members given in `replace`."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = replace.get(info.filename) or src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + iso, content
                )
            entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, content)
    return out.getvalue()


EXCEL_EPOCH = datetime(1899, 12, 30)
COLUMNS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def xlsx_cell(ref: str, value: Any, date_style: str) -> str:
    if isinstance(value, datetime):
        return f'<c r="{ref}" s="{date_style}" t="n"><v>{(value - EXCEL_EPOCH).days}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}" t="n"><v>{value}</v></c>'
    text = xml_escape(str(value))
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def sheet_rows_xml(rows: Iterable[list[Any]], date_style: str) -> str:
    parts = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(xlsx_cell(f"{COLUMNS[c]}{r}", v, date_style) for c, v in enumerate(row))
        parts.append(f'<row r="{r}">{cells}</row>')
    return "".join(parts)


def write_registrations(out: Path, rows: list[list[Any]], stamp: datetime) -> None:
    """openpyxl writes the package around a header and one date cell (so its styles carry a
    date format); the rows themselves are written as the same inline-string XML openpyxl's
    write-only mode emits, because openpyxl spends ~50 µs a cell: a minute at 100,000 agencies."""
    wb = Workbook(write_only=True)
    wb.properties.creator = "演示市公共数据开放平台"
    wb.properties.created = stamp
    ws = wb.create_sheet("企业登记信息")
    ws.append(LABELS["registrations"])
    ws.append([stamp])
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf) as template:
        sheet = template.read(SHEET).decode("utf-8")
    found = re.search(r'<c r="A2" s="(\d+)"', sheet)
    if found is None:
        raise RuntimeError("openpyxl wrote no styled date cell; the XLSX template changed")
    body = sheet_rows_xml([LABELS["registrations"], *rows], found.group(1))
    sheet = re.sub(
        r"<sheetData>.*</sheetData>", lambda _: f"<sheetData>{body}</sheetData>", sheet, flags=re.S
    )
    data = fixed_zip(buf.getvalue(), stamp, {SHEET: sheet.encode("utf-8")})
    (out / "opendata" / "registrations.xlsx").write_bytes(data)


SHEET = "xl/worksheets/sheet1.xml"
STATIC_FILES = {
    "robots.txt": "User-agent: *\nDisallow: /admin/\n",
    "README.txt": (
        "演示市 (Demo City) source mirror — ENTIRELY FICTIONAL.\n\n"
        "Every company, person, case number and phone number in these files is invented by\n"
        "agencywatch.mirror.synth from a seed; none refers to a real one. The files imitate the\n"
        "formats and the dirt of real Chinese public sources so that AgencyWatch can be tested\n"
        "end to end. Do not cite them as facts about anyone.\n"
    ),
    "_headers.toml": (
        "# Content-Type per file, by glob on the path inside the mirror; the first match wins and\n"
        "# agencywatch/mirror/server.py's table by extension is the fallback. The old credit CMS\n"
        "# sends GBK pages as bare text/html (the charset is only in the page's <meta>).\n"
        '[[content_type]]\nglob = "credit/penalty/*.html"\nvalue = "text/html"\n\n'
        '[[content_type]]\nglob = "association/*.csv"\nvalue = "text/csv"\n'
    ),
    "index.html": (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>演示市（虚构）</title>'
        "</head><body><p>演示市公共信用信息（虚构的演示数据）</p></body></html>\n"
    ),
    "admin/index.html": (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>admin</title></head>'
        "<body><p>Disallowed by robots.txt: a polite crawler never fetches this page.</p></body></html>\n"
    ),
}
FOLDERS = ("opendata", "credit/penalty", "samr/abnormal", "zxgk/api/dishonest", "wenshu",
           "complaints/api/list", "pbc", "association", "admin", "credit/api/penalty",
           "credit/api/licence")  # fmt: skip
STALE = ("credit/penalty/list_*.html", "samr/abnormal/index*.html", "zxgk/api/dishonest/page=*.json",
         "complaints/api/list/page=*.json", "credit/api/penalty/page=*.json",
         "credit/api/licence/page=*.json")  # fmt: skip


def truth(s: _Synth, seed: int, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "generator": "agencywatch.mirror.synth", "seed": seed, "n_agencies": s.n,
        "as_of": s.as_of.isoformat(), "window_months": WINDOW_MONTHS,
        "window_start": s.window_start.isoformat(), "counts": counts,
        "lists": dict(sorted(Counter(a.expected for a in s.agencies).items())),
        "agencies": [
            {"key": a.key, "name": a.name, "uscc": a.uscc or None, "registered": a.registered,
             "status": a.status or None, "scenario": a.scenario, "expected_list": a.expected,
             "parent_uscc": a.parent_uscc or None, "phones": a.phones,
             "records": dict(sorted(a.records.items()))}
            for a in s.agencies
        ],
        "cases": s.cases,
    }  # fmt: skip


def truth_json(doc: dict[str, Any]) -> str:
    """One list item per line: readable in a diff, and fast (indent= uses the slow encoder)."""
    lines = []
    for key, value in doc.items():
        if isinstance(value, list):
            items = ",\n  ".join(json.dumps(v, ensure_ascii=False) for v in value)
            lines.append(f"{json.dumps(key)}: [\n  {items}\n ]" if value else f'"{key}": []')
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n " + ",\n ".join(lines) + "\n}\n"


def synth_mirror(out_dir: Path, n_agencies: int = 300, seed: int = 2026,
                 as_of: date = date(2026, 11, 1)) -> dict[str, int]:  # fmt: skip
    """Write a complete fictional mirror into out_dir and return the row count per source."""
    if n_agencies < 10:
        raise ValueError(f"n_agencies must be at least 10, got {n_agencies}")
    out = Path(out_dir)
    for pattern in STALE:
        for old in sorted(out.glob(pattern)):
            old.unlink()
    s = _Synth(n_agencies, seed, as_of)
    s.populate()
    s.finish()
    write_sources(out, s)
    counts = {source: len(s.rows[source]) for source in SOURCES}
    (out / "_truth.json").write_text(truth_json(truth(s, seed, counts)), encoding="utf-8")
    return counts


def write_sources(out: Path, s: _Synth) -> None:
    """Every source's files of a populated synth, as the mirror serves them (the incremental
    benchmark writes a changed synth again with this)."""
    for folder in FOLDERS:
        (out / folder).mkdir(parents=True, exist_ok=True)
    rows, as_of = s.rows, s.as_of
    stamp = datetime(as_of.year, as_of.month, as_of.day)
    write_registrations(out, rows["registrations"], stamp)
    write_penalties(out, rows["penalties"])
    write_abnormal(out, rows["abnormal"])
    write_json_pages(
        out / "zxgk/api/dishonest", rows["dishonest"], DISHONEST_PAGE_ROWS, dishonest_body
    )
    (out / "wenshu" / "judgments.csv").write_bytes(
        csv_text(LABELS["judgments"], rows["judgments"]).encode("utf-8-sig")
    )
    write_json_pages(out / "complaints/api/list", rows["complaints"], PAGE_ROWS, complaints_body)
    write_json_pages(out / "credit/api/penalty", rows["penalties_api"], PAGE_ROWS, complaints_body)
    write_json_pages(out / "credit/api/licence", rows["licences"], PAGE_ROWS, complaints_body)
    write_filings(out, rows["filings"])
    (out / "association" / "phones.csv").write_bytes(
        csv_text(LABELS["phones"], rows["phones"]).encode("gb18030")
    )
    for name, text in STATIC_FILES.items():
        (out / name).write_text(text, encoding="utf-8")
