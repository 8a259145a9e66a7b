"""The ``klassify`` command: ``predict`` over crawled pages (``spark-predict`` on Spark), ``evaluate`` on labeled
data, ``info`` on a model."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from .batch import OUTPUT_FIELDS, classify_batches
from .labels import LABELS


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except UsageError as e:
        print(f"klassify: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("klassify: interrupted; rerun with --resume to continue", file=sys.stderr)
        return 130


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="klassify", description="Classify scraped Korean public-sector pages.")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("predict", help="classify pages; one output row per input record")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=".txt/.html files, directories, .jsonl, .csv, or - for stdin")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--format", choices=["jsonl", "csv", "table"], help="default: from -o's suffix, else jsonl (table: readable summary)")
    add_model_args(p)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--resume", action="store_true", help="skip ids already in OUTPUT and append the rest")
    p.add_argument("--text-field", default="text", help="JSONL/CSV field holding the page (default: text)")
    p.add_argument("--id-field", default="id", help="JSONL/CSV field holding the id (default: id; else FILE:LINE)")
    p.add_argument("--stdin-format", choices=["auto", "jsonl", "text"], default="auto")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")
    p.set_defaults(run=run_predict)

    s = sub.add_parser("spark-predict", help="predict on Apache Spark (the spark extra): the same rows, as Parquet")
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="files and directories every executor can read "
                   "(.jsonl, .csv, pages, WARC once the reader has it), .parquet on any Hadoop filesystem")
    s.add_argument("-o", "--output", required=True, help="output Parquet directory, replaced atomically")
    s.add_argument("--master", help="Spark master, e.g. local[2] or yarn (default: spark-submit's, else local[*])")
    s.add_argument("--model", default=None, help="model name under models/ or a model directory (default: the shipped default)")
    s.add_argument("--trust-model", action="store_true", help="load a model even if its manifest checks fail")
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--text-field", default="text", help="JSONL/CSV/Parquet field holding the page (default: text)")
    s.add_argument("--id-field", default="id", help="JSONL/CSV/Parquet field holding the id (default: id)")
    s.add_argument("--partition-by", action="append", default=[], metavar="COLUMN",
                   help="write OUTPUT partitioned by this output column (repeatable), e.g. label")
    s.add_argument("--partitions", type=int, help="tasks to classify in (default: 4 per core over files, 2 per core "
                                                  "when there are fewer files than cores)")
    s.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting (repeatable)")
    s.set_defaults(run=run_spark_predict)

    e = sub.add_parser("evaluate", help="metrics on labeled JSONL (file or directory) or on the real-page set")
    e.add_argument("data", nargs="?", help="labeled JSONL file or directory (fields text, label[, split])")
    e.add_argument("--real", nargs="?", const="default", metavar="INDEX",
                   help="score the real-page set instead (data/real/index.jsonl, or this index), texts from its cache")
    add_model_args(e)
    e.add_argument("--split", default="auto", help="which split to score: test, dev, train, all (auto: test if rows have splits)")
    e.add_argument("--json", dest="json_out", help="also write the metrics as JSON here")
    e.add_argument("--report", help="write a full report folder (confusion PNG, misclassified pages) here")
    e.set_defaults(run=run_evaluate)

    i = sub.add_parser("info", help="what a model is: labels, training counts, metrics, versions")
    add_model_args(i)
    i.set_defaults(run=run_info)
    return parser


def add_model_args(p):
    p.add_argument("--model", default=None, help="model name under models/ or a model directory (default: the shipped default)")
    p.add_argument("--trust-model", action="store_true", help="load a model even if its manifest checks fail")
    p.add_argument("--backend", choices=["onnx", "torch"], default=None,
                   help="encoder models only: int8 ONNX Runtime or fp32 torch (default: the one stored with the model)")
    p.add_argument("--device", default=None,
                   help="encoder models only: where torch runs them, cpu, cuda or auto (a GPU implies --backend torch)")


def load_classifier(args):
    from .artifacts import ModelLoadError
    from .modeling import Classifier

    try:
        return Classifier.load(args.model, trust=args.trust_model, backend=args.backend, device=args.device)
    except (ModelLoadError, ValueError) as e:
        raise UsageError(str(e)) from e


# --- predict -------------------------------------------------------------------------------------

def run_predict(args) -> int:
    from tqdm.auto import tqdm

    from .records import iter_records

    fmt = args.format or ("csv" if args.output and args.output.lower().endswith(".csv") else "jsonl")
    if args.resume and not args.output:
        raise UsageError("--resume needs -o OUTPUT")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if fmt == "table" and args.resume:
        raise UsageError("--resume works with jsonl or csv output")
    clf = load_classifier(args)
    done = previous_ids(args.output, fmt) if args.resume else set()
    writer = open_writer(args.output, fmt, append=args.resume and bool(done))
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    records = iter_records(args.inputs, text_field=args.text_field, id_field=args.id_field, stdin_format=args.stdin_format)
    total = failed = skipped = 0
    with tqdm(disable=not show, unit="page", file=sys.stderr, desc="klassify") as bar:
        for batch, rows in classify_batches(clf, records, args.batch_size, done):
            skipped += len(batch) - len(rows)
            writer.write_rows(rows)
            total += len(rows)
            failed += sum(1 for r in rows if r["error"])
            bar.update(len(batch))
    writer.close()
    print(f"klassify: {total} records classified, {failed} with errors" + (f", {skipped} already done" if skipped else ""),
          file=sys.stderr)
    return 1 if total and failed == total else 0


def run_spark_predict(args) -> int:
    try:
        from . import spark
    except ImportError as e:  # pragma: no cover - the spark extra is missing
        raise UsageError(f"spark-predict needs the spark extra: pip install 'klassify[spark]' ({e})") from e

    bad = [c for c in args.partition_by if c not in OUTPUT_FIELDS]
    if bad:
        raise UsageError(f"--partition-by {bad[0]!r} is not an output column ({', '.join(OUTPUT_FIELDS)})")
    if "-" in args.inputs:
        raise UsageError("spark-predict reads files, not stdin")
    conf = [c.split("=", 1) for c in args.conf]
    if any(len(c) != 2 for c in conf):
        raise UsageError("--conf takes KEY=VALUE")
    session, started = spark.start_session(args.master, conf=conf)
    try:
        counters = spark.JobCounters(session.sparkContext)
        rows = spark.predict_paths(session, args.inputs, args.model, text_field=args.text_field,
                                   id_field=args.id_field, batch_size=args.batch_size, trust=args.trust_model,
                                   partitions=args.partitions, counters=counters)
        spark.write_atomically(rows, args.output, args.partition_by)
        written = session.read.parquet(args.output).count()
    except (ValueError, OSError) as e:
        raise UsageError(str(e)) from e
    finally:
        if started:
            session.stop()
    print(f"klassify: {counters.summary()}", file=sys.stderr)
    print(f"klassify: wrote {written} rows to {args.output}", file=sys.stderr)
    values = counters.values()
    if written != values["records"]:
        print(f"klassify: warning: {values['records']} records counted but {written} rows written", file=sys.stderr)
    return 1 if written and values["failed"] == written else 0


# --- output ----------------------------------------------------------------------------------------

def previous_ids(path: str, fmt: str) -> set[str]:
    """Ids of complete rows already in ``path``; a torn last row (killed mid-write) is cut off first."""
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return set()
    data = p.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]  # drop a partial last line
    ids = set()
    if fmt == "jsonl":
        good = []
        for line in keep.splitlines(keepends=True):
            try:
                ids.add(str(json.loads(line)["id"]))
                good.append(line)
            except (ValueError, KeyError, TypeError):
                continue
        keep = b"".join(good)
    else:
        rows = list(csv.reader(io_text(keep)))
        if rows and rows[0] != list(OUTPUT_FIELDS):
            raise UsageError(f"{path} is not a klassify CSV (header {rows[0][:3]}...)")
        rows = [r for r in rows[1:] if len(r) == len(OUTPUT_FIELDS)]
        ids = {r[0] for r in rows}
        keep = csv_bytes([list(OUTPUT_FIELDS)] + rows)
    if keep != data:
        p.write_bytes(keep)
    return ids


def io_text(data: bytes):
    import io

    return io.StringIO(data.decode("utf-8", errors="replace"), newline="")


def csv_bytes(rows) -> bytes:
    import io

    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8")


class Writer:
    def __init__(self, stream, fmt: str, write_header: bool):
        self.stream, self.fmt = stream, fmt
        self.csv = csv.writer(stream) if fmt == "csv" else None
        if self.csv and write_header:
            self.csv.writerow(OUTPUT_FIELDS)
        self.table_rows: list[dict] = []

    def write_rows(self, rows):
        for row in rows:
            if self.fmt == "jsonl":
                self.stream.write(json.dumps({k: row.get(k) for k in OUTPUT_FIELDS}, ensure_ascii=False) + "\n")
            elif self.fmt == "csv":
                self.csv.writerow([csv_cell(row.get(k)) for k in OUTPUT_FIELDS])
            else:
                self.table_rows.append(row)
        self.stream.flush()
        if self.stream is not sys.stdout:
            os.fsync(self.stream.fileno())

    def close(self):
        if self.fmt == "table":
            self.stream.write(format_table(self.table_rows) + "\n")
        if self.stream is not sys.stdout:
            self.stream.close()
        else:
            self.stream.flush()


def open_writer(path: str | None, fmt: str, append: bool) -> Writer:
    if not path:
        return Writer(sys.stdout, fmt, write_header=True)
    stream = open(path, "a" if append else "w", encoding="utf-8", newline="")
    return Writer(stream, fmt, write_header=not append)


def csv_cell(value):
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def format_table(rows) -> str:
    import unicodedata

    def width(s):
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)

    def fit(s, n):
        s = s or ""
        out = ""
        for c in s:
            if width(out + c) > n - 1:
                return out + "…"
            out += c
        return out + " " * (n - width(out))

    header = f"{fit('id', 28)} {fit('label', 12)} {'score':>5}  {fit('secondary', 12)} evidence"
    lines = [header, "-" * 100]
    for r in rows:
        if r.get("error"):
            lines.append(f"{fit(Path(r['id']).name, 28)} {fit('ERROR', 12)} {'':>5}  {fit('', 12)} {r['error']}")
            continue
        lines.append(f"{fit(Path(r['id']).name, 28)} {fit(r['label'], 12)} {r['score']:>5.2f}  "
                     f"{fit(','.join(r['secondary']), 12)} {fit(r['evidence'] or '', 60)}")
    return "\n".join(lines)


# --- evaluate / info -------------------------------------------------------------------------------

def read_evaluation_rows(args) -> tuple[list[dict], str]:
    """The labeled rows ``evaluate`` scores, and a name for where they came from."""
    from .data import read_labeled
    from .real import DEFAULT_INDEX, RealCacheMissing, load_real

    if (args.data is None) == (args.real is None):
        raise UsageError("give labeled data or --real (one of them)")
    if args.real is not None:
        index = DEFAULT_INDEX if args.real == "default" else Path(args.real)
        try:
            return load_real(index=index), f"real pages ({index})"
        except RealCacheMissing as e:
            raise UsageError(str(e)) from e
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read the real-page index {index}: {e}") from e
    try:
        return read_labeled(args.data), args.data
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read labeled data {args.data}: {e}") from e


def run_evaluate(args) -> int:
    from .evaluation import evaluate, format_metrics, write_report

    rows, source = read_evaluation_rows(args)
    split = args.split
    if split == "auto":
        split = "test" if any(r.get("split") for r in rows) else "all"
    if split != "all":
        rows = [r for r in rows if r.get("split") == split]
    if not rows:
        raise UsageError(f"no labeled rows in split {split!r}")
    clf = load_classifier(args)
    metrics, predictions = evaluate(clf, rows, show_progress_bar=sys.stderr.isatty())
    metrics["split"] = split
    metrics["model"] = str(clf.path)
    print(f"model {clf.path} on {source} (split: {split})")
    print(format_metrics(metrics))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(metrics, indent=2) + "\n")
    if args.report:
        write_report(args.report, metrics, rows, predictions, title=f"{Path(str(clf.path)).name}: {split}")
    return 0


def run_info(args) -> int:
    clf = load_classifier(args)
    m = clf.manifest

    def show(name: str, value) -> None:
        print(f"{name + ':':<20}{value}")

    show("model", f"{clf.path} ({m.get('model_type')})")
    show("created", m.get("created"))
    if m.get("rescored"):
        show("rescored", f"{m['rescored'].get('date')} on the current dev/test splits (not retrained)")
    show("labels", ", ".join(LABELS))
    show("thresholds", f"article {clf.article_threshold}, secondary {clf.secondary_threshold}")
    for split, metrics in m.get("metrics", {}).items():
        show(f"{split} metrics", f"macro-F1 {metrics['macro_f1']:.3f}, not_article F1 "
                                 f"{metrics['not_article']['f1']:.3f} (n={metrics['n']})")
    counts = m.get("training_counts", {}) | m.get("rescored", {}).get("counts", {})  # the splits the metrics used
    for split, by_label in counts.items():
        name = "trained on" if split.startswith("train") else f"{split} pages"
        show(name, ", ".join(f"{k} {v}" for k, v in sorted(by_label.items())))
    if m.get("seeds"):
        show("seed pages", f"{m['seeds'].get('correct')} correct")
    settings = getattr(clf.model, "settings", None)
    if settings is not None:
        windows = "all" if settings.max_windows is None else settings.max_windows
        show("encoder", f"{settings.base_model}, {settings.layers} layers, {len(clf.model.kept_ids):,} pieces, "
                        f"windows of {settings.window} tokens (overlap {settings.overlap}, up to {windows} read, "
                        f"{settings.pooling} pooling), backend {clf.model.encoder.name}")
    show("versions", ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items()))
    show("files", ", ".join(f"{k} (sha256 {v[:12]}…)" for k, v in m.get("files", {}).items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
