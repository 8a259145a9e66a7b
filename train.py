#!/usr/bin/env python
"""Train a klassify model: fit on train, select on dev, report on test.

    python train.py --model tfidf [--data data/labeled] [--out models/tfidf] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys

from klassify.training import TrainingArguments, train


def parse_args(argv=None) -> TrainingArguments:
    defaults = TrainingArguments()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=defaults.model, choices=["tfidf"], help="which model to train")
    p.add_argument("--data", default=None, help="labeled JSONL file or directory (default: data/labeled)")
    p.add_argument("--out", default=None, help="model directory to write (default: models/<model>)")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--news-negatives", type=int, default=defaults.news_negatives,
                   help="real news articles from ../shared/corpora shown to the article detector (0 = none; skipped if absent)")
    p.add_argument("--news-as-other", action="store_true", help="also train the initiative model on them as `other`")
    p.add_argument("--news-path", default=None, help="news JSONL.gz (default: ../shared/corpora/news_ko.jsonl.gz)")
    p.add_argument("--c-grid", default=",".join(map(str, defaults.c_grid)), help="SVM C values tried on dev")
    p.add_argument("--morpheme-chars", type=int, default=defaults.morpheme_chars,
                   help="characters of each text analysed by kiwi (speed/accuracy trade-off)")
    p.add_argument("--no-augmented", action="store_true", help="ignore augmented training rows")
    p.add_argument("--seeds-dir", default=None, help="seed pages to report on (default: ../shared/seeds)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    return TrainingArguments(
        model=a.model, data=a.data, out=a.out, seed=a.seed, news_negatives=a.news_negatives, news_path=a.news_path,
        news_as_other=a.news_as_other,
        c_grid=tuple(float(c) for c in a.c_grid.split(",")), morpheme_chars=a.morpheme_chars,
        include_augmented=not a.no_augmented, seeds_dir=a.seeds_dir, quiet=a.quiet,
    )


def main(argv=None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
