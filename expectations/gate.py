"""Validation gates: Great Expectations suites that stop a run before bad data is published.

A gate is a list of suites kept as JSON in `expectations/suites/` (one per raw record type, plus
`clean.json` and `scores.json`, each a list of suites whose `meta.table` names the Parquet file
under `data/<city>/` they check). Row-count bounds and the method version come from the city
config through GX suite parameters (`{"$PARAMETER": "min_rows"}`), so a fork changes its TOML,
not the suites. Checks across tables (orphan events, evidence behind a blacklisting) are computed
here as boolean columns and validated like any other column, so every failure is reported the
same way: `gates/<name>.json` in the format of docs/architecture.md ("Gates").

Great Expectations takes seconds to import, so it is imported on first use: `GateFailed` stays
cheap to import for the CLI and the Airflow tasks that only catch it.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agencywatch.config import City
from agencywatch.paths import CityPaths

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core.batch_definition import BatchDefinition

SUITES_DIR = Path(__file__).resolve().parent / "suites"
EXAMPLES = 5
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES}

# Lists an agency with no score may be on: an outfit with no registration cannot be scored, yet
# one that advertises collection anyway is blacklisted (DESIGN.md, "Lists").
UNSCORABLE_LISTS = ("not_rated", "blacklist")

# Expectation arguments that name columns, and the expectations that look at the column set.
COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list")
WHOLE_TABLE = ("expect_table_column", "expect_table_columns")

# Columns the checks across tables (with_agency_exists, with_score_checks, with_agency_scored)
# read besides those the suites name.
CHECK_INPUTS: dict[str, tuple[str, ...]] = {
    "resolved/events.parquet": ("agency_id",),
    "resolved/agencies.parquet": ("agency_id",),
    "scored/scores.parquet": ("agency_id", "score", "list"),
    "scored/reasons.parquet": ("agency_id", "evidence"),
}

# How each expectation's `expected` reads in a gate report; filled from the expectation's kwargs.
EXPECTED_TEMPLATES: dict[str, str] = {
    "expect_table_row_count_to_be_between": "{min_value}–{max_value}",
    "expect_table_row_count_to_equal": "{value}",
    "expect_column_to_exist": "column present",
    "expect_column_values_to_not_be_null": "not null in ≥ {mostly:.0%} of rows",
    "expect_column_values_to_be_unique": "unique",
    "expect_column_values_to_match_regex": "matching {regex} in ≥ {mostly:.0%} of non-empty values",
    "expect_column_values_to_be_in_set": "one of {value_set}",
    "expect_column_values_to_be_between": "between {min_value} and {max_value}",
}


class GateFailed(Exception):
    """One or more gates failed: publication stops and the previous release stays live."""

    def __init__(self, results: list[dict[str, Any]]):
        self.results = results
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(_failure_line(r) for r in self.results if not r.get("success"))


def _failure_line(result: dict[str, Any]) -> str:
    parts = []
    for f in result.get("failed_expectations", []):
        on = f" on {f['column']}" if f.get("column") else ""
        parts.append(f"{f['expectation']}{on} expected {f['expected']}, observed {f['observed']}")
    return f"gate {result['name']} failed: " + "; ".join(parts or ["(no detail)"])


# --- the three gates -------------------------------------------------------------------------


def check_raw(city: City, paths: CityPaths) -> list[dict[str, Any]]:
    """Raw gate, one result per source with a raw file: broken pages and layout changes.

    Single dirty records pass (the `mostly` tolerances): normalize quarantines those. A source
    with no raw file has nothing to check; its crawl log already says why.
    """
    from transforms import labels, rawfile

    results = []
    for source in city.sources:
        raw_file = paths.raw / f"{source.id}.jsonl"
        if not raw_file.exists():
            continue
        table = rawfile.load(raw_file, rawfile.parsed_dir(paths))  # normalize reads it back
        suites = _load_suites(f"raw_{source.record_type}")
        checked = [c for suite in suites for c in _suite_columns(suite)]
        frame = labels.canonical_table(table, source.record_type, city, columns=checked).frame
        # Python's regular expressions, as the suites were written for; blank cells missing
        frame = _objects_blank_as_null(frame)
        params = {"min_rows": source.min_rows, "max_rows": source.max_rows}
        if len(frame) == 0:  # no rows: the row-count bounds decide, not columns nobody could fill
            frame = frame.reindex(columns=[*frame.columns, *_missing_columns(suites, frame)])
        checks = [(s, _suite_frame(s, frame)) for s in suites]
        result = _gate(f"raw_{source.id}", checks, params)
        # New or renamed labels are the first thing to look at when a layout check fails.
        result["statistics"]["unmapped_labels"] = list(frame.attrs.get("unmapped_labels", []))
        result["statistics"]["unreadable_lines"] = len(table.unreadable)
        results.append(_write(paths, result))
    return results


def _missing_columns(suites: list[Any], frame: pd.DataFrame) -> list[str]:
    """Columns the suites check that the frame lacks, in a stable order."""
    wanted = [c for suite in suites for c in _suite_columns(suite)]
    return list(dict.fromkeys(c for c in wanted if c not in frame.columns))


def _suite_columns(suite: Any) -> list[str]:
    """The columns a suite's expectations name, in order of first mention."""
    named: list[str] = []
    for expectation in suite.expectations:
        for key in COLUMN_KWARGS:
            value = getattr(expectation, key, None)
            named += value if isinstance(value, list) else [value] if value else []
    return list(dict.fromkeys(named))


def _suite_frame(suite: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Only the columns the suite checks: GX fingerprints and scans every column it is given.

    A suite that looks at the table's column set as a whole gets every column.
    """
    if any(e.expectation_type.startswith(WHOLE_TABLE) for e in suite.expectations):
        return frame
    return frame[[c for c in _suite_columns(suite) if c in frame.columns]]


def check_clean(city: City, paths: CityPaths) -> dict[str, Any]:
    """Clean gate on the resolved agencies and events: ids, codes and links hold together."""
    tables = _tables(paths, "clean")
    events, agencies = tables["resolved/events.parquet"], tables["resolved/agencies.parquet"]
    tables["resolved/events.parquet"] = with_agency_exists(events, agencies)
    return _write(paths, _gate("clean", _pairs("clean", tables), {}))


def check_scores(city: City, paths: CityPaths) -> dict[str, Any]:
    """Score gate: every agency scored once, on a known list, and no blacklisting without evidence."""
    tables = _tables(paths, "scores")
    scores, reasons = tables["scored/scores.parquet"], tables["scored/reasons.parquet"]
    tables["scored/scores.parquet"] = with_score_checks(scores, reasons)
    tables["scored/reasons.parquet"] = with_agency_scored(reasons, scores)
    params = {
        "agency_count": _agency_count(paths),
        "method_versions": [city.scoring.method_version],
    }
    return _write(paths, _gate("scores", _pairs("scores", tables), params))


# --- checks across tables, as boolean columns ------------------------------------------------


# The checks look ids up with transforms.frames.isin: pandas' isin on Arrow-backed text makes
# a Python object per value (a second per province city for each check).


def with_agency_exists(events: pd.DataFrame, agencies: pd.DataFrame) -> pd.DataFrame:
    """events + `agency_exists`: its agency_id is a row of agencies.parquet."""
    from transforms.frames import isin

    return events.assign(agency_exists=isin(events["agency_id"], agencies["agency_id"]))


def with_score_checks(scores: pd.DataFrame, reasons: pd.DataFrame) -> pd.DataFrame:
    """scores + `score_null_only_when_unscorable` and `blacklist_has_evidence`."""
    from transforms.frames import isin

    has_evidence = reasons["evidence"].fillna("").astype(str).str.strip() != ""
    evidenced = reasons.loc[has_evidence, "agency_id"]
    blacklisted = scores["list"] == "blacklist"
    return scores.assign(
        score_null_only_when_unscorable=scores["score"].notna()
        | scores["list"].isin(UNSCORABLE_LISTS),
        blacklist_has_evidence=~blacklisted | isin(scores["agency_id"], evidenced),
    )


def with_agency_scored(reasons: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """reasons + `agency_scored`: the reason's agency has a row in scores.parquet."""
    from transforms.frames import isin

    return reasons.assign(agency_scored=isin(reasons["agency_id"], scores["agency_id"]))


# --- running suites --------------------------------------------------------------------------


def _gate(
    name: str, checks: list[tuple[Any, pd.DataFrame]], params: dict[str, Any]
) -> dict[str, Any]:
    """One gate result from validating each (suite, frame) pair."""
    failed: list[dict[str, Any]] = []
    stats = {"evaluated_expectations": 0, "successful_expectations": 0, "rows": {}}
    for suite, whole in checks:
        frame = _suite_frame(suite, whole)
        run = _validation(suite, frame, params)
        failed += [_failure(r) for r in run.results if not r.success]
        stats["evaluated_expectations"] += run.statistics["evaluated_expectations"]
        stats["successful_expectations"] += run.statistics["successful_expectations"]
        stats["rows"][suite.meta.get("table", suite.name)] = len(frame)
    stats["unsuccessful_expectations"] = len(failed)
    return {"name": name, "success": not failed, "failed_expectations": failed, "statistics": stats}


def _validation(suite: Any, frame: pd.DataFrame, params: dict[str, Any]) -> Any:
    """The suite's validation result over every row of frame.

    This is what `batch_definition.get_batch(…).validate(suite)` runs, minus the batch that
    call builds only to have the validator build it again (each build loads the frame anew).
    """
    from great_expectations.validator.v1_validator import Validator

    validator = Validator(
        batch_definition=_batch_definition(),
        batch_parameters={"dataframe": frame},
        result_format=RESULT_FORMAT,
    )
    return validator.validate_expectation_suite(suite, expectation_parameters=params)


def _failure(result: Any) -> dict[str, Any]:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return {
        "expectation": config.type,
        "column": kwargs.get("column"),
        "expected": _expected(config.type, kwargs),
        "observed": _observed(result.result, result.exception_info),
        "unexpected_examples": _json_safe(result.result.get("partial_unexpected_list", [])),
    }


def _expected(kind: str, kwargs: dict[str, Any]) -> str:
    template = EXPECTED_TEMPLATES.get(kind)
    if template is None:
        return json.dumps(kwargs, ensure_ascii=False, default=str)
    return template.format(**{"mostly": 1.0, **kwargs})


def _observed(result: dict[str, Any], exception_info: dict[str, Any]) -> Any:
    """The value found, or how many values broke the rule, or why it could not be checked."""
    if "observed_value" in result:
        return _json_safe(result["observed_value"])
    if "unexpected_count" in result:
        return (
            f"{result['unexpected_count']} of {result['element_count']} values "
            f"({result.get('unexpected_percent') or 0:.1f}%)"
        )
    message = _exception_message(exception_info)
    return message or "column missing"


def _exception_message(info: dict[str, Any]) -> str:
    if not info:
        return ""
    if "exception_message" in info:
        return info.get("exception_message") or ""
    return next((v.get("exception_message", "") for v in info.values() if isinstance(v, dict)), "")


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


# --- files -----------------------------------------------------------------------------------


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow-backed text columns as Python objects (None where missing), attrs kept.

    On Arrow-backed text pandas would run GX's regular expressions in RE2, whose `$` and `\\s`
    differ from Python's.
    """
    import pandas as pd

    out = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.StringDtype):
            values = frame[column].astype(object)
            out[column] = values.where(values.notna(), None)
    return out


def _blank_as_null(frame: pd.DataFrame) -> pd.DataFrame:
    """An empty cell is a missing value to a not-null check, whatever the source wrote.

    A cell is blank when it is text made of white space only (what `^\\s*$` matches), decided
    once per distinct value of each text column; other cells stay as they are.
    """
    import pandas as pd

    out = {}
    for column in frame.columns:
        values = frame[column]
        blank = _blank_text(values)
        out[column] = values.where(~blank, None) if blank.any() else values
    return pd.DataFrame(out, index=frame.index)


def _objects_blank_as_null(frame: pd.DataFrame) -> pd.DataFrame:
    """_blank_as_null(_as_objects(frame)) in one pass per column, attrs kept.

    Arrow-backed text is dictionary-encoded by Arrow, so blankness is decided and a Python
    string made once per distinct value rather than once per cell; other columns take the
    two steps as they are.
    """
    import pandas as pd

    from transforms.frames import arrow_text

    out = {}
    for column in frame.columns:
        values = frame[column]
        if arrow_text(values):
            out[column] = _arrow_objects_blank_as_null(values)
        else:
            out[column] = _blank_as_null(_as_objects(values.to_frame()))[column]
    result = pd.DataFrame(out, index=frame.index, columns=frame.columns)
    result.attrs = dict(frame.attrs)
    return result


def _arrow_objects_blank_as_null(values: pd.Series) -> pd.Series:
    """An Arrow-backed text column as Python strings, None where missing or blank."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values.array)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    encoded = pc.dictionary_encode(text)
    uniques = encoded.dictionary.to_pylist()
    lookup = np.empty(len(uniques) + 1, dtype=object)  # the last slot: missing cells
    lookup[:-1] = [u if u.strip() else None for u in uniques]
    codes = encoded.indices.fill_null(len(uniques)).to_numpy(zero_copy_only=False)
    return pd.Series(lookup[codes], index=values.index, name=values.name, dtype=object)


def _blank_text(values: pd.Series) -> pd.Series:
    """Which cells are strings of white space only (str.isspace is the regex's \\s)."""
    import numpy as np
    import pandas as pd

    if values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
        return pd.Series(False, index=values.index)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    blank = np.array([isinstance(u, str) and not u.strip() for u in uniques] + [False])
    return pd.Series(blank[codes], index=values.index)


def _tables(paths: CityPaths, gate: str) -> dict[str, pd.DataFrame]:
    """Each suite's table, with only the columns its suite and the checks across tables read."""
    import pandas as pd
    import pyarrow.parquet as pq

    tables = {}
    for suite in _load_suites(gate):
        path = paths.data / suite.meta["table"]
        wanted = {*_suite_columns(suite), *CHECK_INPUTS.get(suite.meta["table"], ())}
        columns = [c for c in pq.read_schema(path).names if c in wanted]
        tables[suite.meta["table"]] = pd.read_parquet(path, columns=columns)
    return tables


def _agency_count(paths: CityPaths) -> int:
    """Rows of resolved/agencies.parquet: the entities every later table must refer to."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(paths.resolved / "agencies.parquet").metadata.num_rows


def _pairs(gate: str, tables: dict[str, pd.DataFrame]) -> list[tuple[Any, pd.DataFrame]]:
    return [(s, tables[s.meta["table"]]) for s in _load_suites(gate)]


def _write(paths: CityPaths, result: dict[str, Any]) -> dict[str, Any]:
    paths.gates.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, ensure_ascii=False, indent=1, default=str)
    (paths.gates / f"{result['name']}.json").write_text(text + "\n", encoding="utf-8")
    return result


@functools.cache
def _load_suites(name: str) -> list[Any]:
    """suites/<name>.json: one GX suite, or a list of them (one per table)."""
    gx = _gx()
    data = json.loads((SUITES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return [gx.ExpectationSuite(**suite) for suite in (data if isinstance(data, list) else [data])]


# --- the Great Expectations context ----------------------------------------------------------


@functools.cache
def _gx() -> Any:
    """great_expectations, imported once, with analytics off (a pipeline must not phone home)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations

    return great_expectations


@functools.cache
def _batch_definition() -> BatchDefinition:
    """One ephemeral context per process, progress bars off: a frame is passed per batch."""
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX hashes every frame it is given into a "data fingerprint" for the batch markers, which
    # no gate report shows (GX itself skips it above a size threshold): seconds per province
    # city spent on nothing, so it is skipped for every frame.
    pandas_execution_engine.HASH_THRESHOLD = 0
    _memoize_expectation_type_names()
    context = _gx().get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas("agencywatch").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole")


def _memoize_expectation_type_names() -> None:
    """GX names an expectation's type from its class name (CamelCase → snake_case, two regular
    expressions) every time it builds the expectation's configuration, dozens of times per
    expectation and validation: a fifth of a small city's gate time. The name of a class
    never changes, so the conversion is remembered. Left alone if GX moves the function."""
    from great_expectations.expectations import expectation

    convert = getattr(expectation, "camel_to_snake", None)
    if callable(convert) and not hasattr(convert, "cache_info"):
        expectation.camel_to_snake = functools.lru_cache(maxsize=1024)(convert)
