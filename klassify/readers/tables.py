"""Record tables: JSONL, CSV/TSV and Parquet, one record per line or row, text and id from named fields."""

from __future__ import annotations

import csv
import io
import json

from ..reading import sniff_encoding
from .base import CRAWL_EXTRA, MAX_FILE_BYTES, ReadOptions, ReadStats, Record, Source

csv.field_size_limit(MAX_FILE_BYTES)


def jsonl_records(source: Source, options: ReadOptions, stats: ReadStats):
    for n, raw in enumerate(source.stream, 1):
        if not raw.strip():
            continue
        fallback_id = f"{source.name}:{n}"
        try:
            obj = _json_line(raw, options.encoding)
        except UnicodeDecodeError:
            yield Record(fallback_id, error=f"line {n} of {source.name} is neither UTF-8 nor CP949: give its encoding with --encoding")
            continue
        except ValueError as e:
            yield Record(fallback_id, error=f"line {n} is not valid JSON: {e}")
            continue
        yield mapping_record(obj, fallback_id, options)


def _json_line(raw: bytes, encoding: str | None):
    if encoding:
        return json.loads(raw.decode(encoding, errors="replace"))
    try:
        return json.loads(raw)  # UTF-8/16/32, as JSON allows
    except UnicodeDecodeError:
        return json.loads(raw.decode("cp949"))  # a Korean-Windows export


def csv_records(source: Source, options: ReadOptions, stats: ReadStats):
    encoding = options.encoding or sniff_encoding(source.head)
    delimiter = "\t" if source.suffix == ".tsv" else ","
    text = io.TextIOWrapper(source.stream, encoding=encoding, errors="replace", newline="")
    reader = csv.DictReader(text, delimiter=delimiter)
    if reader.fieldnames is None or options.text_field not in reader.fieldnames:
        hint = f" (read as {encoding}; if the names look garbled, give the file's encoding with --encoding, e.g. cp949 or utf-8)"
        yield Record(source.name, error=f"{source.name} has no {options.text_field!r} column (columns: {reader.fieldnames}){hint}")
        return
    for n, row in enumerate(reader, 2):
        yield mapping_record(row, f"{source.name}:{n}", options)


def parquet_records(source: Source, options: ReadOptions, stats: ReadStats):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        yield Record(source.name, error=f"reading Parquet needs pyarrow: {CRAWL_EXTRA}")
        return
    # Parquet needs random access: a plain file is read in place, a compressed one in memory.
    table = pq.ParquetFile(source.path if source.path and not source.compression else io.BytesIO(source.stream.read()))
    names = table.schema_arrow.names
    if options.text_field not in names:
        yield Record(source.name, error=f"Parquet file has no {options.text_field!r} column (columns: {names})")
        return
    wanted = dict.fromkeys([options.text_field, options.id_field, "url", "published"])
    columns = [c for c in wanted if c in names]
    n = 0
    for batch in table.iter_batches(batch_size=1024, columns=columns):
        for row in batch.to_pylist():
            n += 1
            yield mapping_record(row, f"{source.name}:{n}", options)


def mapping_record(obj, fallback_id: str, options: ReadOptions) -> Record:
    """The record of one JSON object, CSV row or Parquet row (``url`` and ``published`` kept if present)."""
    if not isinstance(obj, dict):
        return Record(fallback_id, error=f"expected a JSON object, got {type(obj).__name__}")
    record_id = obj.get(options.id_field)
    record_id = fallback_id if record_id in (None, "") else str(record_id)
    text = obj.get(options.text_field)
    if text is None:
        return Record(record_id, error=f"field {options.text_field!r} is missing or null")
    if not isinstance(text, (str, bytes)):
        return Record(record_id, error=f"field {options.text_field!r} is a {type(text).__name__}, not a string")
    return Record(record_id, text, url=_text_or_none(obj.get("url")), published=_text_or_none(obj.get("published")))


def _text_or_none(value) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat()[:10] if hasattr(value, "isoformat") else str(value)
