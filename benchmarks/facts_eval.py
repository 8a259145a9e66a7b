#!/usr/bin/env python
"""Precision and recall of the extracted facts per field, against hand-labeled gold pages.

    python benchmarks/facts_eval.py [--errors] [--json benchmarks/results/facts.json]

Gold (``data/facts/*.jsonl``): for each page its id, label and, per field of that label, the true value
with the span of the body it comes from (``annotated`` lists the fields that were labeled; a labeled field
with no fact means the page has none). ``written_dev_gold.jsonl``: 160 written dev pages, every field of
their label. ``real_dev_institution_gold.jsonl``: the 145 real dev initiative pages, institution only (ids,
values and offsets: no text of those pages is stored); scored only when the real-page cache is present. Pages are read and cleaned as ``predict`` reads them and the
facts are extracted with the page's true label. A fact is right when its value equals the gold value
(dates, names of institutions, numbers, amounts); a lecturer when one name contains the other; pledgers
when the spans overlap by at least half of the gold span (and the extracted span is not more than twice
as long). List fields (prizes, prize money, amounts paid) are matched as multisets of values.

Also printed: how often an institution is found at all on every initiative page of the written corpus and,
when the git-ignored real-page cache is present, on the real initiative pages (no gold needed for that).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from klassify.facts import FIELDS, extract_facts  # noqa: E402
from klassify.labels import INITIATIVES  # noqa: E402
from klassify.reading import read_page  # noqa: E402

LIST_FIELDS = {"prizes", "prize_money", "reward_paid"}


def same(field: str, got: dict, gold: dict) -> bool:
    if field == "lecturer":
        a, b = "".join(got["value"].split()), "".join(gold["value"].split())
        return a in b or b in a
    if field == "pledgers":
        (s, e), (gs, ge) = got["span"], gold["span"]
        overlap = max(0, min(e, ge) - max(s, gs))
        return overlap >= (ge - gs) / 2 and (e - s) <= 2 * (ge - gs) + 10
    if field == "survey_score":
        return abs(float(got["value"]) - float(gold["value"])) < 0.05
    return got["value"] == gold["value"]


def score_page(facts: dict, gold: dict, fields, counts):
    for field in fields:
        got, want = facts.get(field), gold.get(field)
        c = counts.setdefault(field, Counter())
        if field in LIST_FIELDS:
            got_values = Counter(f["value"] for f in got or [])
            want_values = Counter(f["value"] for f in want or [])
            c["tp"] += sum((got_values & want_values).values())
            c["extracted"] += sum(got_values.values())
            c["gold"] += sum(want_values.values())
            continue
        c["extracted"] += got is not None
        c["gold"] += want is not None
        c["tp"] += got is not None and want is not None and same(field, got, want)


def summary(counts):
    out = {}
    for field in FIELDS:
        c = counts.get(field)
        if not c:
            continue
        p = c["tp"] / c["extracted"] if c["extracted"] else None
        r = c["tp"] / c["gold"] if c["gold"] else None
        out[field] = {"precision": _round(p), "recall": _round(r), "right": c["tp"], "extracted": c["extracted"],
                      "gold": c["gold"]}
    return out


def _round(x):
    return None if x is None else round(x, 3)


def evaluate(gold_path: Path, texts: dict, show_errors: bool = False):
    """``(pages, per-field scores)`` of the gold pages; ``texts`` maps page ids to rows with their ``text``."""
    counts: dict = {}
    pages = 0
    for line in gold_path.open(encoding="utf-8"):
        gold = json.loads(line)
        page = read_page(texts[gold["id"]]["text"])
        facts = extract_facts(page.body, gold["label"], page_text=page.raw_text, title=page.title)
        score_page(facts, gold["facts"], gold["annotated"], counts)
        pages += 1
        if show_errors:
            print_errors(gold, facts)
    return pages, summary(counts)


def print_errors(gold, facts):
    for field in gold["annotated"]:
        got, want = facts.get(field), gold["facts"].get(field)
        g = [f["value"] for f in got] if isinstance(got, list) else got and got["value"]
        w = [f["value"] for f in want] if isinstance(want, list) else want and want["value"]
        if field in LIST_FIELDS:
            if Counter(g or []) != Counter(w or []):
                print(f"{gold['id']:<36} {field:<13} got {g}  gold {w}")
        elif (got is None) != (want is None) or (got and not same(field, got, want)):
            print(f"{gold['id']:<36} {field:<13} got {g!r}  gold {w!r}")


def institution_coverage(rows) -> dict:
    def found_in(row):
        page = read_page(row["text"])
        return "institution" in extract_facts(page.body, row["label"], title=page.title)

    found = sum(1 for r in rows if found_in(r))
    return {"pages": len(rows), "with_institution": found, "share": round(found / len(rows), 3) if rows else None}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--errors", action="store_true", help="print every wrong or missed fact")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    written = {json.loads(l)["id"]: json.loads(l) for l in (REPO / "data" / "labeled" / "written.jsonl").open(encoding="utf-8")}
    gold_dir = REPO / "data" / "facts"
    pages, fields = evaluate(gold_dir / "written_dev_gold.jsonl", written, show_errors=args.errors)
    result = {"written_dev": {"pages": pages, "fields": fields},
              "institution_found_written": institution_coverage([r for r in written.values() if r["label"] in INITIATIVES])}
    try:
        from klassify.real import RealCacheMissing, load_real

        real = {r["id"]: r for r in load_real(warn=False)}
        pages, fields = evaluate(gold_dir / "real_dev_institution_gold.jsonl", real, show_errors=args.errors)
        result["real_dev"] = {"pages": pages, "fields": fields}
        result["institution_found_real"] = institution_coverage([r for r in real.values() if r["label"] in INITIATIVES])
    except RealCacheMissing:
        pass
    for name in ("written_dev", "real_dev"):
        if name in result:
            print(f"{name}: {result[name]['pages']} gold pages")
            print(f"{'field':<14}{'precision':>10}{'recall':>8}{'right':>7}{'found':>7}{'gold':>6}")
            for field, sc in result[name]["fields"].items():
                p = "-" if sc["precision"] is None else f"{sc['precision']:.3f}"
                r = "-" if sc["recall"] is None else f"{sc['recall']:.3f}"
                print(f"{field:<14}{p:>10}{r:>8}{sc['right']:>7}{sc['extracted']:>7}{sc['gold']:>6}")
    for key in ("institution_found_written", "institution_found_real"):
        if key in result:
            c = result[key]
            print(f"{key}: {c['with_institution']}/{c['pages']} = {c['share']:.3f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
