"""Output rows and the files they go to: one row per record, built by :func:`build_row` for the CLI and
for any other consumer (Spark), written as JSONL, CSV, Parquet or a readable table."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from pathlib import Path

from .labels import LABELS
from .readers.base import CRAWL_EXTRA, Record, site_of

OUTPUT_FIELDS = ("id", "label", "score", "is_article", "article_score", "secondary", "evidence", "title",
                 "url", "site", "published", "final_url", "status", "scores", "error", "group", "facts")
FORMATS = ("jsonl", "csv", "parquet", "table")


class OutputError(Exception):
    """The output cannot be written (missing folder, no permission, full disk)."""


def build_row(record: Record, prediction=None, page=None, error: str | None = None) -> dict:
    """The output row of one record: its prediction's fields, where the page came from, and its error.

    ``page`` (a :class:`~klassify.reading.Page`) adds the canonical URL and date found in the page itself
    when the record carries none.
    """
    row = dict.fromkeys(OUTPUT_FIELDS)
    row["secondary"] = []
    if prediction is not None:
        row.update(prediction.to_dict())
    url = record.url or getattr(page, "url", None)
    row.update(id=record.id, url=url, site=site_of(url), published=record.published or getattr(page, "published", None),
               final_url=record.final_url, status=record.status, error=error or record.error)
    return row


def error_row(record_id: str, message: str) -> dict:
    return build_row(Record(record_id), error=message)


def format_for(path: str | None, fmt: str | None) -> str:
    """The output format: ``fmt`` if given, else from the output's suffix, else JSONL."""
    if fmt:
        return fmt
    suffix = Path(path).suffix.lower() if path else ""
    return {".csv": "csv", ".parquet": "parquet"}.get(suffix, "jsonl")


def check_output(path: str | None, fmt: str) -> None:
    """Raise :class:`OutputError` with one clear line if ``path`` cannot be written (before any page is read)."""
    if fmt == "parquet":
        if not path:
            raise OutputError("Parquet output needs -o FILE.parquet")
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise OutputError(f"Parquet output needs pyarrow: {CRAWL_EXTRA}") from None
    if not path:
        return
    p = Path(path)
    folder = p.parent
    if p.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist" if not folder.exists()
                          else f"cannot write {path}: {folder} is not a folder")
    if not os.access(p if p.exists() else folder, os.W_OK):
        raise OutputError(f"cannot write {path}: permission denied")
    if p.is_file() or not p.exists():
        if shutil.disk_usage(folder).free == 0:
            raise OutputError(f"cannot write {path}: no space left on the device")


# --- resume ----------------------------------------------------------------------------------------

def previous_ids(path: str, fmt: str) -> tuple[set[str], list[str] | None]:
    """Ids of complete rows already in ``path`` and, for CSV, its columns; a torn last row (killed
    mid-write) is cut off first. A CSV written before new columns were added keeps its own columns."""
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return set(), None
    data = p.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]  # drop a partial last line
    ids, columns = set(), None
    if fmt == "jsonl":
        good = []
        for line in keep.splitlines(keepends=True):
            try:
                ids.add(str(json.loads(line)["id"]))
                good.append(line)
            except (ValueError, KeyError, TypeError):
                continue
        keep = b"".join(good)
    else:
        rows = list(csv.reader(io.StringIO(keep.decode("utf-8", errors="replace"), newline="")))
        columns = rows[0] if rows else None
        if not columns or columns[0] != "id" or not set(columns) <= set(OUTPUT_FIELDS):
            raise OutputError(f"{path} is not a klassify CSV (header {(columns or [])[:3]}...); cannot resume it")
        rows = [r for r in rows[1:] if len(r) == len(columns)]
        ids = {r[0] for r in rows}
        keep = _csv_bytes([columns] + rows)
    if keep != data:
        p.write_bytes(keep)
    return ids, columns


def _csv_bytes(rows) -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8")


# --- writers ---------------------------------------------------------------------------------------

class Writer:
    """Writes rows as they come; JSONL and CSV are flushed and fsynced after every batch, so a killed run
    leaves a valid file. Write failures (a full disk) raise :class:`OutputError`."""

    def __init__(self, path: str | None, fmt: str, *, append: bool = False, columns=None):
        self.path, self.fmt = path, fmt
        self.columns = tuple(columns or OUTPUT_FIELDS)
        self.table_rows: list[dict] = []
        self.parquet = None
        try:
            if fmt == "parquet":
                self.stream = None
                self.parquet = ParquetRows(path)
                return
            self.stream = open(path, "a" if append else "w", encoding="utf-8", newline="") if path else sys.stdout
            self.csv = csv.writer(self.stream) if fmt == "csv" else None
            if self.csv and not append:
                self.csv.writerow(self.columns)
                self._sync()
        except OSError as e:
            raise OutputError(f"cannot write {path}: {e.strerror or e}") from e

    def write_rows(self, rows) -> None:
        try:
            for row in rows:
                if self.fmt == "jsonl":
                    self.stream.write(json.dumps({k: row.get(k) for k in self.columns}, ensure_ascii=False) + "\n")
                elif self.fmt == "csv":
                    self.csv.writerow([csv_cell(row.get(k)) for k in self.columns])
                elif self.fmt == "parquet":
                    self.parquet.add(row)
                else:
                    self.table_rows.append(row)
            self._sync()
        except OSError as e:
            raise OutputError(f"cannot write {self.path or 'stdout'}: {e.strerror or e}") from e

    def _sync(self) -> None:
        if self.stream is None:
            return
        self.stream.flush()
        if self.stream is not sys.stdout:
            os.fsync(self.stream.fileno())

    def close(self) -> None:
        try:
            if self.fmt == "parquet":
                self.parquet.close()
                return
            if self.fmt == "table":
                self.stream.write(format_table(self.table_rows) + "\n")
            if self.stream is not sys.stdout:
                self.stream.close()
            else:
                self.stream.flush()
        except OSError as e:
            raise OutputError(f"cannot write {self.path or 'stdout'}: {e.strerror or e}") from e


def parquet_schema():
    """The output columns, typed: ``scores`` a struct of one float per label, ``secondary`` a list, ``facts``
    a JSON string (its fields depend on the label)."""
    import pyarrow as pa

    types = {"score": pa.float64(), "is_article": pa.bool_(), "article_score": pa.float64(),
             "secondary": pa.list_(pa.string()), "status": pa.int32(),
             "scores": pa.struct([(label, pa.float64()) for label in LABELS])}
    return pa.schema([(name, types.get(name, pa.string())) for name in OUTPUT_FIELDS])


class ParquetRows:
    """Rows gathered into row groups of ``group_rows`` and written with pyarrow; the file is complete
    (readable) only once closed."""

    def __init__(self, path: str, group_rows: int = 10_000):
        import pyarrow.parquet as pq

        self.schema = parquet_schema()
        self.writer = pq.ParquetWriter(path, self.schema)
        self.rows: list[dict] = []
        self.group_rows = group_rows

    def add(self, row: dict) -> None:
        self.rows.append({k: json_if_dict(row.get(k)) if k == "facts" else row.get(k) for k in OUTPUT_FIELDS})
        if len(self.rows) >= self.group_rows:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


def json_if_dict(value):
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value


def csv_cell(value):
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def format_table(rows) -> str:
    import unicodedata

    def width(s):
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)

    def fit(s, n):
        s = s or ""
        out = ""
        for c in s:
            if width(out + c) > n - 1:
                return out + "…"
            out += c
        return out + " " * (n - width(out))

    header = f"{fit('id', 28)} {fit('label', 12)} {'score':>5}  {fit('secondary', 12)} evidence"
    lines = [header, "-" * 100]
    for r in rows:
        if r.get("error"):
            lines.append(f"{fit(Path(r['id']).name, 28)} {fit('ERROR', 12)} {'':>5}  {fit('', 12)} {r['error']}")
            continue
        lines.append(f"{fit(Path(r['id']).name, 28)} {fit(r['label'], 12)} {r['score']:>5.2f}  "
                     f"{fit(','.join(r['secondary']), 12)} {fit(r['evidence'] or '', 60)}")
    return "\n".join(lines)
