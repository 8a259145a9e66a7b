"""Labeled data: the hand-written corpus as a ``datasets.DatasetDict``, and real news as extra negatives.

>>> ds = load_dataset()                     # doctest: +SKIP
>>> ds["test"][0]["label"] in LABELS        # doctest: +SKIP
True
"""

from __future__ import annotations

import gzip
import json
import os
import random
from pathlib import Path

from .labels import LABELS

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data" / "labeled"
SPLITS = ("train", "dev", "test")
COLUMNS = ("id", "text", "label", "secondary", "municipality", "split", "source", "year", "style", "clutter")


def default_news_corpus() -> Path:
    """``$KLASSIFY_NEWS_CORPUS``, else ``../shared/corpora/news_ko.jsonl.gz`` beside the repository."""
    env = os.environ.get("KLASSIFY_NEWS_CORPUS")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "corpora" / "news_ko.jsonl.gz"


def iter_jsonl(path: str | os.PathLike):
    """``(line number, object)`` for each non-blank line of a JSONL file.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = p.write_text('{"a": 1}\\n\\n{"a": 2}\\n', encoding="utf-8")
    >>> list(iter_jsonl(p))
    [(1, {'a': 1}), (3, {'a': 2})]
    """
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                yield n, json.loads(line)


def read_labeled(path: str | os.PathLike | None = None, *, include_augmented: bool = True) -> list[dict]:
    """All labeled rows of a JSONL file or of every ``*.jsonl`` in a directory, validated."""
    path = Path(path) if path is not None else DEFAULT_DATA_DIR
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files or not all(f.exists() for f in files):
        raise FileNotFoundError(f"no labeled JSONL found at {path}")
    rows = []
    for file in files:
        for n, row in iter_jsonl(file):
            if row.get("label") not in LABELS:
                raise ValueError(f"{file}:{n}: label {row.get('label')!r} is not one of {LABELS}")
            if not include_augmented and row.get("source") == "augmented":
                continue
            rows.append({key: row.get(key) for key in COLUMNS} | {"secondary": row.get("secondary") or []})
    return rows


def load_dataset(path: str | os.PathLike | None = None, *, include_augmented: bool = True):
    """The labeled corpus as a ``datasets.DatasetDict`` with ``train``, ``dev`` and ``test``.

    ``path`` is a JSONL file or a directory of them (default: the repository's ``data/labeled``).
    Augmented rows (``source == "augmented"``) only ever sit in ``train``.
    """
    import datasets

    rows = read_labeled(path, include_augmented=include_augmented)
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "label": datasets.Value("string"),
            "secondary": datasets.Sequence(datasets.Value("string")),
            "municipality": datasets.Value("string"),
            "split": datasets.Value("string"),
            "source": datasets.Value("string"),
            "year": datasets.Value("int32"),
            "style": datasets.Value("string"),
            "clutter": datasets.Value("bool"),
        }
    )
    by_split = {
        split: datasets.Dataset.from_list([r for r in rows if r["split"] == split], features=features)
        for split in SPLITS
    }
    return datasets.DatasetDict(by_split)


def sample_news(
    n: int,
    *,
    seed: int = 0,
    path: str | os.PathLike | None = None,
    min_chars: int = 300,
    exclude_words: tuple[str, ...] = ("청렴", "서약", "선언식", "친절", "포상금", "신고보상"),
) -> list[dict]:
    """Sample ``n`` real news articles to use as ``other`` at train time (empty list if the file is absent).

    Articles that mention one of ``exclude_words`` are skipped, since they might report one of our five
    initiatives; very short items and schedules (``일정`` in the title) are skipped too. The text is read
    from ``../shared`` at run time and never written into the repository.
    """
    path = Path(path) if path is not None else default_news_corpus()
    if not path.exists() or n <= 0:
        return []
    rng = random.Random(seed)
    reservoir: list[dict] = []
    seen = 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            text, title = item.get("text") or "", item.get("title") or ""
            if len(text) < min_chars or "일정" in title or any(w in text for w in exclude_words):
                continue
            seen += 1
            row = {"id": f"news-{item.get('url', seen)}", "text": f"{title}\n\n{text}", "label": "other", "source": "news"}
            if len(reservoir) < n:
                reservoir.append(row)
            else:
                k = rng.randrange(seen)
                if k < n:
                    reservoir[k] = row
    return reservoir
