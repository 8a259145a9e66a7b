#!/usr/bin/env python
"""Throughput and memory of every stage, measured in one run on the same pages.

    python benchmarks/run.py [--model tfidf] [--pages 600] [--json benchmarks/results/run.json]

Pages: hand-written pages of the labeled corpus (test and dev splits, ~1,500 characters on average
after picking the 800–2,500-character ones), cycled to ``--pages``; the reading stage is also measured
on ~5 kB pages (the same pages wrapped in weather/menu/teaser clutter). Prints a table of pages/s per
stage, the share of classification time spent in kiwi, ratios against the kiwi-alone baseline, and the
CLI's end-to-end pages/s (with start-up, and marginal: from a run on 3x the pages), start-up time and peak
RSS (a subprocess on a JSONL of the same pages).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from klassify.article import feature_matrix  # noqa: E402
from klassify.data import read_labeled  # noqa: E402
from klassify.modeling import Classifier  # noqa: E402
from klassify.reading import read_page  # noqa: E402


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def sample_pages(n: int, seed: int = 0) -> list[str]:
    rows = [r for r in read_labeled(include_augmented=False) if r["split"] in ("dev", "test")]
    texts = [r["text"] for r in rows if 800 <= len(r["text"]) <= 2500]
    rng = random.Random(seed)
    rng.shuffle(texts)
    return [texts[i % len(texts)] for i in range(n)]


def five_kb(texts: list[str], seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    weather = [f"• 맑음{c}{rng.uniform(0, 30):.1f}℃" for c in "서울 인천 수원 춘천 강릉 청주 대전 전주 광주 대구 부산 울산 창원 제주".split()]
    menu = ["홈 | 정치 | 경제 | 사회 | 지역 | 문화", "로그인 회원가입 기사제보", "페이스북 트위터 카카오톡 URL복사"]
    out = []
    for t in texts:
        teasers = [f"· {rng.choice(texts)[:40]}" for _ in range(8)]
        page = "\n".join(weather + menu + ["", t, "", "많이 본 기사"] + teasers + ["무단전재 및 재배포 금지"])
        while len(page) < 5000:
            page += "\n" + "\n".join(teasers)
        out.append(page[:5200])
    return out


def stage_rows(clf: Classifier, texts: list[str], batch_size: int) -> tuple[list[tuple[str, float]], float]:
    """(stage, seconds) for the in-process stages, and kiwi's share of classification time."""
    n = len(texts)
    pages, t_read = timed(lambda: [read_page(t) for t in texts])
    _, t_detect = timed(lambda: clf.detector.predict_proba(feature_matrix(pages)))
    model_texts = [clf.model.model_text(p.title, p.body) for p in pages if p.body]
    _, t_kiwi = timed(clf.model.morphemes.analyze, model_texts)
    _, t_model = timed(clf.model.predict_proba, model_texts)
    _, t_all = timed(lambda: clf.predict(texts, batch_size=batch_size))
    rows = [
        ("read + clean", t_read),
        ("is_article (features + detector)", t_detect),
        ("kiwi alone (baseline)", t_kiwi),
        (f"{clf.model.kind} classify (incl. kiwi)", t_model),
        ("Classifier.predict end-to-end", t_all),
    ]
    return rows, t_kiwi / t_model if t_model else 0.0


def cli_run(texts: list[str], model: str | None, batch_size: int) -> tuple[float, float]:
    """(seconds, peak RSS MB) of `klassify predict` over a JSONL of the pages, start-up included."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "pages.jsonl"
        src.write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)),
                       encoding="utf-8")
        cmd = [sys.executable, "-m", "klassify", "predict", str(src), "-o", str(Path(tmp) / "out.jsonl"),
               "--batch-size", str(batch_size), "--no-progress"]
        if model:
            cmd += ["--model", model]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=REPO, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kb / 1024


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None)
    p.add_argument("--pages", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "run.json"))
    a = p.parse_args(argv)

    clf = Classifier.load(a.model)
    texts = sample_pages(a.pages)
    big = five_kb(texts[: min(300, a.pages)])
    clf.predict(texts[:16])  # warm-up: kiwi model load, first-call allocations

    rows, kiwi_share = stage_rows(clf, texts, a.batch_size)
    _, t_read5k = timed(lambda: [read_page(t) for t in big])
    rows.insert(1, ("read + clean, 5 kB pages", t_read5k))
    cli_seconds, cli_rss = cli_run(texts, a.model, a.batch_size)
    cli_triple, _ = cli_run(texts * 3, a.model, a.batch_size)
    rows.append(("klassify predict CLI (incl. start-up)", cli_seconds))
    # Start-up (imports, model and kiwi loading) is paid once per run: the marginal rate of a 3x larger
    # input is what a long crawl sees.
    rows.append(("klassify predict CLI, marginal", (cli_triple - cli_seconds) / 2))

    n_for = {"read + clean, 5 kB pages": len(big)}
    kiwi_rate = len(texts) / dict(rows)["kiwi alone (baseline)"]
    mean_chars = sum(map(len, texts)) / len(texts)
    print(f"{len(texts)} pages, mean {mean_chars:.0f} chars; {os.cpu_count()} CPUs; model {clf.path}")
    print(f"{'stage':<40} {'pages/s':>9} {'vs kiwi':>8}")
    result = {"pages": len(texts), "mean_chars": round(mean_chars), "cpus": os.cpu_count(), "model": str(clf.path), "stages": {}}
    for name, seconds in rows:
        rate = n_for.get(name, len(texts)) / seconds
        result["stages"][name] = round(rate, 1)
        print(f"{name:<40} {rate:>9.1f} {rate / kiwi_rate:>7.2f}x")
    print(f"kiwi share of classification time: {kiwi_share:.0%}")
    startup = cli_seconds - len(texts) * (cli_triple - cli_seconds) / (2 * len(texts))
    print(f"klassify predict start-up: {startup:.1f} s; peak RSS: {cli_rss:.0f} MB")
    result.update({"kiwi_share": round(kiwi_share, 3), "cli_peak_rss_mb": round(cli_rss), "cli_startup_s": round(startup, 2)})
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
