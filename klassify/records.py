"""Input records for the batch CLI: files, directories, JSONL, CSV and stdin, each record with an id.

Every input yields records in a fixed order; a record that cannot be read still yields a :class:`Record`
with ``error`` set, so one bad record never stops or shrinks the batch.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PAGE_SUFFIXES = {".txt", ".text", ".html", ".htm", ".xhtml"}
MAX_FILE_BYTES = 50 * 1024 * 1024
csv.field_size_limit(MAX_FILE_BYTES)


@dataclass
class Record:
    id: str
    content: str | bytes | None = None
    error: str | None = None
    html: bool | None = None  # None: detect from the content


def iter_records(inputs, *, text_field: str = "text", id_field: str = "id", stdin_format: str = "auto", stdin=None):
    """Records of every input, in order, with ids made unique (a repeated id gets ``#2``, ``#3``...)."""
    seen: dict[str, int] = {}
    for item in inputs:
        for record in _records_of(item, text_field, id_field, stdin_format, stdin):
            n = seen.get(record.id, 0) + 1
            seen[record.id] = n
            if n > 1:
                record.id = f"{record.id}#{n}"
            yield record


def _records_of(item: str, text_field, id_field, stdin_format, stdin):
    if item == "-":
        yield from _stdin_records(stdin or sys.stdin.buffer, text_field, id_field, stdin_format)
        return
    path = Path(item)
    if path.is_dir():
        yield from _directory_records(path)
    elif not path.exists():
        yield Record(item, error="no such file or directory")
    elif path.suffix.lower() == ".jsonl":
        yield from _guarded(item, lambda: _jsonl_records(path.open("rb"), item, text_field, id_field))
    elif path.suffix.lower() == ".csv":
        yield from _guarded(item, lambda: _csv_records(path, text_field, id_field))
    else:
        yield _file_record(path, item)


def _guarded(source: str, make_iter):
    """Yield from ``make_iter()``; an I/O error part-way becomes one error record instead of a crash."""
    try:
        yield from make_iter()
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        yield Record(f"{source}:read-error", error=f"cannot read {source}: {e}")


def _file_record(path: Path, record_id: str) -> Record:
    try:
        if not path.is_file():
            return Record(record_id, error="not a regular file (device, pipe or broken link)")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return Record(record_id, error=f"file is {size / 1e6:.0f} MB, over the {MAX_FILE_BYTES // 2**20} MiB limit")
        data = path.read_bytes()
    except OSError as e:
        return Record(record_id, error=f"cannot read file: {e.strerror or e}")
    html = True if path.suffix.lower() in {".html", ".htm", ".xhtml"} else None
    return Record(record_id, data, html=html)


def _directory_records(root: Path):
    """Page files under ``root`` (recursive, sorted, symlinked directories not followed: no loops)."""
    def on_error(e: OSError):
        errors.append(Record(e.filename or str(root), error=f"cannot list directory: {e.strerror or e}"))

    errors: list[Record] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        dirnames.sort()
        yield from errors
        errors.clear()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.suffix.lower() in PAGE_SUFFIXES:
                yield _file_record(path, str(path))
    yield from errors


def _jsonl_records(stream, source: str, text_field: str, id_field: str):
    with stream:
        for n, raw in enumerate(stream, 1):
            if not raw.strip():
                continue
            fallback_id = f"{source}:{n}"
            try:
                obj = json.loads(raw)
            except ValueError as e:
                yield Record(fallback_id, error=f"line {n} is not valid JSON: {e}")
                continue
            yield _mapping_record(obj, fallback_id, text_field, id_field)


def _csv_records(path: Path, text_field: str, id_field: str):
    with path.open(encoding="utf-8-sig", newline="", errors="replace") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or text_field not in reader.fieldnames:
            yield Record(str(path), error=f"CSV has no {text_field!r} column (columns: {reader.fieldnames})")
            return
        for n, row in enumerate(reader, 2):
            yield _mapping_record(row, f"{path}:{n}", text_field, id_field)


def _mapping_record(obj, fallback_id: str, text_field: str, id_field: str) -> Record:
    if not isinstance(obj, dict):
        return Record(fallback_id, error=f"expected a JSON object, got {type(obj).__name__}")
    record_id = obj.get(id_field)
    record_id = fallback_id if record_id in (None, "") else str(record_id)
    text = obj.get(text_field)
    if text is None:
        return Record(record_id, error=f"field {text_field!r} is missing or null")
    if not isinstance(text, str):
        return Record(record_id, error=f"field {text_field!r} is a {type(text).__name__}, not a string")
    return Record(record_id, text)


def _stdin_records(stream, text_field, id_field, stdin_format):
    data = stream.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    fmt = stdin_format
    if fmt == "auto":
        fmt = "jsonl" if data.lstrip()[:1] == b"{" else "text"
    if fmt == "jsonl":
        yield from _jsonl_records(io.BytesIO(data), "stdin", text_field, id_field)
    else:
        yield Record("-", data)
