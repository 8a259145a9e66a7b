"""A battery of hostile inputs for `klassify predict`: it must finish, write exactly one row per record,
give a clear error where it cannot classify, and leave the other records unaffected."""

import codecs
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from klassify.cli import main
from klassify.records import iter_records
from klassify.readers.base import COMPRESSION_MAGIC

from .test_model import EDU

KOREAN_PAGE = "\n".join(["홈 | 뉴스 | 로그인", "맑음서울17.8℃", EDU, "무단전재 및 재배포 금지"])


def build_battery(root):
    """Files of every hostile kind under ``root``; returns {file name: expect error?}."""
    pages = root / "pages"
    pages.mkdir()
    expect = {}

    def put(name, data, error):
        (pages / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        expect[name] = error

    put("a_good.txt", KOREAN_PAGE, False)
    put("empty.txt", b"", False)
    put("whitespace.txt", " \n\t\n   \n", False)
    put("big_20mb.txt", (KOREAN_PAGE + "\n") * (20_000_000 // len(KOREAN_PAGE.encode())), False)
    put("single_line_5mb.txt", EDU.replace("\n", " ") * (5_000_000 // len(EDU.encode())), False)
    put("image.txt", b"\x89PNG\r\n\x1a\n" + os.urandom(3000), True)
    put("archive.txt", b"PK\x03\x04" + os.urandom(3000), True)
    put("doc.txt", b"%PDF-1.7\n" + os.urandom(3000), True)
    put("nul_bytes.txt", KOREAN_PAGE.encode() + b"\x00" * 10 + KOREAN_PAGE.encode(), False)
    put("cp949.txt", KOREAN_PAGE.encode("cp949"), False)
    put("euckr.txt", KOREAN_PAGE.encode("euc-kr"), False)
    put("utf16.txt", KOREAN_PAGE.encode("utf-16"), False)
    put("utf16_nobom.txt", codecs.BOM_UTF16_LE + KOREAN_PAGE.encode("utf-16-le"), False)
    put("mixed_invalid_utf8.txt", KOREAN_PAGE.encode() + b"\xff\xfe\xc3\x28" + "추가 문장이다.".encode("cp949"), False)
    put("soup.html", "<html><body><div><p>" + EDU + "<table><tr><td>" + "<script>" + "x=1;" * 500_000 + "</script>"
        + "<p><b>" + EDU, False)
    put("unclosed_script.html", "<html><body><p>" + EDU + "</p><script>var a = '" + "y" * 1_000_000, False)
    (pages / "sub").mkdir()
    (pages / "sub" / "loop").symlink_to(pages, target_is_directory=True)
    (pages / "broken_link.txt").symlink_to(pages / "nowhere.txt")
    expect["broken_link.txt"] = True
    os.mkfifo(pages / "fifo.txt")
    expect["fifo.txt"] = True
    unreadable = pages / "unreadable.txt"
    unreadable.write_text(KOREAN_PAGE, encoding="utf-8")
    unreadable.chmod(0)
    expect["unreadable.txt"] = os.geteuid() != 0  # root reads it anyway

    jsonl = root / "records.jsonl"
    jsonl.write_text("\n".join([
        json.dumps({"id": "j-good", "text": KOREAN_PAGE}, ensure_ascii=False),
        '{"id": "j-broken", "text": "unterminated',
        json.dumps({"id": "j-missing"}),
        json.dumps({"id": "j-null", "text": None}),
        json.dumps({"id": "j-number", "text": 3.5}),
        json.dumps({"id": "j-list", "text": ["a"]}),
        "[1, 2]",
        json.dumps({"id": "j-nul", "text": "\u0000" * 5 + EDU}, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    table = root / "records.csv"
    with table.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        w.writerow(["c-newlines", KOREAN_PAGE + '\n"인용문"이 있다, 그리고 쉼표.'])
        w.writerow(["c-empty", ""])
        w.writerow(["c-quotes", '""""' * 100])
    return pages, jsonl, table, expect


@pytest.fixture(scope="module")
def battery_output(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    pages, jsonl, table, expect = build_battery(root)
    out = root / "out.jsonl"
    missing = root / "does-not-exist"
    code = main(["predict", str(pages), str(jsonl), str(table), str(missing), "-o", str(out),
                 "--model", str(tiny_model[0]), "--batch-size", "4"])
    rows = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    return code, rows, expect, missing


def test_battery_finishes_with_one_row_per_record(battery_output):
    code, rows, expect, missing = battery_output
    assert code == 0
    by_name = {os.path.basename(r["id"]): r for r in rows if "/pages/" in r["id"]}
    assert set(by_name) == set(expect), "every page file gives exactly one row, loops are not followed"
    for name, should_fail in expect.items():
        row = by_name[name]
        assert bool(row["error"]) == should_fail, (name, row["error"])
        if not should_fail:
            assert row["label"] in ("education", "contest", "declaration", "kindness", "reward", "other", "not_article")
    jsonl_ids = [r["id"] for r in rows if r["id"].startswith("j-") or "records.jsonl" in r["id"]]
    assert len(jsonl_ids) == 8
    assert [r["id"] for r in rows if r["id"].startswith("c-")] == ["c-newlines", "c-empty", "c-quotes"]
    assert rows[-1]["id"] == str(missing) and rows[-1]["error"] == "no such file or directory"


def test_battery_errors_are_clear(battery_output):
    _, rows, _, _ = battery_output
    by_id = {r["id"]: r for r in rows}
    assert "missing or null" in by_id["j-missing"]["error"] and "missing or null" in by_id["j-null"]["error"]
    assert "float" in by_id["j-number"]["error"] and "list" in by_id["j-list"]["error"]
    assert by_id["j-good"]["error"] is None and by_id["j-nul"]["error"] is None
    binary = [r["error"] for r in rows if r["id"].endswith(("image.txt", "archive.txt", "doc.txt"))]
    assert len(binary) == 3 and all("binary" in e for e in binary), binary


def test_good_records_are_unaffected_by_bad_neighbours(battery_output, tiny_model):
    _, rows, _, _ = battery_output
    alone = tiny_model[1].predict(KOREAN_PAGE)
    good = [r for r in rows if r["id"].endswith("a_good.txt") or r["id"] == "j-good"]
    assert len(good) == 2
    for row in good:
        assert row["label"] == alone.label and abs(row["score"] - alone.score) < 1e-6


def test_kill_and_resume_loses_nothing(tiny_model, tmp_path):
    src = tmp_path / "many.jsonl"
    n = 3000
    with src.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"doc{i:05d}", "text": f"{EDU} 참석자는 {i}명이다."}, ensure_ascii=False) + "\n")
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "klassify", "predict", str(src), "-o", str(out), "--model", str(tiny_model[0]),
           "--batch-size", "20", "--no-progress"]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.stat().st_size < 20_000):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lines = out.read_bytes().split(b"\n")
    complete = [json.loads(l) for l in lines[:-1]]  # every complete line parses
    assert 0 < len(complete) < n, "the run was killed mid-way"
    subprocess.run(cmd + ["--resume"], check=True, stderr=subprocess.DEVNULL)
    ids = [json.loads(l)["id"] for l in out.read_text(encoding="utf-8").splitlines()]
    assert ids == [f"doc{i:05d}" for i in range(n)], "every id exactly once, in input order"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.dictionaries(st.sampled_from(["id", "text", "x"]), st.one_of(st.none(), st.integers(), st.text(max_size=50)),
                    max_size=3).map(lambda d: json.dumps(d).encode()),
), max_size=20))
@example(lines=[b"PAR1", b"\x00"])  # found by this test: Parquet's first bytes in a .jsonl
@example(lines=[b"(\xb5/\xfd"])  # found by this test: zstd's first bytes, a frame that never ends
@example(lines=[b"(\xb5/\xfd", b"\x00"])
@example(lines=[b"BZh", b"{}"])
def test_jsonl_reader_yields_one_record_per_nonblank_line(tmp_path, lines):
    path = tmp_path / "fuzz.jsonl"
    payload = b"\n".join(l.replace(b"\n", b" ").replace(b"\r", b" ") for l in lines) + b"\n"
    path.write_bytes(payload)
    records = list(iter_records([str(path)]))
    nonblank = [l for l in payload.split(b"\n") if l.strip()]
    if payload.startswith(tuple(magic for magic, _ in COMPRESSION_MAGIC)):
        # compression is known by content, whatever the name: these bytes do not decompress, and the file
        # ends in an error row that names it (after any records read before the fault)
        assert records and "fuzz.jsonl" in records[-1].error
    else:
        assert len(records) == len(nonblank)
    assert len({r.id for r in records}) == len(records)
    for r in records:
        assert (r.error is None) == isinstance(r.content, str)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.text(max_size=40), min_size=2, max_size=2), max_size=15))
def test_csv_reader_round_trips_any_cells(tmp_path, rows):
    path = tmp_path / "fuzz.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        w.writerows(rows)
    records = list(iter_records([str(path)]))
    assert len(records) == len(rows)
    assert [r.content for r in records] == [text for _, text in rows]
    assert all(r.error is None for r in records)
    assert len({r.id for r in records}) == len(records)
