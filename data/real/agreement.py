#!/usr/bin/env python
"""Agreement between the first labels (data/real/index.jsonl) and blind second labels, and adjudication.

    python data/real/agreement.py data/real/second_labels.jsonl              # kappa, disagreements listed
    python data/real/agreement.py SECOND.jsonl... --apply ADJUDICATION    # write adjudicated labels

Once applied, the index holds final labels; the first labels of adjudicated rows are read back from the
log (``--log``), so the agreement printed is always first labeler against second.

Second-label files hold ``{"id", "label", "secondary", "kind", "note"}`` per line, made without seeing
the first labels. The adjudication log (``data/real/adjudication.jsonl``, committed, no text) holds one
line per disagreement: ``{"id", "first", "second", "final", "reason"}``. ``--apply`` sets each
adjudicated row's label (and ``secondary``/``kind`` when given) in the index and records ``labels: 2``
on every row labeled twice. Cohen's kappa is computed on the primary label, over the rows both labeled.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from klassify.data import iter_jsonl  # noqa: E402
from klassify.labels import LABELS, NOT_ARTICLE  # noqa: E402
from klassify.real import DEFAULT_INDEX, INDEX_FIELDS, read_index  # noqa: E402


def cohen_kappa(first: list[str], second: list[str]) -> float:
    """Cohen's kappa of two labelings of the same items.

    >>> cohen_kappa(["a", "b", "a", "b"], ["a", "b", "a", "b"])
    1.0
    >>> round(cohen_kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]), 3)
    0.0
    """
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second)) / n
    p, q = Counter(first), Counter(second)
    expected = sum(p[k] * q[k] for k in p) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def read_jsonl(paths) -> list[dict]:
    rows = []
    for path in paths:
        rows += [item for _, item in iter_jsonl(path)]
    return rows


def agreement(index: list[dict], second: dict[str, dict], log: dict[str, dict] | None = None) -> dict:
    log = log or {}
    both = [r for r in index if r["id"] in second]
    first_labels = [log[r["id"]]["first"] if r["id"] in log else r["label"] for r in both]
    second_labels = [second[r["id"]]["label"] for r in both]
    is_article = [[label != NOT_ARTICLE for label in labels] for labels in (first_labels, second_labels)]
    return {
        "n": len(both),
        "agreed": sum(a == b for a, b in zip(first_labels, second_labels)),
        "kappa": round(cohen_kappa(first_labels, second_labels), 3),
        "kappa_article": round(cohen_kappa(*is_article), 3),
        "pairs": Counter((a, b) for a, b in zip(first_labels, second_labels) if a != b),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("second", nargs="+", type=Path, help="blind second-label files")
    p.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    p.add_argument("--apply", type=Path, help="adjudication log to apply to the index")
    p.add_argument("--log", type=Path, default=DEFAULT_INDEX.parent / "adjudication.jsonl",
                   help="the applied adjudication log, for the first labels it replaced")
    a = p.parse_args(argv)
    index = read_index(a.index)
    second = {r["id"]: r for r in read_jsonl(a.second)}
    unknown = [label for label in (r.get("label") for r in second.values()) if label not in LABELS]
    if unknown:
        raise SystemExit(f"second labels outside {LABELS}: {sorted(set(unknown))}")
    applied = {d["id"]: d for d in read_jsonl([a.log])} if a.log.exists() and not a.apply else {}
    stats = agreement(index, second, applied)
    print(f"{stats['n']} pages labeled twice: {stats['agreed']} agree; Cohen's kappa {stats['kappa']} "
          f"(7 labels), {stats['kappa_article']} (article or not)")
    for (first, other), n in stats["pairs"].most_common():
        print(f"  first {first:<12} second {other:<12} {n}")
    if not a.apply:
        return 0
    decisions = {d["id"]: d for d in read_jsonl([a.apply])}
    undecided = [r["id"] for r in index if r["id"] in second and second[r["id"]]["label"] != r["label"]
                 and r["id"] not in decisions]
    if undecided:
        raise SystemExit(f"{len(undecided)} disagreements have no adjudication, e.g. {undecided[:3]}")
    changed = Counter()
    for row in index:
        if row["id"] in second:
            row["labels"] = 2
        decision = decisions.get(row["id"])
        if decision is None:
            continue
        if decision["final"] not in LABELS:
            raise SystemExit(f"{row['id']}: final label {decision['final']!r} unknown")
        if decision["final"] != row["label"]:
            changed[(row["label"], decision["final"])] += 1
        row["label"] = decision["final"]
        for field in ("secondary", "kind"):
            if field in decision:
                row[field] = decision[field]
    fields = INDEX_FIELDS + ("labels",)
    tmp = a.index.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in index:
            f.write(json.dumps({k: row[k] for k in fields if k in row}, ensure_ascii=False) + "\n")
    tmp.replace(a.index)
    print(f"applied {len(decisions)} adjudications; {sum(changed.values())} first labels changed: "
          + ", ".join(f"{a}→{b} {n}" for (a, b), n in changed.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
