"""The real-news check must measure on articles the model never saw in training."""

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from real_news import held_out_news  # noqa: E402

from klassify.data import sample_news  # noqa: E402


def test_real_news_check_leaves_out_the_articles_training_sampled(tmp_path):
    corpus = tmp_path / "news.jsonl.gz"
    with gzip.open(corpus, "wt", encoding="utf-8") as f:
        for i in range(60):
            f.write(json.dumps({"url": f"u{i}", "title": f"기사 {i}", "text": f"{i}번째 기사 본문이다. " * 40}) + "\n")
    args = {"news_negatives": 15, "vocab_news": 20, "seed": 0, "news_path": str(corpus)}
    trained_on = {r["id"] for r in sample_news(15, seed=0, path=corpus)}
    vocabulary = {r["id"] for r in sample_news(20, seed=0, path=corpus)}

    tfidf = held_out_news(30, {"model_type": "tfidf", "training_args": args}, seed=7)
    assert len(tfidf) == 30 and not {r["id"] for r in tfidf} & trained_on
    bert = held_out_news(30, {"model_type": "bert", "training_args": args}, seed=7)
    assert bert and not {r["id"] for r in bert} & (trained_on | vocabulary)
