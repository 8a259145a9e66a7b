#!/usr/bin/env python
"""Fail when copyrighted text has reached a file that git would commit.

Checks every 30-character run (whitespace collapsed) of the cached real pages, the seed pages and the
news corpus against every tracked or to-be-added file (``git ls-files --cached --others
--exclude-standard``; JSON strings are decoded first, so escaped text is found too). Sources that are
absent are skipped and named. Run it before committing data, reports or tests:

    python data/copy_check.py              # exit 1 and one line per hit when something was copied
    python data/copy_check.py --min-run 40 # a looser check
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from klassify.data import default_news_corpus, iter_jsonl  # noqa: E402
from klassify.real import default_cache  # noqa: E402

BINARY_SUFFIXES = {".npz", ".npy", ".png", ".jpg", ".onnx", ".safetensors", ".gz", ".zst", ".parquet", ".pdf"}
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


_URL = re.compile(r"\S*(?:https?://|www\.|\.(?:kr|com|net|org)/)\S*")


def normalise(text: str) -> str:
    return " ".join(text.split())


def without_urls(text: str) -> str:
    """URLs are addresses, not expression: the index holds each page's url, and pages print their own."""
    return _URL.sub("\x00", text)


def window_hashes(text: str, k: int) -> np.ndarray:
    """A 64-bit polynomial hash of every ``k``-character window of ``text`` (wrapping arithmetic)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * _MULTIPLIER + codes[j:j + n]
    return h


def json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from json_strings(v)


def committed_texts(repo: Path, skip: set[str] = frozenset()) -> dict[str, str]:
    """``{path: normalised text}`` of every file git would commit but ``skip``, JSON strings decoded."""
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=repo,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    texts = {}
    for name in names:
        path = repo / name
        if name in skip or path.suffix.lower() in BINARY_SUFFIXES or not path.is_file():
            continue
        try:
            raw = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        parts = [raw]
        if path.suffix in (".jsonl", ".json"):
            for line in raw.splitlines() if path.suffix == ".jsonl" else [raw]:
                try:
                    parts += list(json_strings(json.loads(line)))
                except ValueError:
                    pass
        texts[name] = normalise("\n".join(parts))
    return texts


def sources(repo: Path, seeds: Path, news: Path, real: Path):
    """``(name, text)`` of every copyrighted text available here, and the names of absent sources."""
    absent = []
    if real.exists():
        for _, item in iter_jsonl(real):
            yield f"real page {item['id']}", item["text"]
    else:
        absent.append(f"real-page cache ({real})")
    if seeds.is_dir():
        for path in sorted(seeds.glob("*.txt")):
            yield f"seed {path.name}", path.read_text(encoding="utf-8", errors="replace")
    else:
        absent.append(f"seeds ({seeds})")
    if news.exists():
        with gzip.open(news, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                item = json.loads(line)
                yield f"news corpus line {n}", f"{item.get('title') or ''}\n{item.get('text') or ''}"
    else:
        absent.append(f"news corpus ({news})")
    for name in absent:
        print(f"copy check: {name} absent, not checked", file=sys.stderr)


def read_allowlist(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [normalise(line) for line in lines if line.strip() and not line.startswith("#")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--min-run", type=int, default=30, help="characters in a copied run that fail the check")
    p.add_argument("--seeds", type=Path, default=REPO.parent / "shared" / "seeds")
    p.add_argument("--news", type=Path, default=default_news_corpus())
    p.add_argument("--real", type=Path, default=default_cache())
    p.add_argument("--repo", type=Path, default=REPO)
    p.add_argument("--stock", type=int, default=4,
                   help="a run found in this many source texts is a stock phrase (law names, boilerplate), not a copy")
    p.add_argument("--allow", type=Path, default=REPO / "data" / "copy_check_allow.txt",
                   help="stock phrases that are not copyrighted (statute text, licence lines), one per line")
    a = p.parse_args(argv)
    k = a.min_run
    # the allowlist holds the stock phrases themselves, so it is the one file not checked
    allow_name = a.allow.resolve().relative_to(a.repo.resolve()).as_posix() if a.allow.resolve().is_relative_to(a.repo.resolve()) else ""
    committed = committed_texts(a.repo, skip={allow_name})
    names, hashes = [], []
    for name, text in committed.items():
        h = window_hashes(text, k)
        hashes.append(h)
        names.append(np.full(len(h), len(names), dtype=np.int32))
    all_hashes = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
    order = np.argsort(all_hashes, kind="stable")
    sorted_hashes = all_hashes[order]
    owner = np.concatenate(names)[order] if names else np.zeros(0, dtype=np.int32)
    file_names = list(committed)
    allowed = read_allowlist(a.allow)
    found: dict[int, dict] = {}  # window hash -> the run, files holding it, sources holding it
    checked = 0
    for source, text in sources(a.repo, a.seeds, a.news, a.real):
        checked += 1
        norm = without_urls(normalise(text))
        for phrase in allowed:
            norm = norm.replace(phrase, "\x00")
        h = window_hashes(norm, k)
        if not len(h) or not len(sorted_hashes):
            continue
        pos = np.searchsorted(sorted_hashes, h)
        pos[pos == len(sorted_hashes)] = 0
        for i in np.flatnonzero(sorted_hashes[pos] == h):
            run, key = norm[i:i + k], int(h[i])
            if key in found:
                found[key]["sources"].add(source)
                continue
            j, files = pos[i], set()
            while j < len(sorted_hashes) and sorted_hashes[j] == h[i]:
                if run in committed[file_names[owner[j]]]:
                    files.add(file_names[owner[j]])
                j += 1
            if files:
                found[key] = {"run": run, "files": files, "sources": {source}}
    hits, stock = {}, 0
    for item in found.values():
        if len(item["sources"]) >= a.stock:
            stock += 1
            continue
        for file in item["files"]:
            hits.setdefault((file, min(item["sources"])), []).append(item["run"])
    for (file, source), runs in sorted(hits.items()):
        print(f"{file}: {len(runs)} {k}-character runs of {source} (first starts {runs[0][:6]!r}…)")
        if os.environ.get("COPY_CHECK_SHOW"):  # to judge a hit on screen; never redirect this into the repo
            print("   ", " | ".join(runs[:3]))
    print(f"copy check: {checked} source texts against {len(committed)} files: {sum(map(len, hits.values()))} copied runs; {stock} stock "
          f"phrases ignored (in {a.stock}+ source texts; {a.allow.name} lists more)", file=sys.stderr)
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
