"""`klassify report`: counts with copy groups counted once, every number linked to its pages, and a page
that a real browser (headless Chromium) renders without console errors."""

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from klassify.cli import main
from klassify.report import ReportError, write_report


def row(id_, label, score=0.9, group=None, institution=None, date=None, error=None, **extra):
    facts = {}
    if institution:
        facts["institution"] = {"value": institution, "span": [0, 3], "text": institution[-3:]}
    if date:
        facts["event_date"] = {"value": date, "span": [4, 7], "text": "15일"}
    return {"id": id_, "label": None if error else label, "score": None if error else score,
            "scores": None if error else {label: score, "other": round(1 - score, 4)}, "is_article": label != "not_article",
            "article_score": 0.9, "secondary": [], "evidence": None, "title": f"제목 {id_}", "error": error,
            "group": group, "facts": facts or None, **extra}


ROWS = [
    # one release, three outlet copies: one initiative
    row("p1", "education", group="p1", institution="경기도 하남시", date="2024-03-15"),
    row("p2", "education", group="p1", institution="경기도 하남시", date="2024-03-15", url="https://news.example/a"),
    row("p3", "education", group="p1", institution="경기도 하남시", date="2024-03-15"),
    row("p4", "education", group="p4", institution="경기도 하남시", date="2024-04-02"),
    row("p5", "reward", group="p5", institution="부산광역시 중구", published="2024-03-30T09:00:00"),
    row("p6", "contest", 0.41, group="p6", institution="충청남도", date="---12"),  # uncertain, month unknown
    row("p7", "other", group="p7"),
    row("p8", None, error="binary file (image, archive, PDF or executable), not a text page"),
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def summary(out):
    return {(r["table"], r["label"], r["month"], r["institution"]): (int(r["initiatives"]), int(r["pages"]))
            for r in csv.DictReader((out / "summary.csv").open(encoding="utf-8"))}


def test_counts_count_copy_groups_once(tmp_path):
    page = write_report([write_jsonl(tmp_path / "p.jsonl", ROWS)], tmp_path / "r")
    s = summary(tmp_path / "r")
    assert s[("label_by_month", "education", "2024-03", "")] == (1, 3)
    assert s[("label_by_month", "education", "2024-04", "")] == (1, 1)
    assert s[("label_by_month", "reward", "2024-03", "")] == (1, 1)  # published wins over facts
    assert s[("label_by_month", "contest", "unknown", "")] == (1, 1)
    assert s[("institution_by_label", "education", "", "경기도 하남시")] == (2, 4)
    assert not any(k[0] == "institution_by_label" and k[1] == "other" for k in s)
    html = page.read_text(encoding="utf-8")
    assert (tmp_path / "r" / "initiatives_by_period.png").stat().st_size > 1000
    assert "data:image/png;base64," in html and not re.search(r"""(src|href)=["'](?!data:|#|https://news)""", html)
    # every number links to a list holding exactly the pages behind it
    lists = dict(re.findall(r'<section class="list" id="([^"]+)"><h4>([^<]*)</h4>', html))
    anchor = next(a for a, title in lists.items() if title == "경기도 하남시: education")
    section = html.split(f'id="{anchor}"')[1].split("</section>")[0]
    assert section.count("<li>") == 2 and all(p in section for p in ("p1", "p2", "p3", "p4"))
    assert f'href="#{anchor}">2</a>' in html and 'href="https://news.example/a"' in html
    uncertain = html.split("Uncertain pages")[1].split("</table>")[0]
    assert "p6" in uncertain and "p1" not in uncertain


def test_csv_predictions_and_missing_columns(tmp_path, tiny_model):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": "하남시는 24일 청렴 교육을 열었다고 밝혔다. " * 3}, ensure_ascii=False)
                           + "\n" for i in range(3)), encoding="utf-8")
    pred = tmp_path / "pred.csv"
    assert main(["predict", str(src), "-o", str(pred), "--model", str(tiny_model[0])]) == 0
    assert main(["report", str(pred), "-o", str(tmp_path / "r")]) == 0
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "--group-copies" in html and "--facts" in html  # says what is missing and how to get it
    assert sum(int(r["pages"]) for r in csv.DictReader((tmp_path / "r" / "summary.csv").open(encoding="utf-8"))
               if r["table"] == "label_by_month") == 3


def test_parquet_predictions_report_as_jsonl_does(tmp_path, tiny_model):
    pytest.importorskip("pyarrow")
    src = tmp_path / "in.jsonl"
    texts = ["하남시는 24일 청렴 교육을 열었다고 밝혔다. " * 3, "부산시 중구는 공익신고 포상금을 지급했다고 밝혔다. " * 3]
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": texts[i % 2]}, ensure_ascii=False) + "\n" for i in range(4)),
                   encoding="utf-8")
    for suffix in ("jsonl", "parquet"):
        args = ["predict", str(src), "-o", str(tmp_path / f"pred.{suffix}"), "--model", str(tiny_model[0])]
        assert main(args + ["--group-copies", "--facts"]) == 0
        assert main(["report", str(tmp_path / f"pred.{suffix}"), "-o", str(tmp_path / suffix)]) == 0
    assert summary(tmp_path / "parquet") == summary(tmp_path / "jsonl")
    by_month = [v for k, v in summary(tmp_path / "parquet").items() if k[0] == "label_by_month"]
    assert sum(p for _, p in by_month) == 4 and sum(i for i, _ in by_month) == 2  # two releases, two copies each


def test_bad_predictions_are_a_clear_error(tmp_path, capsys):
    (tmp_path / "x.jsonl").write_text('{"text": "no id or label"}\n', encoding="utf-8")
    with pytest.raises(ReportError, match="klassify predict"):
        write_report([tmp_path / "x.jsonl"], tmp_path / "r")
    assert main(["report", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


# --- in a real browser -----------------------------------------------------------------------------

def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def render(html_path: Path, shot: Path):
    """Screenshot the page in headless Chromium; return the console messages it logged (our report runs
    no script, so any console message, including an uncaught error, is a failure)."""
    profile = shot.parent / "profile"
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={profile}", "--window-size=1200,1600", f"--screenshot={shot}",
           "--enable-logging=stderr", "--v=0", html_path.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.exists(), done.stderr[-2000:]
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def not_blank(shot: Path) -> bool:
    from PIL import Image

    histogram = Image.open(shot).convert("L").histogram()  # pixels per grey level
    dark, total = sum(histogram[:200]), sum(histogram)
    return sum(1 for n in histogram if n) > 20 and dark > 0.01 * total


@pytest.fixture
def browser():
    if chromium() is None:
        if os.environ.get("KLASSIFY_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (KLASSIFY_REQUIRE_BROWSER) but not installed")
        pytest.skip("Chromium is not installed (.ci/run installs it)")


def test_report_renders_in_chromium_without_console_errors(browser, tmp_path):
    page = write_report([write_jsonl(tmp_path / "p.jsonl", ROWS)], tmp_path / "r")
    messages = render(page, tmp_path / "shot.png")
    assert messages == []
    assert not_blank(tmp_path / "shot.png")


def test_the_browser_check_catches_errors_and_blank_pages(browser, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>missingFunction();</script></body></html>", encoding="utf-8")
    messages = render(bad, tmp_path / "bad.png")
    assert any("missingFunction" in m for m in messages)
    assert not not_blank(tmp_path / "bad.png")
