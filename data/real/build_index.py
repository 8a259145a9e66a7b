#!/usr/bin/env python
"""Build data/real/index.jsonl from collectors' staging folders (run once per collection wave).

Each staging folder holds the search answers a collector saved (``qNNN.json``, exactly as returned) and
``labels.jsonl`` (one line per kept result: file, rank, url, label, secondary, kind, hard_negative, group,
note). This script

- joins labels to their answers and checks every labeled url is in its answer;
- drops repeated urls (the first label wins; a conflicting label is reported) and keeps at most
  ``--max-per-event`` pages of one event;
- groups pages that must share a split: one event (the collectors' group keys, plus texts that are near
  duplicates), and one site (a site's template shows on every page of it);
- assigns whole groups to train/dev/test (about 50/25/25, per label), keeping earlier rows' splits;
- writes the index (no text: url, label, query, rank, sha256 and sentence hashes) and the cache.

    python data/real/build_index.py data/real/staging/*/ [--index data/real/index.jsonl]

A later wave is added with ``--append``: the index's rows stay as they are (labels, splits, groups); a new
page that shares a site, an event or near-duplicate text with them joins their split and group, and the
other new groups go to ``--new-split`` (train by default: dev and test stay the double-labeled pages).

    python data/real/build_index.py --append data/real/staging/w2_*/

New pages that would join dev or test wait in ``--pending`` until a blind second label (agreement.py
``--apply --index PENDING``); ``--promote PENDING`` then moves the rows labeled twice into the index and
their texts, found again in the staging folders by sha256, into the cache.

    python data/real/build_index.py --promote data/real/pending.jsonl data/real/staging/w2_*/
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from klassify.data import iter_jsonl  # noqa: E402
from klassify.labels import LABELS, NOT_ARTICLE  # noqa: E402
from klassify.near_duplicates import near_duplicate_pairs  # noqa: E402
from klassify.real import INDEX_FIELDS, default_cache, read_cache, read_index, text_parts, text_sha256  # noqa: E402

SPLIT_SHARES = {"train": 0.5, "dev": 0.25, "test": 0.25}
ARTICLE_KINDS = {"news_article", "press_release", "broadcast_script"}
NOT_ARTICLE_KINDS = {
    "board_list", "tag_or_reporter_page", "teaser_only", "search_results", "gallery_or_photo_viewer",
    "login_or_member_form", "application_form_or_attachment", "faq_or_civil_guide", "institution_page",
    "system_info_page", "minutes_or_review_report", "law_or_db_record", "citizen_post", "schedule_or_weather",
    "error_page", "sitemap_or_menu", "explainer_or_document",
}
RENAMED_KINDS = {"other_non_article": "explainer_or_document"}


def site_of(url: str) -> str:
    """The host without ``www.``/``m.``/``mobile.``: the mobile and desktop copies of a site are one site."""
    host = urlsplit(url).netloc.lower().split(":")[0]
    for prefix in ("www.", "m.", "mobile."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    return host


def read_staging(folder: Path) -> tuple[list[dict], list[str]]:
    """Labeled results of one collector, each with its text and query; problems as messages."""
    rows, problems = [], []
    answers = {}
    labels_file = folder / "labels.jsonl"
    if not labels_file.exists():
        return rows, [f"{folder}: no labels.jsonl"]
    for n, line in enumerate(labels_file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{labels_file}:{n}"
        try:
            label = json.loads(line)
        except ValueError as e:
            problems.append(f"{where}: not JSON ({e})")
            continue
        file = folder / label.get("file", "")
        if file not in answers:
            try:
                answers[file] = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                answers[file] = None
                problems.append(f"{where}: answer {file.name} unreadable ({e})")
        answer = answers[file]
        if answer is None:
            continue
        result = next((r for r in answer.get("results", []) if r.get("url") == label.get("url")), None)
        if result is None:
            problems.append(f"{where}: url not in {file.name}")
            continue
        label["kind"] = RENAMED_KINDS.get(label.get("kind"), label.get("kind"))
        issue = check_label(label)
        if issue:
            problems.append(f"{where}: {issue}")
            continue
        rows.append({**label, "text": result["excerpt"], "query": answer.get("query", ""), "rank": result.get("rank"),
                     "collector": folder.name})
    return rows, problems


def check_label(label: dict) -> str | None:
    if label.get("label") not in LABELS:
        return f"label {label.get('label')!r} unknown"
    kinds = NOT_ARTICLE_KINDS if label["label"] == NOT_ARTICLE else ARTICLE_KINDS
    if label.get("kind") not in kinds:
        return f"kind {label.get('kind')!r} does not fit label {label['label']}"
    if any(s not in LABELS[:5] or s == label["label"] for s in label.get("secondary") or []):
        return f"secondary {label.get('secondary')} invalid"
    return None


class Groups:
    """Union-find over row positions."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)


def dedupe(rows: list[dict], max_per_event: int) -> tuple[list[dict], list[str]]:
    kept, by_url, by_text, per_event, messages = [], {}, {}, Counter(), []
    for row in rows:
        same_text = by_text.get(text_sha256(row["text"]))
        if same_text is not None and same_text["url"] != row["url"]:
            messages.append(f"{row['url']}: same text as {same_text['url']}, dropped")
            continue
        first = by_url.get(row["url"])
        if first is not None:
            if first["label"] != row["label"]:
                messages.append(f"{row['url']}: {first['collector']} says {first['label']}, "
                                f"{row['collector']} says {row['label']} (first kept)")
            continue
        event = (row["collector"], " ".join(str(row.get("group", "")).split()))
        if row["label"] != NOT_ARTICLE and per_event[event] >= max_per_event:
            messages.append(f"{row['url']}: more than {max_per_event} pages of event {event[1]!r}, dropped")
            continue
        per_event[event] += 1
        by_url[row["url"]] = row
        by_text[text_sha256(row["text"])] = row
        kept.append(row)
    return kept, messages


def site_and_event_groups(rows: list[dict]) -> Groups:
    """Rows joined when they share a site (its template) or a collector's event key."""
    groups = Groups(len(rows))
    first_of = {}
    for i, row in enumerate(rows):
        for key in (("site", row["site"]), ("event", row["collector"], " ".join(str(row.get("group", "")).split()))):
            if key in first_of:
                groups.union(i, first_of[key])
            else:
                first_of[key] = i
    return groups


def index_order(row: dict) -> tuple:
    """Index rows are stored by split (train, dev, test), then id."""
    return list(SPLIT_SHARES).index(row["split"]), row["id"]


def cache_line(row_id: str, text: str, match: str = "exact") -> str:
    return json.dumps({"id": row_id, "text": text, "match": match}, ensure_ascii=False) + "\n"


def assign_splits(rows: list[dict], previous: dict[str, str], seed: int) -> None:
    groups = site_and_event_groups(rows)
    for i, j, _ in near_duplicate_pairs([r["text"] for r in rows], threshold=0.5):
        groups.union(i, j)
    members = defaultdict(list)
    for i in range(len(rows)):
        members[groups.find(i)].append(i)
    components = list(members.values())
    for number, component in enumerate(sorted(components, key=lambda c: min(rows[i]["url"] for i in c))):
        for i in component:  # the collectors' event keys stay in staging: they paraphrase headlines
            rows[i]["group"] = f"g{number:04d}"
    rng = random.Random(seed)
    rng.shuffle(components)
    components.sort(key=len, reverse=True)
    totals = Counter(r["label"] for r in rows)
    have = {s: Counter() for s in SPLIT_SHARES}
    for component in components:
        fixed = {previous[rows[i]["url"]] for i in component if rows[i]["url"] in previous}
        if fixed:
            split = sorted(fixed)[0]  # an earlier wave's split is never moved
        else:
            labels = Counter(rows[i]["label"] for i in component)

            def deficit(s):
                return sum(n * (SPLIT_SHARES[s] * totals[lab] - have[s][lab]) / totals[lab] for lab, n in labels.items())

            split = max(SPLIT_SHARES, key=deficit)
        for i in component:
            rows[i]["split"] = split
            have[split][rows[i]["label"]] += 1
    largest = max(map(len, components))
    print(f"{len(components)} groups; largest {largest} pages", file=sys.stderr)


def append_splits(old: list[dict], new: list[dict], new_split: str) -> list[str]:
    """Split and group of each ``new`` row. New rows are grouped among themselves (site, event, near-duplicate
    text); a group that touches indexed rows (same site, or near-duplicate text) takes their split and
    group, else it is a new group in ``new_split``. A group touching indexed rows of two splits goes to the
    first of those other than ``new_split`` (it cannot be in both), with a message."""
    groups = site_and_event_groups(new)
    touched = defaultdict(set)  # new row -> {(split, group)} of indexed rows it is joined to
    old_by_site = defaultdict(set)
    for row in old:
        old_by_site[row["site"]].add((row["split"], row["group"]))
    for i, row in enumerate(new):
        touched[i] |= old_by_site.get(row["site"], set())
    texts = [r["text"] or "" for r in old + new]
    for i, j, _ in near_duplicate_pairs(texts, threshold=0.5):
        i, j = sorted((i, j))
        if j >= len(old) and i >= len(old):
            groups.union(i - len(old), j - len(old))
        elif j >= len(old):
            touched[j - len(old)].add((old[i]["split"], old[i]["group"]))
    members = defaultdict(list)
    for i in range(len(new)):
        members[groups.find(i)].append(i)
    next_group = max((int(r["group"][1:]) for r in old if str(r["group"]).startswith("g")), default=-1) + 1
    messages = []
    for component in sorted(members.values(), key=min):
        joined = set().union(*(touched[i] for i in component))
        splits = sorted({split for split, _ in joined})
        if not splits:
            split, group = new_split, f"g{next_group:04d}"
            next_group += 1
        else:
            split = splits[0] if len(splits) == 1 else next(s for s in splits if s != new_split)
            if len(splits) > 1:
                messages.append(f"{new[component[0]]['url']}: its group joins pages of {splits}; put in {split}")
            group = min(g for s, g in joined if s == split)
        for i in component:
            new[i]["split"], new[i]["group"] = split, group
    return messages


def write_index(path: Path, rows: list[dict]) -> None:
    """Index rows without text; ``labels`` (2 once adjudicated, see agreement.py) is kept where present."""
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            kept = {k: row.get(k) for k in INDEX_FIELDS} | ({"labels": row["labels"]} if "labels" in row else {})
            f.write(json.dumps(kept, ensure_ascii=False) + "\n")


def promote(pending_path: Path, folders: list[Path], index_path: Path, cache_path: Path) -> int:
    """Move the rows of ``pending_path`` labeled twice (``labels: 2``) into the index and their texts into
    the cache; the others stay pending. Refuses (nothing written) when a text is not in the staging folders."""
    pending = read_index(pending_path)
    ready = [r for r in pending if r.get("labels") == 2]
    texts = {}
    for folder in folders:
        for row in read_staging(folder)[0]:
            texts.setdefault(text_sha256(row["text"]), row["text"])
    missing = [r["id"] for r in ready if r["sha256"] not in texts]
    if missing:
        print(f"{len(missing)} pending pages have no text in {[str(f) for f in folders]}: {missing[:5]}...", file=sys.stderr)
        return 1
    index = read_index(index_path)
    clash = {r["id"] for r in index} & {r["id"] for r in ready}
    if clash:
        print(f"already in the index: {sorted(clash)[:5]}", file=sys.stderr)
        return 1
    rows = sorted(index + ready, key=index_order)
    write_index(index_path, rows)
    with cache_path.open("a", encoding="utf-8") as f:
        for row in ready:
            f.write(cache_line(row["id"], texts[row["sha256"]]))
    write_index(pending_path, [r for r in pending if r.get("labels") != 2])
    print(f"{len(ready)} pages moved into {index_path}: {dict(Counter(r['split'] for r in ready))}; "
          f"{len(pending) - len(ready)} still pending", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("staging", nargs="+", type=Path)
    p.add_argument("--index", type=Path, default=REPO / "data" / "real" / "index.jsonl")
    p.add_argument("--cache", type=Path, default=None)
    p.add_argument("--max-per-event", type=int, default=3)
    p.add_argument("--min-chars", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--append", action="store_true", help="add these staging folders to the index, keeping its rows")
    p.add_argument("--new-split", choices=list(SPLIT_SHARES), default="train",
                   help="with --append: the split of new pages that join no indexed page")
    p.add_argument("--pending", type=Path, default=None,
                   help="with --append: write new pages that join another split here (index fields, no text) "
                        "instead of the index, e.g. until they are labeled a second time")
    p.add_argument("--promote", type=Path, default=None, metavar="PENDING",
                   help="move the twice-labeled rows of PENDING into the index, texts from the staging folders")
    a = p.parse_args(argv)
    if a.promote:
        return promote(a.promote, a.staging, a.index, a.cache or default_cache())
    rows, problems = [], []
    for folder in a.staging:
        got, issues = read_staging(folder)
        rows += got
        problems += issues
    short = [r for r in rows if len(r["text"].strip()) < a.min_chars]
    rows = [r for r in rows if len(r["text"].strip()) >= a.min_chars]
    problems += [f"{r['url']}: only {len(r['text'].strip())} characters, dropped" for r in short]
    old = []
    if a.append:
        cache = read_cache(a.cache)
        # A row whose text could not be found again (the page changed since) keeps its place in the index;
        # it is still matched by url and sha256, only not by near-duplicate text.
        old = [{**r, "text": cache[r["id"]]["text"], "match": cache[r["id"]].get("match", "exact")}
               if r["id"] in cache else {**r, "text": None} for r in read_index(a.index)]
        uncached = sum(r["text"] is None for r in old)
        if uncached:
            print(f"{uncached} indexed rows have no cached text: not compared for near duplicates", file=sys.stderr)
        known = {r["url"] for r in old} | {r["sha256"] for r in old}
        problems += [f"{r['url']}: already indexed, dropped" for r in rows
                     if r["url"] in known or text_sha256(r["text"]) in known]
        rows = [r for r in rows if r["url"] not in known and text_sha256(r["text"]) not in known]
    rows, messages = dedupe(rows, a.max_per_event)
    problems += messages
    previous = {}
    if a.index.exists() and not a.append:
        previous = {r["url"]: r["split"] for _, r in iter_jsonl(a.index)}
    for row in rows:
        row["site"] = site_of(row["url"])
        row["id"] = "real-" + hashlib.sha1(row["url"].encode("utf-8")).hexdigest()[:10]
        row["chars"] = len(row["text"])
        row["sha256"] = text_sha256(row["text"])
        row["parts"] = text_parts(row["text"])
        row["secondary"] = list(row.get("secondary") or [])
        row["hard_negative"] = bool(row.get("hard_negative"))
    if a.append:
        wave = max((r.get("wave") or 1 for r in old), default=0) + 1
        for row in rows:
            row["wave"] = wave
        problems += append_splits(old, rows, a.new_split)
        print(f"{len(rows)} new pages: " + str(Counter(r["split"] for r in rows)), file=sys.stderr)
        if a.pending:
            held = [r for r in rows if r["split"] != a.new_split]
            write_index(a.pending, held)
            print(f"{len(held)} new pages that join {sorted({r['split'] for r in held})} written to {a.pending}",
                  file=sys.stderr)
            rows = [r for r in rows if r["split"] == a.new_split]
        rows = old + rows
    else:
        for row in rows:
            row["wave"] = 1
        assign_splits(rows, previous, a.seed)
    rows.sort(key=index_order)
    write_index(a.index, rows)
    cache = a.cache or default_cache()
    with cache.open("w", encoding="utf-8") as f:
        for row in rows:
            if row["text"] is not None:
                f.write(cache_line(row["id"], row["text"], row.get("match", "exact")))
    for message in problems:
        print(message)
    counts = Counter((r["split"], r["label"]) for r in rows)
    print(f"{len(rows)} pages, {len({r['site'] for r in rows})} sites, {len(problems)} problems", file=sys.stderr)
    for split in SPLIT_SHARES:
        print(split, {label: counts[(split, label)] for label in LABELS}, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
