#!/usr/bin/env python
"""Throughput and peak memory of every stage, measured in one run on the same pages.

    python benchmarks/run.py [--model tfidf] [--pages 600] [--json benchmarks/results/run.json]

Pages: hand-written pages of the labeled corpus (dev and test splits, 800–2,500 characters, ~1,350 on
average), cycled to ``--pages``; reading is also measured on ~5 kB pages (the same pages wrapped in
weather/menu/teaser clutter). Each stage runs in its own subprocess, so its peak RSS is its own. Printed:
pages/s per stage, the ratio to kiwi alone (the floor for any morpheme-based model), kiwi's share of
classification time, and the CLI's pages/s with start-up and marginal (from a run on 3x the pages).
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

STAGES = {
    "read": "read + clean",
    "read_5kb": "read + clean, 5 kB pages",
    "detect": "is_article (features + detector)",
    "kiwi": "kiwi alone (baseline)",
    "tfidf": "tfidf classify (incl. kiwi)",
    "classifier": "Classifier.predict end-to-end",
}


def sample_pages(n: int, seed: int = 0, *, chars: tuple[int, int] = (800, 2500), articles_only: bool = False) -> list[str]:
    """Hand-written dev/test pages whose length is within ``chars``, shuffled and cycled to ``n``."""
    from klassify.data import read_labeled

    rows = [r for r in read_labeled(include_augmented=False) if r["split"] in ("dev", "test")]
    rows = [r for r in rows if not (articles_only and r["label"] == "not_article")]
    texts = [r["text"] for r in rows if chars[0] <= len(r["text"]) <= chars[1]]
    random.Random(seed).shuffle(texts)
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


def run_stage(stage: str, n: int, model: str | None) -> dict:
    """Time one stage in this process (warm-up first); → {pages, seconds, peak_rss_mb}."""
    from klassify.reading import read_page

    texts = sample_pages(n)
    if stage in ("read", "read_5kb"):
        pages = five_kb(texts[: min(300, n)]) if stage == "read_5kb" else texts
        read_page(pages[0])
        start = time.perf_counter()
        for t in pages:
            read_page(t)
        return finish(len(pages), start)
    from klassify.modeling import Classifier

    clf = Classifier.load(model)
    clf.predict(texts[:16])  # warm-up: kiwi model load, first-call allocations
    if stage == "classifier":
        start = time.perf_counter()
        clf.predict(texts, batch_size=64)
        return finish(len(texts), start)
    pages = [read_page(t) for t in texts]
    if stage == "detect":
        from klassify.article import feature_matrix

        start = time.perf_counter()
        clf.detector.article_score(feature_matrix(pages))
        return finish(len(pages), start)
    model_texts = [clf.model.model_text(p.title, p.body) for p in pages if p.body]
    start = time.perf_counter()
    if stage == "kiwi":
        clf.model.morphemes.analyze(model_texts)
    else:
        clf.model.predict_proba(model_texts)
    return finish(len(model_texts), start)


def finish(n: int, start: float) -> dict:
    seconds = time.perf_counter() - start
    return {"pages": n, "seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_subprocess(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli_run(texts: list[str], model: str | None, extra: tuple[str, ...] = ()) -> tuple[float, float]:
    """(seconds, peak RSS MB) of `klassify predict` over a JSONL of the pages, start-up included."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "pages.jsonl"
        src.write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)),
                       encoding="utf-8")
        cmd = [sys.executable, "-m", "klassify", "predict", str(src), "-o", str(Path(tmp) / "out.jsonl"), "--no-progress"]
        cmd += (["--model", model] if model else []) + list(extra)
        cmd = ["/usr/bin/time", "-f", "%M"] + cmd if Path("/usr/bin/time").exists() else cmd
        start = time.perf_counter()
        done = subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    return seconds, (int(last) / 1024 if last.isdigit() else float("nan"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None)
    p.add_argument("--pages", type=int, default=600)
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "run.json"))
    p.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)  # internal: one stage, JSON out
    a = p.parse_args(argv)
    if a.stage:
        print(json.dumps(run_stage(a.stage, a.pages, a.model)))
        return 0

    extra = ["--model", a.model] if a.model else []
    stages = {name: in_subprocess(["--stage", name, "--pages", str(a.pages), *extra]) for name in STAGES}
    texts = sample_pages(a.pages)
    cli_seconds, cli_rss = cli_run(texts, a.model)
    cli_triple, _ = cli_run(texts * 3, a.model)
    marginal = (cli_triple - cli_seconds) / (2 * len(texts))  # seconds per page once started
    startup = cli_seconds - marginal * len(texts)

    rate = {name: s["pages"] / s["seconds"] for name, s in stages.items()}
    rate["cli"] = len(texts) / cli_seconds
    rate["cli_marginal"] = 1 / marginal
    labels = {**STAGES, "cli": "klassify predict CLI (incl. start-up)", "cli_marginal": "klassify predict CLI, marginal"}
    rss = {name: s["peak_rss_mb"] for name, s in stages.items()} | {"cli": cli_rss, "cli_marginal": cli_rss}
    print(f"{len(texts)} pages, mean {sum(map(len, texts)) / len(texts):.0f} chars; {os.cpu_count()} CPUs")
    print(f"{'stage':<40} {'pages/s':>9} {'vs kiwi':>8} {'peak RSS':>9}")
    for name, label in labels.items():
        print(f"{label:<40} {rate[name]:>9.1f} {rate[name] / rate['kiwi']:>7.2f}x {rss[name]:>6.0f} MB")
    kiwi_share = rate["tfidf"] / rate["kiwi"]
    print(f"kiwi share of TF-IDF classification time: {kiwi_share:.0%}; CLI start-up {startup:.1f} s")
    result = {"pages": len(texts), "cpus": os.cpu_count(), "pages_per_s": {labels[k]: round(v, 1) for k, v in rate.items()},
              "peak_rss_mb": {labels[k]: round(v) for k, v in rss.items()}, "kiwi_share": round(kiwi_share, 3),
              "cli_startup_s": round(startup, 2)}
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
