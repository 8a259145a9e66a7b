"""Build data/labeled/*.jsonl from hand-written pages, assign leak-free splits, add train-only augmentations.

Input: a staging folder of hand-written pages, one file each (header lines, a `---` line, the page text):

    label: education
    secondary: declaration
    municipality: 강릉시
    year: 2017
    style: wire
    clutter: yes
    ---
    (page text)

Output:
  data/labeled/written.jsonl    every hand-written page with its split (source = "written")
  data/labeled/augmented.jsonl  variants derived from *train* pages only (source = "augmented", split = "train")

Splits are assigned to groups, never to single pages: a group joins pages of the same municipality and
label, and any two pages whose character-5-gram shingle Jaccard is >= 0.5. Run from the repository root:

    python data/assemble.py data/staging5 [more staging folders...]

Pages already in data/labeled/written.jsonl are kept as they are, split included: only the new pages
get a split (the split of the group they join, else the stratified choice), so test pages stay test
pages and metrics stay comparable across corpus versions. `--rebuild` ignores the existing file and
re-assigns every split from the staging folders alone.

It also rewrites the statistics in data/README.md (the data card).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from klassify.labels import LABELS, NOT_ARTICLE  # noqa: E402
from klassify.near_duplicates import near_duplicate_pairs  # noqa: E402

SEED = 20261124
SPLIT_SHARES = {"train": 0.6, "dev": 0.2, "test": 0.2}


def parse_page(path: Path) -> dict:
    header, _, text = path.read_text(encoding="utf-8").partition("\n---\n")
    meta = {}
    for line in header.splitlines():
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    label = meta["label"]
    if label not in LABELS:
        raise ValueError(f"{path}: bad label {label!r}")
    secondary = [s.strip() for s in meta.get("secondary", "").split(",") if s.strip()]
    for s in secondary:
        if s not in LABELS or s == label:
            raise ValueError(f"{path}: bad secondary {s!r}")
    year = meta.get("year", "")
    return {
        "id": f"{path.parent.name}-{path.stem}".replace("_", "-"),
        "text": text.strip("\n"),
        "label": label,
        "secondary": secondary,
        "municipality": meta.get("municipality") or None,
        "split": None,
        "source": "written",
        "year": int(year) if year.isdigit() else None,
        "style": meta.get("style") or None,
        "clutter": meta.get("clutter", "no").lower() == "yes",
    }


def group_pages(pages: list[dict], pairs) -> list[list[int]]:
    parent = list(range(len(pages)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i, j):
        parent[find(i)] = find(j)

    by_event = defaultdict(list)
    for i, page in enumerate(pages):
        if page["municipality"]:
            by_event[(page["municipality"], page["label"])].append(i)
    for members in by_event.values():
        for j in members[1:]:
            union(members[0], j)
    for i, j, _ in pairs:
        union(i, j)
    groups = defaultdict(list)
    for i in range(len(pages)):
        groups[find(i)].append(i)
    return list(groups.values())


def assign_splits(pages: list[dict], groups: list[list[int]]) -> None:
    """Greedy stratified assignment: each group goes to the split furthest below its per-label share.

    Pages that already have a split keep it; a new page joining such a group takes the group's split.
    """
    rng = random.Random(SEED)
    totals = defaultdict(int)
    for page in pages:
        totals[page["label"]] += 1
    counts = defaultdict(int)
    for page in pages:
        if page["split"]:
            counts[(page["split"], page["label"])] += 1
    fresh = []
    for group in groups:
        known = Counter(pages[i]["split"] for i in group if pages[i]["split"])
        if not known:
            fresh.append(group)
            continue
        if len(known) > 1:
            print(f"warning: new pages join groups in {sorted(known)}; they take the majority split", file=sys.stderr)
        split = known.most_common(1)[0][0]
        for i in group:
            if not pages[i]["split"]:
                pages[i]["split"] = split
                counts[(split, pages[i]["label"])] += 1
    order = sorted(fresh, key=lambda g: (-len(g), min(pages[i]["id"] for i in g)))
    rng.shuffle(order)
    order.sort(key=len, reverse=True)  # big groups first, random among equals
    for group in order:
        labels = [pages[i]["label"] for i in group]

        def deficit(split):
            return sum(SPLIT_SHARES[split] * totals[l] - counts[(split, l)] for l in labels)

        split = max(SPLIT_SHARES, key=lambda s: (deficit(s), s == "train"))
        for i in group:
            pages[i]["split"] = split
            counts[(split, pages[i]["label"])] += 1


# --- train-only augmentation --------------------------------------------------------------------

CITIES = "서울 인천 수원 춘천 강릉 원주 청주 대전 세종 천안 전주 광주 목포 여수 대구 안동 포항 부산 울산 창원 진주 제주 서귀포 백령도 울릉도".split()
SKIES = "맑음 구름많음 흐림 비 눈 구름조금 소나기".split()
MENUS = [
    "홈 | 정치 | 경제 | 사회 | 지역 | 문화 | 오피니언",
    "전체기사 지역뉴스 행정 의회 교육 포토 동영상",
    "로그인 회원가입 기사제보 구독신청",
    "HOME > 뉴스 > 지역소식",
    "시정소식 | 보도자료 | 공지사항 | 고시공고",
]
SHARES = ["페이스북 트위터 카카오톡 URL복사", "기사 공유하기", "글자크기 가 가 | 인쇄", "카카오스토리 네이버밴드 스크랩"]
FOOTERS = [
    "Copyright ⓒ {outlet}. All rights reserved.",
    "<저작권자 ⓒ {outlet} 무단전재 및 재배포 금지>",
    "{outlet} | 발행인 홍OO | 편집인 김OO | 등록번호 경기 아00000",
    "무단 전재-재배포, AI 학습 및 활용 금지",
]
OUTLETS = ["지역뉴스24", "바른신문", "시민일보넷", "새고을뉴스", "한빛타임즈", "열린지방신문", "뉴스마당"]


def headline(page: dict) -> str:
    from klassify.reading import read_page

    title = read_page(page["text"]).title
    if title:
        return title
    first = next((l.strip() for l in page["text"].splitlines() if len(l.strip()) >= 8), "")
    return first[:60]


def weather_lines(rng: random.Random) -> list[str]:
    cities = rng.sample(CITIES, rng.randint(4, 14))
    return [f"• {rng.choice(SKIES)}{c}{rng.uniform(-8, 33):.1f}℃" for c in cities]


def teaser_lines(rng: random.Random, titles: list[str], k: int) -> list[str]:
    return [f"{rng.choice(['·', '▶', '-', ''])} {t}".strip() for t in rng.sample(titles, k)]


def body_of(page: dict) -> str:
    from klassify.reading import read_page

    return read_page(page["text"]).body or page["text"]


def wrap_in_clutter(page: dict, titles: list[str], rng: random.Random) -> str:
    outlet = rng.choice(OUTLETS)
    top = []
    if rng.random() < 0.6:
        top += [f"{rng.randint(2006, 2026)}.{rng.randint(1, 12):02d}.{rng.randint(1, 28):02d} ({rng.choice('월화수목금토일')})"]
        top += weather_lines(rng)
    top += rng.sample(MENUS, rng.randint(1, 3))
    head = headline(page)
    top += [head, rng.choice(SHARES), f"입력 {rng.randint(2006, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"]
    bottom = [rng.choice(SHARES), rng.choice(["많이 본 기사", "관련기사", "최신뉴스", "주요뉴스"])]
    bottom += teaser_lines(rng, titles, rng.randint(3, 8))
    if rng.random() < 0.5:
        bottom += ["댓글 0개", "로그인 후 댓글을 작성할 수 있습니다."]
    bottom.append(rng.choice(FOOTERS).format(outlet=outlet))
    return "\n".join(top + ["", body_of(page), ""] + bottom)


def board_view(page: dict, titles: list[str], rng: random.Random) -> str:
    """The article as a municipal board's post view: post UI on top, the board's list rows below."""
    top = [rng.choice(["보도자료", "시정소식", "새소식", "군정소식"]), headline(page),
           f"작성자 {rng.choice(['홍보담당관', '감사실', '행정지원과', '공보팀'])} | 등록일 {rng.randint(2006, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} | 조회 수 {rng.randint(20, 3000)}",
           rng.choice(["Prev이전 문서 Next다음 문서", "이전글 다음글 목록", "크게 작게 인쇄 목록"]),
           f"첨부파일 사진{rng.randint(1, 5)}.jpg"]
    rows = ["번호 제목 작성자 작성일 조회"]
    start = rng.randint(200, 9000)
    for n, t in enumerate(rng.sample(titles, rng.randint(8, 22))):
        rows.append(f"{start - n} {t} {rng.choice(['홍보담당관', '감사실', '총무과'])} {rng.randint(2006, 2026)}.{rng.randint(1, 12):02d}.{rng.randint(1, 28):02d} {rng.randint(3, 2500)}")
    return "\n".join(top + ["", body_of(page), ""] + rows + ["1 2 3 4 5 다음"])


def press_release(page: dict, titles: list[str], rng: random.Random) -> str:
    """The article as a municipal 보도자료 post: □-bulleted paragraphs inside the board's post view."""
    paragraphs = [p for p in body_of(page).split("\n") if p.strip()]
    bulleted = {**page, "text": "\n\n".join(f"□ {p}" for p in paragraphs)}
    return board_view(bulleted, titles, rng)


def json_dump(rng: random.Random, articles: list[dict]) -> str:
    """An API response listing articles (an API dump, not an article page)."""
    items = [{"id": f"NW-{rng.randint(10000, 99999)}", "title": headline(a), "regDate": f"{rng.randint(2010, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
              "dept": rng.choice(["감사실", "홍보담당관", "총무과"]), "summary": " ".join(body_of(a).split())[: rng.randint(80, 400)]}
             for a in rng.sample(articles, rng.randint(1, 5))]
    payload = {"status": "OK", "code": 200, "page": 1, "total": rng.randint(10, 3000), "items": items}
    return json.dumps(payload, ensure_ascii=False, indent=rng.choice([None, 2]))


def rss_dump(rng: random.Random, articles: list[dict]) -> str:
    """An RSS feed of article leads."""
    items = "".join(
        f"<item><title>{headline(a)}</title><link>https://news.example/{rng.randint(1000, 9999)}</link>"
        f"<description>{' '.join(body_of(a).split())[: rng.randint(100, 300)]}</description>"
        f"<pubDate>Mon, {rng.randint(1, 28):02d} Mar {rng.randint(2010, 2026)} 09:00:00 +0900</pubDate></item>\n"
        for a in rng.sample(articles, rng.randint(2, 6)))
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>보도자료</title>\n{items}</channel></rss>'


def lead_brief(page: dict) -> str | None:
    sentences = re.split(r"(?<=다\.)\s+", " ".join(body_of(page).split()))
    if len(sentences) < 4:
        return None
    return "\n".join([headline(page), ""] + sentences[:3])


def board_list(rng: random.Random, titles: list[str]) -> str:
    depts = ["감사담당관", "행정지원과", "총무과", "기획예산과", "홍보담당관", "민원여권과", "감사실"]
    rows = ["번호 제목 담당부서 작성일 조회"]
    start = rng.randint(200, 9000)
    for n, t in enumerate(rng.sample(titles, rng.randint(8, 20))):
        rows.append(f"{start - n} {t} {rng.choice(depts)} {rng.randint(2006, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(3, 2500)}")
    top = rng.sample(MENUS, 2) + [rng.choice(["보도자료", "시정소식", "공지사항", "새소식"]), f"전체 {rng.randint(300, 9000)}건 | 페이지 1/{rng.randint(20, 400)}"]
    return "\n".join(top + [""] + rows + ["", "처음 이전 1 2 3 4 5 6 7 8 9 10 다음 맨끝", "검색 제목 내용 작성자"])


def search_results(rng: random.Random, pages: list[dict], titles: list[str]) -> str:
    query = rng.choice(["청렴", "청렴교육", "서약식", "친절 공무원", "공익신고 포상금", "공모전", "갑질"])
    out = [f"'{query}' 검색결과 총 {rng.randint(12, 900)}건", "정확도순 | 최신순", ""]
    for page in rng.sample(pages, rng.randint(5, 10)):
        snippet = " ".join(body_of(page).split())[: rng.randint(60, 110)]
        out += [headline(page), snippet + "…", f"{rng.choice(OUTLETS)} | {rng.randint(2006, 2026)}.{rng.randint(1, 12):02d}.{rng.randint(1, 28):02d}", ""]
    out.append("이전 1 2 3 다음")
    return "\n".join(out)


def gallery(rng: random.Random, titles: list[str]) -> str:
    out = [rng.choice(["포토갤러리", "사진으로 보는 시정", "행사 사진첩"]), ""]
    for t in rng.sample(titles, rng.randint(6, 12)):
        out += [f"[사진] {t}", f"등록일 {rng.randint(2010, 2026)}.{rng.randint(1, 12):02d}.{rng.randint(1, 28):02d} 조회 {rng.randint(10, 900)}"]
    return "\n".join(out + ["", "더보기 +"])


def augment(pages: list[dict], previous: list[dict] | None = None, new_ids: set[str] = frozenset()) -> list[dict]:
    """Train-only variants: wrapped in clutter, as a board view or press release, as a lead brief, plus
    synthetic not_article pages (board lists, search results, galleries, JSON and RSS dumps).

    With ``previous`` (the existing augmented rows), those rows are kept as they are and only the pages
    in ``new_ids`` get variants, from a generator seeded by their ids: adding pages leaves every earlier
    training row untouched.
    """
    train = [p for p in pages if p["split"] == "train"]
    articles = [p for p in train if p["label"] != NOT_ARTICLE]
    titles = [t for t in (headline(p) for p in articles) if len(t) >= 8]
    if previous is not None:
        new = [p for p in articles if p["id"] in new_ids]
        rng = random.Random(f"{SEED}:" + ",".join(p["id"] for p in new))
        return previous + page_variants(new, titles, rng, first=len(articles) - len(new))
    rng = random.Random(SEED)
    return page_variants(articles, titles, rng) + synthetic_not_articles(articles, titles, rng)


def augmented_row(parent: dict | None, kind: str, text: str, label: str, n: int) -> dict:
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return {
        "id": f"aug-{kind}-{n:03d}-{digest}",
        "text": text,
        "label": label,
        "secondary": parent["secondary"] if parent else [],
        "municipality": parent["municipality"] if parent else None,
        "split": "train",
        "source": "augmented",
        "year": parent["year"] if parent else None,
        "style": kind,
        "clutter": kind in ("clutter", "board_view", "press_release"),
        "parent": parent["id"] if parent else None,
    }


def page_variants(articles: list[dict], titles: list[str], rng: random.Random, first: int = 0) -> list[dict]:
    out = []
    for n, page in enumerate(articles, start=first):
        if not page["clutter"]:
            out.append(augmented_row(page, "clutter", wrap_in_clutter(page, titles, rng), page["label"], n))
        if rng.random() < 0.35:
            out.append(augmented_row(page, "board_view", board_view(page, titles, rng), page["label"], n))
        elif rng.random() < 0.2:
            out.append(augmented_row(page, "press_release", press_release(page, titles, rng), page["label"], n))
        brief = lead_brief(page)
        if brief and rng.random() < 0.5:
            out.append(augmented_row(page, "brief", brief, page["label"], n))
    return out


def synthetic_not_articles(articles: list[dict], titles: list[str], rng: random.Random) -> list[dict]:
    out = []
    for n in range(60):
        out.append(augmented_row(None, "board", board_list(rng, titles), NOT_ARTICLE, n))
        out.append(augmented_row(None, "search", search_results(rng, articles, titles), NOT_ARTICLE, n))
        if n < 30:
            out.append(augmented_row(None, "gallery", gallery(rng, titles), NOT_ARTICLE, n))
            out.append(augmented_row(None, "json", json_dump(rng, articles), NOT_ARTICLE, n))
            out.append(augmented_row(None, "rss", rss_dump(rng, articles), NOT_ARTICLE, n))
    return out


def existing_pages(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(*args: str) -> None:
    rebuild = "--rebuild" in args
    staging_dirs = [a for a in args if a != "--rebuild"] or ["data/staging"]
    files = sorted(f for d in staging_dirs for f in Path(d).glob("*/*.txt"))
    kept = [] if rebuild else existing_pages(HERE / "labeled" / "written.jsonl")
    known = {p["id"]: p for p in kept}
    staged = [parse_page(f) for f in files]
    for page in staged:
        if page["id"] in known and known[page["id"]]["text"] != page["text"]:
            raise SystemExit(f"{page['id']}: already in written.jsonl with a different text; rename the file")
    pages = kept + [p for p in staged if p["id"] not in known]
    if len(pages) - len(kept) < len(staged):
        print(f"{len(staged) - (len(pages) - len(kept))} staged pages are already in written.jsonl: skipped")
    ids = [p["id"] for p in pages]
    assert len(ids) == len(set(ids)), "duplicate ids"
    pairs = list(near_duplicate_pairs([p["text"] for p in pages]))
    groups = group_pages(pages, pairs)
    assign_splits(pages, groups)
    out = HERE / "labeled"
    out.mkdir(parents=True, exist_ok=True)
    previous = None if rebuild else existing_pages(out / "augmented.jsonl")
    augmented = augment(pages, previous or None, {p["id"] for p in pages[len(kept):]})
    write_jsonl(out / "written.jsonl", pages)
    write_jsonl(out / "augmented.jsonl", augmented)
    write_card_stats(pages, augmented, groups, pairs)
    added = Counter((p["label"], p["split"]) for p in pages[len(kept):])
    print(f"{len(pages)} written pages ({len(pages) - len(kept)} new) in {len(groups)} groups, "
          f"{len(augmented)} augmented -> {out}")
    for (label, split), n in sorted(added.items()):
        print(f"  new {label:12s} {split:5s} {n}")


def write_card_stats(pages, augmented, groups, pairs) -> None:
    """Replace the block between the STATS markers of data/README.md with fresh numbers."""
    from klassify.labels import LABELS

    counts = Counter((p["label"], p["split"]) for p in pages)
    aug_counts = Counter(a["label"] for a in augmented)
    rows = ["| label | train | dev | test | written | augmented (train) |", "|---|---:|---:|---:|---:|---:|"]
    for label in LABELS:
        per = [counts[(label, s)] for s in ("train", "dev", "test")]
        rows.append(f"| {label} | {per[0]} | {per[1]} | {per[2]} | {sum(per)} | {aug_counts[label]} |")
    total = [sum(counts[(l, s)] for l in LABELS) for s in ("train", "dev", "test")]
    rows.append(f"| **all** | {total[0]} | {total[1]} | {total[2]} | {len(pages)} | {len(augmented)} |")
    articles = [len(p["text"]) for p in pages if p["label"] != NOT_ARTICLE]
    quartiles = statistics.quantiles(articles, n=4)
    years = [p["year"] for p in pages if p["year"]]
    styles = Counter(p["style"] for p in pages)
    cross = sum(1 for i, j, _ in pairs if pages[i]["split"] != pages[j]["split"])
    stats = "\n".join(rows + [
        "",
        f"- Municipalities / institutions: {len({p['municipality'] for p in pages if p['municipality']})} distinct.",
        f"- Years {min(years)}–{max(years)} ({len(set(years))} distinct).",
        f"- Article pages (all but not_article): {len(articles)}; length in characters: median {statistics.median(articles):.0f}, "
        f"quartiles {quartiles[0]:.0f} / {quartiles[2]:.0f}, min {min(articles)}, max {max(articles)}; "
        f"{sum(l < 400 for l in articles)} under 400, {sum(l >= 2000 for l in articles)} of 2,000 or more.",
        f"- Article pages carrying scraped-page clutter: {sum(p['clutter'] for p in pages if p['label'] != NOT_ARTICLE)} "
        f"({sum(p['clutter'] for p in pages if p['label'] != NOT_ARTICLE) / len(articles):.0%}).",
        "- Styles: " + ", ".join(f"{k} {v}" for k, v in styles.most_common()) + ".",
        f"- Pages with a secondary label: {sum(bool(p['secondary']) for p in pages)}.",
        f"- Near-duplicate check (character 5-gram shingle Jaccard ≥ 0.5, all {len(pages) * (len(pages) - 1) // 2:,} pairs): "
        f"{len(pairs)} pairs found ({len(pairs) / max(len(pages), 1):.2%} of pages), {cross} across splits.",
        f"- Split groups: {len(groups)} (same municipality + label, or near-duplicates, always share a split).",
    ])
    card = HERE / "README.md"
    text = card.read_text(encoding="utf-8")
    start, end = "<!-- STATS -->", "<!-- /STATS -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    card.write_text(f"{head}{start}\n{stats}\n{end}{tail}", encoding="utf-8")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
