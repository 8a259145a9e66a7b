"""Copy groups: syndicated copies of one release share a group; other releases do not; grouping is the
same on every run, so a --resume run continues the groups of the run it resumes."""

import json
import random
import sys
from collections import Counter
from pathlib import Path

import pytest

from klassify.cli import main
from klassify.copies import CopyGrouper, group_copies
from klassify.reading import read_page

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from syndication import load_releases, outlet_copy, synthetic_crawl  # noqa: E402


@pytest.fixture(scope="module")
def releases():
    return load_releases()


def pair_scores(found, truth):
    def pairs(labels):
        return sum(n * (n - 1) // 2 for n in Counter(labels).values())

    both = pairs(list(zip(found, truth)))
    return both / pairs(found), both / pairs(truth)


def test_a_2000_page_crawl_is_counted_as_its_releases(releases):
    # benchmarks/copy_pairs.py measured pair precision 1.0 and recall 0.995 on held-out pairs; the crawl
    # count must agree within those rates (2% on the count, 0.97 on pair precision and recall).
    pages = synthetic_crawl(releases, 2000, random.Random(7))
    found = group_copies([read_page(text).body for _, text, _ in pages], [pid for pid, _, _ in pages])
    truth = [tag for _, _, tag in pages]
    precision, recall = pair_scores(found, truth)
    assert abs(len(set(found)) - len(set(truth))) <= 0.02 * len(set(truth)), (len(set(found)), len(set(truth)))
    assert precision >= 0.97 and recall >= 0.97, (precision, recall)


def test_copies_join_and_same_institution_releases_stay_apart(releases):
    rng = random.Random(3)
    by_owner = {}
    for r in releases:
        by_owner.setdefault((r.institution, r.label), []).append(r)
    a, b = next(v for v in by_owner.values() if len(v) >= 2)[:2]
    bodies = [read_page(t).body for t in (outlet_copy(a, rng), outlet_copy(a, rng), outlet_copy(b, rng, cut=False))]
    assert group_copies(bodies, ["a1", "a2", "b"]) == ["a1", "a1", "b"]


def test_grouping_is_order_deterministic_and_short_bodies_stay_alone():
    text = "하남시는 24일 시청 대회의실에서 전 직원 300명을 대상으로 청렴 교육을 열었다고 밝혔다. 강사는 권익위 전문강사가 맡았다. " * 2
    grouper = CopyGrouper()
    assert [grouper.add(k, b) for k, b in [("x", text), ("y", "짧은 글"), ("z", "짧은 글"), ("w", text + " 끝.")]] == \
        ["x", "y", "z", "x"]
    assert grouper.add("x", "anything else") == "x"  # a key keeps its group
    with pytest.raises(ValueError):
        CopyGrouper(threshold=0)


def test_predict_group_copies_survives_resume(tiny_model, releases, tmp_path, capsys):
    pages = synthetic_crawl([r for r in releases if r.split == "test"], 40, random.Random(5))
    src = tmp_path / "crawl.jsonl"
    src.write_text("".join(json.dumps({"id": pid, "text": text}, ensure_ascii=False) + "\n" for pid, text, _ in pages)
                   + json.dumps({"id": "bad", "text": None}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["predict", str(src), "-o", str(out), "--model", str(tiny_model[0]), "--group-copies", "--batch-size", "7"]
    assert main(args) == 0
    first = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert first[-1]["error"] and first[-1]["group"] is None
    truth = {pid: tag for pid, _, tag in pages}
    groups = [r["group"] for r in first[:-1]]
    assert len(set(groups)) == len(set(truth.values()))
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in first[:17]), encoding="utf-8")
    assert main(args + ["--resume"]) == 0
    capsys.readouterr()
    again = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["group"]) for r in again] == [(r["id"], r["group"]) for r in first]
