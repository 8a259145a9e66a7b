#!/usr/bin/env python
"""Pages/s for the same pages read from a directory, JSONL, JSONL.gz, WARC.gz and Parquet, in one run.

    python benchmarks/inputs.py [--pages 1000] [--model tfidf] [--repeats 3]

The pages are hand-written pages of the labeled corpus (data/labeled/written.jsonl) wrapped in HTML with
a title, a canonical URL, a date and site clutter, cycled to ``--pages`` (each copy with its own URL).
Each form is written to a temporary folder, then timed twice:

* read: ``klassify.records.iter_records`` alone (the input form's own cost), best of ``--repeats``;
* classify: the CLI's path (read, decode and clean each page, classify in batches of 64 with the model).

Rates are printed with their ratio to JSONL, the form every other one is compared with.
"""

from __future__ import annotations

import argparse
import gzip
import html
import io
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def synthetic_pages(n: int) -> list[tuple[str, str]]:
    """``(url, html)`` for ``n`` pages built from the hand-written corpus."""
    rows = [json.loads(line) for line in (REPO / "data" / "labeled" / "written.jsonl").open(encoding="utf-8")]
    pages = []
    for i in range(n):
        text = rows[i % len(rows)]["text"]
        lines = [line for line in text.splitlines() if line.strip()]
        url = f"https://www.example-city.go.kr/news/view.php?id={i}"
        body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
        pages.append((url, (
            f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(lines[0][:60])}</title>'
            f'<link rel="canonical" href="{url}"><meta property="article:published_time" content="2024-05-{1 + i % 28:02d}">'
            f'</head><body><nav>홈 | 시정소식 | 보도자료 | 로그인</nav><article>{body}</article>'
            f'<footer>시청 주소: 경기도 예시시 시청로 1 · 대표전화 031-000-0000 · 무단전재 및 재배포 금지</footer></body></html>')))
    return pages


def write_forms(pages, root: Path) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    forms = {}
    mirror = root / "mirror" / "www.example-city.go.kr" / "news"
    mirror.mkdir(parents=True)
    for url, page in pages:
        (mirror / url.rsplit("/", 1)[1]).write_text(page, encoding="utf-8")
    forms["directory"] = root / "mirror"
    jsonl = "".join(json.dumps({"id": url, "url": url, "text": page}, ensure_ascii=False) + "\n" for url, page in pages)
    forms["JSONL"] = root / "pages.jsonl"
    forms["JSONL"].write_text(jsonl, encoding="utf-8")
    forms["JSONL.gz"] = root / "pages.jsonl.gz"
    forms["JSONL.gz"].write_bytes(gzip.compress(jsonl.encode("utf-8")))
    forms["WARC.gz"] = root / "pages.warc.gz"
    with forms["WARC.gz"].open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        for url, page in pages:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(page.encode("utf-8")),
                                                          http_headers=headers))
    forms["Parquet"] = root / "pages.parquet"
    pq.write_table(pa.table({"id": [u for u, _ in pages], "url": [u for u, _ in pages], "text": [p for _, p in pages]}),
                   forms["Parquet"])
    return forms


def time_read(path: Path, repeats: int) -> tuple[float, int]:
    from klassify.records import iter_records

    best, n = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        n = sum(1 for r in iter_records([str(path)]) if not r.error)
        best = min(best, time.perf_counter() - start)
    return best, n


def time_classify(clf, path: Path) -> tuple[float, int, int]:
    from klassify.cli import batched, classify_records, prepare_records
    from klassify.records import iter_records

    start = time.perf_counter()
    rows = []
    for batch in batched(iter_records([str(path)]), 64):
        todo, read = prepare_records(clf, batch, set())
        rows += classify_records(clf, todo, read)
    elapsed = time.perf_counter() - start
    return elapsed, len(rows), sum(1 for r in rows if r["error"] or not r["published"] or not r["site"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--model", default=None, help="model name or directory (default: the shipped default)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from klassify.modeling import Classifier

    clf = Classifier.load(args.model)
    pages = synthetic_pages(args.pages)
    with tempfile.TemporaryDirectory() as tmp:
        forms = write_forms(pages, Path(tmp))
        clf.predict(pages[0][1])  # warm-up: lazy imports and the tokenizer
        results = {}
        for name, path in forms.items():
            read_s, n_read = time_read(path, args.repeats)
            classify_s, n_rows, incomplete = time_classify(clf, path)
            assert n_read == n_rows == args.pages and incomplete == 0, (name, n_read, n_rows, incomplete)
            results[name] = (args.pages / read_s, args.pages / classify_s)
    base_read, base_classify = results["JSONL"]
    print(f"{args.pages} pages (~{sum(len(p) for _, p in pages) // len(pages):,} characters of HTML each), model "
          f"{clf.path.name}; ratios to JSONL")
    print(f"{'input':<10} {'read pages/s':>13} {'ratio':>6} {'classify pages/s':>17} {'ratio':>6}")
    for name, (read, classify) in results.items():
        print(f"{name:<10} {read:>13,.0f} {read / base_read:>6.2f} {classify:>17,.1f} {classify / base_classify:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
