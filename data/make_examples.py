"""Write data/examples/: test-split pages for `make demo` (rerun after data/assemble.py changes the splits).

One cluttered page per label, one clean page rendered as HTML, one encoded in CP949, and SOURCES.json
naming the labeled page each came from.
"""

import html
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = ("education", "contest", "declaration", "kindness", "reward", "other", "not_article")


def main() -> None:
    rows = [json.loads(l) for l in (HERE / "labeled" / "written.jsonl").open(encoding="utf-8")]
    test = sorted((r for r in rows if r["split"] == "test"), key=lambda r: r["id"])
    out = HERE / "examples"
    for old in out.glob("page_*"):
        old.unlink()
    out.mkdir(exist_ok=True)
    sources = {}
    for i, label in enumerate(LABELS, 1):
        page = next(r for r in test if r["label"] == label and (r["clutter"] or label == "not_article") and 400 < len(r["text"]) < 2500)
        name = f"page_{i:02d}.txt"
        (out / name).write_text(page["text"] + "\n", encoding="utf-8")
        sources[name] = page
    clean = [r for r in test if not r["clutter"] and r["label"] in ("kindness", "reward") and 400 < len(r["text"]) < 1500]
    lines = [l for l in clean[0]["text"].splitlines() if l.strip()]
    paragraphs = "".join(f"<p>{html.escape(l)}</p>\n" for l in lines[1:])
    (out / "page_08.html").write_text(
        f'<!DOCTYPE html>\n<html lang="ko"><head><meta charset="utf-8"><title>{html.escape(lines[0])}</title></head>\n'
        f'<body><nav><a href="/">홈</a> | <a href="/news">뉴스</a> | <a href="/login">로그인</a></nav>\n'
        f"<article><h1>{html.escape(lines[0])}</h1>\n{paragraphs}</article>\n<footer>무단전재 및 재배포 금지</footer></body></html>\n",
        encoding="utf-8")
    sources["page_08.html"] = clean[0]
    (out / "page_09_cp949.txt").write_bytes(clean[1]["text"].encode("cp949", errors="replace") + b"\n")
    sources["page_09_cp949.txt"] = clean[1]
    (out / "SOURCES.json").write_text(json.dumps({k: {"from": v["id"], "label": v["label"]} for k, v in sources.items()},
                                                 ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
