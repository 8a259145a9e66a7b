"""The ``klassify`` command: ``predict`` over crawled pages (``spark-predict`` on Spark), ``evaluate`` on labeled
data, ``info`` on a model."""

from __future__ import annotations

import argparse
import codecs
import json
import sys
from pathlib import Path

from .batch import classify_batches
from .labels import LABELS
from .output import OUTPUT_FIELDS, OutputError, Writer, build_row, check_output, error_row, format_for, previous_ids

__all__ = ["OUTPUT_FIELDS", "build_row", "error_row", "main"]


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except (UsageError, OutputError) as e:
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
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="page files, directories (every file), .jsonl/.csv/.tsv, .parquet, WARC archives (any of them "
                        "gzip/bz2/xz/zstd-compressed), - for stdin; with --fetch: URLs or files listing them")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--format", choices=["jsonl", "csv", "parquet", "table"],
                   help="default: from -o's suffix (.csv, .parquet), else jsonl (table: readable summary)")
    add_model_args(p)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--resume", action="store_true", help="skip ids already in OUTPUT (jsonl or csv) and append the rest")
    p.add_argument("--text-field", default="text", help="JSONL/CSV/Parquet field holding the page (default: text)")
    p.add_argument("--id-field", default="id", help="JSONL/CSV/Parquet field holding the id (default: id; else FILE:ROW)")
    p.add_argument("--encoding", help="force the text encoding of files, CSV and JSONL (default: detected; e.g. cp949)")
    p.add_argument("--include", action="append", default=[], metavar="GLOB",
                   help="directories: read only files matching GLOB (path under the directory or name); repeatable")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="directories: skip files and folders matching GLOB; repeatable")
    p.add_argument("--stdin-format", choices=["auto", "jsonl", "text"], default="auto")
    f = p.add_argument_group("fetching (--fetch)")
    f.add_argument("--fetch", action="store_true", help="inputs are URLs or URL lists (one a line, - for stdin): download and classify")
    f.add_argument("--fetch-concurrency", type=int, default=4, metavar="N", help="downloads at once (default: 4)")
    f.add_argument("--fetch-delay", type=float, default=1.0, metavar="S", help="seconds between requests to one host (default: 1)")
    f.add_argument("--fetch-timeout", type=float, default=20.0, metavar="S", help="seconds before a request times out (default: 20)")
    f.add_argument("--fetch-retries", type=int, default=2, metavar="N", help="retries after network errors, 429 and 5xx (default: 2)")
    f.add_argument("--ignore-robots", action="store_true", help="fetch URLs that robots.txt disallows")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")
    p.add_argument("--group-copies", action="store_true",
                   help="fill `group`: pages carrying the same press release share the id of the first of them")
    p.add_argument("--facts", action="store_true",
                   help="fill `facts`: institution, event date and the label's facts, each with its span in the body")
    p.set_defaults(run=run_predict)

    s = sub.add_parser("spark-predict", help="predict on Apache Spark (the spark extra): the same rows, as Parquet")
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="files and directories every executor can read "
                   "(pages, .jsonl, .csv, WARC, compressed or not), .parquet on any Hadoop filesystem")
    s.add_argument("-o", "--output", required=True, help="output Parquet directory, replaced atomically")
    s.add_argument("--master", help="Spark master, e.g. local[2] or yarn (default: spark-submit's, else local[*])")
    s.add_argument("--model", default=None, help="model name under models/ or a model directory (default: the shipped default)")
    s.add_argument("--trust-model", action="store_true", help="load a model even if its manifest checks fail")
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--text-field", default="text", help="JSONL/CSV/Parquet field holding the page (default: text)")
    s.add_argument("--id-field", default="id", help="JSONL/CSV/Parquet field holding the id (default: id)")
    s.add_argument("--encoding", help="force the text encoding of files, CSV and JSONL (default: detected)")
    s.add_argument("--include", action="append", default=[], metavar="GLOB", help="directories: read only matching files")
    s.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="directories: skip matching files and folders")
    s.add_argument("--partition-by", action="append", default=[], metavar="COLUMN",
                   help="write OUTPUT partitioned by this output column (repeatable), e.g. label")
    s.add_argument("--partitions", type=int, help="tasks to classify in (default: 4 per core over files, 2 per core "
                                                  "when there are fewer files than cores)")
    s.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting (repeatable)")
    s.set_defaults(run=run_spark_predict)
    r = sub.add_parser("report", help="an HTML report (counts by month and institution, uncertain pages) from predictions")
    r.add_argument("predictions", nargs="+", metavar="PREDICTIONS", help="JSONL or CSV written by `klassify predict`")
    r.add_argument("-o", "--output", default="report", help="folder for report.html, summary.csv and PNGs (default: report)")
    r.add_argument("--uncertain-below", type=float, default=0.6, help="list pages whose label score is below this")
    r.set_defaults(run=run_report)

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

    from .records import ReadStats, iter_records

    fmt = format_for(args.output, args.format)
    check_predict_args(args, fmt)
    check_output(args.output, fmt)
    clf = load_classifier(args)
    annotator = None
    if args.group_copies or args.facts:
        from .analysis import Annotator

        annotator = Annotator(group_copies=args.group_copies, facts=args.facts)
    done, columns = previous_ids(args.output, fmt) if args.resume else (set(), None)
    writer = Writer(args.output, fmt, append=bool(done) or columns is not None, columns=columns)
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    stats = ReadStats()
    records = iter_records(args.inputs, text_field=args.text_field, id_field=args.id_field, stdin_format=args.stdin_format,
                           encoding=args.encoding, include=args.include, exclude=args.exclude, stats=stats,
                           fetcher=make_fetcher(args) if args.fetch else None)
    total = failed = skipped = 0
    with tqdm(disable=not show, unit="page", file=sys.stderr, desc="klassify") as bar:
        for batch, rows in classify_batches(clf, records, args.batch_size, done, annotator):
            skipped += len(batch) - len(rows)
            writer.write_rows(rows)
            total += len(rows)
            failed += sum(1 for r in rows if r["error"])
            bar.update(len(batch))
    writer.close()
    not_read = stats.summary()
    print(f"klassify: {total} records classified, {failed} with errors" + (f", {skipped} already done" if skipped else "")
          + (f"; not read: {not_read}" if not_read else ""), file=sys.stderr)
    return 1 if total and failed == total else 0


def check_predict_args(args, fmt: str) -> None:
    if args.resume and not args.output:
        raise UsageError("--resume needs -o OUTPUT")
    if args.resume and fmt not in ("jsonl", "csv"):
        raise UsageError(f"--resume works with jsonl or csv output, not {fmt} (a Parquet file is readable only once "
                         "complete: write JSONL for long runs and convert it)")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if args.encoding:
        try:
            codecs.lookup(args.encoding)
        except LookupError:
            raise UsageError(f"unknown --encoding {args.encoding!r} (try utf-8, cp949 or euc-kr)") from None
    if args.fetch and (args.fetch_concurrency < 1 or args.fetch_retries < 0 or args.fetch_delay < 0 or args.fetch_timeout <= 0):
        raise UsageError("--fetch-concurrency must be at least 1, --fetch-retries and --fetch-delay at least 0, "
                         "--fetch-timeout above 0")


def make_fetcher(args):
    from .fetch import Fetcher, FetchSettings

    return Fetcher(FetchSettings(concurrency=args.fetch_concurrency, delay=args.fetch_delay, timeout=args.fetch_timeout,
                                 retries=args.fetch_retries, robots=not args.ignore_robots))


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
                                   partitions=args.partitions, counters=counters, encoding=args.encoding,
                                   include=args.include, exclude=args.exclude)
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


# --- report ----------------------------------------------------------------------------------------

def run_report(args) -> int:
    from .report import ReportError, write_report

    try:
        out = write_report(args.predictions, args.output, uncertain_below=args.uncertain_below)
    except ReportError as e:
        raise UsageError(str(e)) from e
    print(f"klassify: report written to {out}", file=sys.stderr)
    return 0


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
    selection = m.get("selection", {})
    if selection.get("refit_on"):
        show("refit", f"on {selection['refit_on']} once every choice was made on real dev (real dev macro-F1 "
                      f"{selection['real_dev_macro_f1_before_refit']:.3f} before the refit)")
    counts = m.get("training_counts", {}) | m.get("rescored", {}).get("counts", {})  # the splits the metrics used
    for split, by_label in counts.items():
        name = ("trained on" + (" (TF-IDF)" if hasattr(clf, "members") else "")  # the encoder member has its own
                if split.startswith("train") else f"{split} pages")
        show(name, ", ".join(f"{k} {v}" for k, v in sorted(by_label.items())))
    reserved = (m.get("real_pages") or {}).get("ai_reserved")
    if reserved and reserved["sites"]:
        show("left out", f"{reserved['train_pages_left_out']} real train pages (sites that reserve their pages from "
                         f"AI training: {', '.join(reserved['sites'])})")
    if m.get("seeds"):
        show("seed pages", f"{m['seeds'].get('correct')} correct")
    if hasattr(clf, "members"):
        show("stack", f"page-shape detector's share of the article score {clf.detector_share}, TF-IDF's share of the "
                      f"rest {clf.article_share} and of the initiative probabilities {clf.initiative_share}; members "
                      + ", ".join(str(m.path) for m in clf.members))
    for member in getattr(clf, "members", (clf,)):
        settings = getattr(member.model, "settings", None)
        if settings is not None:
            windows = "all" if settings.max_windows is None else settings.max_windows
            show("encoder", f"{settings.base_model}, {settings.layers} layers, {len(member.model.kept_ids):,} pieces, "
                            f"windows of {settings.window} tokens (overlap {settings.overlap}, up to {windows} read, "
                            f"{settings.pooling} pooling), backend {member.model.encoder.name}")
    show("versions", ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items()))
    show("files", ", ".join(f"{k} (sha256 {v[:12]}…)" for k, v in m.get("files", {}).items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
