#!/usr/bin/env python
"""Would a TF-IDF + encoder stack beat each model on real pages? Chosen on real dev, scored on real test.

    python benchmarks/stack.py TFIDF_MODEL BERT_MODEL [--json benchmarks/results/stack.json]

The stack blends the two models' article scores (``a`` = TF-IDF's share) and their conditional initiative
probabilities (``b`` = TF-IDF's share), then cuts at an article threshold ``t`` and weights `other` by ``w``,
as :class:`klassify.Classifier` does for one model. All four are chosen on real dev; real test is printed
for the chosen stack and for each model alone. Use a TF-IDF model that did not see real dev (``train.py
--no-refit-with-dev``), or dev cannot choose. Needs the real-page cache; skips cleanly without it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHARES = tuple(np.round(np.linspace(0, 1, 11), 2))
THRESHOLDS = tuple(np.round(np.arange(0.3, 0.71, 0.05), 2))
OTHER_WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def model_scores(clf, texts: list[str], batch_size: int = 32):
    """→ (article score [N], conditional initiative probabilities [N, 6], has a body [N]), before any cut."""
    from klassify.modeling import _read_all

    pages = _read_all(texts)
    articles, conditionals = [], []
    for start in range(0, len(pages), batch_size):
        _, article, conditional, _ = clf._joint_scores(pages[start:start + batch_size])
        articles.append(article)
        conditionals.append(conditional)
    return np.concatenate(articles), np.vstack(conditionals), np.array([bool(p.body) for p in pages])


def stack_labels(first, second, a: float, b: float, t: float, w: float) -> np.ndarray:
    """Labels of the blend ``a·first + (1-a)·second`` (article score) and ``b·first + (1-b)·second``
    (conditional probabilities), cut at ``t``, `other` weighted by ``w``.

    >>> one = (np.array([0.9]), np.array([[0.6, 0, 0, 0, 0, 0.4]]), np.array([True]))
    >>> two = (np.array([0.2]), np.array([[0.1, 0, 0, 0, 0, 0.9]]), np.array([True]))
    >>> [str(x) for x in (stack_labels(one, two, 1, 1, 0.5, 1)[0], stack_labels(one, two, 0, 0, 0.5, 1)[0],
    ...                   stack_labels(one, two, 1, 0, 0.5, 1)[0])]
    ['education', 'not_article', 'other']
    """
    from klassify.labels import ARTICLE_LABELS, NOT_ARTICLE

    article = a * first[0] + (1 - a) * second[0]
    conditional = b * first[1] + (1 - b) * second[1]
    conditional = conditional * np.where(np.array(ARTICLE_LABELS) == "other", w, 1.0)
    labels = np.array(ARTICLE_LABELS)[conditional.argmax(axis=1)]
    return np.where((article >= t) & first[2], labels, NOT_ARTICLE)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("tfidf")
    p.add_argument("bert")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    a = p.parse_args(argv)
    from klassify import Classifier
    from klassify.evaluation import classification_metrics
    from klassify.real import RealCacheMissing, load_real

    try:
        splits = {s: load_real(s) for s in ("dev", "test")}
    except RealCacheMissing as e:
        print(f"skipped: {e}")
        return 0
    models = {"tfidf": Classifier.load(a.tfidf), "bert": Classifier.load(a.bert)}
    scores = {(name, s): model_scores(clf, [r["text"] for r in rows])
              for name, clf in models.items() for s, rows in splits.items()}
    gold = {s: [r["label"] for r in rows] for s, rows in splits.items()}

    def f1(split, a_, b_, t, w):
        predicted = stack_labels(scores[("tfidf", split)], scores[("bert", split)], a_, b_, t, w)
        return classification_metrics(gold[split], list(predicted))["macro_f1"]

    grid = [(f1("dev", *c), c) for c in itertools.product(SHARES, SHARES, THRESHOLDS, OTHER_WEIGHTS)]
    out = {"dev_pages": len(gold["dev"]), "test_pages": len(gold["test"])}
    for name, keep in (("tfidf alone", lambda c: c[0] == c[1] == 1), ("bert alone", lambda c: c[0] == c[1] == 0),
                       ("stack", lambda c: True)):
        dev, choice = max((g for g in grid if keep(g[1])), key=lambda g: g[0])  # ties: the first in grid order
        test = f1("test", *choice)
        out[name] = {"a": float(choice[0]), "b": float(choice[1]), "threshold": float(choice[2]),
                     "other_weight": choice[3], "real_dev_macro_f1": round(dev, 4), "real_test_macro_f1": round(test, 4)}
        print(f"{name:<12} a={choice[0]:.1f} b={choice[1]:.1f} t={choice[2]:.2f} w={choice[3]}: "
              f"real dev {dev:.4f} ({len(gold['dev'])} pages), real test {test:.4f} ({len(gold['test'])})")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
