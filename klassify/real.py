"""Real public web pages: the committed index (``data/real/index.jsonl``) and the git-ignored text cache.

Real pages are copyrighted, so the repository holds only their index (url, label, split, kind, the query
that finds each page again, the sha256 of its text). The texts live in a cache that
``data/real/materialize.py`` rebuilds from search answers: ``$KLASSIFY_REAL_PAGES`` or
``data/real/texts.jsonl``. Everything here works without the cache: :func:`load_real` raises
:class:`RealCacheMissing` with one clear line, and callers skip.

>>> rows = load_real(split="dev")               # doctest: +SKIP
>>> rows[0]["label"] in LABELS and "text" in rows[0]   # doctest: +SKIP
True
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import warnings
from pathlib import Path

from .data import iter_jsonl
from .labels import LABELS

REPO_ROOT = Path(__file__).resolve().parent.parent
REAL_DIR = REPO_ROOT / "data" / "real"
DEFAULT_INDEX = REAL_DIR / "index.jsonl"
SPLITS = ("train", "dev", "test")
INDEX_FIELDS = ("id", "url", "label", "secondary", "split", "kind", "hard_negative", "group", "query", "rank",
                "site", "note", "chars", "sha256", "parts", "wave")


class RealCacheMissing(FileNotFoundError):
    """The real-page text cache is absent (CI, a new machine): see data/README.md to rebuild it."""


def text_sha256(text: str) -> str:
    """The sha256 recorded in the index: of the text exactly as the search returned it, UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_parts(text: str) -> list[str]:
    """Short hashes of the text's sentences and lines, stored in the index as ``parts``.

    They let a re-copied text that differs by a slip of a few characters be told apart from a different
    text (one or two parts differ, not all), without keeping any of the text.

    >>> text_parts("가나다. 라마\\n바사") == text_parts("가나다. 라마\\n바사")
    True
    >>> len(text_parts("가나다. 라마\\n바사"))
    3
    """
    pieces = [p for p in re.split(r"(?<=[.!?\n])", text) if p.strip()]
    return [hashlib.sha256(p.strip().encode("utf-8")).hexdigest()[:8] for p in pieces]


def compare_text(text: str, row: dict) -> str:
    """``"exact"`` when ``text`` hashes to the row's sha256, ``"slip"`` when it differs from the indexed
    text by a copying slip (at most 8 characters in length, at most 2 sentences and a quarter of them),
    else ``"different"``."""
    if text_sha256(text) == row["sha256"]:
        return "exact"
    expected, got = row.get("parts") or [], text_parts(text)
    if not expected or abs(len(text) - int(row.get("chars", 0))) > 8:
        return "different"
    matcher = difflib.SequenceMatcher(None, expected, got, autojunk=False)
    differing = max(len(expected), len(got)) - sum(b.size for b in matcher.get_matching_blocks())
    return "slip" if differing <= min(2, max(1, len(expected) // 4)) else "different"


def default_cache() -> Path:
    """``$KLASSIFY_REAL_PAGES``, else ``data/real/texts.jsonl``."""
    env = os.environ.get("KLASSIFY_REAL_PAGES")
    return Path(env) if env else REAL_DIR / "texts.jsonl"


def read_index(path: str | os.PathLike | None = None) -> list[dict]:
    """The index rows, validated (label, split, unique ids)."""
    path = Path(path) if path is not None else DEFAULT_INDEX
    rows, seen = [], set()
    for n, row in iter_jsonl(path):
        if row.get("label") not in LABELS:
            raise ValueError(f"{path}:{n}: label {row.get('label')!r} is not one of {LABELS}")
        if row.get("split") not in SPLITS:
            raise ValueError(f"{path}:{n}: split {row.get('split')!r} is not one of {SPLITS}")
        if row["id"] in seen:
            raise ValueError(f"{path}:{n}: duplicate id {row['id']}")
        seen.add(row["id"])
        rows.append(row)
    return rows


def read_cache(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """``{id: {"text", "sha256", ...}}`` from the cache; :class:`RealCacheMissing` when there is none."""
    path = Path(path) if path is not None else default_cache()
    if not path.exists():
        raise RealCacheMissing(
            f"no real-page text cache at {path} (texts are copyrighted and not in the repository; "
            "rebuild it as data/README.md explains, or set KLASSIFY_REAL_PAGES)")
    return {item["id"]: item for _, item in iter_jsonl(path)}


#: A publisher's notice reserving its text from AI training, as Korean news sites print it under their
#: articles ("무단전재 및 재배포, AI 학습 및 활용 금지", "AI학습 이용 금지").
AI_RESERVATION = re.compile(r"(?:AI|인공지능)\s*(?:학습|훈련)[^\n]{0,20}?금지")


def ai_reserved_sites(rows) -> set[str]:
    r"""Sites that print an AI-training reservation on any of ``rows``' texts. The notice is the publisher's, so
    it covers that site's pages whose excerpt stops before it.

    >>> sorted(ai_reserved_sites([{"site": "a.kr", "text": "기사 본문\n무단전재 및 재배포, AI학습 이용 금지"},
    ...                           {"site": "b.kr", "text": "AI 학습 지원 사업을 시작했다."}]))
    ['a.kr']
    """
    return {row.get("site") for row in rows if AI_RESERVATION.search(row["text"])} - {None}


def is_ai_reserved(row: dict, reserved_sites) -> bool:
    """Whether a publisher reserved this page from AI training: a notice in its text, or a reserved site."""
    return row.get("site") in reserved_sites or bool(AI_RESERVATION.search(row["text"]))


def without_ai_reserved(rows, reserved_sites) -> tuple[list[dict], int]:
    """``rows`` less those :func:`is_ai_reserved` → ``(kept, how many were left out)``."""
    kept = [row for row in rows if not is_ai_reserved(row, reserved_sites)]
    return kept, len(rows) - len(kept)


def load_real(split: str | None = None, *, index: str | os.PathLike | None = None,
              cache: str | os.PathLike | None = None, warn: bool = True) -> list[dict]:
    """Index rows joined with their cached texts, in the same shape as :func:`klassify.data.read_labeled`.

    ``split`` is ``train``, ``dev``, ``test`` or ``None``/``"all"``. Rows whose text is missing from the
    cache, or whose cached text was not verified against the index's sha256, are left out and counted in
    one warning, never used silently.
    """
    texts = read_cache(cache)
    rows, missing, unverified = [], 0, 0
    for row in read_index(index):
        if split not in (None, "all") and row["split"] != split:
            continue
        item = texts.get(row["id"])
        if item is None:
            missing += 1
            continue
        if compare_text(item["text"], row) == "different":
            unverified += 1
            continue
        rows.append({**row, "text": item["text"], "secondary": row.get("secondary") or [], "source": "real",
                     "municipality": None, "year": None, "style": row.get("kind"), "clutter": None})
    if warn and (missing or unverified):
        warnings.warn(f"real pages: {missing} rows have no cached text and {unverified} cached texts do not match "
                      f"the index; {len(rows)} used (run data/real/materialize.py to rebuild the cache)", stacklevel=2)
    return rows


def load_real_dataset(**kwargs):
    """The real pages as a ``datasets.DatasetDict`` (``train``, ``dev``, ``test``)."""
    import datasets

    rows = load_real(**kwargs)
    columns = ("id", "text", "label", "secondary", "split", "kind", "url", "site", "group")
    return datasets.DatasetDict({
        split: datasets.Dataset.from_list([{c: r.get(c) for c in columns} for r in rows if r["split"] == split])
        for split in SPLITS
    })
