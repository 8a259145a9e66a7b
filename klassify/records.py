"""Input records: the one place that turns any input into :class:`Record` objects, for the CLI, Spark and
the report alike.

An input is a page file, a directory, a JSONL/CSV/TSV table, a Parquet file, a WARC archive, stdin, or
(with a :class:`~klassify.fetch.Fetcher`) a list of URLs. Gzip, bzip2, xz and zstd are undone by their
content, whatever the name; then a known suffix (``.jsonl``, ``.ndjson``, ``.csv``, ``.tsv``, ``.warc``,
``.parquet``) decides, else a WARC or Parquet file is known by its first bytes, and anything else is one page. A new
format is one reader function and one row in :data:`FORMATS`.

Every input yields records in a fixed order; an input or record that cannot be read still yields a
:class:`Record` with ``error`` set, so one bad record never stops or shrinks the batch. What is seen but
deliberately not read (hidden files, WARC revisits, images...) is counted in a :class:`ReadStats`.
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .readers.base import HEAD_BYTES, MAX_FILE_BYTES, MissingExtra, ReadOptions, ReadStats, Record, Source, site_of
from .readers.pages import page_records
from .readers.tables import csv_records, jsonl_records, parquet_records
from .readers.warc import warc_records

__all__ = ["FORMATS", "MAX_FILE_BYTES", "ReadOptions", "ReadStats", "Record", "directory_files", "iter_records",
           "records_of_path", "site_of"]


@dataclass(frozen=True)
class Format:
    name: str
    reader: Callable[[Source, ReadOptions, ReadStats], Iterator[Record]]
    magic: tuple[bytes, ...] = ()  # first bytes that identify it when the name does not
    suffixes: tuple[str, ...] = ()


FORMATS = (
    Format("warc", warc_records, magic=(b"WARC/",), suffixes=(".warc",)),
    Format("parquet", parquet_records, magic=(b"PAR1",), suffixes=(".parquet",)),
    Format("jsonl", jsonl_records, suffixes=(".jsonl", ".ndjson")),
    Format("csv", csv_records, suffixes=(".csv", ".tsv")),
)
PAGE = Format("page", page_records)
BY_NAME = {f.name: f for f in (*FORMATS, PAGE)}
VCS_FOLDERS = {"CVS", "RCS", "SCCS", "_darcs"}  # .git, .svn, .hg and .bzr are hidden anyway
_URL = re.compile(r"^https?://", re.I)


def iter_records(inputs, *, text_field: str = "text", id_field: str = "id", stdin_format: str = "auto", stdin=None,
                 encoding: str | None = None, include=(), exclude=(), stats: ReadStats | None = None, fetcher=None):
    """Records of every input, in order, with ids made unique (a repeated id gets ``#2``, ``#3``...).

    With a ``fetcher`` (:class:`klassify.fetch.Fetcher`), inputs are URLs or files listing them, and the
    records are the downloaded pages.
    """
    options = ReadOptions(text_field, id_field, encoding, tuple(include), tuple(exclude))
    stats = stats if stats is not None else ReadStats()
    if fetcher is not None:
        records = fetcher.records(url_list(inputs, stdin))
    else:
        records = (r for item in inputs for r in _input_records(item, options, stats, stdin_format, stdin))
    seen: dict[str, int] = {}
    for record in records:
        n = seen.get(record.id, 0) + 1
        seen[record.id] = n
        if n > 1:
            record.id = f"{record.id}#{n}"
        yield record


def records_of_path(path: str, *, text_field: str = "text", id_field: str = "id", encoding: str | None = None,
                    stats: ReadStats | None = None, include=(), exclude=()) -> Iterator[Record]:
    """Records of one file or directory (any format, compressed or not), streamed; ids not made unique."""
    options = ReadOptions(text_field, id_field, encoding, tuple(include), tuple(exclude))
    yield from _path_records(path, options, stats if stats is not None else ReadStats())


def _input_records(item: str, options: ReadOptions, stats: ReadStats, stdin_format: str, stdin):
    if item == "-":
        yield from _stdin_records(stdin or sys.stdin.buffer, options, stats, stdin_format)
    else:
        yield from _path_records(item, options, stats)


def _path_records(item: str, options: ReadOptions, stats: ReadStats):
    path = Path(item)
    if path.is_dir():
        yield from _directory_records(path, options, stats)
    elif path.exists():
        yield from _file_records(path, item, options, stats)
    elif _URL.match(item):
        yield Record(item, error="this is a URL, not a file: add --fetch to download it", url=item)
    else:
        yield Record(item, error="no such file or directory")


def _file_records(path: Path, name: str, options: ReadOptions, stats: ReadStats):
    if not path.is_file():
        yield Record(name, error="not a regular file (device, pipe or broken link)")
        return
    try:
        raw = open(path, "rb", buffering=HEAD_BYTES)  # noqa: SIM115 - closed by _source_records
    except OSError as e:
        yield Record(name, error=f"cannot read file: {e.strerror or e}")
        return
    yield from _source_records(name, raw, path, options, stats)


def _source_records(name: str, raw, path: Path | None, options: ReadOptions, stats: ReadStats, choose=None,
                    close_raw: bool = True):
    """Records of one opened input (closed at the end if ``close_raw``); any failure part-way becomes one
    error record instead of a crash."""
    source = None
    yielded = False
    try:
        source = Source(name, raw, path)
        fmt = (choose or format_of)(source, options)
        for record in fmt.reader(source, options, stats):
            yielded = True
            yield record
    except Exception as e:  # noqa: BLE001 - a corrupt stream raises zlib, lzma, zstd, csv, OS or decode errors
        why = str(e) if isinstance(e, MissingExtra) else f"{type(e).__name__}: {e}"
        yield Record(f"{name}:read-error" if yielded else name, error=f"cannot read {name}: {why}")
    finally:
        _close(source, raw, close_raw)


def _close(source: Source | None, raw, close_raw: bool) -> None:
    if source is not None:
        source.close(raw=close_raw)
    elif close_raw:
        raw.close()


def format_of(source: Source, options: ReadOptions) -> Format:
    """The format of an opened input: by its name, then by its first bytes, then a JSONL table if its
    first line is a JSON object with the text field (a crawl saved without a suffix), else a page.

    The name goes first so that a ``.jsonl`` whose first line happens to read ``PAR1`` stays JSONL (one
    record, or one error, per line) instead of failing as a whole as a broken Parquet file."""
    suffix = source.suffix
    by_name = next((fmt for fmt in FORMATS if suffix in fmt.suffixes), None)
    if by_name is not None:
        return by_name
    for fmt in FORMATS:
        if fmt.magic and source.head.startswith(fmt.magic):
            return fmt
    return BY_NAME["jsonl"] if _is_jsonl(source.head, options.text_field) else PAGE


def _is_jsonl(head: bytes, text_field: str) -> bool:
    first = head.lstrip().split(b"\n", 1)[0]
    if not first.startswith(b"{"):
        return False
    try:
        obj = json.loads(first)
    except ValueError:
        return False
    return isinstance(obj, dict) and text_field in obj


def _directory_records(root: Path, options: ReadOptions, stats: ReadStats):
    for item in directory_files(root, options, stats):
        if isinstance(item, Record):
            yield item
        else:
            yield from _file_records(item, str(item), options, stats)


def directory_files(root: Path, options: ReadOptions, stats: ReadStats) -> Iterator[Path | Record]:
    """Every regular file under ``root`` (recursive, sorted; symlinked folders not followed, so no loops),
    except hidden files and folders, VCS folders and what ``--include``/``--exclude`` leave out (counted
    in ``stats``); a folder that cannot be listed is an error :class:`Record`."""
    def on_error(e: OSError):
        errors.append(Record(e.filename or str(root), error=f"cannot list directory: {e.strerror or e}"))

    errors: list[Record] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [d for d in sorted(dirnames) if not _skipped_folder(here / d, root, options, stats)]
        yield from errors
        errors.clear()
        for name in sorted(filenames):
            path = here / name
            reason = _file_skip_reason(path, root, options)
            if reason:
                stats.skip(reason)
            else:
                yield path
    yield from errors


def _skipped_folder(path: Path, root: Path, options: ReadOptions, stats: ReadStats) -> bool:
    if path.name.startswith(".") or path.name in VCS_FOLDERS:
        stats.skip("hidden or VCS folder")
        return True
    if _matches(path, root, options.exclude):
        stats.skip("folder excluded by --exclude")
        return True
    return False


def _file_skip_reason(path: Path, root: Path, options: ReadOptions) -> str | None:
    if path.name.startswith("."):
        return "hidden file"
    if options.include and not _matches(path, root, options.include):
        return "file not matching --include"
    if _matches(path, root, options.exclude):
        return "file excluded by --exclude"
    return None


def _matches(path: Path, root: Path, patterns) -> bool:
    """Whether a glob matches the path under ``root`` (``news/*.html``) or the bare name (``*.html``)."""
    relative = path.relative_to(root).as_posix()
    return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(path.name, p) for p in patterns)


def _stdin_records(stream, options: ReadOptions, stats: ReadStats, stdin_format: str):
    stream = getattr(stream, "buffer", stream)  # a text stream's bytes
    if isinstance(stream, io.TextIOBase):  # a StringIO (tests): its text as bytes
        stream = io.BytesIO(stream.read().encode("utf-8"))

    def choose(source: Source, options: ReadOptions) -> Format:
        if stdin_format != "auto":
            return BY_NAME["jsonl" if stdin_format == "jsonl" else "page"]
        fmt = format_of(source, options)
        if fmt is PAGE and source.head.lstrip()[:1] == b"{":
            return BY_NAME["jsonl"]
        return fmt

    for record in _source_records("stdin", stream, None, options, stats, choose, close_raw=False):
        if record.id == "stdin":
            record.id = "-"  # one page on stdin
        yield record


def url_list(inputs, stdin=None):
    """The URLs to fetch: each input is a URL, a file listing URLs (one a line; blank and ``#`` lines
    skipped; compressed files read too) or ``-`` for such a list on stdin. Unreadable lists and lines that
    are not http(s) URLs come out as error :class:`Record` objects in their place."""
    for item in inputs:
        if _URL.match(item):
            yield item
        elif item == "-":
            stream = stdin or sys.stdin.buffer
            yield from _listed_urls("stdin", getattr(stream, "buffer", stream), close_raw=False)
        elif Path(item).is_file():
            yield from _listed_urls(item, open(item, "rb"), close_raw=True)  # noqa: SIM115 - closed by _listed_urls
        else:
            yield Record(item, error="no such file (with --fetch, give URLs or files that list them)")


def _listed_urls(name: str, raw, close_raw: bool):
    source = None
    try:
        source = Source(name, raw)
        for n, line in enumerate(source.stream, 1):
            url = line.decode("utf-8", errors="replace").strip()
            if url and not url.startswith("#"):
                yield url if _URL.match(url) else Record(f"{name}:{n}", error=f"line {n} is not an http(s) URL: {url[:80]!r}")
    except Exception as e:  # noqa: BLE001 - a corrupt compressed list
        yield Record(f"{name}:read-error", error=f"cannot read {name}: {type(e).__name__}: {e}")
    finally:
        _close(source, raw, close_raw)
