#!/usr/bin/env python
"""Choose the copy-group threshold on labeled pairs, and measure it on pairs it was not chosen on.

    python benchmarks/copy_pairs.py [--copies 3] [--seed 0] [--json benchmarks/results/copy_pairs.json]

Pairs are built from the written corpus (our own text), each page read and cleaned as ``predict`` does:

* copies (positive): two outlet copies of one release, or the release and one copy (different boilerplate,
  headline and byline; cut short or reworded in about half: see ``syndication.py``);
* same institution (negative): two different releases of the same kind (label) from the same institution,
  each as printed by the *same* outlet, so they share its boilerplate too;
* nearest release (negative): each release against the most similar *other* release of the same kind
  (exact shingle Jaccard), the hardest natural negative the corpus holds.

The threshold is chosen for the best F1 on pairs from dev releases; precision and recall are reported on
pairs from test releases. Then a synthetic crawl of test releases (1 to 12 copies each) is grouped, and the
number of groups found is compared with the number of releases.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syndication import load_releases, outlet_copy, synthetic_crawl  # noqa: E402

from klassify.copies import CopyGrouper, shingle_hashes  # noqa: E402
from klassify.reading import read_page  # noqa: E402

GRID = [round(0.05 * i, 2) for i in range(2, 19)]


def body(text: str) -> str:
    return read_page(text).body


def build_pairs(releases, rng, copies: int):
    """``[(kind, same, body_a, body_b)]`` for the releases of one split."""
    pairs = []
    for r in releases:
        texts = [body("\n\n".join([r.title, *r.paragraphs]))] + [body(outlet_copy(r, rng)) for _ in range(copies)]
        pairs += [("copies", True, a, b) for a, b in itertools.combinations(texts, 2)]
    by_owner = defaultdict(list)
    for r in releases:
        if r.institution:
            by_owner[(r.institution, r.label)].append(r)
    for group in by_owner.values():
        for a, b in itertools.combinations(group, 2):
            outlet = rng.choice(["한빛일보", "누리통신", "중부투데이"])
            pairs.append(("same institution", False, body(outlet_copy(a, rng, outlet, cut=False)),
                          body(outlet_copy(b, rng, outlet, cut=False))))
    pairs += nearest_release_pairs(releases)
    return pairs


def nearest_release_pairs(releases):
    from klassify.near_duplicates import jaccard

    bodies = [body("\n\n".join([r.title, *r.paragraphs])) for r in releases]
    sets = [frozenset(shingle_hashes(b)) for b in bodies]
    out = []
    for i, r in enumerate(releases):
        others = [j for j, s in enumerate(releases) if j != i and s.label == r.label]
        if others:
            j = max(others, key=lambda j: jaccard(sets[i], sets[j]))
            out.append(("nearest release", False, bodies[i], bodies[j]))
    return out


def similarities(pairs):
    """``[(kind, same, estimated Jaccard)]`` of each pair of bodies."""
    signer = CopyGrouper()
    out = []
    for kind, same, a, b in pairs:
        sa, sb = signer.sign(a), signer.sign(b)
        out.append((kind, same, 0.0 if sa is None or sb is None else sa.jaccard(sb), (sa, sb)))
    return out


def grouped_by_index(sims, threshold):
    """``[(kind, same, 1.0 or 0.0)]``: did a CopyGrouper (LSH candidates included) put the pair together?"""
    out = []
    for kind, same, _, (sa, sb) in sims:
        grouper = CopyGrouper(threshold)
        grouper.add("a", signature=sa)
        together = sa is not None and sb is not None and grouper.add("b", signature=sb) == "a"
        out.append((kind, same, 1.0 if together else 0.0, None))
    return out


def scores(sims, threshold):
    tp = sum(1 for _, same, s, _ in sims if same and s >= threshold)
    fp = sum(1 for _, same, s, _ in sims if not same and s >= threshold)
    fn = sum(1 for _, same, s, _ in sims if same and s < threshold)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0, 4),
            "tp": tp, "fp": fp, "fn": fn}


def by_kind(sims, threshold):
    out = {}
    for kind in sorted({s[0] for s in sims}):
        sub = [s for s in sims if s[0] == kind]
        hits = sum(1 for s in sub if s[2] >= threshold)
        out[kind] = {"pairs": len(sub), "grouped": hits, "share_grouped": round(hits / len(sub), 4)}
    return out


def crawl_counts(releases, threshold, n_pages, rng):
    """Group a synthetic crawl; pairwise precision/recall of the groups and the group count."""
    pages = synthetic_crawl(releases, n_pages, rng)
    grouper = CopyGrouper(threshold)
    t = time.perf_counter()
    found = [grouper.add(pid, body(text)) for pid, text, _ in pages]
    seconds = time.perf_counter() - t
    truth = [tag for _, _, tag in pages]
    return {"pages": len(pages), "releases": len(set(truth)), "groups_found": len(set(found)),
            **pairwise(found, truth), "seconds_read_and_group": round(seconds, 2)}


def pairwise(found, truth):
    """Pair-counting precision/recall of a grouping against the true groups."""
    from collections import Counter

    def pairs_in(labels):
        return sum(n * (n - 1) // 2 for n in Counter(labels).values())

    both = pairs_in(list(zip(found, truth)))
    p_found, p_true = pairs_in(found), pairs_in(truth)
    return {"pair_precision": round(both / p_found, 4) if p_found else 1.0,
            "pair_recall": round(both / p_true, 4) if p_true else 1.0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=3, help="outlet copies per release")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--crawl-pages", type=int, default=600, help="pages in the crawl of test releases")
    ap.add_argument("--threshold", type=float, help="measure this threshold instead of the chosen one")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    releases = load_releases()
    dev = similarities(build_pairs([r for r in releases if r.split == "dev"], rng, args.copies))
    test = similarities(build_pairs([r for r in releases if r.split == "test"], rng, args.copies))
    grid = {t: scores(dev, t) for t in GRID}
    chosen = max(GRID, key=lambda t: (grid[t]["f1"], -abs(t - 0.5)))
    print(f"dev pairs: {sum(s[1] for s in dev)} copies, {sum(not s[1] for s in dev)} different releases")
    print("threshold  dev P    dev R    dev F1")
    for t in GRID:
        g = grid[t]
        print(f"{t:9.2f}  {g['precision']:.4f}  {g['recall']:.4f}  {g['f1']:.4f}{'  <- chosen' if t == chosen else ''}")
    threshold = args.threshold or chosen
    test_grouped = grouped_by_index(test, threshold)
    result = {"chosen_threshold": chosen, "threshold_used": threshold, "dev": grid[chosen],
              "test_similarity": scores(test, threshold), "test_grouped": scores(test_grouped, 0.5),
              "test_grouped_by_kind": by_kind(test_grouped, 0.5),
              "test_pairs": {"copies": sum(s[1] for s in test), "different": sum(not s[1] for s in test)},
              "crawl_test": crawl_counts([r for r in releases if r.split == "test"], threshold, args.crawl_pages, rng)}
    real = real_pairs(threshold)
    if real:
        result["real_pairs"] = real
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


def real_pairs(threshold):
    """The hand-judged real page pairs (``real_copy_pairs.jsonl``: ids and same event or not, nothing
    else), scored with texts from the git-ignored real-page cache; None when the cache is absent."""
    from klassify.real import RealCacheMissing, load_real

    gold = [json.loads(line) for line in (Path(__file__).parent / "real_copy_pairs.jsonl").open()]
    try:
        pages = {r["id"]: r for r in load_real(warn=False)}
    except RealCacheMissing:
        return None
    gold = [g for g in gold if g["a"] in pages and g["b"] in pages]
    pairs = [("not_article pages" if "not_article" in (pages[g["a"]]["label"], pages[g["b"]]["label"]) else "articles",
              g["same"], body(pages[g["a"]]["text"]), body(pages[g["b"]]["text"])) for g in gold]
    grouped = grouped_by_index(similarities(pairs), threshold)
    return {"pairs": len(gold), "same_event": sum(g["same"] for g in gold), "all": scores(grouped, 0.5),
            "articles": scores([s for s in grouped if s[0] == "articles"], 0.5)}


if __name__ == "__main__":
    main()
