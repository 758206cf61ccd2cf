"""A province-scale generator: many fictional cities, written as the crawl's output.

The benchmarks of every stage after the crawl need a province's worth of raw items (13 cities,
100,000 agencies, a million evidence records) in seconds, not the minutes a page-by-page mirror
and a real crawl would take. So this writes `data/<city>/raw/<source_id>.jsonl` exactly as the
crawlers' item pipeline writes them (keys sorted, the demo mirror's labels, values as strings),
a crawl log per source, and one city config per city under `cities/` (run them with
AGENCYWATCH_CITIES_DIR). Everything is fictional: names come from the demo mirror's invented
vocabulary (`words.toml`), codes are synthesised, phone numbers use the fictional area code.

Records per agency follow a Pareto draw: most agencies have no adverse record at all, a long
tail has hundreds. All draws are numpy arrays from one seeded generator; lines are formatted
in bulk from a template whose fields are JSON-escaped once, in the vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from agencywatch.mirror.synth import LABELS, USCC_ALPHABET, WORDS

CST = timezone(timedelta(hours=8))
DEMO_CONFIG = Path(__file__).resolve().parents[2] / "cities" / "demo.toml"
MAX_DAYS_BACK = 16 * 365
MAX_DAYS_AHEAD = 4 * 365  # publicity periods end in the future
PAGE_SIZE = {"penalties": 20, "abnormal": 20, "complaints": 20, "dishonest": 10}
# Adverse record kinds and their shares among an agency's adverse records.
ADVERSE_SHARES = {
    "complaints": 0.55,
    "penalties": 0.15,
    "reported_phones": 0.10,
    "judgments": 0.08,
    "abnormal": 0.07,
    "dishonest": 0.05,
}
DIRTY_SHARE = 0.25  # agencies with at least one adverse record; the rest are clean
RED_SHARE = 0.08  # of those, the ones with red flags (dishonest, criminal, serious violation)
PARETO_ALPHA = 1.16  # the "80/20" tail: a fifth of the dirty agencies hold most records
STATUS_SHARES = {"active": 0.95, "cancelled": 0.03, "revoked": 0.015, "moved": 0.005}
USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
JSON_SOURCES = {"dishonest": "json_api", "complaints": "json_api"}


def esc(text: str) -> str:
    """A string's JSON form without the quotes: vocabulary is escaped once, lines never."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def esc_all(items: Sequence[str]) -> np.ndarray:
    return np.array([esc(x) for x in items], dtype=object)


@dataclass(frozen=True)
class ProvinceCity:
    """One fictional city of the province and how many agencies it has."""

    slug: str
    name: str
    name_en: str
    code: str  # the 4-digit admin prefix inside its codes
    agencies: int


def city_names(n: int) -> list[str]:
    """Invented two-character city names from the demo mirror's uncommon characters."""
    first, second = WORDS["first"], WORDS["second"]
    return [first[(7 * i + 3) % len(first)] + second[(11 * i + 5) % len(second)] + "市"
            for i in range(n)]  # fmt: skip


def province_cities(n_cities: int, n_agencies: int, seed: int) -> list[ProvinceCity]:
    """City sizes fall off like a real province's (a capital, a few large, many small)."""
    weights = 1.0 / np.arange(1, n_cities + 1) ** 0.8
    rng = np.random.default_rng(seed)
    sizes = rng.multinomial(n_agencies - 10 * n_cities, weights / weights.sum()) + 10
    return [
        ProvinceCity(slug=f"p{i + 1:02d}", name=name, name_en=f"Province city {i + 1} (fictional)",
                     code=f"99{i + 10:02d}", agencies=int(size))
        for i, (name, size) in enumerate(zip(city_names(n_cities), sizes, strict=True))
    ]  # fmt: skip


def permuted(n: int, space: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct numbers below `space` in a scattered order: an affine map of 0..n-1."""
    if n > space:
        raise ValueError(f"cannot draw {n} distinct values below {space}")
    while True:
        a = int(rng.integers(space // 3, space)) | 1
        if np.gcd(a, space) == 1:
            break
    b = int(rng.integers(0, space))
    return (np.arange(n, dtype=np.int64) * a + b) % space


def uscc_codes(prefix: str, serials: np.ndarray) -> np.ndarray:
    """Valid GB 32100-2015 codes: '91' + admin code + 9-digit serial + check character."""
    head = np.array([int(c) for c in prefix], dtype=np.int64)
    digits = (serials[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    body = np.concatenate([np.broadcast_to(head, (len(serials), len(head))), digits], axis=1)
    check = (31 - (body * USCC_WEIGHTS).sum(axis=1) % 31) % 31
    alphabet = np.array(list(USCC_ALPHABET), dtype=object)
    serial_text = np.char.zfill(serials.astype(str), 9).astype(object)
    return prefix + serial_text + alphabet[check]


class DateTable:
    """Every date from MAX_DAYS_AHEAD after as_of to MAX_DAYS_BACK before it, pre-formatted in
    each style of a source: a million dates cost a few thousand format calls."""

    def __init__(self, as_of: date, styles: list[str]) -> None:
        days = [as_of - timedelta(days=k) for k in range(-MAX_DAYS_AHEAD, MAX_DAYS_BACK + 1)]
        self.years = np.array([str(d.year) for d in days], dtype=object)
        self.table = np.array([[self._fmt(d, s) for d in days] for s in styles], dtype=object)

    @staticmethod
    def _fmt(day: date, style: str) -> str:
        if style in ("epoch_ms", "epoch_s"):
            moment = datetime(day.year, day.month, day.day, 10, 0, tzinfo=CST)
            return str(int(moment.timestamp()) * (1000 if style == "epoch_ms" else 1))
        return style.format(y=day.year, m=day.month, d=day.day, H=10, M=0)

    def pick(self, days_back: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The dates `days_back` before as_of (negative: after), each in a random style."""
        at = np.clip(days_back, -MAX_DAYS_AHEAD, MAX_DAYS_BACK) + MAX_DAYS_AHEAD
        return self.table[rng.integers(0, len(self.table), len(at)), at]

    def year(self, days_back: np.ndarray) -> np.ndarray:
        return self.years[np.clip(days_back, -MAX_DAYS_AHEAD, MAX_DAYS_BACK) + MAX_DAYS_AHEAD]


def date_tables(as_of: date) -> dict[str, DateTable]:
    """One table per source's date styles (words.toml `dirt.dates`), shared by every city."""
    styles = WORDS["dirt"]["dates"]
    return {k: DateTable(as_of, [s for s in v if s != "cell"]) for k, v in styles.items()}


class _CityWriter:
    """One city's population and its raw files; every array is indexed by agency or record."""

    def __init__(self, city: ProvinceCity, root: Path, as_of: date, seed: int,
                 dates: dict[str, DateTable]) -> None:  # fmt: skip
        self.city, self.as_of = city, as_of
        self.rng = np.random.default_rng(seed)
        self.raw = root / "data" / city.slug / "raw"
        self.raw.mkdir(parents=True, exist_ok=True)
        self.fetched_at = f"{as_of.isoformat()}T02:00:00Z"
        self.base_url = f"https://credit.{city.slug}.example"
        demo_city = WORDS["city"]
        self.here = lambda s: esc(s.replace(demo_city, city.name))
        self.dates = dates
        self.counts: dict[str, int] = {}
        self.choice = lambda items, n: esc_all(items)[self.rng.integers(0, len(items), n)]

    # ---- the population ----------------------------------------------------------------

    def population(self) -> None:
        n, rng, w = self.city.agencies, self.rng, WORDS
        self.registered = rng.random(n) >= 0.02
        idx = permuted(n, len(w["first"]) * len(w["second"]) ** 2 * 3, rng)
        trade, kind = idx // 3, idx % 3
        first, second = esc_all(w["first"]), esc_all(w["second"])
        nsec = len(w["second"])
        name_core = first[trade // nsec**2] + second[(trade // nsec) % nsec] + second[trade % nsec]
        kinds = np.where(self.registered, esc_all(w["agency_kinds"])[kind],
                         esc_all(w["outfit_kinds"])[kind % len(w["outfit_kinds"])])  # fmt: skip
        self.name_rest = name_core + kinds
        self.names = esc(self.city.name) + self.name_rest
        districts = w["districts"]
        self.district = rng.integers(0, len(districts), n)
        self.district_names = esc_all([d["name"] for d in districts])
        serials = permuted(n, 10**9, rng)
        prefix = f"91{self.city.code}{0:02d}"
        codes = uscc_codes(prefix, serials)
        self.uscc = np.where(self.registered, codes, "")
        status_keys = list(STATUS_SHARES)
        self.status = rng.choice(len(status_keys), n, p=list(STATUS_SHARES.values()))
        self.legal_rep = self.person(n)
        self.established = rng.integers(2 * 365, 15 * 365, n)
        # phone_pool[a] is agency a's published number; numbers from n on are callers'.
        self.phone_pool = permuted(5 * n, 10**7, rng)
        self.has_phone = rng.random(n) < 0.7

    def person(self, n: int) -> np.ndarray:
        w = WORDS
        given = self.choice(w["given"], n)
        two = self.rng.random(n) < 0.6
        return self.choice(w["surnames"], n) + np.where(
            two, given + self.choice(w["given"], n), given
        )

    def address(self, agency: np.ndarray) -> np.ndarray:
        n = len(agency)
        number = self.rng.integers(1, 400, n).astype(str).astype(object)
        room = self.rng.integers(101, 2821, n).astype(str).astype(object)
        return (self.here(WORDS["city"]) + self.district_names[self.district[agency]]
                + self.choice(WORDS["roads"], n) + number + "号" + room + "室")  # fmt: skip

    def code_as_written(self, agency: np.ndarray) -> np.ndarray:
        """The code as a list prints it: mostly right, sometimes missing or marked empty."""
        roll = self.rng.random(len(agency))
        codes = self.uscc[agency]
        return np.where(roll < 0.12, self.choice(WORDS["dirt"]["empties"], len(agency)), codes)

    def name_as_written(self, agency: np.ndarray) -> np.ndarray:
        """Names with the cheapest realistic dirt: a space after the city name now and then."""
        spaced = self.rng.random(len(agency)) < 0.05
        city = esc(self.city.name)
        return np.where(spaced, city + " " + self.name_rest[agency], self.names[agency])

    def phone_text(self, numbers: np.ndarray) -> np.ndarray:
        area = WORDS["area_code"]
        tail = np.char.zfill(numbers.astype(str), 7).astype(object)
        style = self.rng.integers(0, 3, len(numbers))
        forms = np.array([area + "-6", "(" + area + ")6", area + "6"], dtype=object)
        return forms[style] + tail

    # ---- records -----------------------------------------------------------------------

    def adverse_owners(self, n_records: int) -> dict[str, np.ndarray]:
        """Which agency each adverse record is about, split by kind (a Pareto long tail)."""
        n, rng = self.city.agencies, self.rng
        dirty = np.flatnonzero(rng.random(n) < DIRTY_SHARE)
        self.red = np.zeros(n, dtype=bool)
        if len(dirty) == 0 or n_records <= 0:
            return {k: np.empty(0, dtype=np.int64) for k in ADVERSE_SHARES}
        weights = rng.pareto(PARETO_ALPHA, len(dirty)) + 1.0
        # No agency holds more than 2 % of a large city's records (a small one: its tenth-share).
        weights = np.minimum(weights, weights.sum() * max(0.02, 10 / len(dirty)))
        extra = max(0, n_records - len(dirty))
        per_agency = 1 + rng.multinomial(extra, weights / weights.sum())
        owners = np.repeat(dirty, per_agency)
        kinds = rng.choice(len(ADVERSE_SHARES), len(owners), p=list(ADVERSE_SHARES.values()))
        out = {k: rng.permutation(owners[kinds == i]) for i, k in enumerate(ADVERSE_SHARES)}
        # Red flags sit on few agencies, however many records the others have.
        self.red[rng.choice(dirty, max(1, round(RED_SHARE * len(dirty))), replace=False)] = True
        red = np.flatnonzero(self.red)
        kept = len(out["dishonest"]) // 10
        moved = rng.choice(owners, len(out["dishonest"]) - kept)  # the rest become complaints
        out["dishonest"] = red[rng.integers(0, len(red), kept)]
        out["complaints"] = rng.permutation(np.concatenate([out["complaints"], moved]))
        # Every source has rows, however small the city: an empty list is a broken source.
        for kind, owned in out.items():
            if len(owned) == 0:
                out[kind] = red[:1] if kind == "dishonest" else dirty[:1]
        return out

    def write_all(self, n_records: int) -> dict[str, int]:
        self.population()
        base = int(self.has_phone.sum()) + int(round(0.06 * self.city.agencies))
        owners = self.adverse_owners(n_records - base)
        self.registrations()
        self.filings()
        self.phones(owners["reported_phones"])
        self.penalties(owners["penalties"])
        self.abnormal(owners["abnormal"])
        self.dishonest(owners["dishonest"])
        self.judgments(owners["judgments"])
        self.complaints(owners["complaints"])
        return self.counts

    def registrations(self) -> None:
        agency = np.flatnonzero(self.registered)
        n, spec = len(agency), WORDS["registration"]
        groups = [spec["status_words"][k] for k in STATUS_SHARES]
        flat = esc_all([w for ws in groups for w in ws])
        sizes = np.array([len(ws) for ws in groups])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        status = self.status[agency]
        word = flat[offsets[status] + (self.rng.random(n) * sizes[status]).astype(np.int64)]
        capital = np.array(spec["capital_wan"])[self.rng.integers(0, len(spec["capital_wan"]), n)]
        fields = {
            "企业名称": self.names[agency], "统一社会信用代码": self.uscc[agency],
            "法定代表人": self.legal_rep[agency],
            "注册资本": capital.astype(str).astype(object) + "万元人民币",
            "成立日期": self.dates["registrations"].pick(self.established[agency], self.rng),
            "登记状态": word, "住所": self.address(agency),
            "所属区县": self.district_names[self.district[agency]],
            "经营范围": self.choice(spec["scope"], n),
            "登记机关": np.full(n, self.here(WORDS["abnormal"]["authority"]), dtype=object),
        }  # fmt: skip
        self.emit("registrations", "registration", fields, "/opendata/registrations.xlsx",
                  place=lambda i: "sheet 企业登记信息, row " + (i + 2).astype(str).astype(object))  # fmt: skip

    def filings(self) -> None:
        active = np.flatnonzero(self.registered & (self.status == 0))
        agency = self.rng.choice(active, min(len(active), round(0.06 * self.city.agencies)),
                                 replace=False) if len(active) else active  # fmt: skip
        n = len(agency)
        serial = (np.arange(1, n + 1)).astype(str).astype(object)
        issued_back = np.maximum(self.established[agency] - self.rng.integers(20, 400, n), 30)
        year = self.years(issued_back)
        fields = {
            "序号": serial, "机构名称": self.name_as_written(agency),
            "统一社会信用代码": self.code_as_written(agency),
            "备案机关": np.full(n, self.here(WORDS["filing"]["issuer"]), dtype=object),
            "备案时间": self.dates["filings"].pick(issued_back, self.rng),
            "备案编号": self.city.code + "00" + year
            + np.char.zfill(serial.astype(str), 5).astype(object),
            "注册地址": self.address(agency),
        }  # fmt: skip
        self.emit("filings", "filing", fields, "/pbc/filings.html",
                  place=lambda i: "page 1, row " + (i + 1).astype(str).astype(object))  # fmt: skip

    def phones(self, reported: np.ndarray) -> None:
        published = np.flatnonzero(self.has_phone)
        agency = np.concatenate([published, reported])
        n, n_pub = len(agency), len(published)
        numbers = np.concatenate(
            [self.phone_pool[published], self.phone_pool[self.city.agencies :][: len(reported)]]
        )
        kind = np.where(np.arange(n) < n_pub, "机构公布", "投诉举报").astype(object)
        note = np.where(np.arange(n) < n_pub, self.choice(WORDS["dirt"]["empties"], n),
                        "投诉人反映的来电号码").astype(object)  # fmt: skip
        fields = {
            "机构名称": self.name_as_written(agency), "统一社会信用代码": self.code_as_written(agency),
            "联系电话": self.phone_text(numbers), "类型": kind, "备注": note,
        }  # fmt: skip
        order = self.rng.permutation(n)
        fields = {k: v[order] for k, v in fields.items()}
        self.emit("phones", "phone", fields, "/association/phones.csv",
                  place=lambda i: "line " + (i + 2).astype(str).astype(object))  # fmt: skip

    def penalties(self, agency: np.ndarray) -> None:
        n, spec = len(agency), WORDS["penalty"]
        back = self.rng.integers(10, 1500, n)
        year = self.years(back)
        fine = np.array(spec["fine_wan"])[self.rng.integers(0, len(spec["fine_wan"]), n)]
        abbr = esc(self.city.name[0])
        fields = {
            "行政相对人名称": self.name_as_written(agency),
            "行政相对人代码_1(统一社会信用代码)": self.code_as_written(agency),
            "法定代表人": self.legal_rep[agency],
            "行政处罚决定书文号": abbr + "市监罚〔" + year + "〕" + self.serials(n) + "号",
            "违法行为类型": self.choice(spec["violations"], n),
            "处罚类别": self.choice(spec["categories"], n),
            "处罚内容": self.choice([spec["content_format"].format(yuan=int(f * 10000))
                                    for f in spec["fine_wan"]], n),
            "罚款金额（万元）": np.char.mod("%g", fine).astype(object),
            "处罚决定日期（处罚生效期）": self.dates["penalties"].pick(back, self.rng),
            "公示截止期": self.dates["penalties"].pick(back - 3 * 365, self.rng),
            "处罚机关": self.choice([a.replace("{district}", "") for a in spec["authorities"]], n),
        }  # fmt: skip
        fields["处罚机关"] = np.array([self.here(x) for x in fields["处罚机关"]], dtype=object)
        self.emit_paged("penalties", "penalty", fields, "/credit/penalty/list_{}.html")

    def abnormal(self, agency: np.ndarray) -> None:
        n, spec = len(agency), WORDS["abnormal"]
        serious = self.red[agency] & (self.rng.random(n) < 0.2)
        removed = ~serious & (self.rng.random(n) < 0.6)
        back = self.rng.integers(30, 1500, n)
        empty = self.choice(WORDS["dirt"]["empties"], n)
        fields = {
            "企业名称": self.name_as_written(agency),
            "统一社会信用代码/注册号": self.uscc[agency],
            "名录类型": np.where(serious, esc(spec["list_types"]["serious"]),
                             esc(spec["list_types"]["abnormal"])).astype(object),
            "列入原因": np.where(serious, self.choice(spec["serious_reasons"], n),
                             self.choice(spec["reasons"], n)),
            "列入日期": self.dates["abnormal"].pick(back, self.rng),
            "移出原因": np.where(removed, self.choice(spec["removal_reasons"], n), empty),
            "移出日期": np.where(removed, self.dates["abnormal"].pick(back - 90, self.rng), empty),
            "作出决定机关（列入）": np.full(n, self.here(spec["authority"]), dtype=object),
        }  # fmt: skip
        self.emit_paged("abnormal", "abnormal_listing", fields, "/samr/abnormal/index_{}.html")

    def dishonest(self, agency: np.ndarray) -> None:
        n, courts = len(agency), WORDS["courts"]
        court = self.rng.integers(0, len(courts["names"]), n)
        back = self.rng.integers(200, 700, n)
        court_names = np.array([self.here(c) for c in courts["names"]], dtype=object)[court]
        fields = {
            "iname": self.names[agency], "cardNum": self.uscc[agency],
            "caseCode": self.case_numbers(court, self.years(back), "执"),
            "courtName": court_names, "areaName": np.full(n, esc(WORDS["province"]), dtype=object),
            "gistId": self.case_numbers(court, self.years(back + 365), "民初"),
            "gistUnit": court_names,
            "duty": "被执行人于判决生效后十日内支付申请人款项"
            + (self.rng.integers(1, 90, n) * 1000).astype(str).astype(object) + "元",
            "performance": self.choice(courts["dishonest_performance"], n),
            "disruptTypeName": self.choice(courts["dishonest_behaviour"], n),
            "regDate": self.dates["dishonest"].pick(back, self.rng),
            "publishDate": self.dates["dishonest"].pick(back - 45, self.rng),
            "businessEntity": self.legal_rep[agency],
        }  # fmt: skip
        self.emit_paged("dishonest", "dishonest_debtor", fields, "/zxgk/api/dishonest?page={}")

    def judgments(self, agency: np.ndarray) -> None:
        """Civil privacy and harassment suits; criminal cases only against red-flag agencies."""
        n, courts = len(agency), WORDS["courts"]
        court = self.rng.integers(0, len(courts["names"]) - 1, n)
        criminal = self.red[agency] & (self.rng.random(n) < 0.2)
        back = self.rng.integers(30, 1500, n)
        person = self.choice(WORDS["surnames"], n) + "某"
        names = self.names[agency]
        with_code = names + "（统一社会信用代码：" + self.uscc[agency] + "）"
        party = np.where(self.registered[agency] & (self.rng.random(n) < 0.7), with_code, names)
        charges = self.choice(["；".join(c) for c in courts["criminal_charges"]], n)
        cause_civil = self.choice(courts["civil_causes"], n)
        first_charge = np.array([c.split("；")[0] for c in charges], dtype=object)
        prosecutors = np.array([self.here(p) for p in courts["prosecutors"]], dtype=object)
        fields = {
            "案件名称": np.where(criminal, names + "、" + person + first_charge + "一审刑事判决书",
                             person + "与" + names + cause_civil + "一审民事判决书"),
            "法院名称": np.array([self.here(c) for c in courts["names"]], dtype=object)[court],
            "案号": self.case_numbers(court, self.years(back), np.where(criminal, "刑初", "民初")),
            "审判程序": np.full(n, "一审", dtype=object),
            "案件类型": np.where(criminal, "刑事案件", "民事案件").astype(object),
            "案由": np.where(criminal, np.char.rstrip(first_charge.astype(str), "罪").astype(object),
                           cause_civil),
            "当事人": np.where(criminal, "公诉机关：" + prosecutors[court] + "；被告单位：" + party
                            + "；被告人：" + person, "原告：" + person + "；被告：" + party),
            "罪名": np.where(criminal, charges, self.choice(WORDS["dirt"]["empties"], n)),
            "裁判日期": self.dates["judgments"].pick(back, self.rng),
            "文书类型": np.full(n, "判决书", dtype=object),
            "判决结果": np.where(criminal, "被告单位" + names + "犯" + first_charge + "，判处罚金",
                             "被告" + names + "于本判决生效之日起十日内向原告" + person + "赔礼道歉"),
        }  # fmt: skip
        self.emit("judgments", "judgment", fields, "/wenshu/judgments.csv",
                  place=lambda i: "line " + (i + 2).astype(str).astype(object))  # fmt: skip

    def complaints(self, agency: np.ndarray) -> None:
        n, spec = len(agency), WORDS["complaints"]
        heavy = self.rng.random(n) < 0.5
        issue = np.where(heavy, self.choice(spec["issues_heavy"], n),
                         self.choice(spec["issues_light"], n))  # fmt: skip
        closed = self.rng.random(n) < 0.5
        own = self.has_phone[agency]
        callers = self.city.agencies + self.rng.integers(0, 4 * self.city.agencies, n)
        numbers = np.where(own, self.phone_pool[agency], self.phone_pool[callers])
        target = self.name_as_written(agency)
        sn_serial = permuted(n, 10**9, self.rng)
        fields = {
            "sn": "DC" + np.char.zfill(sn_serial.astype(str), 9).astype(object),
            "title": "投诉" + target + "：" + issue, "target": target,
            "uscc": np.where(self.rng.random(n) < 0.3, self.uscc[agency], ""),
            "appeal": self.choice(spec["appeals"], n), "issue": issue,
            "phone": self.phone_text(numbers),
            "created_at": self.dates["complaints"].pick(self.rng.integers(5, 1500, n), self.rng),
            "status": np.where(closed, self.choice(spec["closed_status"], n),
                               self.choice(spec["open_status"], n)),
        }  # fmt: skip
        self.emit_paged("complaints", "complaint", fields, "/complaints/api/list?page={}")

    # ---- helpers -----------------------------------------------------------------------

    def years(self, days_back: np.ndarray) -> np.ndarray:
        """The year of each date as text, for case and decision numbers."""
        return self.dates["penalties"].year(days_back)

    def serials(self, n: int) -> np.ndarray:
        return np.arange(1, n + 1).astype(str).astype(object)

    def case_numbers(self, court: np.ndarray, year: np.ndarray, kind: Any) -> np.ndarray:
        codes = np.array(WORDS["courts"]["codes"], dtype=object)[court]
        abbr = esc(self.city.name[0])
        return "（" + year + "）" + abbr + codes + kind + self.serials(len(court)) + "号"

    def emit_paged(self, source: str, record_type: str, fields: dict[str, np.ndarray],
                   url: str) -> None:  # fmt: skip
        size = PAGE_SIZE[source]

        def place(i: np.ndarray) -> np.ndarray:
            page = (i // size + 1).astype(str).astype(object)
            return "page " + page + ", row " + (i % size + 1).astype(str).astype(object)

        self.emit(source, record_type, fields, url, place, page_size=size)

    def emit(self, source: str, record_type: str, fields: dict[str, np.ndarray], url: str,
             place: Callable[[np.ndarray], np.ndarray], page_size: int = 0) -> None:  # fmt: skip
        """Write raw/<source>.jsonl as the item pipeline does (keys sorted) and its crawl log."""
        if source in LABELS and sorted(fields) != sorted(LABELS[source]):
            raise ValueError(f"{source}: labels differ from the demo mirror's {LABELS[source]}")
        n = len(next(iter(fields.values())))
        i = np.arange(n)
        pages = (n + page_size - 1) // page_size if page_size else 1
        page_of = i // page_size if page_size else np.zeros(n, dtype=np.int64)
        page_urls = np.array([self.base_url + url.format(p + 1) for p in range(max(pages, 1))],
                             dtype=object)  # fmt: skip
        shas = np.array([hashlib.sha256(f"{u}#{self.city.slug}".encode()).hexdigest()
                         for u in page_urls], dtype=object)  # fmt: skip
        labels = sorted(fields)
        head = '{"content_sha256": "%s", "fetched_at": "' + self.fetched_at + '", "fields": {'
        body = ", ".join(f'"{esc(label)}": "%s"' for label in labels)
        tail = f'}}, "place": "%s", "record_type": "{record_type}", "source_id": "{source}", '
        template = head + body + tail + '"url": "%s"}\n'
        columns = [shas[page_of], *(fields[k] for k in labels), place(i), page_urls[page_of]]
        text = "".join(map(template.__mod__, zip(*columns, strict=True)))
        (self.raw / f"{source}.jsonl").write_text(text, encoding="utf-8")
        stamp = f"{self.as_of.isoformat()}T02:00:00Z"
        log = {"source_id": source, "status": "ok", "rows": n, "pages_fetched": pages,
               "pages_not_modified": 0, "started_at": stamp, "finished_at": stamp,
               "message": "", "last_success_at": stamp}  # fmt: skip
        (self.raw / f"{source}.crawl.json").write_text(json.dumps(log, indent=2) + "\n")
        self.counts[source] = n


# ---- city configs ---------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _toml_table(name: str, table: dict[str, Any], array: bool = False) -> list[str]:
    scalars = [f"{k} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    lines = [f"[[{name}]]" if array else f"[{name}]", *scalars, ""]
    for key, sub in table.items():
        if isinstance(sub, dict):
            lines += _toml_table(f"{name}.{key}", sub)
    return lines


def city_config(city: ProvinceCity, counts: dict[str, int]) -> str:
    """The demo city's config for a province city: same sources, no mirror, wide row bounds."""
    demo = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))
    demo.pop("mirror", None)
    demo.update(slug=city.slug, name=city.name, name_en=city.name_en,
                province=WORDS["province"], base_url=f"https://credit.{city.slug}.example")  # fmt: skip
    sources = demo.pop("sources")
    lines = ["# A FICTIONAL province city written by agencywatch.mirror.province for benchmarks."]
    lines += [f"{k} = {_toml_value(v)}" for k, v in demo.items() if not isinstance(v, dict)]
    lines.append("")
    for key, table in demo.items():
        if isinstance(table, dict):
            lines += _toml_table(key, table)
    for source in sources:
        source.update({k: v.replace(WORDS["city"], city.name) for k, v in source.items()
                       if k.startswith("title") and isinstance(v, str)})  # fmt: skip
        source.update(min_rows=0, max_rows=max(10, 2 * counts.get(source["id"], 0)))
        lines += _toml_table("sources", source, array=True)
    return "\n".join(lines)


# ---- the province -----------------------------------------------------------------------------


def synth_province(out_dir: Path, n_cities: int = 13, n_agencies: int = 100_000,
                   n_records: int = 1_000_000, seed: int = 2026,
                   as_of: date = date(2026, 11, 1)) -> dict[str, Any]:  # fmt: skip
    """Write the province's raw items and city configs under out_dir; return counts per city.

    out_dir becomes an output root: data/<city>/raw/ as after a crawl, and cities/<city>.toml.
    n_records counts evidence records (everything but registrations), shared by agency count.
    """
    out = Path(out_dir)
    (out / "cities").mkdir(parents=True, exist_ok=True)
    cities = province_cities(n_cities, n_agencies, seed)
    dates = date_tables(as_of)
    result: dict[str, Any] = {"cities": {}, "agencies": 0, "evidence_records": 0, "records": 0}
    left = n_records
    for i, city in enumerate(cities):
        last = i == len(cities) - 1
        share = left if last else round(n_records * city.agencies / n_agencies)
        left -= share
        counts = _CityWriter(city, out, as_of, seed * 1000 + i, dates).write_all(share)
        (out / "cities" / f"{city.slug}.toml").write_text(city_config(city, counts), "utf-8")
        evidence = sum(v for k, v in counts.items() if k != "registrations")
        result["cities"][city.slug] = {"name": city.name, "agencies": city.agencies, **counts}
        result["agencies"] += city.agencies
        result["evidence_records"] += evidence
        result["records"] += sum(counts.values())
    return result
