"""Corrections (right of reply): a reviewed file per city, applied during resolution.

A list that names companies needs a way for a company (or a complainant) to say "that record is
not ours" or "that record is wrong", and a person who checks and decides. The decision is kept
as data, one `[[corrections]]` entry per request in `cities/corrections/<city>.toml`, so every
change to what the site says is reviewed, dated and public. Three actions:

- `suppress`: the record is taken off the agency's page and out of the score;
- `annotate`: a note is shown beside an agency (or one of its records); nothing else changes;
- `override_link`: the record is moved to another agency (`agency_id`), or unlinked (no
  `agency_id`) when it is about no agency on the site.

Every entry gives an audit row (resolved/corrections_applied.parquet), applied or not, with why.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agencywatch.config import City, ConfigError

Action = Literal["suppress", "annotate", "override_link"]
AUDIT_COLUMNS = [
    "correction_id",
    "action",
    "record_id",
    "agency_id",
    "previous_agency_id",
    "applied",
    "outcome",
    "reason",
    "requested_on",
    "decided_on",
    "reviewer",
    "text_zh",
    "text_en",
]


class Correction(BaseModel):
    """One reviewed request; the texts are what the public pages show."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    action: Action
    record_id: str = ""
    agency_id: str = ""
    reason: str = Field(min_length=1)
    requested_on: date
    decided_on: date
    reviewer: str = Field(min_length=1)
    text_zh: str = ""
    text_en: str = ""

    @model_validator(mode="after")
    def _targets(self) -> Correction:
        if self.action in ("suppress", "override_link") and not self.record_id:
            raise ValueError(f"correction {self.id!r}: {self.action} needs record_id")
        if self.action == "annotate" and not (self.record_id or self.agency_id):
            raise ValueError(f"correction {self.id!r}: annotate needs record_id or agency_id")
        if self.decided_on < self.requested_on:
            raise ValueError(f"correction {self.id!r}: decided_on is before requested_on")
        return self


def corrections_path(city: City) -> Path:
    """The city's corrections file: corrections_file, else cities/corrections/<slug>.toml."""
    given = Path(city.corrections_file) if city.corrections_file else None
    if given is None:
        return city.project_dir / "cities" / "corrections" / f"{city.slug}.toml"
    return given if given.is_absolute() else city.project_dir / given


def load(city: City) -> list[Correction]:
    """The city's reviewed corrections; none when the city has no file yet."""
    path = corrections_path(city)
    if not path.is_file():
        if city.corrections_file:
            raise ConfigError(f"{path}: corrections_file names a file that does not exist")
        return []
    return parse(path.read_text(encoding="utf-8"), path)


def parse(text: str, path: Path) -> list[Correction]:
    """Validated corrections; errors name the file and the entry, like the city config's."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    out: list[Correction] = []
    for i, entry in enumerate(raw.get("corrections", [])):
        try:
            out.append(Correction.model_validate(entry))
        except ValidationError as e:
            msgs = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
            raise ConfigError(f"{path}: corrections[{i}]: {msgs}") from e
    ids = [c.id for c in out]
    if len(ids) != len(set(ids)):
        raise ConfigError(f"{path}: a correction id appears twice")
    return out


def apply(
    links: pd.DataFrame,
    record_types: pd.Series,
    agency_ids: set[str],
    corrections: list[Correction],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Links after the corrections, and one audit row per correction.

    `record_types` maps every clean record id to its record type (a relink needs it, and a
    correction naming an unknown record must be reported, not silently ignored).
    """
    audit = []
    for c in sorted(corrections, key=lambda c: (c.decided_on, c.id)):
        before = sorted(links.loc[links["record_id"] == c.record_id, "agency_id"])
        previous = ";".join(before)
        outcome = _problem(c, record_types, agency_ids)
        if outcome is None:
            links, outcome = _applied(links, c, record_types)
        target = c.agency_id or (previous if c.action != "override_link" else "")
        audit.append(
            {
                "correction_id": c.id,
                "action": c.action,
                "record_id": c.record_id or None,
                "agency_id": target or None,
                "previous_agency_id": previous or None,
                "applied": outcome in ("applied", "noted"),
                "outcome": outcome,
                "reason": c.reason,
                "requested_on": c.requested_on.isoformat(),
                "decided_on": c.decided_on.isoformat(),
                "reviewer": c.reviewer,
                "text_zh": c.text_zh,
                "text_en": c.text_en,
            }
        )
    return links, pd.DataFrame(audit, columns=AUDIT_COLUMNS)


def _problem(c: Correction, record_types: pd.Series, agency_ids: set[str]) -> str | None:
    """Why a correction cannot be applied to this run's data, or None."""
    if c.record_id and c.record_id not in record_types.index:
        return "record_not_found"
    if c.agency_id and c.agency_id not in agency_ids:
        return "agency_not_found"
    return None


def _applied(
    links: pd.DataFrame, c: Correction, record_types: pd.Series
) -> tuple[pd.DataFrame, str]:
    if c.action == "annotate":
        return links, "noted"
    kept = links[links["record_id"] != c.record_id]
    if c.action == "override_link" and c.agency_id:
        moved = pd.DataFrame(
            {
                "record_id": [c.record_id],
                "record_type": [record_types[c.record_id]],
                "agency_id": [c.agency_id],
                "match_method": ["correction"],
            }
        )
        kept = pd.concat([kept, moved], ignore_index=True)
    return kept, "applied"


def removed_records(audit: pd.DataFrame) -> pd.DataFrame:
    """Records a correction took off every page, as unlinked rows (suppressed / corrected)."""
    applied = audit["applied"].astype(bool)
    suppressed = applied & (audit["action"] == "suppress")
    unlinked = applied & (audit["action"] == "override_link") & audit["agency_id"].isna()
    gone = audit[suppressed | unlinked]
    reason = gone["action"].map({"suppress": "suppressed", "override_link": "corrected"})
    return pd.DataFrame(
        {"record_id": gone["record_id"], "name": None, "reason": reason}
    ).reset_index(drop=True)
