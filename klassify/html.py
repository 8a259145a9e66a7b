"""HTML pages: main text and title via trafilatura, with a plain rendering when it finds none."""

from __future__ import annotations

import re

_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6]|/td|/th|/article|/section|/header|/footer|/ul|/ol|/table|/title)\b[^>]*>", re.I)
_SCRIPT = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.I | re.S)
_UNCLOSED_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*\Z", re.I | re.S)
_TAG = re.compile(r"<[^>]*>", re.S)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


def html_to_text(markup: str) -> tuple[str | None, str, str | None, str | None]:
    """Return ``(title, text, published, url)``: trafilatura's main text, or every visible line when it
    finds none, with the page's date (``YYYY-MM-DD``) and canonical URL from its metadata (None if absent)."""
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(markup, with_metadata=True, include_comments=False, include_tables=False)
    except Exception:  # trafilatura/lxml raise many types on malformed markup; fall back to rendering
        doc = None
    text = getattr(doc, "text", None) if doc is not None else None
    title = getattr(doc, "title", None) if doc is not None else None
    published = getattr(doc, "date", None) if doc is not None else None
    url = getattr(doc, "url", None) if doc is not None else None
    if not text or "\n" not in text.strip():
        # Nothing found, or trafilatura's fallback flattened the page into one line: our own rendering
        # keeps the paragraph breaks that line-level cleaning needs.
        text = render_text(markup)
    return (title or _raw_title(markup)), text, published, url


def strip_scripts(markup: str) -> str:
    """Markup without script, style, noscript and template blocks (an unclosed one runs to the end)."""
    return _UNCLOSED_SCRIPT.sub(" ", _SCRIPT.sub(" ", markup))


def render_text(markup: str) -> str:
    """All visible text of the markup, one line per block element (no parser: never fails)."""
    import html as html_lib

    markup = _SCRIPT.sub(" ", markup)
    markup = _BLOCK_TAGS.sub("\n", markup)
    text = html_lib.unescape(_TAG.sub(" ", markup))
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def _raw_title(markup: str) -> str | None:
    import html as html_lib

    match = _TITLE.search(markup[:20000])
    if not match:
        return None
    title = " ".join(html_lib.unescape(match.group(1)).split())
    return title or None
