import statistics
from collections import Counter

import pytest

from klassify.data import load_dataset, read_labeled, sample_news
from klassify.labels import LABELS, NOT_ARTICLE
from klassify.near_duplicates import near_duplicate_pairs

REQUIRED = ("id", "text", "label", "secondary", "municipality", "split", "source")


def test_schema(written_rows, augmented_rows):
    rows = written_rows + augmented_rows
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    for r in rows:
        assert all(k in r for k in REQUIRED), r["id"]
        assert r["label"] in LABELS
        assert isinstance(r["secondary"], list) and all(s in LABELS and s != r["label"] for s in r["secondary"])
        assert r["split"] in ("train", "dev", "test")
        assert isinstance(r["text"], str) and r["text"].strip()
    assert {r["source"] for r in written_rows} == {"written"}
    assert {r["source"] for r in augmented_rows} == {"augmented"}


def test_counts_per_label(written_rows):
    counts = Counter((r["label"], r["split"]) for r in written_rows)
    for label in LABELS:
        assert sum(counts[(label, s)] for s in ("train", "dev", "test")) >= 80, label
        assert counts[(label, "dev")] >= 15 and counts[(label, "test")] >= 15, label


def test_augmented_rows_are_train_only_and_derive_from_train(written_rows, augmented_rows):
    split_of = {r["id"]: r["split"] for r in written_rows}
    for r in augmented_rows:
        assert r["split"] == "train"
        if r.get("parent"):
            assert split_of[r["parent"]] == "train"


def test_diversity(written_rows):
    municipalities = {r["municipality"] for r in written_rows if r["municipality"]}
    assert len(municipalities) >= 150
    years = {r["year"] for r in written_rows if r["year"]}
    assert min(years) <= 2006 and max(years) >= 2025 and len(years) >= 18
    articles = [r for r in written_rows if r["label"] != NOT_ARTICLE]
    assert statistics.median(len(r["text"]) for r in articles) >= 500
    assert sum(r["clutter"] for r in articles) >= len(articles) / 3
    lengths = [len(r["text"]) for r in articles]
    assert sum(l < 400 for l in lengths) >= 40 and sum(l >= 2000 for l in lengths) >= 40


def test_no_event_or_near_duplicate_crosses_splits(written_rows):
    event_split = {}
    for r in written_rows:
        if r["municipality"]:
            key = (r["municipality"], r["label"])
            assert event_split.setdefault(key, r["split"]) == r["split"], key
    texts = [r["text"] for r in written_rows]
    for i, j, sim in near_duplicate_pairs(texts):
        assert written_rows[i]["split"] == written_rows[j]["split"], (written_rows[i]["id"], written_rows[j]["id"], sim)


def test_load_dataset_returns_splits(written_rows):
    ds = load_dataset()
    assert set(ds) == {"train", "dev", "test"}
    assert len(ds["dev"]) == sum(r["split"] == "dev" for r in written_rows)
    assert set(ds["test"]["source"]) == {"written"}
    assert set(ds["train"]["source"]) == {"written", "augmented"}
    assert len(load_dataset(include_augmented=False)["train"]) == sum(r["split"] == "train" for r in written_rows)


def test_read_labeled_rejects_bad_label(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "t", "label": "news", "split": "test"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="label"):
        read_labeled(bad)


def test_sample_news_skips_cleanly_when_absent(tmp_path):
    assert sample_news(10, path=tmp_path / "missing.jsonl.gz") == []


def test_sample_news_is_deterministic_when_present():
    first = sample_news(5, seed=1)
    if not first:
        pytest.skip("../shared/corpora is absent")
    assert [r["id"] for r in first] == [r["id"] for r in sample_news(5, seed=1)]
    assert all(r["label"] == "other" and "청렴" not in r["text"] for r in first)
