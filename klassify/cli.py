"""The ``klassify`` command: ``predict`` over crawled pages, ``evaluate`` on labeled data, ``info`` on a model."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .labels import LABELS
from .modeling import run_ahead

OUTPUT_FIELDS = ("id", "label", "score", "is_article", "article_score", "secondary", "evidence", "title", "scores", "error",
                 "group", "facts")


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
    p.add_argument("--group-copies", action="store_true",
                   help="fill `group`: pages carrying the same press release share the id of the first of them")
    p.add_argument("--facts", action="store_true",
                   help="fill `facts`: institution, event date and the label's facts, each with its span in the body")
    p.set_defaults(run=run_predict)

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

    from .records import iter_records

    fmt = args.format or ("csv" if args.output and args.output.lower().endswith(".csv") else "jsonl")
    if args.resume and not args.output:
        raise UsageError("--resume needs -o OUTPUT")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if fmt == "table" and args.resume:
        raise UsageError("--resume works with jsonl or csv output")
    clf = load_classifier(args)
    annotator = None
    if args.group_copies or args.facts:
        from .analysis import Annotator

        annotator = Annotator(group_copies=args.group_copies, facts=args.facts)
    done = previous_ids(args.output, fmt) if args.resume else set()
    writer = open_writer(args.output, fmt, append=args.resume and bool(done))
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    records = iter_records(args.inputs, text_field=args.text_field, id_field=args.id_field, stdin_format=args.stdin_format)
    total = failed = skipped = 0
    with tqdm(disable=not show, unit="page", file=sys.stderr, desc="klassify") as bar:
        # The next batch is read and tokenised in a background thread while this one is classified.
        for batch, prepared in run_ahead(batched(records, args.batch_size),
                                         lambda b: prepare_records(clf, b, done, annotator)):
            todo, read = prepared.result()
            skipped += len(batch) - len(todo)
            rows = classify_records(clf, todo, read)
            if annotator:
                annotator.annotate(batch, todo, rows, read)
            writer.write_rows(rows)
            total += len(rows)
            failed += sum(1 for r in rows if r["error"])
            bar.update(len(batch))
    writer.close()
    print(f"klassify: {total} records classified, {failed} with errors" + (f", {skipped} already done" if skipped else ""),
          file=sys.stderr)
    return 1 if total and failed == total else 0


@dataclass
class ReadRecords:
    """Records read into pages: error rows for the records that could not be read, the pages of the
    others with their positions, and the classifier's tokenisation of those pages (None if it failed)."""

    rows: list
    pages: list
    positions: list[int]
    prepared: object = None


def prepare_records(clf, batch, done: set[str], annotator=None):
    """The records of ``batch`` not already ``done``, and them read and tokenised (never raises)."""
    todo = [r for r in batch if r.id not in done]
    read = read_records(todo)
    try:
        read.prepared = clf.prepare(read.pages)
    except Exception:  # noqa: BLE001 - the classify step retries page by page and reports the bad page
        read.prepared = None
    if annotator:
        annotator.prepare(batch, todo, read)
    return todo, read


def read_records(records) -> ReadRecords:
    from .reading import PageReadError, read_page

    read = ReadRecords([None] * len(records), [], [])
    for k, record in enumerate(records):
        if record.error:
            read.rows[k] = error_row(record.id, record.error)
            continue
        try:
            read.pages.append(read_page(record.content, html=record.html))
            read.positions.append(k)
        except PageReadError as e:
            read.rows[k] = error_row(record.id, str(e))
    return read


def classify_records(clf, records, read: ReadRecords) -> list[dict]:
    """One output row per record, in order; read and classify errors become the row's ``error``."""
    rows, pages, positions = read.rows, read.pages, read.positions
    for k, prediction in zip(positions, predict_isolated(clf, pages, read.prepared)):
        if isinstance(prediction, Exception):
            rows[k] = error_row(records[k].id, f"classification failed: {type(prediction).__name__}: {prediction}")
        else:
            rows[k] = {"id": records[k].id, **prediction.to_dict(), "error": None}
    return rows


def predict_isolated(clf, pages, prepared=None):
    """Predict a batch; if it fails, retry page by page so only the bad page gets an error."""
    try:
        if prepared is not None:
            return clf.predict_prepared(pages, prepared)
        return clf.predict_pages(pages, batch_size=max(len(pages), 1))
    except Exception:  # noqa: BLE001 - isolate the failing page below, then report it on its row
        out = []
        for page in pages:
            try:
                out.extend(clf.predict_pages([page]))
            except Exception as e:  # noqa: BLE001
                out.append(e)
        return out


def error_row(record_id: str, message: str) -> dict:
    return {"id": record_id, "label": None, "score": None, "scores": None, "is_article": None, "article_score": None,
            "secondary": [], "evidence": None, "title": None, "error": message, "group": None, "facts": None}


def batched(iterable, size: int):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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
