"""Page files: the whole (decompressed) file is one page, decoded and cleaned later by :mod:`klassify.reading`."""

from __future__ import annotations

from ..reading import is_binary
from .base import MAX_FILE_BYTES, ReadOptions, ReadStats, Record, Source

HTML_SUFFIXES = {".html", ".htm", ".xhtml", ".shtml"}


def page_records(source: Source, options: ReadOptions, stats: ReadStats):
    if source.path is not None and source.compression is None:
        size = source.path.stat().st_size
        if size > MAX_FILE_BYTES:
            yield Record(source.name, error=too_big(size))
            return
    data = source.stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        yield Record(source.name, error=too_big(len(data), "at least "))
        return
    html = True if source.suffix in HTML_SUFFIXES else None
    yield Record(source.name, forced_text(data, options.encoding), html=html)


def too_big(size: int, prefix: str = "") -> str:
    return f"file is {prefix}{size / 1e6:.0f} MB, over the {MAX_FILE_BYTES // 2**20} MiB limit"


def forced_text(data: bytes, encoding: str | None):
    """``data`` decoded with a forced ``--encoding`` (binary files stay bytes, to be reported as such)."""
    if encoding is None or is_binary(data):
        return data
    return data.decode(encoding, errors="replace")
