"""Raw JSONL files, parsed once per run into a columnar table the raw gate and normalize share.

The raw gate and normalize used to decode every raw line each; under Airflow they run as
separate tasks, so the parse is handed over as a file: `load()` parses a raw file once and
leaves the table in `data/<city>/work/parsed/<source_id>.parquet`, keyed by the sha256 of the
raw file's bytes. The next `load()` of the same bytes (normalize after the raw gate, or a rerun
with no change in the sources) reads that file instead; any other bytes are parsed again. When
both stages run in one process (the CLI, the benchmarks) the next `load()` takes the parse from
memory instead, once, if the file's bytes are still those parsed; later ones read the file.

Plain crawler output (one JSON object per line, every value a string) is parsed by pyarrow's
JSON reader; anything else — a malformed line, a number where a string was, a blank line —
goes through `json.loads` line by line exactly as before, so a bad line is still reported with
its file and line number and quarantined, never dropped. Unreadable lines travel in the
hand-over file with the table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agencywatch.paths import CityPaths
from transforms.frames import arrow_text

# Bump when the parse changes what a table holds: hand-over files of another format are
# parsed again rather than trusted.
FORMAT = "1"
PROVENANCE = ("source_id", "record_type", "url", "fetched_at", "content_sha256", "place")

_LINE = "__line"
_PROVENANCE_PREFIX = "p:"
_FIELD_PREFIX = "f:"
_META_KEY = b"agencywatch.parsed"


class RawFileError(ValueError):
    """A raw JSONL file with a line that is not a raw item; names the file and line."""


@dataclass
class RawTable:
    """One raw file as columns: provenance, one column per source label, and where rows sat.

    `fields` holds a column per label in the order labels first appear: pandas' Arrow-backed
    str columns for crawler output, else Python objects (the item's value, None where it
    lacks the label).
    `lines` is each row's 1-based line number in the file; `unreadable` holds the quarantine
    records of lines that are not raw items. `data`, the file's bytes the table was read from
    (or checked against), is where items_at reads lines back, so a file replaced meanwhile
    cannot lend another record's fields.
    """

    provenance: pd.DataFrame
    fields: pd.DataFrame
    lines: np.ndarray
    unreadable: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None
    items: list[dict[str, Any]] | None = None
    data: bytes | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.provenance)

    def items_at(self, rows: Sequence[int]) -> list[dict[str, Any]]:
        """The raw items of some rows (for quarantine records), decoded from their lines."""
        if self.items is not None:
            return [self.items[i] for i in rows]
        if not len(rows):
            return []
        if self.data is None and self.path is None:
            raise ValueError("a table without items or file cannot give back its items")
        data = self.path.read_bytes() if self.data is None else self.data
        wanted = {int(self.lines[i]) for i in rows}
        found: dict[int, dict[str, Any]] = {}
        for number, line in enumerate(_text_lines(data), start=1):
            if number in wanted:
                found[number] = json.loads(line)
        return [found[int(self.lines[i])] for i in rows]


# --- reading raw files -------------------------------------------------------------------


def read_raw(path: Path, bad: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The raw items of a JSONL file.

    A line that is not a JSON object with `fields` raises RawFileError naming the file and line,
    unless `bad` is given: then it is appended there as a quarantine record and reading goes on.
    """
    with Path(path).open(encoding="utf-8") as f:
        return _items(f, Path(path), bad)[0]


def _items(
    lines: Any, path: Path, bad: list[dict[str, Any]] | None
) -> tuple[list[dict[str, Any]], list[int]]:
    """(items, their line numbers) from an iterator of text lines."""
    items: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item, reason = _parse_line(line)
        if item is not None:
            items.append(item)
            numbers.append(number)
            continue
        message = f"{path}:{number}: {reason}"
        if bad is None:
            raise RawFileError(message)
        bad.append(
            {
                "source_id": path.name.removesuffix(".jsonl"),
                "place": f"{path.name} line {number}",
                "url": None,
                "reason": message,
                "fields": {"line": line.rstrip("\n")[:2000]},
            }
        )
    return items, numbers


def _parse_line(line: str) -> tuple[dict[str, Any] | None, str]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as e:
        return None, f"malformed JSON ({e.msg} at column {e.colno})"
    if not isinstance(item, dict) or not isinstance(item.get("fields"), dict):
        return None, "not a raw item (a JSON object with a 'fields' object)"
    return item, ""


def parse_raw(path: Path, data: bytes | None = None) -> RawTable:
    """The raw file (whose bytes may be given) as a RawTable: pyarrow for plain crawler
    output, json.loads otherwise."""
    path = Path(path)
    data = path.read_bytes() if data is None else data
    return _arrow_table(data, path) or _python_table(data, path)


def _python_table(data: bytes, path: Path) -> RawTable:
    bad: list[dict[str, Any]] = []
    items, numbers = _items(_text_lines(data), path, bad)
    return table_from_items(items, np.array(numbers, dtype=np.int64), bad, path)


def _text_lines(data: bytes) -> io.TextIOWrapper:
    """The bytes' lines as open(path, encoding="utf-8") gives them (universal newlines)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def table_from_items(
    items: list[dict[str, Any]],
    lines: np.ndarray | None = None,
    unreadable: list[dict[str, Any]] | None = None,
    path: Path | None = None,
) -> RawTable:
    """A RawTable over decoded raw items (kept, so quarantine reads them back from memory)."""
    index = pd.RangeIndex(len(items))
    provenance = _frame({name: [item.get(name) for item in items] for name in PROVENANCE}, index)
    fields = pd.DataFrame([item.get("fields") or {} for item in items], index=index)
    fields = _frame({label: _none_for_missing(fields[label]) for label in fields}, index)
    if lines is None:
        lines = np.arange(1, len(items) + 1, dtype=np.int64)
    return RawTable(provenance, fields, lines, list(unreadable or []), path, items)


def _frame(columns: dict[str, Any], index: pd.RangeIndex) -> pd.DataFrame:
    """Columns kept as Python objects (pandas would otherwise infer its Arrow string dtype)."""
    series = {
        name: pd.Series(
            values.to_numpy(dtype=object) if isinstance(values, pd.Series) else values,
            index=index,
            dtype=object,
        )
        for name, values in columns.items()
    }
    return pd.DataFrame(series, index=index)


def _none_for_missing(values: pd.Series) -> pd.Series:
    """A column as Python objects with None where the item had no value."""
    obj = values.astype(object)
    return obj.where(obj.notna(), None)


# --- the pyarrow fast path -----------------------------------------------------------------


def _arrow_table(data: bytes, path: Path) -> RawTable | None:
    """The table from pyarrow's JSON reader, or None when the file needs the line-by-line path.

    pyarrow skips blank lines, reads two objects on one line as two rows, accepts a BOM and
    treats a lone carriage return as white space, where json.loads line by line would report
    a line; such files, and any value that is not a string, take the careful path.
    """
    lines = _plain_lines(data)
    if lines is None:
        return None
    import pyarrow as pa

    table = _arrow_read(data, pa.schema([(name, pa.string()) for name in PROVENANCE]))
    if table is not None and _dated_fields(table):  # pyarrow reads ISO-looking text as dates
        table = _arrow_read(data, _all_text_schema(table))
    if table is None or table.num_rows != lines or not _all_text(table):
        return None
    fields = table.column("fields").combine_chunks()
    index = pd.RangeIndex(table.num_rows)
    names = table.column_names
    provenance = {
        name: table.column(name) if name in names else pa.nulls(table.num_rows)
        for name in PROVENANCE
    }
    columns = {
        child.name: column for child, column in zip(fields.type, fields.flatten(), strict=True)
    }
    return RawTable(
        _text_frame(provenance, index),
        _text_frame(columns, index),
        np.arange(1, table.num_rows + 1, dtype=np.int64),
        [],
        path,
    )


# pyarrow reads a file block by block, one thread; blocks of a few MB read faster than the
# whole file as one block. Labels keep their first-seen order either way (one thread, the
# blocks in order, a label first met in a later block added last). A line longer than a block
# cannot be read so and takes the careful path.
_BLOCK_BYTES = 4 << 20


def _arrow_read(data: bytes, schema: Any) -> Any:
    """pyarrow's reading of the file, or None when it cannot read it."""
    import pyarrow as pa
    from pyarrow import json as pa_json

    block = min(len(data) + 1, _BLOCK_BYTES)
    try:
        return pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=block),
            parse_options=pa_json.ParseOptions(explicit_schema=schema),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _dated_fields(table: Any) -> bool:
    import pyarrow as pa

    fields = table.schema.field("fields").type if "fields" in table.column_names else None
    if fields is None or not pa.types.is_struct(fields):
        return False
    return any(pa.types.is_timestamp(c.type) or pa.types.is_date(c.type) for c in fields)


def _all_text_schema(table: Any) -> Any:
    """The table's schema with provenance and every field read as text, in the same order."""
    import pyarrow as pa

    labels = [pa.field(c.name, pa.string()) for c in table.schema.field("fields").type]
    return pa.schema([*((n, pa.string()) for n in PROVENANCE), ("fields", pa.struct(labels))])


def _plain_lines(data: bytes) -> int | None:
    """The number of lines when the file is one JSON text per line as pyarrow and json.loads
    both read it (no BOM, no carriage return, no blank line), else None."""
    if not data or data.startswith(b"\xef\xbb\xbf") or b"\r" in data:  # `in`: one memchr
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    # A blank line starts the file or a line with a newline, space or tab; JSON text does not.
    starts = raw[np.concatenate(([0], newlines[newlines < len(raw) - 1] + 1))]
    if np.isin(starts, (9, 10, 32)).any():
        return None
    return int(len(newlines) + (raw[-1] != 10))


def _all_text(table: Any) -> bool:
    """Every item has a `fields` object, and every field and provenance value is a string."""
    import pyarrow as pa

    if "fields" not in table.column_names:
        return False
    fields = table.column("fields")
    if not pa.types.is_struct(fields.type) or fields.null_count:
        return False
    text = (pa.string(), pa.null())
    provenance = [table.schema.field(n).type for n in PROVENANCE if n in table.column_names]
    labels = [child.name for child in fields.type]
    return len(set(labels)) == len(labels) and all(
        t in text for t in [*provenance, *(child.type for child in fields.type)]
    )


def _text_frame(columns: dict[str, Any], index: pd.RangeIndex) -> pd.DataFrame:
    """Arrow text (or all-null) arrays as pandas str columns, without copying the text."""
    import pyarrow as pa

    return pd.DataFrame(
        {
            name: pd.Series(pd.array(array.cast(pa.string()), dtype="str"), index=index)
            for name, array in columns.items()
        },
        index=index,
    )


# --- the hand-over -------------------------------------------------------------------------


def parsed_dir(paths: CityPaths) -> Path:
    """Where a city's hand-over tables live: data/<city>/work/parsed/<source_id>.parquet."""
    return paths.data / "work" / "parsed"


# hand-over file → (the format, the bytes parsed, their table), for the next load() to take
_in_memory: dict[str, tuple[str, bytes, RawTable]] = {}


def load(raw_file: Path, parsed_dir: Path) -> RawTable:
    """The raw file's table: from the hand-over when it was parsed from these very bytes,
    else parsed now and handed over for the next reader."""
    raw_file = Path(raw_file)
    data = raw_file.read_bytes()
    target = Path(parsed_dir) / f"{raw_file.name.removesuffix('.jsonl')}.parquet"
    table = _taken_from_memory(target, data)
    if table is None:
        digest = hashlib.sha256(data).hexdigest()
        table = _read_handover(target, digest, raw_file)
        if table is None:
            table = parse_raw(raw_file, data)
            if _write_handover(target, table, digest):
                _keep_in_memory(target, data, table)
    table.data = data
    return table


def _keep_in_memory(target: Path, data: bytes, table: RawTable) -> None:
    """Keep a parse, with the bytes it was parsed from, for the next load() in this process;
    only one city's parses at a time (a worker running city after city must not hold them
    all). The next load compares bytes instead of hashing them again."""
    for other in [k for k in _in_memory if Path(k).parent != target.parent]:
        del _in_memory[other]
    _in_memory[str(target)] = (FORMAT, data, dataclasses.replace(table, data=None))


def _taken_from_memory(target: Path, data: bytes) -> RawTable | None:
    """The parse kept for this hand-over file if it is of these very bytes (taken: once)."""
    kept = _in_memory.pop(str(target), None)
    if kept is None or kept[0] != FORMAT or kept[1] != data:
        return None
    return kept[2]


def _key(digest: str) -> dict[str, str]:
    return {"format": FORMAT, "raw_sha256": digest}


def _write_handover(target: Path, table: RawTable, digest: str) -> bool:
    """Parquet of the table's text columns; skipped when a column holds anything but text.

    True when written from Arrow-backed columns, i.e. when the table is what reading the
    file back gives (a table of Python objects reads back Arrow-backed).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    frames = [table.provenance, table.fields]
    if not all(_is_text(frame[c]) for frame in frames for c in frame.columns):
        return False
    columns = {_LINE: pa.array(table.lines, type=pa.int64())}
    columns.update({_PROVENANCE_PREFIX + c: _arrow_text(table.provenance[c]) for c in PROVENANCE})
    columns.update({_FIELD_PREFIX + str(c): _arrow_text(table.fields[c]) for c in table.fields})
    meta = {**_key(digest), "unreadable": table.unreadable}
    arrow = pa.table(columns).replace_schema_metadata(
        {_META_KEY: json.dumps(meta, ensure_ascii=False).encode("utf-8")}
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)  # a name of its own: two runs writing at once never mix their bytes
    try:
        pq.write_table(arrow, name, write_statistics=False)  # read whole, never filtered
        os.replace(name, target)
    finally:
        Path(name).unlink(missing_ok=True)
    return table.items is None and all(
        arrow_text(frame[c]) for frame in frames for c in frame.columns
    )


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")


def _arrow_text(values: pd.Series) -> Any:
    """A text column as Arrow (str columns hand over their Arrow data as they are)."""
    import pyarrow as pa

    return pa.array(values, type=pa.string(), from_pandas=True)


def _read_handover(target: Path, digest: str, raw_file: Path) -> RawTable | None:
    """The handed-over table when it exists and was parsed from bytes with this sha256."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = json.loads(pq.read_schema(target).metadata[_META_KEY])
        if {k: meta.get(k) for k in _key(digest)} != _key(digest):
            return None
        arrow = pq.read_table(target)
        provenance = {c: arrow.column(_PROVENANCE_PREFIX + c) for c in PROVENANCE}
        lines = arrow.column(_LINE).to_numpy()
    except (OSError, KeyError, TypeError, ValueError, pa.ArrowException):
        return None  # missing, unreadable or of another make: parse the raw file instead
    index = pd.RangeIndex(arrow.num_rows)
    fields = {
        name.removeprefix(_FIELD_PREFIX): arrow.column(name)
        for name in arrow.column_names
        if name.startswith(_FIELD_PREFIX)
    }
    return RawTable(
        _text_frame(provenance, index),
        _text_frame(fields, index),
        lines,
        list(meta.get("unreadable", [])),
        raw_file,
    )
