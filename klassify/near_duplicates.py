"""Near-duplicate detection by character-shingle Jaccard similarity (used to keep splits leak-free)."""

from __future__ import annotations

import zlib

NEAR_DUPLICATE_JACCARD = 0.5


def shingles(text: str, k: int = 5) -> frozenset[int]:
    """Hashed character k-grams of the whitespace-normalised text.

    >>> len(shingles("가나다라마바")), len(shingles("가나다"))
    (2, 1)
    """
    norm = " ".join(text.split())
    if len(norm) <= k:
        return frozenset({zlib.crc32(norm.encode())})
    return frozenset(zlib.crc32(norm[i : i + k].encode()) for i in range(len(norm) - k + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def near_duplicate_pairs(texts, threshold: float = NEAR_DUPLICATE_JACCARD):
    """All pairs ``(i, j, similarity)`` with ``i < j`` whose shingle Jaccard is at least ``threshold``.

    Exact and quadratic: fine for the few thousand pages of a labeled corpus.

    >>> list(near_duplicate_pairs(["청렴 교육을 열었다", "청렴 교육을 열었다!", "친절 공무원 선발"]))
    [(0, 1, 0.8571)]
    """
    sets = [shingles(t) for t in texts]
    sizes = [len(s) for s in sets]
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            # |A∩B|/|A∪B| <= min/max, so skip pairs whose sizes alone rule them out.
            small, big = sorted((sizes[i], sizes[j]))
            if big == 0 or small / big < threshold:
                continue
            sim = jaccard(sets[i], sets[j])
            if sim >= threshold:
                yield i, j, round(sim, 4)
