#!/usr/bin/env python
"""How long copy grouping takes at crawl scale, against the exact pairwise loop, measured in one run.

    python benchmarks/copy_speed.py [--pages 100000] [--exact-pages 3000] [--json benchmarks/results/copy_speed.json]

Pages: made-up releases (sentences of the written corpus mixed, numbers redrawn), each reposted 1 to 12
times by outlets (``syndication.py``), so about a third of the pages are copies; the page bodies are
grouped as ``predict --group-copies`` groups cleaned bodies (reading and cleaning the pages is measured by
``benchmarks/run.py``). The exact alternative, :func:`klassify.near_duplicates.near_duplicate_pairs`, is
quadratic: it is timed on ``--exact-pages`` pages and its time for ``--pages`` is extrapolated by (n/m)².
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syndication import REPORTERS, OUTLETS, copy_paragraphs, load_releases, mixed_releases  # noqa: E402

from klassify.copies import CopyGrouper  # noqa: E402


def crawl_bodies(n_pages: int, rng: random.Random):
    """``[(body, release id)]`` for ``n_pages`` outlet copies of made-up releases, shuffled."""
    releases = mixed_releases(load_releases(), n_pages, rng)
    pages = []
    for release in releases:
        for _ in range(1 + int(rng.paretovariate(1.2)) % 12):
            body = "\n".join(copy_paragraphs(release, rng, rng.choice(OUTLETS), rng.choice(REPORTERS)))
            pages.append((body, release.id))
            if len(pages) == n_pages:
                rng.shuffle(pages)
                return pages
    raise AssertionError("not reached: one release per page is enough")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=100_000)
    ap.add_argument("--exact-pages", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    pages = crawl_bodies(args.pages, rng)
    grouper = CopyGrouper()
    t0 = time.perf_counter()
    signatures = [grouper.sign(body) for body, _ in pages]
    t1 = time.perf_counter()
    groups = [grouper.add(f"p{i}", signature=s) for i, s in enumerate(signatures)]
    t2 = time.perf_counter()
    truth = [tag for _, tag in pages]
    from copy_pairs import pairwise
    from klassify.near_duplicates import near_duplicate_pairs

    m = min(args.exact_pages, len(pages))
    t3 = time.perf_counter()
    exact_pairs = sum(1 for _ in near_duplicate_pairs([b for b, _ in pages[:m]], threshold=grouper.threshold))
    exact_seconds = time.perf_counter() - t3
    lsh_seconds = t2 - t0
    exact_extrapolated = exact_seconds * (len(pages) / m) ** 2
    result = {
        "pages": len(pages), "releases": len(set(truth)), "groups_found": len(set(groups)),
        **pairwise(groups, truth),
        "sign_seconds": round(t1 - t0, 1), "index_seconds": round(t2 - t1, 1), "minhash_lsh_seconds": round(lsh_seconds, 1),
        "pages_per_second": round(len(pages) / lsh_seconds),
        "exact_pairwise": {"pages": m, "seconds": round(exact_seconds, 1), "pairs_found": exact_pairs,
                           "extrapolated_seconds_for_all_pages": round(exact_extrapolated)},
        "speedup_vs_exact": round(exact_extrapolated / lsh_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
