#!/usr/bin/env python
"""How often a model finds an initiative in real news that reports none, against what a score cut costs.

    python benchmarks/real_news.py [--model tfidf] [--articles 3000] [--json benchmarks/results/real_news.json]

Our labeled pages are written by us; real crawls are mostly ordinary news. This samples ``--articles``
real articles from ``../shared/corpora/news_ko.jsonl.gz`` that mention none of the integrity words
(청렴, 서약, 친절…: the filter of :func:`klassify.data.sample_news`) and that the model did not see in training,
and counts what the model calls them. Nearly all of them are `other`: any initiative label is almost
surely a false positive (read a sample with ``--show``; titles go to the terminal only, never to a file).

Printed, for no cut and for cuts 0.5 / 0.7 / 0.9 on the predicted label's score: the share of the real articles
labelled as an initiative, and the share of the dev split's initiative pages still found (right label,
score at or above the cut). Skips cleanly without ``../shared``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CUTS = (0.0, 0.5, 0.7, 0.9)


def held_out_news(n: int, manifest: dict, seed: int) -> list[dict]:
    """``n`` filtered news articles that are not among those the model's training sampled."""
    from klassify.data import sample_news

    args = manifest.get("training_args", {})
    news_path, train_seed = args.get("news_path"), args.get("seed", 0)
    seen = {r["id"] for r in sample_news(args.get("news_negatives", 0), seed=train_seed, path=news_path)}
    if manifest.get("model_type") == "bert":  # pieces of these articles decided the vocabulary
        seen |= {r["id"] for r in sample_news(args.get("vocab_news", 0), seed=train_seed, path=news_path)}
    pool = sample_news(n + len(seen), seed=seed, path=news_path)
    return [r for r in pool if r["id"] not in seen][:n]


def main(argv=None) -> int:
    from klassify import Classifier
    from klassify.data import default_news_corpus, read_labeled
    from klassify.labels import INITIATIVES

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="model name or directory (default: the shipped default)")
    p.add_argument("--articles", type=int, default=3000)
    p.add_argument("--seed", type=int, default=7, help="which real articles are sampled")
    p.add_argument("--show", action="store_true", help="print the title of every article given an initiative")
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "real_news.json"))
    a = p.parse_args(argv)
    if not default_news_corpus().exists():
        print(f"skipped: {default_news_corpus()} is absent")
        return 0

    clf = Classifier.load(a.model)
    news = held_out_news(a.articles, clf.manifest, a.seed)
    predictions = clf.predict([r["text"] for r in news], batch_size=64, show_progress_bar=sys.stderr.isatty())
    dev = [r for r in read_labeled(include_augmented=False) if r["split"] == "dev" and r["label"] in INITIATIVES]
    dev_predictions = clf.predict([r["text"] for r in dev], batch_size=64)

    labels = Counter(pr.label for pr in predictions)
    result = {"model": str(clf.path), "articles": len(news), "labels": dict(labels.most_common()),
              "dev_initiative_pages": len(dev), "cuts": {}}
    print(f"{len(news)} held-out real news articles without integrity words; model {clf.path}")
    print("labels: " + ", ".join(f"{label} {count} ({count / len(news):.1%})" for label, count in labels.most_common()))
    print(f"{'score cut':>9}  {'news given an initiative':>24}  {'dev initiative pages found':>26}")
    for cut in CUTS:
        flagged = sum(pr.label in INITIATIVES and pr.score >= cut for pr in predictions)
        found = sum(pr.label == r["label"] and pr.score >= cut for r, pr in zip(dev, dev_predictions))
        result["cuts"][str(cut)] = {"news_initiative_rate": round(flagged / len(news), 4),
                                    "dev_initiative_recall": round(found / len(dev), 4)}
        news_part = f"{flagged} ({flagged / len(news):.1%})"
        dev_part = f"{found} of {len(dev)} ({found / len(dev):.1%})"
        print(f"{cut:>9}  {news_part:>24}  {dev_part:>26}")
    if a.show:
        for r, pr in zip(news, predictions):
            if pr.label in INITIATIVES:
                print(f"{pr.label:<12}{pr.score:.2f}  {r['text'].splitlines()[0][:70]}")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
