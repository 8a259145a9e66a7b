#!/usr/bin/env python
"""``klassify spark-predict --master local[2]`` against one ``klassify predict`` process, same pages, one run.

    python benchmarks/spark.py [--pages 5000] [--rounds 2] [--json benchmarks/results/spark.json]

Both commands classify the same JSONL of ``--pages`` hand-written pages (benchmarks/run.py's sample) with the
shipped default model, as subprocesses, ``--rounds`` times each, interleaved; the faster round of each counts.
``klassify predict`` runs twice per round: free to use every CPU (it reads and tokenises the next batch in
a second thread), and held to one CPU, the "one core" that ``local[N]`` should multiply by N. A 100-page
run of each gives its start-up, so rates are also given once started (marginal).

CPU time is what the process tree (the CLI; or the Spark driver, its JVM and Python workers) used, sampled
from /proc; pages per CPU-second compares how much work each page costs, whatever else runs on the machine.
Printed: pages/s of each, the ratio, pages per core-second (pages/s per core given, and per CPU-second
used), and on paper: pages/s per executor core, executors for 10 million pages in an hour, memory per executor.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import run  # noqa: E402  (benchmarks/run.py: the page sample)

TARGET_PAGES, TARGET_SECONDS = 10_000_000, 3600
CORES_PER_EXECUTOR = 4
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") / 1024


class TreeSampler(threading.Thread):
    """Every ``interval`` s: CPU time and RSS of ``root`` and its descendants, per process, from /proc."""

    def __init__(self, root: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.root, self.interval, self.stopped = root, interval, threading.Event()
        self.cpu: dict[int, float] = {}
        self.rss_mb: dict[int, float] = {}
        self.comm: dict[int, str] = {}

    def run(self):
        while not self.stopped.wait(self.interval):
            self.sample()

    def sample(self):
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    raw = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                name, rest = raw[raw.index("(") + 1: raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
                stats[int(entry)] = (name, int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK, int(rest[21]) * PAGE_KB / 1024)
        tree, grew = {self.root}, True
        while grew:
            new = {pid for pid, s in stats.items() if s[1] in tree} - tree
            tree |= new
            grew = bool(new)
        for pid in tree & stats.keys():
            name, _, cpu, rss = stats[pid]
            self.comm[pid] = name
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu)
            self.rss_mb[pid] = max(self.rss_mb.get(pid, 0.0), rss)

    def stop(self) -> dict:
        self.stopped.set()
        self.join()
        java = [p for p, n in self.comm.items() if n == "java"]
        return {"cpu_s": sum(self.cpu.values()), "java_peak_rss_mb": max((self.rss_mb[p] for p in java), default=0.0)}


def timed(cmd: list[str], cpus: set[int] | None = None) -> dict:
    """Run ``cmd`` (on ``cpus`` only, if given); → wall seconds, CPU seconds of its process tree, peak RSS,
    and its stderr."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    tree = sampler.stop()
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    reaped = usage.ru_utime + usage.ru_stime
    return {"seconds": seconds, "cpu_s": max(tree["cpu_s"], reaped), "peak_rss_mb": usage.ru_maxrss / 1024,
            "java_peak_rss_mb": tree["java_peak_rss_mb"], "stderr": err}


def write_pages(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)),
                    encoding="utf-8")
    return path


def commands(src: Path, out: Path, master: str) -> dict:
    """name → (command, CPUs it may use: None for all)."""
    base = [sys.executable, "-m", "klassify"]
    predict = base + ["predict", str(src), "-o", str(out / "out.jsonl"), "--no-progress"]
    return {"predict": (predict, None), "predict_1cpu": (predict, {min(os.sched_getaffinity(0))}),
            "spark": (base + ["spark-predict", str(src), "-o", str(out / "out.parquet"), "--master", master], None)}


def worker_stats(stderr: str) -> dict:
    found = re.search(r"workers used ([\d.]+) CPU s, peak (\d+) MB", stderr)
    loads = re.search(r"model loaded (\d+) times", stderr)
    return {"worker_cpu_s": float(found.group(1)), "worker_peak_rss_mb": float(found.group(2)),
            "model_loads": int(loads.group(1))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pages", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--master", default="local[2]")
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "spark.json"))
    a = p.parse_args(argv)
    cores = int(re.fullmatch(r"local\[(\d+)\]", a.master).group(1))
    texts = run.sample_pages(a.pages)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big, small = write_pages(tmp / "pages.jsonl", texts), write_pages(tmp / "small.jsonl", texts[:100])
        small_runs = {name: timed(cmd, cpus) for name, (cmd, cpus) in commands(small, tmp, a.master).items()}
        runs = {name: [] for name in small_runs}
        for _ in range(a.rounds):
            for name, (cmd, cpus) in commands(big, tmp, a.master).items():
                runs[name].append(timed(cmd, cpus))
                print(f"  {name}: {runs[name][-1]['seconds']:.1f} s, {runs[name][-1]['cpu_s']:.1f} CPU s", file=sys.stderr)
    best = {name: min(r, key=lambda x: x["seconds"]) for name, r in runs.items()}
    n = len(texts)
    rate = {name: n / b["seconds"] for name, b in best.items()}
    startup = {name: r["seconds"] for name, r in small_runs.items()}
    marginal = {name: (n - 100) / (best[name]["seconds"] - startup[name]) for name in best}
    given = {"predict": os.cpu_count(), "predict_1cpu": 1, "spark": cores}  # CPUs each may use
    per_core = {name: marginal[name] / given[name] for name in best}
    per_cpu_s = {name: n / best[name]["cpu_s"] for name in best}
    per_cpu_s_marginal = {name: (n - 100) / (best[name]["cpu_s"] - small_runs[name]["cpu_s"]) for name in best}
    workers = worker_stats(best["spark"]["stderr"])
    per_executor_core = marginal["spark"] / cores
    cores_needed = TARGET_PAGES / TARGET_SECONDS / per_executor_core
    executors = math.ceil(cores_needed / CORES_PER_EXECUTOR)
    python_mb = workers["worker_peak_rss_mb"]
    result = {
        "pages": n, "mean_chars": round(sum(map(len, texts)) / n), "master": a.master, "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before], "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": {k: round(b["seconds"], 1) for k, b in best.items()},
        "startup_s": {k: round(v, 1) for k, v in startup.items()},
        "pages_per_s": {k: round(v, 1) for k, v in rate.items()},
        "pages_per_s_marginal": {k: round(v, 1) for k, v in marginal.items()},
        "ratio_spark_to_predict": round(rate["spark"] / rate["predict"], 2),
        "ratio_marginal": round(marginal["spark"] / marginal["predict"], 2),
        "scaling_spark_to_cores_x_one_cpu": round(marginal["spark"] / (cores * marginal["predict_1cpu"]), 2),
        "cpu_s": {k: round(b["cpu_s"], 1) for k, b in best.items()},
        "spark_python_worker_cpu_s": workers["worker_cpu_s"],
        "pages_per_core_s_given": {k: round(v, 1) for k, v in per_core.items()},
        "pages_per_cpu_s_used": {k: round(v, 1) for k, v in per_cpu_s.items()},
        "pages_per_cpu_s_used_marginal": {k: round(v, 1) for k, v in per_cpu_s_marginal.items()},
        "pages_per_python_worker_cpu_s": round(n / workers["worker_cpu_s"], 1),
        "model_loads": workers["model_loads"],
        "predict_peak_rss_mb": round(best["predict"]["peak_rss_mb"]),
        "python_worker_peak_rss_mb": round(python_mb),
        "spark_jvm_peak_rss_mb": round(best["spark"]["java_peak_rss_mb"]),
        "on_paper": {"pages_per_s_per_executor_core": round(per_executor_core, 1),
                     "cores_for_10M_pages_per_hour": math.ceil(cores_needed),
                     f"executors_of_{CORES_PER_EXECUTOR}_cores": executors,
                     "python_memory_per_executor_mb": round(python_mb * CORES_PER_EXECUTOR)},
        "rounds": {k: [round(r["seconds"], 1) for r in v] for k, v in runs.items()},
    }
    print(json.dumps(result, indent=2))
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
