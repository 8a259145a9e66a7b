"""Inputs as users have them: site mirrors, WARC archives, Parquet, compressed and Korean-encoded tables,
URL lists fetched from a local server, and outputs that cannot be written. Every fixture is written here."""

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from klassify.cli import OUTPUT_FIELDS, main
from klassify.records import ReadStats, iter_records, records_of_path

EDUCATION = ("성남시는 12일 시청 한누리실에서 전 직원 400명을 대상으로 청렴 교육을 열었다고 밝혔다. 이날 교육은 외부 강사가 "
             "공직자 행동강령과 이해충돌 방지 제도를 사례 중심으로 설명하는 방식으로 진행됐다. 시는 하반기에도 부서별로 "
             "찾아가는 청렴 교육을 이어갈 계획이다.")
KINDNESS = ("광명시는 민원 응대가 우수한 공무원 5명을 올해 상반기 친절 공무원으로 선정해 표창했다고 15일 밝혔다. 시는 "
            "시민 추천과 민원 만족도 조사 결과를 바탕으로 대상자를 골랐으며, 선정된 직원에게는 인사 가점을 준다.")
PAGES = {"p-edu": EDUCATION, "p-kind": KINDNESS, "p-short": "짧은 공지입니다."}


def html_page(text, *, charset="utf-8", url=None, date=None):
    head = f'<meta charset="{charset}"><title>시정 소식</title>'
    if url:
        head += f'<link rel="canonical" href="{url}">'
    if date:
        head += f'<meta property="article:published_time" content="{date}T09:00:00+09:00">'
    paragraphs = "".join(f"<p>{s.strip()}.</p>" for s in text.split(".") if s.strip())
    return f"<!doctype html><html><head>{head}</head><body><nav>홈 | 소식 | 로그인</nav><article>{paragraphs}</article></body></html>"


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def predict(tmp_path, capsys, model, inputs, *extra, name="out.jsonl"):
    out = tmp_path / name
    code, _, err = run(["predict", *map(str, inputs), "-o", str(out), "--model", str(model), *extra], capsys)
    assert code == 0, err
    return read_jsonl(out), err


def by_id(rows):
    return {r["id"]: (r["label"], round(r["score"], 6)) for r in rows}


# --- compressed and Korean-encoded tables ---------------------------------------------------------

def jsonl_bytes(pages):
    return "".join(json.dumps({"id": k, "text": v, "url": f"https://www.seongnam.go.kr/news/{k}"}, ensure_ascii=False) + "\n"
                   for k, v in pages.items()).encode("utf-8")


def test_compressed_jsonl_reads_like_plain_by_content(tmp_path):
    import zstandard

    data = jsonl_bytes(PAGES)
    forms = {"plain.jsonl": data, "crawl.jsonl.gz": gzip.compress(data), "crawl.jsonl.bz2": bz2.compress(data),
             "crawl.jsonl.xz": lzma.compress(data), "crawl.jsonl.zst": zstandard.ZstdCompressor().compress(data),
             "no-suffix-gzip": gzip.compress(data)}
    for name, payload in forms.items():
        (tmp_path / name).write_bytes(payload)
    plain = [(r.id, r.content, r.url) for r in records_of_path(str(tmp_path / "plain.jsonl"))]
    assert [p[0] for p in plain] == list(PAGES) and plain[0][2].endswith("/p-edu")
    for name in forms:
        assert [(r.id, r.content, r.url) for r in records_of_path(str(tmp_path / name))] == plain, name
    stdin = io.BytesIO(gzip.compress(data))
    assert [(r.id, r.content, r.url) for r in iter_records(["-"], stdin=stdin)] == plain


def test_gzipped_jsonl_and_excel_cp949_csv_classify_like_their_utf8_twins(tiny_model, tmp_path, capsys):
    data = jsonl_bytes(PAGES)
    (tmp_path / "crawl.jsonl").write_bytes(data)
    (tmp_path / "crawl.jsonl.gz").write_bytes(gzip.compress(data))
    plain, _ = predict(tmp_path, capsys, tiny_model[0], [tmp_path / "crawl.jsonl"], name="plain.jsonl")
    zipped, _ = predict(tmp_path, capsys, tiny_model[0], [tmp_path / "crawl.jsonl.gz"], name="zipped.jsonl")
    assert by_id(zipped) == by_id(plain) and all(r["error"] is None for r in zipped)
    assert zipped[0]["url"] == "https://www.seongnam.go.kr/news/p-edu" and zipped[0]["site"] == "www.seongnam.go.kr"

    def write_csv(path, encoding, newline):
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator=newline)
        writer.writerow(["번호", "본문"])
        writer.writerows(PAGES.items())
        path.write_bytes(buf.getvalue().encode(encoding))

    write_csv(tmp_path / "utf8.csv", "utf-8", "\n")
    write_csv(tmp_path / "excel.csv", "cp949", "\r\n")  # what Korean Excel saves as "CSV (쉼표로 분리)"
    write_csv(tmp_path / "excel-utf8.csv", "utf-8-sig", "\r\n")  # Excel's "CSV UTF-8": with a BOM
    args = ("--text-field", "본문", "--id-field", "번호")
    twin, _ = predict(tmp_path, capsys, tiny_model[0], [tmp_path / "utf8.csv"], *args, name="utf8.jsonl")
    assert by_id(twin) == by_id(plain)
    for name in ("excel.csv", "excel-utf8.csv"):
        rows, _ = predict(tmp_path, capsys, tiny_model[0], [tmp_path / name], *args, name=f"{name}.jsonl")
        assert by_id(rows) == by_id(plain), name
    forced, _ = predict(tmp_path, capsys, tiny_model[0], [tmp_path / "excel.csv"], *args, "--encoding", "cp949",
                        name="forced.jsonl")
    assert by_id(forced) == by_id(plain)


def test_undecodable_inputs_name_the_file_and_what_to_try(tmp_path):
    jsonl = tmp_path / "mixed.jsonl"
    jsonl.write_bytes(jsonl_bytes({"ok": EDUCATION}) + b'{"id": "bad", "text": "\xff\xfe\xff"}\n'
                      + json.dumps({"id": "kr", "text": KINDNESS}, ensure_ascii=False).encode("cp949") + b"\n")
    records = list(records_of_path(str(jsonl)))
    assert [r.id for r in records] == ["ok", f"{jsonl}:2", "kr"]
    assert records[2].content == KINDNESS, "a CP949 line of a JSONL file is read too"
    assert "mixed.jsonl" in records[1].error and "--encoding" in records[1].error
    table = tmp_path / "table.csv"
    table.write_bytes("번호,본문\n1,청렴\n".encode("utf-16-le"))  # no BOM: detected all the same
    assert [(r.id, r.content) for r in records_of_path(str(table), text_field="본문", id_field="번호")] == [("1", "청렴")]
    [record] = records_of_path(str(table), text_field="본문", encoding="utf-8")  # forced wrong
    assert record.id == str(table) and "'본문'" in record.error and "--encoding" in record.error


# --- directories ------------------------------------------------------------------------------------

def build_mirror(root):
    """A wget -r mirror of a municipal site: page names by URL, not by suffix; one binary, hidden stuff."""
    site = root / "www.gangseo.seoul.kr"
    (site / "news").mkdir(parents=True)
    (site / ".git").mkdir()
    (site / ".git" / "config").write_text("[core]\n")
    (site / "view.php?id=123").write_text(html_page(EDUCATION, url="https://www.gangseo.seoul.kr/view.php?id=123",
                                                    date="2024-03-05"), encoding="utf-8")
    (site / "news" / "newsView.do").write_bytes(html_page(KINDNESS, charset="euc-kr").encode("cp949"))
    (site / "news" / "article.shtml").write_text(html_page(EDUCATION), encoding="utf-8")
    (site / "news" / "notice").write_text(f"청렴 소식\n등록일 2024.05.02\n\n{KINDNESS}\n", encoding="utf-8")
    (site / "news" / "print.html.gz").write_bytes(gzip.compress(html_page(KINDNESS).encode()))
    (site / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (site / ".htaccess").write_text("deny from all\n")
    return site


def test_mirror_directory_gives_one_row_per_file(tiny_model, tmp_path, capsys):
    site = build_mirror(tmp_path / "mirror")
    rows, err = predict(tmp_path, capsys, tiny_model[0], [tmp_path / "mirror"])
    names = [os.path.relpath(r["id"], site) for r in rows]
    assert names == ["logo.png", "view.php?id=123", "news/article.shtml", "news/newsView.do", "news/notice",
                     "news/print.html.gz"]
    found = dict(zip(names, rows))
    assert "binary" in found["logo.png"]["error"]
    assert all(r["error"] is None and r["label"] for n, r in found.items() if n != "logo.png")
    page = found["view.php?id=123"]
    assert (page["url"], page["site"], page["published"]) == (
        "https://www.gangseo.seoul.kr/view.php?id=123", "www.gangseo.seoul.kr", "2024-03-05")
    assert found["news/notice"]["published"] == "2024-05-02" and found["news/notice"]["url"] is None
    assert found["news/article.shtml"]["published"] is None, "no date on the page: null, not today"
    assert found["news/newsView.do"]["label"] == found["news/print.html.gz"]["label"], "EUC-KR reads like UTF-8"
    assert "1 hidden file" in err and "1 hidden or VCS folder" in err

    rows, err = predict(tmp_path, capsys, tiny_model[0], [tmp_path / "mirror"], "--include", "*.do", "--include", "*/news/*.shtml",
                        name="narrow.jsonl")
    assert [os.path.basename(r["id"]) for r in rows] == ["article.shtml", "newsView.do"]
    assert "4 file not matching --include" in err
    rows, err = predict(tmp_path, capsys, tiny_model[0], [tmp_path / "mirror"], "--exclude", "news", "--exclude", "*.png",
                        name="excluded.jsonl")
    assert [os.path.basename(r["id"]) for r in rows] == ["view.php?id=123"]
    assert "1 folder excluded by --exclude" in err and "1 file excluded by --exclude" in err


# --- WARC -------------------------------------------------------------------------------------------

def write_warc(path, *, compress):
    """Responses in UTF-8 and EUC-KR, a revisit, a request, an image, a 404, and a last record cut short."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=compress)

    def response(url, body, content_type="text/html; charset=utf-8", status="200 OK"):
        headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers))

    response("https://www.suwon.go.kr/news/1", html_page(EDUCATION, date="2024-04-01").encode())
    request = StatusAndHeaders("GET /news/1 HTTP/1.1", [("Host", "www.suwon.go.kr")], is_http_request=True)
    writer.write_record(writer.create_warc_record("https://www.suwon.go.kr/news/1", "request", http_headers=request))
    response("https://www.suwon.go.kr/news/2", html_page(KINDNESS, charset="euc-kr").encode("cp949"),
             content_type="text/html; charset=euc-kr")
    response("https://www.suwon.go.kr/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(500), content_type="image/png")
    response("https://www.suwon.go.kr/gone", b"<html><body>not found</body></html>", status="404 Not Found")
    writer.write_record(writer.create_revisit_record("https://www.suwon.go.kr/news/1", digest="sha1:AAAA",
                                                     refers_to_uri="https://www.suwon.go.kr/news/1",
                                                     refers_to_date="2024-04-01T00:00:00Z"))
    response("https://www.suwon.go.kr/news/2", html_page(KINDNESS).encode())  # crawled again: id gets #2
    complete = buf.tell()
    response("https://www.suwon.go.kr/news/3", html_page(EDUCATION * 20).encode())
    data = buf.getvalue()
    path.write_bytes(data[: complete + (len(data) - complete) // 2])  # the crawler died mid-record
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["warc", "warc.gz"])
def test_warc_gives_one_row_per_html_response_and_counts_the_rest(tiny_model, tmp_path, capsys, compress):
    warc = write_warc(tmp_path / ("crawl.warc.gz" if compress else "crawl.warc"), compress=compress)
    rows, err = predict(tmp_path, capsys, tiny_model[0], [warc])
    ids = [r["id"] for r in rows]
    assert ids[:3] == ["https://www.suwon.go.kr/news/1", "https://www.suwon.go.kr/news/2", "https://www.suwon.go.kr/news/2#2"]
    assert len(rows) == 4 and rows[3]["error"], "the record cut short is one error row"
    assert all(r["error"] is None for r in rows[:3])
    assert rows[1]["label"] == rows[2]["label"] and abs(rows[1]["score"] - rows[2]["score"]) < 1e-6, "EUC-KR = UTF-8"
    assert rows[0]["site"] == "www.suwon.go.kr" and rows[0]["published"] == "2024-04-01" and rows[0]["status"] == 200
    for counted in ("1 WARC request", "1 WARC revisit", "1 WARC response of type image/png", "1 WARC response with status 404"):
        assert counted in err


def test_records_of_path_streams_one_file_and_counts_into_the_callers_stats(tmp_path):
    warc = write_warc(tmp_path / "crawl.warc.gz", compress=True)
    stats = ReadStats()
    records = records_of_path(str(warc), stats=stats)
    first = next(records)
    assert first.id == "https://www.suwon.go.kr/news/1" and isinstance(first.content, bytes)
    rest = list(records)
    assert [r.id for r in rest][:2] == ["https://www.suwon.go.kr/news/2"] * 2, "ids are made unique by iter_records only"
    assert stats.skipped["WARC revisit"] == 1 and stats.skipped["WARC request"] == 1
    assert (stats + stats).skipped["WARC revisit"] == 2


def test_a_missing_extra_is_an_error_row_that_says_what_to_install(tmp_path, monkeypatch):
    import sys

    warc = write_warc(tmp_path / "crawl.warc", compress=False)
    monkeypatch.setitem(sys.modules, "warcio.archiveiterator", None)
    [record] = records_of_path(str(warc))
    assert "klassify[crawl]" in record.error


# --- Parquet ----------------------------------------------------------------------------------------

def test_a_cut_zstd_file_is_an_error_row_not_fewer_records(tmp_path):
    import zstandard

    whole = zstandard.ZstdCompressor().compress(jsonl_bytes(PAGES))
    (tmp_path / "cut.jsonl.zst").write_bytes(whole[: len(whole) // 2])
    rows = list(records_of_path(str(tmp_path / "cut.jsonl.zst")))
    assert rows and "cut or corrupt" in rows[-1].error and "cut.jsonl.zst" in rows[-1].error
    (tmp_path / "two.jsonl.zst").write_bytes(whole + whole)  # two frames: both read
    assert [r.id for r in records_of_path(str(tmp_path / "two.jsonl.zst"))] == list(PAGES) * 2


def test_a_known_suffix_wins_over_first_bytes_and_first_bytes_name_an_unsuffixed_file(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "odd.jsonl").write_bytes(b'PAR1\n{"id": "a", "text": "\xea\xb0\x80"}\n')
    rows = list(records_of_path(str(tmp_path / "odd.jsonl")))
    assert len(rows) == 2 and rows[0].error and "PAR1" not in (rows[1].error or "") and rows[1].content == "가"
    pq.write_table(pa.table({"id": ["a"], "text": ["나"]}), tmp_path / "crawl-00001")
    assert [(r.id, r.content) for r in records_of_path(str(tmp_path / "crawl-00001"))] == [("a", "나")]


def test_parquet_round_trip(tiny_model, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"doc": list(PAGES), "body": list(PAGES.values()),
                      "url": [f"https://www.gwangmyeong.go.kr/{k}" for k in PAGES]})
    pq.write_table(table, tmp_path / "pages.parquet")
    (tmp_path / "pages.jsonl").write_text("".join(json.dumps({"doc": k, "body": v}, ensure_ascii=False) + "\n"
                                                  for k, v in PAGES.items()), encoding="utf-8")
    args = ("--text-field", "body", "--id-field", "doc")
    from_jsonl, _ = predict(tmp_path, capsys, tiny_model[0], [tmp_path / "pages.jsonl"], *args)
    out = tmp_path / "out.parquet"
    code, _, err = run(["predict", str(tmp_path / "pages.parquet"), "-o", str(out), "--model", str(tiny_model[0]), *args], capsys)
    assert code == 0, err
    written = pq.read_table(out)
    assert tuple(written.schema.names) == OUTPUT_FIELDS
    assert pa.types.is_struct(written.schema.field("scores").type) and written.schema.field("score").type == pa.float64()
    rows = written.to_pylist()
    assert by_id(rows) == by_id(from_jsonl)
    assert rows[0]["site"] == "www.gwangmyeong.go.kr" and abs(sum(rows[0]["scores"].values()) - 1) < 1e-6
    assert [(r.id, r.content) for r in records_of_path(str(out), text_field="label")][0] == ("p-edu", rows[0]["label"])
    code, _, err = run(["predict", str(tmp_path / "pages.parquet"), "-o", str(out), "--resume", "--model", str(tiny_model[0])],
                       capsys)
    assert code == 2 and "--resume works with jsonl or csv" in err


# --- unwritable outputs and resume ------------------------------------------------------------------

@pytest.mark.parametrize("where", ["missing-folder", "parent-is-a-file", "folder", "full-disk", "read-only"])
def test_an_unwritable_output_is_one_line_and_exit_2(tiny_model, tmp_path, capsys, where):
    (tmp_path / "page.txt").write_text(EDUCATION, encoding="utf-8")
    (tmp_path / "a-file").write_text("x")
    if where == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes read-only folders")
        (tmp_path / "ro").mkdir(mode=0o500)
    if where == "full-disk" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    output = {"missing-folder": tmp_path / "no" / "such" / "out.jsonl", "parent-is-a-file": tmp_path / "a-file" / "out.csv",
              "folder": tmp_path, "full-disk": "/dev/full", "read-only": tmp_path / "ro" / "out.jsonl"}[where]
    # A model that does not exist: the output is checked first, before any model or page is read.
    model = tiny_model[0] if where == "full-disk" else tmp_path / "no-model"
    code, _, err = run(["predict", str(tmp_path / "page.txt"), "-o", str(output), "--model", str(model)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("klassify: error: cannot write") and "Traceback" not in err, err


def test_csv_resume_with_the_new_columns_and_an_older_header(tiny_model, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "text": f"{EDUCATION} {i}", "url": f"https://a.go.kr/{i}"},
                                      ensure_ascii=False) + "\n" for i in range(6)), encoding="utf-8")
    out = tmp_path / "out.csv"
    model = str(tiny_model[0])
    assert run(["predict", str(src), "-o", str(out), "--model", model], capsys)[0] == 0
    full = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(full[:3]) + full[3][:20], encoding="utf-8")  # killed mid-row
    code, _, err = run(["predict", str(src), "-o", str(out), "--model", model, "--resume"], capsys)
    assert code == 0 and "2 already done" in err
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(6)] and rows[5]["site"] == "a.go.kr"

    old_columns = ["id", "label", "score", "is_article", "article_score", "secondary", "evidence", "title", "scores", "error"]
    with out.open(newline="", encoding="utf-8") as f:
        old = [[r[c] for c in old_columns] for r in list(csv.DictReader(f))[:2]]
    with out.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([old_columns] + old)
    assert run(["predict", str(src), "-o", str(out), "--model", model, "--resume"], capsys)[0] == 0
    with out.open(newline="", encoding="utf-8") as f:
        lines = list(csv.reader(f))
    assert lines[0] == old_columns and [r[0] for r in lines[1:]] == [f"r{i}" for i in range(6)]
    assert all(len(r) == len(old_columns) for r in lines)


# --- URL lists, fetched from a local server ---------------------------------------------------------

class Site(BaseHTTPRequestHandler):
    hits: dict = {}
    agents: list = []
    times: list = []

    def do_GET(self):  # noqa: N802 - the http.server hook
        type(self).hits[self.path] = type(self).hits.get(self.path, 0) + 1
        type(self).agents.append(self.headers.get("User-Agent"))
        type(self).times.append((self.path, time.monotonic()))
        routes = {
            "/robots.txt": (200, "text/plain", b"User-agent: *\nDisallow: /private/\n"),
            "/news/1": (200, "text/html; charset=utf-8", html_page(EDUCATION, date="2024-06-03").encode()),
            "/news/2": (200, "text/html; charset=euc-kr", html_page(KINDNESS, charset="euc-kr").encode("cp949")),
            "/notice.txt": (200, "text/plain; charset=utf-8", KINDNESS.encode()),
            "/logo.png": (200, "image/png", b"\x89PNG\r\n\x1a\n" + bytes(100)),
            "/private/memo": (200, "text/html", b"<html><body>secret</body></html>"),
            "/error": (500, "text/html", b"<html><body>oops</body></html>"),
        }
        if self.path == "/old":
            self.send_response(301)
            self.send_header("Location", "/news/1")
            self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(1.5)
        status, content_type, body = routes.get(self.path, (404, "text/html", b"<html><body>no such page</body></html>"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (the slow page)

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    Site.hits, Site.agents, Site.times = {}, [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_url_list_from_a_local_server(tiny_model, tmp_path, capsys, site):
    paths = ["/news/1", "/news/2", "/old", "/notice.txt", "/missing", "/error", "/slow", "/logo.png", "/private/memo"]
    urls = tmp_path / "urls.txt"
    urls.write_text("# pages to check\n\n" + "".join(f"{site}{p}\n" for p in paths) + "not a url\n", encoding="utf-8")
    rows, _ = predict(tmp_path, capsys, tiny_model[0], [urls], "--fetch", "--fetch-delay", "0", "--fetch-retries", "0",
                      "--fetch-timeout", "0.5")
    found = {r["id"].removeprefix(site): r for r in rows}
    assert list(found)[: len(paths)] == paths and len(rows) == len(paths) + 1
    for path in ("/news/1", "/news/2", "/old", "/notice.txt"):
        assert found[path]["error"] is None and found[path]["status"] == 200 and found[path]["label"], path
    assert found["/old"]["final_url"] == f"{site}/news/1" and found["/old"]["url"] == f"{site}/old"
    assert found["/news/1"]["published"] == "2024-06-03" and found["/news/1"]["site"] == "127.0.0.1"
    assert found["/news/2"]["label"] == found["/notice.txt"]["label"], "the EUC-KR page reads like the UTF-8 text"
    assert found["/missing"]["status"] == 404 and "HTTP 404" in found["/missing"]["error"]
    assert found["/error"]["status"] == 500 and "HTTP 500" in found["/error"]["error"]
    assert "timed out" in found["/slow"]["error"]
    assert "image/png" in found["/logo.png"]["error"]
    assert "robots.txt" in found["/private/memo"]["error"] and "/private/memo" not in Site.hits
    assert "not an http(s) URL" in rows[-1]["error"]
    assert Site.hits["/robots.txt"] == 1 and all(agent.startswith("klassify/") for agent in Site.agents)


def test_fetcher_retries_with_back_off_and_keeps_a_per_host_delay(site):
    from klassify.fetch import Fetcher, FetchSettings

    fetcher = Fetcher(FetchSettings(delay=0.3, retries=2, backoff=0.05, timeout=5, robots=False))
    records = list(fetcher.records([f"{site}/error", f"{site}/news/1", f"{site}/news/2"]))
    assert Site.hits["/error"] == 3 and records[0].status == 500 and "3 tries" in records[0].error
    assert [r.error for r in records[1:]] == [None, None]
    starts = sorted(t for _, t in Site.times)
    assert all(b - a >= 0.2 for a, b in zip(starts, starts[1:])), "one host is never asked twice within the delay"

    ignoring = Fetcher(FetchSettings(delay=0, robots=False, timeout=5))
    assert ignoring.fetch(f"{site}/private/memo").error is None


def test_a_url_without_fetch_says_to_add_it(tiny_model, capsys):
    code, out, _ = run(["predict", "https://www.suwon.go.kr/news/1", "--model", str(tiny_model[0])], capsys)
    assert code == 1 and "--fetch" in json.loads(out)["error"]
