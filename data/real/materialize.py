#!/usr/bin/env python
"""Rebuild the real-page text cache from saved search answers, checking every text against the index.

The texts of real pages are copyrighted and never committed; on a new machine they come back by running
the index's queries again with the search tool (corpus ``pages``) and saving each answer as returned:

    python data/real/materialize.py --plan            # the queries still needed, one JSON line each
    # run each query with the search tool; save every answer, as returned, as data/real/raw/<any>.json
    python data/real/materialize.py data/real/raw     # check and write data/real/texts.jsonl

Each index row is matched to a result with the same url, preferring the answer to its own query. A text
whose sha256 matches is kept; one that differs by a copying slip (a few characters: see
``klassify.real.compare_text``) is kept and listed; anything else is reported and left out. Texts already
verified in the cache are kept, so answers can be added a few at a time. Exit status 1 when rows are
still missing or rejected.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from klassify.data import iter_jsonl  # noqa: E402
from klassify.real import compare_text, default_cache, read_index  # noqa: E402


def read_answers(paths: list[Path]) -> list[dict]:
    """Every saved search answer under ``paths`` (files or folders of ``*.json``)."""
    files = []
    for path in paths:
        files += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    answers = []
    for file in files:
        try:
            answer = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            print(f"skipped {file}: not a saved search answer ({e})", file=sys.stderr)
            continue
        if isinstance(answer, dict) and isinstance(answer.get("results"), list):
            answers.append(answer | {"_file": str(file)})
    return answers


def candidates_by_url(answers: list[dict]) -> dict[str, list[tuple[str, str]]]:
    """``{url: [(query, excerpt), ...]}`` over all answers."""
    found = defaultdict(list)
    for answer in answers:
        for result in answer["results"]:
            if isinstance(result, dict) and result.get("url") and isinstance(result.get("excerpt"), str):
                found[result["url"]].append((answer.get("query", ""), result["excerpt"]))
    return found


def materialize(index_rows: list[dict], answers: list[dict], cache: dict[str, dict]) -> tuple[dict, Counter, list]:
    """Match rows to answers → (new cache, counts by outcome, [(id, outcome, detail)] to report)."""
    found = candidates_by_url(answers)
    counts, report, out = Counter(), [], {}
    for row in index_rows:
        kept = cache.get(row["id"])
        if kept is not None and compare_text(kept["text"], row) != "different":
            out[row["id"]] = kept
            counts["already cached"] += 1
            continue
        options = sorted(found.get(row["url"], []), key=lambda qe: qe[0] != row["query"])
        outcome, text = "missing", None
        for _, excerpt in options:
            outcome = compare_text(excerpt, row)
            if outcome != "different":
                text = excerpt
                break
        counts[outcome] += 1
        if text is None:
            report.append((row["id"], outcome, row["query"]))
            continue
        if outcome == "slip":
            report.append((row["id"], "slip", f"kept: differs from the index by a copying slip ({len(text)} chars)"))
        out[row["id"]] = {"id": row["id"], "text": text, "match": outcome}
    return out, counts, report


def plan(index_rows: list[dict], cache: dict[str, dict]) -> list[dict]:
    """The queries whose rows are not yet verified in the cache, most rows first."""
    need = Counter(r["query"] for r in index_rows
                   if r["id"] not in cache or compare_text(cache[r["id"]]["text"], r) == "different")
    return [{"query": q, "rows": n} for q, n in need.most_common()]


def read_cache_file(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    return {item["id"]: item for _, item in iter_jsonl(path)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("answers", nargs="*", type=Path, help="saved search answers: JSON files or folders (default data/real/raw)")
    p.add_argument("--index", type=Path, default=REPO / "data" / "real" / "index.jsonl")
    p.add_argument("--cache", type=Path, default=None, help="texts JSONL to write (default $KLASSIFY_REAL_PAGES or data/real/texts.jsonl)")
    p.add_argument("--plan", action="store_true", help="print the queries still needed and exit")
    a = p.parse_args(argv)
    cache_path = a.cache or default_cache()
    rows = read_index(a.index)
    cache = read_cache_file(cache_path)
    if a.plan:
        todo = plan(rows, cache)
        for item in todo:
            print(json.dumps(item, ensure_ascii=False))
        print(f"{len(todo)} queries for {sum(i['rows'] for i in todo)} of {len(rows)} rows", file=sys.stderr)
        return 0
    answers = read_answers(a.answers or [REPO / "data" / "real" / "raw"])
    out, counts, report = materialize(rows, answers, cache)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            if row["id"] in out:
                f.write(json.dumps(out[row["id"]], ensure_ascii=False) + "\n")
    tmp.replace(cache_path)
    for row_id, outcome, detail in report:
        print(f"{row_id}\t{outcome}\t{detail}")
    print(f"{len(answers)} answers read; {len(out)} of {len(rows)} rows cached in {cache_path} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})", file=sys.stderr)
    return 0 if len(out) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
