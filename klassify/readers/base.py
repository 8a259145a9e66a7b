"""What every reader shares: the :class:`Record` it yields, the :class:`ReadStats` it counts skips in, the
:class:`ReadOptions` it honours and the :class:`Source` (a decompressed, peekable stream) it reads."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

MAX_FILE_BYTES = 50 * 1024 * 1024
"""A page (file, WARC response, download) over this many bytes is an error row, not read."""

CRAWL_EXTRA = "pip install 'klassify[crawl]'"


@dataclass
class Record:
    """One input page: its content (``str``, or ``bytes`` decoded later) or the ``error`` that stopped it."""

    id: str
    content: str | bytes | None = None
    error: str | None = None
    html: bool | None = None  # None: detect from the content
    url: str | None = None
    published: str | None = None
    encoding: str | None = None  # a declared charset (HTTP header), tried first when decoding bytes
    final_url: str | None = None  # after redirects (fetched pages)
    status: int | None = None  # HTTP status (fetched pages, WARC responses)

    @property
    def site(self) -> str | None:
        return site_of(self.url)


def site_of(url: str | None) -> str | None:
    """The host of ``url`` as served (lower-case, no port); None without a URL.

    >>> site_of("https://WWW.Hanam.go.kr:8080/news/view.do?id=5"), site_of(None), site_of("not a url")
    ('www.hanam.go.kr', None, None)
    """
    if not url:
        return None
    try:
        return urlsplit(url.strip()).hostname or None
    except ValueError:
        return None


@dataclass
class ReadStats:
    """Inputs seen but not turned into records (hidden files, WARC revisits...), counted by reason.

    Callers pass one in, readers count into it, and the caller prints :meth:`summary` at the end;
    stats from parallel workers add up with ``+``.
    """

    skipped: Counter = field(default_factory=Counter)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] += n

    def __add__(self, other: "ReadStats") -> "ReadStats":
        return ReadStats(self.skipped + other.skipped)

    def summary(self) -> str:
        """``"2 hidden file, 1 WARC revisit"`` (most frequent first), or ``""`` when nothing was skipped."""
        return ", ".join(f"{n} {reason}" for reason, n in self.skipped.most_common())


@dataclass(frozen=True)
class ReadOptions:
    text_field: str = "text"
    id_field: str = "id"
    encoding: str | None = None  # forces the text encoding of CSV, JSONL and page files
    include: tuple[str, ...] = ()  # globs a directory's files must match (any of them), if given
    exclude: tuple[str, ...] = ()  # globs whose matching files and folders a directory walk skips


class MissingExtra(Exception):
    """A format whose optional dependency is not installed."""


class Source:
    """An input opened for reading: ``head`` is the start of its decompressed bytes, ``stream`` (opened on
    first use) all of them, and ``raw`` the bytes as stored (for readers that undo gzip themselves)."""

    def __init__(self, name: str, raw: BinaryIO, path: Path | None = None):
        self.name, self.path = name, path
        self.raw = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
        start = self.raw.peek(8)[:8]
        self.compression = next((kind for magic, kind in COMPRESSION_MAGIC if start.startswith(magic)), None)
        self.head = _decompressed_head(self.raw.peek(HEAD_BYTES), self.compression)
        self._stream = None

    @property
    def stream(self) -> BinaryIO:
        if self._stream is None:
            self._stream = _decompressed(self.raw, self.compression) if self.compression else self.raw
        return self._stream

    @property
    def suffix(self) -> str:
        """The name's suffix without a compression suffix: ``crawl.jsonl.gz`` → ``.jsonl``."""
        name = self.name.lower()
        for ext in COMPRESSION_SUFFIXES:
            if name.endswith(ext):
                name = name[: -len(ext)]
                break
        return Path(name).suffix

    def close(self, *, raw: bool = True) -> None:
        """Close the decompressor, and the input itself if ``raw``."""
        if self._stream is not None and self._stream is not self.raw:
            self._stream.close()  # it leaves ``raw`` open
        if raw:
            self.raw.close()


COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zstd")
COMPRESSION_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))
HEAD_BYTES = 64 * 1024


def _decompressed_head(start: bytes, compression: str | None) -> bytes:
    """Up to :data:`HEAD_BYTES` of the decompressed start (``b""`` if it does not decompress: the
    stream's reader reports that)."""
    if compression is None:
        return start[:HEAD_BYTES]
    try:
        if compression == "gzip":
            import zlib

            return zlib.decompressobj(wbits=31).decompress(start, HEAD_BYTES)
        if compression == "bzip2":
            import bz2

            return bz2.BZ2Decompressor().decompress(start, HEAD_BYTES)
        if compression == "xz":
            import lzma

            return lzma.LZMADecompressor().decompress(start, HEAD_BYTES)
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(start)).read(HEAD_BYTES)
    except Exception:  # noqa: BLE001 - corrupt or cut data (zlib, OS, lzma, zstd errors) or no zstandard
        return b""


def _decompressed(raw: BinaryIO, compression: str):
    if compression == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=raw)
    if compression == "bzip2":
        import bz2

        return bz2.BZ2File(raw)
    if compression == "xz":
        import lzma

        return lzma.LZMAFile(raw)
    try:
        import zstandard
    except ImportError:
        raise MissingExtra(f"reading .zst needs zstandard: {CRAWL_EXTRA}") from None
    return io.BufferedReader(_ZstdFrames(raw, zstandard.ZstdDecompressor()))


class _ZstdFrames(io.RawIOBase):
    """The decompressed bytes of a stream of zstd frames. Unlike zstandard's ``stream_reader``, which ends
    quietly where the data is cut, a frame that does not end raises, so a cut file is an error row rather
    than fewer records (or none)."""

    def __init__(self, raw: BinaryIO, decompressor):
        self.raw, self.decompressor = raw, decompressor
        self.frame, self.in_frame = decompressor.decompressobj(), False
        self.pending, self.at = b"", 0  # decompressed bytes not yet handed out start at ``at``

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self.at == len(self.pending):
            chunk = self.raw.read(64 * 1024)
            if not chunk:
                if self.in_frame:
                    raise ValueError("the zstd data is cut or corrupt: its last frame does not end")
                return 0
            self.pending, self.at = self._decompress(chunk), 0
        n = min(len(buffer), len(self.pending) - self.at)
        buffer[:n] = memoryview(self.pending)[self.at:self.at + n]
        self.at += n
        return n

    def _decompress(self, chunk: bytes) -> bytes:
        out = []
        while chunk:
            self.in_frame = True
            out.append(self.frame.decompress(chunk))
            if not self.frame.eof:
                break
            chunk, self.in_frame = self.frame.unused_data, False
            self.frame = self.decompressor.decompressobj()
        return b"".join(out)
