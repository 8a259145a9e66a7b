"""Read a scraped page: decode bytes, detect HTML, and find the article's main text.

The first stages of a page's path: *read* (bytes → text) and *clean* (whole page → article body).
Plain-text pages go through our own line-level extraction (:mod:`klassify.lines`); HTML pages go
through trafilatura first, then through the same line cleaning.

>>> page = read_page("메뉴\\n로그인\\n\\n하남시는 24일 시청 대회의실에서 청렴 교육을 열었다고 밝혔다.\\n무단전재 및 재배포 금지")
>>> page.body
'하남시는 24일 시청 대회의실에서 청렴 교육을 열었다고 밝혔다.'
>>> page.kept_lines
(3,)
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from .lines import LineKind, classify_lines, is_list_item, select_body

MAX_PAGE_CHARS = 2_000_000
"""Longer pages are cut to this many characters before cleaning (memory stays bounded)."""


class PageReadError(ValueError):
    """A page that cannot be read as text (binary data, unknown encoding, wrong type)."""


@dataclass(frozen=True)
class Page:
    """A page after reading and cleaning.

    ``lines`` are the page's text lines (after HTML rendering, for HTML pages); ``kept_lines`` are the
    indices of the lines that make up ``body``, so ``body == "\\n".join(lines[i] for i in kept_lines)``.
    """

    body: str
    title: str | None
    lines: tuple[str, ...]
    kept_lines: tuple[int, ...]
    kinds: tuple[LineKind, ...] = field(repr=False)
    is_html: bool = False
    encoding: str | None = None
    truncated: bool = False
    published: str | None = None  # ISO date from the page's metadata or text, None when unknown
    url: str | None = None  # the page's own canonical URL (HTML metadata), None when it names none

    @property
    def raw_text(self) -> str:
        return "\n".join(self.lines)


def read_page(raw: str | bytes, *, html: bool | None = None, encoding: str | None = None) -> Page:
    """Decode ``raw`` (any common Korean encoding), detect HTML, and extract the article body.

    ``html=None`` detects HTML from the content; ``True``/``False`` forces it. ``encoding`` is a declared
    charset (an HTTP header's), tried first for bytes; bytes it does not decode fall back to detection.
    Raises :class:`PageReadError` (a ``ValueError``) for input that is not text.
    """
    text, encoding = decode(raw, declared=encoding)
    if html is None:
        html = looks_like_html(text)
    if html:
        from .html import strip_scripts

        text = strip_scripts(text)  # before truncation: megabytes of inline script must not push the text out
    truncated = len(text) > MAX_PAGE_CHARS
    if truncated:
        text = text[:MAX_PAGE_CHARS]
    title = published = url = None
    if html:
        from .html import html_to_text

        title, text, published, url = html_to_text(text)
    lines = tuple(line.strip() for line in text.splitlines())
    kinds = classify_lines(lines)
    kept = select_body(lines, kinds)
    if title is None:
        title = guess_title(lines, kinds, kept)
    body = "\n".join(lines[i] for i in kept)
    published = published or find_date(lines)
    return Page(body, title, lines, kept, kinds, bool(html), encoding, truncated, published, url)


def extract_article(raw: str | bytes, *, html: bool | None = None) -> str:
    """Shorthand for ``read_page(raw).body``.

    >>> extract_article("로그인 | 회원가입\\n\\n시는 친절 공무원 10명을 선발해 표창했다고 25일 밝혔다.")
    '시는 친절 공무원 10명을 선발해 표창했다고 25일 밝혔다.'
    """
    return read_page(raw, html=html).body


# --- decoding ---------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BINARY_SIGNATURES = (b"\x89PNG", b"PK\x03\x04", b"%PDF", b"GIF8", b"\xff\xd8\xff", b"\x1f\x8b", b"\x7fELF")


def decode(raw: str | bytes, declared: str | None = None) -> tuple[str, str | None]:
    """Return ``(text, encoding)``; ``encoding`` is None for ``str`` input.

    Order: a byte-order mark, the ``declared`` charset, UTF-8, the page's own ``<meta charset>``, detection.
    """
    if isinstance(raw, str):
        return _check_text(raw), None
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise PageReadError(f"expected str or bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if is_binary(raw):
        raise PageReadError("binary file (image, archive, PDF or executable), not a text page")
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return _check_text(raw.decode(encoding, errors="replace")), encoding
    for encoding in (declared, "utf-8", _meta_charset(raw)):
        text = _strict_decode(raw, encoding)
        if text is not None:
            return _check_text(text), normal_encoding(encoding)
    encoding = _detect_encoding(raw)
    return _check_text(raw.decode(encoding, errors="replace")), encoding


def is_binary(raw: bytes) -> bool:
    """True for bytes that start like an image, archive, PDF or executable."""
    return raw.startswith(_BINARY_SIGNATURES)


def normal_encoding(name: str | None) -> str | None:
    """Python's codec name for a declared charset; EUC-KR and its aliases become CP949 (its superset,
    which sites that declare EUC-KR actually use). None for a name Python does not know.

    >>> normal_encoding("EUC-KR"), normal_encoding("ks_c_5601-1987"), normal_encoding("UTF8"), normal_encoding("x-bogus")
    ('cp949', 'cp949', 'utf-8', None)
    """
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp949" if codec == "euc_kr" else codec


def sniff_encoding(sample: bytes) -> str:
    """The encoding of a stream from its first bytes (a sample that may end mid-character): a BOM,
    then UTF-8, then CP949, then charset-normalizer's guess.

    >>> sniff_encoding("시는 청렴 교육을".encode("cp949")), sniff_encoding("시는".encode()[:-1]), sniff_encoding(b"")
    ('cp949', 'utf-8-sig', 'utf-8-sig')
    """
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    for encoding in ("utf-8-sig", "cp949"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(sample[:200_000]).best()
    return best.encoding if best is not None else "utf-8-sig"


def _strict_decode(raw: bytes, encoding: str | None) -> str | None:
    encoding = normal_encoding(encoding)
    if encoding is None:
        return None
    try:
        return raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)


def _meta_charset(raw: bytes) -> str | None:
    match = _META_CHARSET.search(raw[:4096])
    return match.group(1).decode("ascii") if match else None


def _detect_encoding(raw: bytes) -> str:
    # Korean pages that are not UTF-8 are nearly always CP949 (a superset of EUC-KR); try it strictly
    # before asking charset-normalizer, whose guess on short pages is less reliable. Mostly-UTF-8 bytes
    # with a few broken sequences (a truncated crawl, a pasted fragment) stay UTF-8, with replacements.
    try:
        raw.decode("cp949")
        return "cp949"
    except UnicodeDecodeError:
        pass
    lenient = raw[:200_000].decode("utf-8", errors="replace")
    broken = lenient.count("\ufffd") / max(len(lenient), 1)
    if broken <= 0.1:
        return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:200_000]).best()
    if best is not None:
        return best.encoding
    if broken <= 0.2:
        return "utf-8"
    raise PageReadError("cannot detect the text encoding (binary data?)")


def _check_text(text: str) -> str:
    sample = text[:100_000]
    if sample and len(_CONTROL.findall(sample)) > 0.1 * len(sample):
        raise PageReadError("input looks binary: too many control characters")
    replaced = sample.count("\ufffd")
    if sample and replaced > 0.2 * len(sample):
        raise PageReadError("input does not decode as text: most characters are invalid")
    return _CONTROL.sub("", text)


# --- publication date --------------------------------------------------------------------------

_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*(?:[-./]|년)\s*(\d{1,2})\s*(?:[-./]|월)\s*(\d{1,2})(?!\d)")
_DATE_LABEL = re.compile(r"(입력|등록|작성|게재|발행|보도|배포|기사입력|승인)\s*(일|일자|일시|시간)?\s*[:：]?\s*$")


def find_date(lines, *, head: int = 40) -> str | None:
    """The page's date as ``YYYY-MM-DD``: the first labelled date (입력, 등록일, 작성일...) in its first
    ``head`` lines, else the first date there; None when there is none.

    >>> find_date(["홈 | 뉴스", "2024.03.04 조회 5", "입력 2024.03.05 10:22", "본문"])
    '2024-03-05'
    >>> find_date(["보도일 : 2023년 11월 2일", "본문"]), find_date(["본문 24일 열었다"])
    ('2023-11-02', None)
    """
    import datetime

    found = []
    for line in lines[:head]:
        for match in _DATE.finditer(line):
            try:
                day = datetime.date(*(int(g) for g in match.groups()))
            except ValueError:
                continue
            labelled = bool(_DATE_LABEL.search(line[: match.start()]))
            found.append((not labelled, len(found), day.isoformat()))
    return min(found)[2] if found else None


# --- HTML detection and title -----------------------------------------------------------------

_HTML_HINT = re.compile(r"<(!doctype html|html|head|body|div|p|article|table|span|script|style|meta|a\s)[\s>]", re.I)


def looks_like_html(text: str) -> bool:
    """True when the text is markup rather than a text dump.

    >>> looks_like_html("<html><body><p>안녕</p></body></html>"), looks_like_html("a < b 그리고 c > d")
    (True, False)
    """
    head = text[:5000]
    return len(_HTML_HINT.findall(head)) >= 2 or head.lstrip()[:15].lower().startswith(("<!doctype", "<html"))


def guess_title(lines, kinds, kept) -> str | None:
    """The headline among the short non-boilerplate lines shortly before the body.

    A line that appears twice (sites print the headline twice) wins; otherwise a headline-shaped line
    ("OO시, ..." with no sentence ending) closest to the body; sentences and source notes lose.
    """
    if not kept:
        return None
    start = kept[0]
    candidates = [
        i
        for i in range(max(0, start - 15), start)
        if kinds[i] in (LineKind.TEXT, LineKind.PROSE) and 8 <= len(lines[i]) <= 120 and not is_list_item(lines[i])
    ]
    if not candidates:
        return None
    counts: dict[str, int] = {}
    for i in candidates:
        counts[lines[i]] = counts.get(lines[i], 0) + 1

    def score(i: int) -> tuple:
        line = lines[i]
        return (
            counts[line] > 1,
            bool(_HEADLINE_SHAPE.search(line)) and not _SOURCE_NOTE.search(line),
            kinds[i] is not LineKind.PROSE,
            -abs(start - i) if counts[line] == 1 else -i,
        )

    return lines[max(candidates, key=score)]


_HEADLINE_SHAPE = re.compile(r"^[\[(]?[\w·]{2,12}[\])]?\s*[,…·]|[…'‘’\"“”]")
_SOURCE_NOTE = re.compile(r"제공|원문|출처|기사입니다|보도자료$")
