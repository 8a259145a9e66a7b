"""WARC archives (plain or gzipped per record, as wget, Heritrix, Browsertrix and Common Crawl write them).

Read with warcio: it streams one record at a time, undoes chunked and gzip HTTP bodies, and moves on
gzip member by member. Every ``response`` with status 200 and an HTML or text content type is a record
(id = ``WARC-Target-URI``); everything else is counted in the stats. A record cut short or a header that
does not parse gives one error row and ends the file (the next record's start cannot be trusted).
"""

from __future__ import annotations

from .base import CRAWL_EXTRA, MAX_FILE_BYTES, ReadOptions, ReadStats, Record, Source

TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


def warc_records(source: Source, options: ReadOptions, stats: ReadStats):
    try:
        from warcio.archiveiterator import ArchiveIterator
    except ImportError:
        yield Record(source.name, error=f"reading WARC needs warcio: {CRAWL_EXTRA}")
        return
    # warcio undoes gzip itself, member by member; other compressions are undone for it.
    archive = ArchiveIterator(source.raw if source.compression == "gzip" else source.stream)
    while True:
        try:
            record = next(archive, None)
        except Exception as e:  # noqa: BLE001 - warcio raises many types (even AttributeError) on a torn header
            yield _broken(source, archive, f"{type(e).__name__}: {e}")
            return
        if record is None:
            return
        if record.rec_type is None or record.length is None:
            yield _broken(source, archive, "record header is incomplete")
            return
        reason = _skip_reason(record)
        if reason:
            stats.skip(reason)
            continue
        uri = record.rec_headers.get_header("WARC-Target-URI") or f"{source.name}@{archive.get_record_offset()}"
        body = record.content_stream().read(MAX_FILE_BYTES + 1)
        if len(body) > MAX_FILE_BYTES:
            yield Record(uri, error=f"response is over the {MAX_FILE_BYTES // 2**20} MiB limit", url=uri, status=200)
            continue
        missing = getattr(record.raw_stream, "limit", 0)
        if missing:  # the archive ends inside this record
            yield Record(uri, error=f"WARC record is truncated: {source.name} ends {missing} bytes short of its end",
                         url=uri, status=200)
            return
        content_type = record.http_headers.get_header("Content-Type") or ""
        yield Record(uri, body, html=True if "html" in content_type.lower() else None, url=uri,
                     encoding=_charset(content_type), status=200)


def _skip_reason(record) -> str | None:
    if record.rec_type != "response":
        return f"WARC {record.rec_type}"
    headers = record.http_headers
    if headers is None:
        return "WARC response without HTTP headers"
    status = headers.get_statuscode()
    if status != "200":
        return f"WARC response with status {status}"
    content_type = (headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type and content_type not in TEXT_TYPES:
        return f"WARC response of type {content_type}"
    return None


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def _broken(source: Source, archive, why: str) -> Record:
    offset = getattr(archive, "offset", None)
    where = f"after byte {offset}" if offset is not None else "at its end"
    why = "".join(c if c.isprintable() else "?" for c in why)[:160]
    return Record(f"{source.name}:broken", error=f"WARC record {where} cannot be read ({why}); rest of {source.name} skipped")
