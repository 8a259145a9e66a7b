import csv
import json
import subprocess
import sys

import pytest

from klassify.cli import main

from .test_model import EDU

LIST_PAGE = "\n".join(f"{100 - i} 청렴 교육 안내 {i} 감사실 2024-03-{i + 1:02d} {i * 7}" for i in range(15))


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def read_jsonl(path):
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]


def test_predict_jsonl_with_bad_records(tiny_model, tmp_path, capsys):
    model = str(tiny_model[0])
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([
        json.dumps({"id": "a", "text": EDU}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "b"}),
        json.dumps({"id": "c", "text": 5}),
        json.dumps({"id": "d", "text": LIST_PAGE}, ensure_ascii=False),
        json.dumps(["x"]),
        json.dumps({"id": "a", "text": "중복 아이디"}, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, _, err = run(["predict", str(src), "-o", str(out), "--model", model], capsys)
    assert code == 0
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["a", f"{src}:2", "b", "c", "d", f"{src}:6", "a#2"]
    errors = {r["id"]: r["error"] for r in rows}
    assert errors["a"] is None and errors["d"] is None
    assert "not valid JSON" in errors[f"{src}:2"] and "missing" in errors["b"] and "int" in errors["c"]
    assert rows[0]["label"] in ("education", "other") and rows[0]["scores"]
    assert "7 records" in err


def test_predict_csv_round_trip_with_embedded_newlines(tiny_model, tmp_path, capsys):
    src = tmp_path / "in.csv"
    with src.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["doc", "body"])
        w.writerow(["p1", EDU.replace(". ", ".\n") + ' "인용" ,쉼표'])
        w.writerow(["p2", ""])
    out = tmp_path / "out.csv"
    code, _, _ = run(["predict", str(src), "-o", str(out), "--model", str(tiny_model[0]),
                      "--text-field", "body", "--id-field", "doc"], capsys)
    assert code == 0
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["p1", "p2"]
    assert rows[1]["label"] == "not_article"
    assert json.loads(rows[0]["scores"])


def test_predict_directory_recursive_and_missing_path(tiny_model, tmp_path, capsys):
    root = tmp_path / "pages"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text(EDU, encoding="utf-8")
    (root / "sub" / "b.html").write_text(f"<html><body><p>{EDU}</p><p>{EDU}</p></body></html>", encoding="utf-8")
    (root / "sub" / "c.txt").write_bytes(EDU.encode("cp949"))
    (root / "image.png").write_bytes(b"\x89PNG")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    out = tmp_path / "out.jsonl"
    code, _, _ = run(["predict", str(root), str(tmp_path / "missing.txt"), "-o", str(out), "--model", str(tiny_model[0])], capsys)
    assert code == 0
    rows = read_jsonl(out)
    assert [r["id"].split("/")[-1] for r in rows] == ["a.txt", "image.png", "b.html", "c.txt", "missing.txt"]
    assert rows[4]["error"] == "no such file or directory"
    assert "binary" in rows[1]["error"], "every file in a directory gives a row, a binary one an error"
    assert all(rows[k]["error"] is None for k in (0, 2, 3))


def test_predict_stdin_text_and_jsonl(tiny_model):
    cmd = [sys.executable, "-m", "klassify", "predict", "-", "--model", str(tiny_model[0])]
    text = subprocess.run(cmd, input=EDU.encode(), capture_output=True, check=True)
    rows = [json.loads(l) for l in text.stdout.decode().splitlines()]
    assert len(rows) == 1 and rows[0]["id"] == "-"
    jsonl = "\n".join(json.dumps({"id": str(i), "text": EDU}, ensure_ascii=False) for i in range(3))
    out = subprocess.run(cmd, input=jsonl.encode(), capture_output=True, check=True)
    assert [json.loads(l)["id"] for l in out.stdout.decode().splitlines()] == ["0", "1", "2"]


def test_resume_after_partial_output(tiny_model, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "text": EDU + f" {i}"}, ensure_ascii=False) + "\n" for i in range(10)),
                   encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run(["predict", str(src), "-o", str(out), "--model", str(tiny_model[0])], capsys)
    full = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(full[:4]) + full[4][:25], encoding="utf-8")  # killed mid-row
    code, _, err = run(["predict", str(src), "-o", str(out), "--model", str(tiny_model[0]), "--resume"], capsys)
    assert code == 0 and "4 already done" in err
    assert [r["id"] for r in read_jsonl(out)] == [f"r{i}" for i in range(10)]


def test_exit_codes(tiny_model, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n[1]\n", encoding="utf-8")
    code, out, _ = run(["predict", str(bad), "--model", str(tiny_model[0])], capsys)
    assert code == 1 and len(out.splitlines()) == 2
    assert run(["predict", str(bad), "--resume", "--model", str(tiny_model[0])], capsys)[0] == 2
    assert run(["predict", str(bad), "--model", str(tmp_path / "no-model")], capsys)[0] == 2
    with pytest.raises(SystemExit) as e:
        main(["predict"])
    assert e.value.code == 2


def test_evaluate_json_and_info(tiny_model, tmp_path, capsys):
    data = tmp_path / "labeled.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "1", "text": EDU, "label": "education"},
        {"id": "2", "text": LIST_PAGE, "label": "not_article"},
    ]), encoding="utf-8")
    metrics_path = tmp_path / "m.json"
    code, out, _ = run(["evaluate", str(data), "--model", str(tiny_model[0]), "--json", str(metrics_path)], capsys)
    assert code == 0 and "macro-F1" in out
    metrics = json.loads(metrics_path.read_text())
    assert metrics["n"] == 2 and set(metrics) >= {"macro_f1", "per_label", "confusion"}
    assert set(metrics["per_label"]["education"]) == {"precision", "recall", "f1", "support"}
    code, out, _ = run(["info", "--model", str(tiny_model[0])], capsys)
    assert code == 0 and "not_article" in out and "scikit-learn" in out
    assert {"model", "test metrics", "trained on", "dev pages", "versions"} <= {l.split(":")[0] for l in out.splitlines()}


def test_table_format(tiny_model, tmp_path, capsys):
    page = tmp_path / "p.txt"
    page.write_text(EDU, encoding="utf-8")
    code, out, _ = run(["predict", str(page), "--format", "table", "--model", str(tiny_model[0])], capsys)
    assert code == 0 and "p.txt" in out and "evidence" in out


def test_a_page_that_breaks_the_model_fails_alone_across_batches(tiny_model, tmp_path, capsys, monkeypatch):
    """The next batch is tokenised in a background thread; a failure there must still cost only its page."""
    from klassify.tfidf import TfidfInitiativeModel

    real_prepare = TfidfInitiativeModel.prepare

    def prepare(self, texts):
        texts = list(texts)
        if any("독약" in t for t in texts):
            raise RuntimeError("tokeniser exploded")
        return real_prepare(self, texts)

    monkeypatch.setattr(TfidfInitiativeModel, "prepare", prepare)
    src = tmp_path / "in.jsonl"
    ids = [f"p{i}" for i in range(7)]
    texts = [EDU + (" 독약" if i == 4 else "") for i in range(7)]
    src.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in zip(ids, texts)),
                   encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, _, _ = run(["predict", str(src), "-o", str(out), "--model", str(tiny_model[0]), "--batch-size", "3"], capsys)
    rows = read_jsonl(out)
    assert code == 0
    assert [r["id"] for r in rows] == ids
    assert [bool(r["error"]) for r in rows] == [i == 4 for i in range(7)]
    assert "tokeniser exploded" in rows[4]["error"]
    assert all(r["label"] == rows[0]["label"] for k, r in enumerate(rows) if k != 4)
