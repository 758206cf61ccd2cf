"""City configuration: one TOML file per city, validated strictly when loaded.

A city config is the fork point of the product, so a mistake in it must be reported in terms a
non-programmer can act on: the file, the key, and what was expected. Unknown keys are errors
(a misspelt key silently ignored is a source silently not crawled).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

RecordType = Literal[
    "registration",
    "filing",
    "penalty",
    "abnormal_listing",
    "judgment",
    "dishonest_debtor",
    "complaint",
    "phone",
]
RECORD_TYPES: tuple[str, ...] = RecordType.__args__  # type: ignore[attr-defined]

SourceKind = Literal["html_table", "json_api", "file_download", "manual"]

# Folder names under releases/ and public/ that belong to the province, never to a city.
RESERVED_SLUGS = ("province", "portal")

DEFAULT_RED_FLAG_CHARGES = ["催收非法债务罪", "寻衅滋事罪", "非法拘禁罪", "侵犯公民个人信息罪"]


class ConfigError(ValueError):
    """A city config that cannot be used, with the file and key that are wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """One public source: where it is, how to read it, and how many rows are plausible."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    title_en: str = ""
    record_type: RecordType
    kind: SourceKind
    url: str = ""
    # html_table
    table_selector: str = "table"
    next_page_xpath: str = ""
    # json_api
    page_param: str = "page"
    records_path: str = ""
    total_pages_path: str = ""
    total_path: str = ""
    page_size_path: str = ""
    # file_download
    file_format: Literal["csv", "xlsx", "json", ""] = ""
    sheet: str = ""
    # any kind: force a charset when the server lies about it ("" = header, <meta>, gb18030)
    encoding: str = ""
    # bounds: outside them the source is treated as blocked, never as "no records"
    min_rows: int = Field(default=1, ge=0)
    max_rows: int = Field(default=1_000_000, ge=1)
    max_stale_days: int = Field(default=7, ge=0)
    max_pages: int = Field(default=500, ge=1)
    # incremental crawls: a listing that puts new records first may stop at a page of known
    # records; any other order is crawled in full (unchanged pages still cost only a 304), and
    # every listing is crawled in full at least this often, to see withdrawn and inserted records
    listing_order: Literal["newest_first", "oldest_first", "unordered"] = "newest_first"
    full_crawl_every_days: int = Field(default=7, ge=0)
    # politeness
    download_delay_s: float = Field(default=0.0, ge=0)
    # a source that does not answer within this is retried, then reported failed
    download_timeout_s: float = Field(default=60.0, gt=0)
    # Airflow pool of the crawl task ("" = one pool per host of the url, see dags/)
    pool: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]*$")

    @model_validator(mode="after")
    def _kind_needs(self) -> Source:
        if self.kind != "manual" and not self.url:
            raise ValueError(f"source {self.id!r} of kind {self.kind!r} needs a url")
        if self.kind == "json_api" and not self.records_path:
            raise ValueError(f"source {self.id!r} of kind json_api needs records_path")
        if self.kind == "file_download" and not self.file_format:
            raise ValueError(
                f"source {self.id!r} of kind file_download needs file_format (csv, xlsx or json)"
            )
        if self.min_rows > self.max_rows:
            raise ValueError(f"source {self.id!r}: min_rows is larger than max_rows")
        return self


class Weights(_Strict):
    compliance: float = Field(default=0.4, ge=0, le=1)
    courts: float = Field(default=0.3, ge=0, le=1)
    complaints: float = Field(default=0.3, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> Weights:
        total = self.compliance + self.courts + self.complaints
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"weights must add up to 1.0, they add up to {total:g}")
        return self


class Scoring(_Strict):
    """Method v1 parameters; the method page is rendered from these same values."""

    method_version: str = "1.0"
    window_months: int = Field(default=36, ge=1, le=240)
    whitelist_threshold: float = Field(default=85, ge=0, le=100)
    warning_threshold: float = Field(default=60, ge=0, le=100)
    weights: Weights = Weights()
    red_flag_charges: list[str] = Field(default_factory=lambda: list(DEFAULT_RED_FLAG_CHARGES))
    points: dict[str, float] = Field(default_factory=dict)


class Notify(_Strict):
    """Who hears of a failed scheduled run, besides the failure report in data/<city>/failures/."""

    webhook: str = Field(default="", pattern=r"^(https?://.*)?$")
    email: list[str] = Field(default_factory=list)


class Mirror(_Strict):
    dir: str


class Release(_Strict):
    """The release circuit breaker (transforms/breaker.py): shares of the previous release's
    agencies above which a new release is held for review instead of published."""

    max_agency_loss_share: float = Field(default=0.2, ge=0, le=1)
    max_blacklist_gain_share: float = Field(default=0.1, ge=0, le=1)


class City(_Strict):
    slug: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    name_en: str = ""
    province: str = ""
    timezone: str = "Asia/Shanghai"
    schedule: str = "@daily"
    contact_url: str
    corrections_email: str = ""
    # the reviewed corrections (right of reply); "" = cities/corrections/<slug>.toml if present
    corrections_file: str = ""
    # the promised answer time for a correction request, in working days
    corrections_response_days: int = Field(default=15, ge=1, le=120)
    base_url: str = ""
    mirror: Mirror | None = None
    notify: Notify = Notify()
    scoring: Scoring = Scoring()
    release: Release = Release()
    labels: dict[RecordType, dict[str, str]] = Field(default_factory=dict)
    sources: list[Source]

    # set by load_city, not by the file
    config_path: Path | None = Field(default=None, exclude=True)

    @field_validator("slug")
    @classmethod
    def _not_reserved(cls, slug: str) -> str:
        if slug in RESERVED_SLUGS:
            raise ValueError(f"slug {slug!r} is reserved for the province release and portal")
        return slug

    @field_validator("sources")
    @classmethod
    def _unique_ids(cls, sources: list[Source]) -> list[Source]:
        seen: set[str] = set()
        for s in sources:
            if s.id in seen:
                raise ValueError(f"source id {s.id!r} appears twice")
            seen.add(s.id)
        if not sources:
            raise ValueError("a city needs at least one source")
        return sources

    def source(self, source_id: str) -> Source:
        for s in self.sources:
            if s.id == source_id:
                return s
        raise KeyError(f"city {self.slug!r} has no source {source_id!r}")

    @property
    def project_dir(self) -> Path:
        """The folder holding cities/: relative paths in the config resolve against it."""
        if self.config_path is None:
            return Path.cwd()
        return self.config_path.resolve().parent.parent


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{loc}: unknown key (check its spelling; see cities/demo.toml for the keys)"
    if kind == "missing":
        return f"{loc}: required key is missing"
    expected = err["msg"]
    got = err.get("input")
    if isinstance(got, dict | list):
        got = type(got).__name__
    return f"{loc}: {expected} (found {got!r})"


# --- where an error is, and what to do about it (check-config) ------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)


def _key_parts(dotted: str) -> list[str]:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[^.\s]+", dotted)
    return [p.strip("\"'") for p in parts]


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line (1-based) of every table header and key, by its path as pydantic reports it.

    tomllib gives no positions, so this scans the lines: `[[sources]]` opens `sources.<n>`,
    `[a.b]` opens `a.b`, and `k = v` is `<open table>.k`. Multi-line values are skipped over
    harmlessly: their continuation lines do not look like `key =`.
    """
    found: dict[tuple[str, ...], int] = {}
    table: list[str] = []
    arrays: dict[tuple[str, ...], int] = {}
    in_multiline = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.count('"""') % 2 or line.count("'''") % 2:
            in_multiline = not in_multiline
            if not in_multiline:
                continue
        if in_multiline and not _KEY.match(line):
            continue
        header = _HEADER.match(line)
        if header:
            parts = _key_parts(header.group(2))
            if header.group(1) == "[[":
                index = arrays.get(tuple(parts), -1) + 1
                arrays[tuple(parts)] = index
                table = [*parts, str(index)]
            else:
                table = _within_arrays(parts, arrays)
            found.setdefault(tuple(table), number)
            continue
        key = _KEY.match(line)
        if key:
            found.setdefault((*table, *_key_parts(key.group(1))), number)
    return found


def _within_arrays(parts: list[str], arrays: dict[tuple[str, ...], int]) -> list[str]:
    """`[sources.x]` after the third `[[sources]]` is `sources.2.x`."""
    for i in range(len(parts), 0, -1):
        head = tuple(parts[:i])
        if head in arrays:
            return [*head, str(arrays[head]), *parts[i:]]
    return parts


def error_line(text: str, loc: tuple[str | int, ...]) -> int | None:
    """The line of the key an error is about, else of the nearest table around it."""
    lines = key_lines(text)
    path = tuple(str(p) for p in loc)
    for i in range(len(path), 0, -1):
        if path[:i] in lines:
            return lines[path[:i]]
    return None


def _known_keys() -> set[str]:
    models = (City, Source, Scoring, Weights, Mirror, Notify)
    return {name for model in models for name in model.model_fields if name != "config_path"}


def _hint(err: dict) -> str:
    kind, loc = err["type"], err["loc"]
    key = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(key, sorted(_known_keys()), n=1, cutoff=0.7)
        if close:
            return f"did you mean {close[0]!r}?"
        return "remove it, or compare with `agencywatch new-city` (every key, commented)"
    if kind == "missing":
        return f"add `{key} = ...` (cities/demo.toml shows an example value)"
    if kind.startswith(("int_", "float_", "bool_")):
        return "write the value without quotes, e.g. min_rows = 10"
    if kind == "string_pattern_mismatch":
        return "use lower-case letters, digits and '_' (a slug may also use '-'), starting with a letter"
    if kind == "literal_error":
        return "use one of the values listed above, spelt exactly"
    return ""


def _where_and_hint(err: dict, text: str, path: Path) -> str:
    """Extra lines under an error: `at <file>:<line>: <the line>` and `hint: ...`."""
    out = ""
    line = error_line(text, err["loc"])
    if line is not None:
        shown = text.splitlines()[line - 1].strip()
        out += f"\n      at {path}:{line}: {shown}"
    hint = _hint(err)
    if hint:
        out += f"\n      hint: {hint}"
    return out


def parse_city(text: str, path: Path) -> City:
    """Parse and validate config text; errors name the file and each bad key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    try:
        city = City.model_validate(raw)
    except ValidationError as e:
        lines = "\n".join(
            f"  {path}: {_describe(err)}{_where_and_hint(err, text, path)}" for err in e.errors()
        )
        raise ConfigError(f"{path}: invalid city config:\n{lines}") from e
    return city.model_copy(update={"config_path": path})


def load_city(slug_or_path: str | Path, cities_dir: Path | None = None) -> City:
    """Load a city by slug (cities/<slug>.toml) or by path."""
    path = Path(slug_or_path)
    if path.suffix != ".toml":
        base = cities_dir or default_cities_dir()
        path = base / f"{slug_or_path}.toml"
    if not path.exists():
        raise ConfigError(f"{path}: no such city config")
    text = path.read_text(encoding="utf-8")
    city = parse_city(text, path)
    if city.slug != path.stem:
        line = error_line(text, ("slug",))
        raise ConfigError(
            f"{path}: slug {city.slug!r} must match the file name {path.stem!r}"
            f"\n      at {path}:{line}: slug = {city.slug!r}"
            f"\n      hint: rename the file to {city.slug}.toml or set slug = {path.stem!r}"
        )
    return city


def default_cities_dir() -> Path:
    """AGENCYWATCH_CITIES_DIR, else cities/ of the project checkout (installed editable)."""
    override = os.environ.get("AGENCYWATCH_CITIES_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "cities"


def all_cities(cities_dir: Path | None = None) -> list[City]:
    base = cities_dir or default_cities_dir()
    return [load_city(p) for p in sorted(base.glob("*.toml"))]
