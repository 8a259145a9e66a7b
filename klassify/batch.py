"""Records to output rows, batch by batch: what ``klassify predict`` and :mod:`klassify.spark` both run.

Every record gets exactly one row, in order; a record that cannot be read or classified gets a row with
``error`` set and the other fields empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from .modeling import run_ahead
from .output import OUTPUT_FIELDS, build_row, error_row

__all__ = ["OUTPUT_FIELDS", "classify_batches", "classify_records", "error_row", "read_records"]


def classify_batches(clf, records, batch_size: int, done=frozenset(), annotator=None):
    """Yield ``(batch, rows)`` for each ``batch_size`` records: the rows of those not already ``done``.

    The next batch is read and tokenised in a background thread while this one is classified. An
    ``annotator`` (:class:`klassify.analysis.Annotator`) adds the ``group`` and ``facts`` columns.
    """
    for batch, prepared in run_ahead(batched(records, batch_size), lambda b: prepare_records(clf, b, done, annotator)):
        todo, read = prepared.result()
        rows = classify_records(clf, todo, read)
        if annotator:
            annotator.annotate(batch, todo, rows, read)
        yield batch, rows


@dataclass
class ReadRecords:
    """Records read into pages: error rows for the records that could not be read, the pages of the
    others with their positions, and the classifier's tokenisation of those pages (None if it failed)."""

    rows: list
    pages: list
    positions: list[int]
    prepared: object = None
    signatures: dict | None = None  # copy signatures by record id (klassify.analysis, --group-copies)


def prepare_records(clf, batch, done: set[str], annotator=None):
    """The records of ``batch`` not already ``done``, and them read and tokenised (never raises)."""
    todo = [r for r in batch if r.id not in done]
    read = read_records(todo)
    try:
        read.prepared = clf.prepare(read.pages)
    except Exception:  # noqa: BLE001 - the classify step retries page by page and reports the bad page
        read.prepared = None
    if annotator:
        annotator.prepare(batch, todo, read)
    return todo, read


def read_records(records) -> ReadRecords:
    from .reading import PageReadError, read_page

    read = ReadRecords([None] * len(records), [], [])
    for k, record in enumerate(records):
        if record.error:
            read.rows[k] = build_row(record)
            continue
        try:
            read.pages.append(read_page(record.content, html=record.html, encoding=record.encoding))
            read.positions.append(k)
        except PageReadError as e:
            read.rows[k] = build_row(record, error=read_error_message(e))
    return read


def read_error_message(error) -> str:
    """The page reader's message, with what to try when the text did not decode."""
    message = str(error)
    if "decode" in message or "encoding" in message:
        message += " (if it is text, give its encoding with --encoding, e.g. cp949, euc-kr or utf-16)"
    return message


def classify_records(clf, records, read: ReadRecords) -> list[dict]:
    """One output row per record, in order; read and classify errors become the row's ``error``."""
    rows, pages, positions = read.rows, read.pages, read.positions
    for k, page, prediction in zip(positions, pages, predict_isolated(clf, pages, read.prepared)):
        if isinstance(prediction, Exception):
            rows[k] = build_row(records[k], page=page,
                                error=f"classification failed: {type(prediction).__name__}: {prediction}")
        else:
            rows[k] = build_row(records[k], prediction, page)
    return rows


def predict_isolated(clf, pages, prepared=None):
    """Predict a batch; if it fails, retry page by page so only the bad page gets an error."""
    try:
        if prepared is not None:
            return clf.predict_prepared(pages, prepared)
        return clf.predict_pages(pages, batch_size=max(len(pages), 1))
    except Exception:  # noqa: BLE001 - isolate the failing page below, then report it on its row
        out = []
        for page in pages:
            try:
                out.extend(clf.predict_pages([page]))
            except Exception as e:  # noqa: BLE001
                out.append(e)
        return out


def batched(iterable, size: int):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
