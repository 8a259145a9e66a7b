"""klassify on Spark (local[2]): the same rows as ``klassify predict``, nothing lost, atomic output.

These tests need pyspark (the test extra) and Java 17+ (``.ci/run`` installs a headless OpenJDK when
``java`` is missing). Without them they fail with a message that says so: they never skip in CI.
"""

import io
import json
import os
import shutil

import pytest

from klassify.batch import OUTPUT_FIELDS
from klassify.cli import main

N_SAME = 2000  # pages compared with klassify predict


@pytest.fixture(scope="session")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("the Spark tests need Java 17+ and found no `java` on PATH nor JAVA_HOME: run `bash .ci/run` "
                    "(it installs openjdk-17-jre-headless) or `apt-get install -y openjdk-17-jre-headless`")
    try:
        from klassify.spark import start_session
    except ImportError as e:
        pytest.fail(f"the Spark tests need pyspark, pandas and pyarrow: pip install -e '.[test]' ({e})")
    conf = [("spark.ui.enabled", "false"), ("spark.sql.shuffle.partitions", "4"), ("spark.default.parallelism", "2")]
    session, started = start_session("local[2]", app_name="klassify-tests", conf=conf)
    yield session
    if started:
        session.stop()


@pytest.fixture(scope="session")
def pages(written_rows, augmented_rows):
    rows = (written_rows + augmented_rows)[:N_SAME]
    assert len(rows) == N_SAME
    return [{"id": r["id"], "text": r["text"]} for r in rows]


def write_jsonl(path, rows, extra_lines=()):
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_parquet(path):
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def spark_predict(args, capsys):
    code = main(["spark-predict", *map(str, args)])
    return code, capsys.readouterr().err


def test_same_answers_as_klassify_predict(spark, pages, tmp_path, capsys):
    src = write_jsonl(tmp_path / "pages.jsonl", pages, ['{"id": "broken', json.dumps({"id": "no-text"})])
    assert main(["predict", str(src), "-o", str(tmp_path / "local.jsonl")]) == 0
    local = {r["id"]: r for r in map(json.loads, (tmp_path / "local.jsonl").read_text(encoding="utf-8").splitlines())}
    code, err = spark_predict([src, "-o", tmp_path / "spark.parquet"], capsys)
    assert code == 0
    rows = read_parquet(tmp_path / "spark.parquet")
    assert len(rows) == len(local) == N_SAME + 2
    assert f"{N_SAME + 2} records classified, 2 with errors" in err and f"wrote {N_SAME + 2} rows" in err
    for row in rows:
        want = local[row["id"]]
        assert (row["label"], row["error"], row["evidence"], row["secondary"]) == \
               (want["label"], want["error"], want["evidence"], want["secondary"]), row["id"]
        if want["error"] is None:
            assert abs(row["score"] - want["score"]) <= 1e-6 and abs(row["article_score"] - want["article_score"]) <= 1e-6
            assert max(abs(p - want["scores"][k]) for k, p in dict(row["scores"]).items()) <= 1e-6
    assert {r["label"] for r in rows if r["label"]} >= {"education", "contest", "not_article", "other"}


def test_predict_dataframe_columns_errors_and_one_model_per_worker(spark, pages):
    from klassify.spark import JobCounters, predict_dataframe

    given = pages[:40] + [{"id": "null-text", "text": None}, {"id": None, "text": pages[0]["text"]}]
    df = spark.createDataFrame(given, "id string, text string").repartition(6)
    counters = JobCounters(spark.sparkContext)
    out = predict_dataframe(df, batch_size=4, counters=counters)
    assert out.columns == list(OUTPUT_FIELDS)
    rows = {r["id"]: r for r in (row.asDict() for row in out.collect())}
    assert len(rows) == len(given)
    assert rows["null-text"]["error"] == "field 'text' is missing or null" and rows["null-text"]["score"] is None
    numbered = [k for k in rows if k.startswith("part-")]
    assert len(numbered) == 1 and rows[numbered[0]]["label"] == rows[pages[0]["id"]]["label"]
    counts = counters.values()
    assert counts["records"] == len(given) and counts["failed"] == 1
    assert counts["model_loads"] <= 2  # 6 tasks on local[2]: one load per Python worker, reused after


def test_a_batch_that_fails_once_is_retried_and_no_row_is_lost(spark, pages, tmp_path):
    from klassify.spark import FAULT_PROPERTY, JobCounters, predict_dataframe

    marker = tmp_path / "fault-fired"
    df = spark.createDataFrame(pages[:60], "id string, text string").repartition(3)
    counters = JobCounters(spark.sparkContext)
    spark.sparkContext.setLocalProperty(FAULT_PROPERTY, f"once:{marker}")
    try:
        ids = [r["id"] for r in predict_dataframe(df, batch_size=8, counters=counters).collect()]
    finally:
        spark.sparkContext.setLocalProperty(FAULT_PROPERTY, None)
    assert marker.exists()  # the fault did fire, in one task attempt
    assert sorted(ids) == sorted(p["id"] for p in pages[:60])
    assert counters.values()["records"] == 60  # the failed attempt's counts are not added


def test_output_replaced_atomically_and_kept_when_the_job_fails(spark, pages, tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", pages[:10])
    out = tmp_path / "out.parquet"
    out.mkdir()
    (out / "stale.parquet").write_text("left from an older run")
    assert spark_predict([src, "-o", out], capsys)[0] == 0
    assert not (out / "stale.parquet").exists() and len(read_parquet(out)) == 10
    with pytest.raises(Exception, match="no model at"):
        main(["spark-predict", str(src), "-o", str(out), "--model", str(tmp_path / "missing-model")])
    assert len(read_parquet(out)) == 10  # the old output, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.parquet"]  # no temporary left


def test_files_directories_and_parquet_partitioned_by_label(spark, pages, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    site = tmp_path / "site"
    (site / "news").mkdir(parents=True)
    (site / "news" / "a.txt").write_text(pages[0]["text"], encoding="utf-8")
    (site / "news" / "b.html").write_text(f"<html><body><p>{pages[1]['text']}</p></body></html>", encoding="utf-8")
    (site / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (site / ".hidden.txt").write_text("not read", encoding="utf-8")
    src = write_jsonl(tmp_path / "more.jsonl", pages[2:5], ["[1, 2]"])
    table = pa.table({"id": ["p1", None, "p3"], "text": [pages[5]["text"], pages[6]["text"], None]})
    (tmp_path / "table.parquet").mkdir()  # a Parquet dataset as Spark writes one
    pq.write_table(table, tmp_path / "table.parquet" / "part-00000.parquet")
    (tmp_path / "table.parquet" / "_SUCCESS").touch()
    out = tmp_path / "out"
    code, err = spark_predict([site, src, tmp_path / "table.parquet", "-o", out, "--partition-by", "label",
                               "--batch-size", "2"], capsys)
    assert code == 0
    rows = read_parquet(out)
    by_id = {r["id"]: r for r in rows}
    assert len(rows) == len(by_id) == 3 + 4 + 3
    assert {f"{site}/news/a.txt", f"{site}/news/b.html", f"{site}/logo.png", "p1", "p3"} <= set(by_id)
    assert "binary" in by_id[f"{site}/logo.png"]["error"] and by_id["p3"]["error"] == "field 'text' is missing or null"
    assert by_id[f"{src}:4"]["error"].startswith("expected a JSON object")
    assert by_id[f"{site}/news/a.txt"]["error"] is None and by_id[f"{site}/news/b.html"]["error"] is None
    assert any(p.name.startswith("label=") for p in out.iterdir())
    assert "5 files read (1 skipped)" in err and "10 records classified, 3 with errors" in err


def test_warc_gives_the_rows_of_klassify_predict(spark, pages, tmp_path, capsys):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    warc = tmp_path / "crawl.warc.gz"
    with warc.open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        for k, page in enumerate(pages[:3]):
            body = f"<html><body><h1>{k}</h1><p>{page['text']}</p></body></html>".encode("utf-8")
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"https://news.example.kr/view/{k}", "response",
                                                          payload=io.BytesIO(body), http_headers=http))
        writer.write_record(writer.create_warc_record("https://news.example.kr/view/0", "request",
                                                      payload=io.BytesIO(b"GET /view/0 HTTP/1.1\r\n\r\n")))
    assert main(["predict", str(warc), "-o", str(tmp_path / "local.jsonl")]) == 0
    local = {r["id"]: r["label"] for r in map(json.loads, (tmp_path / "local.jsonl").read_text().splitlines())}
    code, err = spark_predict([warc, "-o", tmp_path / "spark.parquet"], capsys)
    assert code == 0
    spark_rows = read_parquet(tmp_path / "spark.parquet")
    assert {r["id"]: r["label"] for r in spark_rows} == local
    assert {r["site"] for r in spark_rows} == {"news.example.kr"}
    assert len(local) == 3 and "3 records classified, 0 with errors, 1 skipped" in err
