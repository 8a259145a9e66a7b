"""klassify on Apache Spark: the rows of ``klassify predict`` for DataFrames and for crawl files on a cluster.

Needs the ``spark`` extra (``pip install 'klassify[spark]'``: pyspark 4, pandas, pyarrow).

* :func:`predict_dataframe` classifies a DataFrame's text column with ``mapInPandas`` (Arrow batches).
* :func:`predict_paths` does what ``klassify spark-predict`` does: it distributes the list of input files
  (as Common Crawl's ``cc-pyspark`` does with WARC files) and every task streams its own files through the
  record reader of the local CLI (:func:`records_of_path`); Parquet is read by Spark itself, split by row
  group. Output rows are built by :mod:`klassify.batch`, the code ``klassify predict`` runs, so the columns
  are :data:`klassify.output.OUTPUT_FIELDS` and the answers are the same.
* :func:`write_atomically` writes Parquet to a temporary path beside the output, then renames it.

Each Python worker loads the model once (module-level cache) and reuses it for every batch and task it runs;
Spark reuses Python workers across tasks (``spark.python.worker.reuse``, on by default).
"""

from __future__ import annotations

import os
import pickle
import resource
import sys
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .batch import OUTPUT_FIELDS, classify_batches
from .output import json_if_dict
from .records import ReadOptions, ReadStats, Record, directory_files, records_of_path

COLUMN_TYPES = {"score": "double", "article_score": "double", "is_article": "boolean",
                "secondary": "array<string>", "scores": "map<string,double>", "status": "int"}
"""Spark types of the output columns; any other column (text, or one added later) is a string."""

FAULT_PROPERTY = "klassify.inject_fault"
"""Tests only: a Spark local property ``once:<marker file>`` makes the first batch to see no marker raise."""

SPARK_READ_SUFFIXES = {".parquet"}
"""Inputs Spark reads itself (splitting them by row group) instead of the record reader."""

LOCAL_TASK_ATTEMPTS = 4  # what spark.task.maxFailures gives each task on a cluster


def output_schema() -> str:
    """The DDL schema of output rows, derived from :data:`~klassify.output.OUTPUT_FIELDS`.

    >>> output_schema().split(", ")[:3]
    ['`id` string', '`label` string', '`score` double']
    """
    return ", ".join(f"`{name}` {COLUMN_TYPES.get(name, 'string')}" for name in OUTPUT_FIELDS)


# --- counters --------------------------------------------------------------------------------------

class _Max:
    """Accumulator parameter keeping the largest value (peak memory of any worker)."""

    def zero(self, value):
        return 0.0

    def addInPlace(self, a, b):  # noqa: N802 - the name Spark calls
        return max(a, b)


class JobCounters:
    """Spark accumulators a job's tasks count into; read them on the driver once the job has run.

    Only successful task attempts count (a retried task is counted once).
    """

    COUNTS = ("files", "files_skipped", "records", "failed", "skipped", "model_loads")

    def __init__(self, sc):
        for name in self.COUNTS:
            setattr(self, name, sc.accumulator(0))
        self.worker_cpu_s = sc.accumulator(0.0)
        self.worker_peak_rss_mb = sc.accumulator(0.0, _Max())

    def values(self) -> dict:
        names = (*self.COUNTS, "worker_cpu_s", "worker_peak_rss_mb")
        return {name: getattr(self, name).value for name in names}

    def summary(self) -> str:
        v = self.values()
        return (f"{v['files']} files read ({v['files_skipped']} skipped); {v['records']} records classified, "
                f"{v['failed']} with errors, {v['skipped']} skipped; model loaded {v['model_loads']} times "
                f"(once per Python worker); workers used {v['worker_cpu_s']:.1f} CPU s, "
                f"peak {v['worker_peak_rss_mb']:.0f} MB each")


# --- on the workers --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Task:
    """What every task needs, shipped with the job."""

    models: tuple[str | None, ...]  # where a worker may find the model, most specific first
    trust: bool
    text_field: str
    id_field: str | None
    batch_size: int
    counters: JobCounters
    encoding: str | None = None


_CLASSIFIERS: dict = {}  # per Python worker process: (model, trust) -> Classifier


def _classifier(task: _Task):
    key = (task.models, task.trust)
    if key not in _CLASSIFIERS:
        from .modeling import Classifier

        _CLASSIFIERS[key] = Classifier.load(_locate_model(task.models), trust=task.trust)
        task.counters.model_loads.add(1)
    return _CLASSIFIERS[key]


def _locate_model(models: tuple[str | None, ...]) -> str | None:
    """The first of ``models`` this worker can see (the driver's directory, or the path as given, relative to
    the worker's directory where ``--archives`` unpacks), else one shipped under that name with
    ``SparkContext.addFile`` / ``--files``, else the name as given (``models/<name>``)."""
    for model in models:
        if model is None or Path(model).exists():
            return model
    from pyspark import SparkFiles

    shipped = Path(SparkFiles.get(Path(models[-1]).name))
    return str(shipped) if shipped.exists() else models[-1]


def _run_task(task: _Task, records):
    """Output frames for ``records``, ``task.batch_size`` rows each, with the worker's usage counted."""
    start = resource.getrusage(resource.RUSAGE_SELF)
    try:
        clf = _classifier(task)
        for _, rows in classify_batches(clf, records, task.batch_size):
            _maybe_inject_fault()
            task.counters.records.add(len(rows))
            task.counters.failed.add(sum(1 for r in rows if r["error"]))
            yield _frame(rows)
    finally:
        end = resource.getrusage(resource.RUSAGE_SELF)
        task.counters.worker_cpu_s.add(end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime)
        task.counters.worker_peak_rss_mb.add(end.ru_maxrss / 1024)


def _frame(rows):
    import pandas as pd

    strings = [name for name in OUTPUT_FIELDS if name not in COLUMN_TYPES]
    table = [{name: row.get(name) for name in OUTPUT_FIELDS} for row in rows]
    for row in table:
        for name in strings:
            value = json_if_dict(row[name])
            row[name] = value if value is None or isinstance(value, str) else str(value)
    return pd.DataFrame(table, columns=list(OUTPUT_FIELDS))


def _maybe_inject_fault():
    from pyspark import TaskContext

    context = TaskContext.get()
    fault = context.getLocalProperty(FAULT_PROPERTY) if context else None
    if fault and fault.startswith("once:"):
        try:
            os.close(os.open(fault[len("once:"):], os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
        raise RuntimeError(f"injected fault (task attempt {context.attemptNumber()})")


def _records_of_rows(task: _Task, frames):
    from pyspark import TaskContext

    partition = TaskContext.get().partitionId()
    n = 0
    for frame in frames:
        ids = frame[task.id_field] if task.id_field else [None] * len(frame)
        for record_id, text in zip(ids, frame[task.text_field]):
            n += 1
            record_id = f"part-{partition}:{n}" if _missing(record_id) else str(record_id)
            if _missing(text):
                yield Record(record_id, error=f"field {task.text_field!r} is missing or null")
            else:
                yield Record(record_id, text)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value == ""


def _records_of_paths(task: _Task, frames):
    for frame in frames:
        for path in frame["path"]:
            stats = ReadStats()
            yield from records_of_path(path, text_field=task.text_field, id_field=task.id_field or "id",
                                       encoding=task.encoding, stats=stats)
            task.counters.files.add(1)
            task.counters.skipped.add(sum(stats.skipped.values()))


def _classify_rows(task: _Task, frames):
    return _run_task(task, _records_of_rows(task, frames))


def _classify_paths(task: _Task, frames):
    return _run_task(task, _records_of_paths(task, frames))


def _read_paths(task: _Task, frames):
    """Records of the paths, pickled (every field of :class:`Record`), to be spread over more tasks."""
    import pandas as pd

    records = _records_of_paths(task, frames)
    while chunk := [pickle.dumps(r) for _, r in zip(range(256), records)]:
        yield pd.DataFrame({"record": chunk})


def _classify_pickled(task: _Task, frames):
    records = (pickle.loads(blob) for frame in frames for blob in frame["record"])
    return _run_task(task, records)


# --- on the driver ---------------------------------------------------------------------------------

def predict_dataframe(df, model="tfidf", text_col: str = "text", id_col: str | None = "id", batch_size: int = 64,
                      *, trust: bool = False, counters: JobCounters | None = None):
    """``df`` classified: one row per input row, with the columns of ``klassify predict`` output.

    ``model``: a model name under ``models/``, a model directory every executor can read, or the name of one
    shipped with the job (``--archives tfidf.zip#tfidf``, :func:`ship_model`). ``id_col=None`` (or a null
    id) numbers rows ``part-<partition>:<n>``. A null text is an error row, never a failed job.
    """
    if text_col not in df.columns:
        raise ValueError(f"DataFrame has no {text_col!r} column (columns: {df.columns})")
    if id_col is not None and id_col not in df.columns:
        raise ValueError(f"DataFrame has no {id_col!r} column (columns: {df.columns}); pass id_col=None to number rows")
    from pyspark.sql.functions import col

    task = _new_task(df.sparkSession, model, trust, text_col, id_col, batch_size, counters)
    columns = [col(text_col)] + ([col(id_col).cast("string")] if id_col else [])  # ids as Spark prints them
    return df.select(*columns).mapInPandas(partial(_classify_rows, task), output_schema())


def predict_paths(spark, inputs, model=None, *, text_field: str = "text", id_field: str = "id", batch_size: int = 64,
                  trust: bool = False, partitions: int | None = None, counters: JobCounters | None = None,
                  encoding: str | None = None, include=(), exclude=()):
    """The rows of ``klassify predict INPUT...``, computed by Spark.

    Directories are listed here by the local CLI's rules (every regular file; hidden files, VCS folders and
    what ``include``/``exclude`` globs leave out are skipped and counted); the files are spread
    over ``partitions`` tasks (default: 4 per core, at most one task per file) and each task streams its
    own files. With fewer files than cores (one big JSONL), the records are spread over ``partitions``
    tasks (default: 2 per core) instead, which costs a shuffle of the records.
    """
    counters = counters or JobCounters(spark.sparkContext)
    paths, not_listed = list_inputs(inputs, include=include, exclude=exclude)
    counters.files_skipped.add(not_listed)
    by_spark = [p for p in paths if Path(p).suffix.lower() in SPARK_READ_SUFFIXES]
    by_reader = [p for p in paths if Path(p).suffix.lower() not in SPARK_READ_SUFFIXES]
    parts = []
    if by_reader:
        task = _new_task(spark, model, trust, text_field, id_field, batch_size, counters, encoding)
        parts.append(_predict_files(spark, by_reader, task, partitions))
    if by_spark:
        table = spark.read.option("mergeSchema", "true").parquet(*by_spark)
        if text_field not in table.columns:
            raise ValueError(f"Parquet input has no {text_field!r} column (columns: {table.columns})")
        counters.files.add(len(by_spark))
        parts.append(predict_dataframe(table, model, text_field, id_field if id_field in table.columns else None,
                                       batch_size, trust=trust, counters=counters))
    if not parts:
        raise ValueError("no input files")
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


def _predict_files(spark, paths, task: _Task, partitions):
    cores = spark.sparkContext.defaultParallelism
    spread = len(paths) < cores
    slices = min(len(paths), partitions or 4 * cores)
    listing = spark.createDataFrame(spark.sparkContext.parallelize([(p,) for p in paths], slices), "path string")
    if not spread:
        return listing.mapInPandas(partial(_classify_paths, task), output_schema())
    records = listing.mapInPandas(partial(_read_paths, task), "record binary")
    return records.repartition(partitions or 2 * cores).mapInPandas(partial(_classify_pickled, task), output_schema())


def _new_task(spark, model, trust, text_field, id_field, batch_size, counters, encoding=None) -> _Task:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    return _Task(_model_for_workers(model), trust, text_field, id_field, batch_size,
                 counters or JobCounters(spark.sparkContext), encoding)


def _model_for_workers(model) -> tuple[str | None, ...]:
    """The driver's absolute model directory when it has one (workers on this machine or a shared filesystem
    find it there), then ``model`` as given, for workers that have it elsewhere."""
    from .artifacts import ModelLoadError, resolve_model_dir

    try:
        return str(resolve_model_dir(model).resolve()), None if model is None else str(model)
    except ModelLoadError:
        if model is None:
            raise
        return (str(model),)


def ship_model(spark, model=None) -> str:
    """Send a model directory to every executor with the job (``SparkContext.addFile``); → the name to pass
    as ``model=`` (workers find it in their SparkFiles directory)."""
    from .artifacts import verify_model_dir

    _, directory = verify_model_dir(model)
    spark.sparkContext.addFile(str(directory.resolve()), recursive=True)
    return directory.name


def list_inputs(inputs, include=(), exclude=()) -> tuple[list[str], int]:
    """Input files, directories walked as ``klassify predict`` walks them → ``(paths, files not read)``.

    A path that does not exist, or a folder that cannot be listed, is kept: the worker's reader turns it
    into an error row. A ``.parquet`` directory (as Spark writes one) is one input, for Spark to read.
    """
    options = ReadOptions(include=tuple(include), exclude=tuple(exclude))
    stats = ReadStats()
    paths = []
    for item in inputs:
        if not os.path.isdir(item) or Path(item).suffix.lower() in SPARK_READ_SUFFIXES:
            paths.append(item)
            continue
        paths.extend(str(f.id if isinstance(f, Record) else f) for f in directory_files(Path(item), options, stats))
    return paths, sum(stats.skipped.values())


def local_master_with_retries(master: str) -> str:
    """``local[N]`` → ``local[N,4]``: local Spark gives a task one attempt unless told otherwise; a
    cluster gives it ``spark.task.maxFailures`` (4).

    >>> local_master_with_retries("local[2]"), local_master_with_retries("local[*,2]"), local_master_with_retries("yarn")
    ('local[2,4]', 'local[*,2]', 'yarn')
    """
    import re

    if master == "local":
        return f"local[1,{LOCAL_TASK_ATTEMPTS}]"
    match = re.fullmatch(r"local\[(\d+|\*)\]", master)
    return f"local[{match.group(1)},{LOCAL_TASK_ATTEMPTS}]" if match else master


def write_atomically(df, output: str, partition_by=()) -> None:
    """Write ``df`` as Parquet to ``output`` (any Hadoop filesystem): first to a hidden temporary path
    beside it, then renamed into place, so ``output`` holds either the old complete result or the new one.
    A failed job leaves the old output as it was."""
    spark = df.sparkSession
    jvm, conf = spark.sparkContext._jvm, spark.sparkContext._jsc.hadoopConfiguration()  # Hadoop's FileSystem API
    HadoopPath = jvm.org.apache.hadoop.fs.Path
    out = HadoopPath(output)
    fs = out.getFileSystem(conf)
    out = fs.makeQualified(out)
    tag = uuid.uuid4().hex[:12]
    tmp = HadoopPath(out.getParent(), f".{out.getName()}.tmp-{tag}")
    old = HadoopPath(out.getParent(), f".{out.getName()}.old-{tag}")
    try:
        df.write.mode("errorifexists").partitionBy(*partition_by).parquet(tmp.toString())
    except BaseException:
        fs.delete(tmp, True)
        raise
    had_old = fs.exists(out) and fs.rename(out, old)
    if not fs.rename(tmp, out):
        if had_old:
            fs.rename(old, out)
        fs.delete(tmp, True)
        raise OSError(f"could not move {tmp.toString()} to {output}")
    if had_old:
        fs.delete(old, True)


def start_session(master: str | None = None, app_name: str = "klassify", conf=()):
    """→ ``(session, started)``: the active SparkSession if there is one, else a new one (local masters get
    task retries); ``started`` says whether the caller should stop it."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    builder = SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", "false")
    if not master and "PYSPARK_GATEWAY_PORT" not in os.environ:  # else spark-submit started us: its master counts
        master = "local[*]"
    if master:
        builder = builder.master(local_master_with_retries(master))
    if master and master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # local workers run this interpreter (venv)
    for key, value in conf:
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session, True
