"""Masking of private persons' identifiers in source text, before anything is released.

Court and complaint records name people as well as companies: a debtor's 18-digit resident
identity number (GB 11643) or a complainant's mobile number can sit in a judgment's parties, a
complaint's title or a penalty's facts. AgencyWatch publishes facts about companies, so such
numbers are masked as the enforcement-information site masks them itself (first and last four
kept), in every raw field, before normalize sees them. Company numbers stay: landlines and 400
numbers are what agencies publish, and a valid 统一社会信用代码 is a company's public id even when
it is all digits. So do the fields whose whole value is the number an agency publishes or calls
people from (a phone list's number, a complaint's calling number): the phone lookup answers "is
this number legitimate?" with exactly those; the free text around them is masked like any other.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from stdnum.cn import ric, uscc

from agencywatch.config import City
from transforms.labels import column_for, label_map

# \d is any Unicode digit, so full-width ０-９ (common in Chinese sources) match as well.
RESIDENT_ID = re.compile(
    r"(?<![0-9A-Za-z０-９Ａ-Ｚａ-ｚ])\d{17}[\dXxＸｘ](?![0-9A-Za-z０-９Ａ-Ｚａ-ｚ])"
)
MOBILE = re.compile(
    r"(?<![\d+＋])(?:[+＋]?[8８][6６][-\s]?)?[1１][3-9３-９]\d(?:[-\s－]?\d{4}){2}(?!\d)"
)


# record type -> the column holding an agency's own number (kept whole; see the docstring)
AGENCY_NUMBER_COLUMNS = {"phone": "number", "complaint": "phone"}


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _masked_id(match: re.Match[str]) -> str:
    number = _ascii(match.group(0)).upper()
    if not _resident_id(number) or uscc.is_valid(number):
        return match.group(0)
    return number[:4] + "*" * 10 + number[-4:]


def _resident_id(number: str) -> bool:
    """Check digit and birth date of GB 11643; the place code is not required to be known
    (a number with an unlisted place is still somebody's, or looks like it to a reader)."""
    try:
        ric.get_birth_date(number)
    except ValueError:
        return False
    return ric.calc_check_digit(number) == number[-1]


def _masked_mobile(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", _ascii(match.group(0)))[-11:]
    return digits[:3] + "****" + digits[-4:]


def mask_text(text: str) -> str:
    """The text with resident identity numbers and mobile numbers masked; all else as it was."""
    if not text or not any(c.isdigit() for c in text):
        return text
    return MOBILE.sub(_masked_mobile, RESIDENT_ID.sub(_masked_id, text))


def masked_value(value: Any) -> Any:
    """Strings masked, containers walked, anything else unchanged."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: masked_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked_value(v) for v in value]
    return value


def masked_items(items: Iterable[dict[str, Any]], city: City | None = None) -> list[dict[str, Any]]:
    """Raw items (or quarantine records) with every value of `fields` masked, but for an
    agency's own number field (AGENCY_NUMBER_COLUMNS)."""
    return [dict(item, fields=_masked_fields(item, city)) for item in items]


def _masked_fields(item: dict[str, Any], city: City | None) -> Any:
    fields = item.get("fields")
    column = AGENCY_NUMBER_COLUMNS.get(str(item.get("record_type")))
    if column is None or not isinstance(fields, dict):
        return masked_value(fields)
    mapping = label_map(str(item["record_type"]), city)
    return {
        k: v if column_for(k, mapping) == column else masked_value(v) for k, v in fields.items()
    }
