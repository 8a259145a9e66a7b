"""Synthetic syndication: outlets reposting one press release, built from our own written corpus.

Every outlet copy of a release gets its own headline, dateline and byline, its own header, footer and
related-article boilerplate, and is often cut short (the last paragraphs dropped, sometimes one in the
middle too) or lightly rewritten (sentence endings swapped, sentences dropped, a photo caption added). All the boilerplate
below is made up here; the releases are pages of ``data/labeled/written.jsonl`` (our own text).

Used by ``benchmarks/copy_pairs.py`` (threshold choice and precision/recall), ``benchmarks/copy_speed.py``
(100,000 pages) and ``tests/test_copies.py`` (a 2,000-page crawl with known groups).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WRITTEN = REPO / "data" / "labeled" / "written.jsonl"
INITIATIVES = ("education", "contest", "declaration", "kindness", "reward")

OUTLETS = ["한빛일보", "새아침뉴스", "누리통신", "바른지역신문", "동남데일리", "서해타임즈", "중부투데이", "고을신문",
           "으뜸뉴스", "한마음일보", "미래경제", "시민의소리", "늘푸른방송", "대한지방신문", "오늘의행정", "마루뉴스"]
REPORTERS = ["김하늘", "이도윤", "박서연", "최민준", "정예린", "강지후", "윤채원", "임도현", "한수아", "오준서"]
MENUS = ["홈 | 정치 | 경제 | 사회 | 지역 | 문화 | 오피니언", "전체기사 · 지역뉴스 · 행정 · 교육 · 포토 · 영상",
         "로그인 회원가입 구독신청 기사제보", "뉴스홈 > 지역 > 행정"]
FOOTERS = ["저작권자 © {o} 무단전재 및 재배포 금지", "Copyright ⓒ {o}. All rights reserved. 무단 전재-재배포, AI 학습 금지",
           "<저작권자 ⓒ {o}, 무단 전재 및 재배포 금지>", "ⓒ {o} 기사제보 및 보도자료 news@{d}.example"]
ENDING_SWAPS = [("밝혔다.", "전했다."), ("했다.", "했다고 설명했다."), ("말했다.", "강조했다."), ("계획이다.", "방침이다."),
                ("열었다.", "개최했다."), ("밝혔다.", "알렸다.")]
SENTENCE_END = re.compile(r"(?<=다\.)\s+")
DATELINE = re.compile(r"^\(?[^()=]{1,12}=[^()=]{1,15}\)\s*[^=]{0,20}=\s*")
RELATED_TITLES = ["지역 농산물 직거래 장터 주말 개장", "도심 공원 야간 조명 교체 사업 마무리", "어린이 통학로 안전 점검 실시",
                  "전통시장 주차장 확충 예산 확보", "하천 정비 사업 주민설명회 열려", "청년 창업 지원센터 입주 기업 모집",
                  "폭염 대비 무더위 쉼터 운영 확대", "도서관 야간 개방 시범 운영"]


@dataclass
class Release:
    """One press release: what every outlet copy starts from."""

    id: str
    label: str
    institution: str | None
    split: str
    title: str
    paragraphs: list[str]


def load_releases(labels=INITIATIVES + ("other",), path: Path = WRITTEN, min_paragraphs: int = 1) -> list[Release]:
    """The written corpus's articles as releases (title and cleaned body paragraphs)."""
    from klassify.reading import read_page

    releases = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["label"] not in labels:
                continue
            page = read_page(row["text"])
            paragraphs = [p for p in page.body.split("\n") if p.strip()]
            if len(paragraphs) >= min_paragraphs:
                title = page.title or paragraphs[0][:40]
                releases.append(Release(row["id"], row["label"], row.get("municipality"), row["split"], title, paragraphs))
    return releases


def outlet_copy(release: Release, rng: random.Random, outlet: str | None = None, *, cut: bool = True) -> str:
    """One outlet's page carrying ``release``: new boilerplate, headline and byline; maybe cut or reworded."""
    outlet = outlet or rng.choice(OUTLETS)
    reporter = rng.choice(REPORTERS)
    paragraphs = copy_paragraphs(release, rng, outlet, reporter, cut=cut)
    lines = [f"{outlet}  {rng.choice(MENUS)}", "", headline(release.title, rng),
             f"입력 {rng.randint(2016, 2025)}.{rng.randint(1, 12):02d}.{rng.randint(1, 28):02d} {rng.randint(6, 22):02d}:{rng.randint(0, 59):02d}",
             "", *_spaced(paragraphs)]
    if rng.random() < 0.4:
        lines += ["", f"사진은 행사 모습. (사진={release.institution or '기관'} 제공)"]
    lines += ["", f"{reporter} 기자 {rng.choice('abcdefgh')}{rng.randint(10, 99)}@{outlet_domain(outlet)}.example",
              rng.choice(FOOTERS).format(o=outlet, d=outlet_domain(outlet)), "", "[관련기사]",
              *(f"· {t}" for t in rng.sample(RELATED_TITLES, 3))]
    return "\n".join(lines)


def copy_paragraphs(release: Release, rng: random.Random, outlet: str, reporter: str, *, cut: bool = True):
    """The release's paragraphs as the outlet prints them: its own dateline, maybe cut and reworded."""
    paragraphs = [DATELINE.sub("", p, count=1) if i == 0 else p for i, p in enumerate(release.paragraphs)]
    if cut:
        paragraphs = cut_paragraphs(paragraphs, rng)
    paragraphs = [reword(p, rng) for p in paragraphs]
    place = (release.institution or "지역")[:2]
    paragraphs[0] = f"({place}={outlet}) {reporter} 기자 = {paragraphs[0]}"
    return paragraphs


def cut_paragraphs(paragraphs: list[str], rng: random.Random) -> list[str]:
    """Half the copies keep the whole release; the others drop the last paragraphs (keeping at least
    half) and a quarter of those also drop one middle paragraph."""
    if len(paragraphs) < 3 or rng.random() < 0.5:
        return list(paragraphs)
    keep = max(2, round(len(paragraphs) * rng.uniform(0.5, 0.9)))
    kept = paragraphs[:keep]
    if len(kept) >= 4 and rng.random() < 0.25:
        del kept[rng.randrange(1, len(kept) - 1)]
    return kept


def reword(paragraph: str, rng: random.Random) -> str:
    """A third of paragraphs get a sentence ending swapped; a fifth lose one sentence (outlets trim)."""
    if rng.random() < 0.3:
        old, new = rng.choice(ENDING_SWAPS)
        paragraph = paragraph.replace(old, new, 1)
    sentences = SENTENCE_END.split(paragraph)
    if len(sentences) >= 3 and rng.random() < 0.2:
        del sentences[rng.randrange(1, len(sentences))]
        paragraph = " ".join(sentences)
    return paragraph


def headline(title: str, rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.35:
        return title
    if kind < 0.6:
        return f"[{rng.choice(['지역', '행정', '종합', '단독'])}] {title}"
    words = title.split()
    if kind < 0.85 and len(words) > 3:
        return " ".join(words[: max(3, len(words) * 2 // 3)]) + "…"
    return title.replace(",", "가", 1) + " 눈길"


def outlet_domain(outlet: str) -> str:
    return f"news{OUTLETS.index(outlet) + 1}" if outlet in OUTLETS else "news"


def _spaced(paragraphs):
    out = []
    for p in paragraphs:
        out += [p, ""]
    return out[:-1]


def synthetic_crawl(releases: list[Release], n_pages: int, rng: random.Random, max_copies: int = 12):
    """``n_pages`` pages from distinct releases, each reposted 1 to ``max_copies`` times (skewed: most
    releases have one or two copies, a few have many), shuffled. Returns ``[(page id, text, release id)]``."""
    pages, order = [], list(releases)
    rng.shuffle(order)
    for release in order:
        if len(pages) >= n_pages:
            break
        copies = min(1 + int(rng.paretovariate(1.2)) % max_copies, n_pages - len(pages))
        pages += [(f"p{len(pages) + c:06d}", outlet_copy(release, rng), release.id) for c in range(copies)]
    if len(pages) < n_pages:
        raise ValueError(f"{len(releases)} releases give only {len(pages)} pages, not {n_pages}")
    rng.shuffle(pages)
    return pages


def mixed_releases(releases: list[Release], n: int, rng: random.Random) -> list[Release]:
    """``n`` distinct made-up releases for scale tests: each a headline and 4 to 9 sentences drawn from the
    whole corpus, every number redrawn and the words of each sentence shuffled, so that two releases share
    the corpus's vocabulary but hardly any longer run of characters (only copies of one release do)."""
    sentences = [s.split() for r in releases for p in r.paragraphs for s in SENTENCE_END.split(p) if len(s) > 20]
    out = []
    for k in range(n):
        base = rng.choice(releases)
        picked = []
        for words in rng.sample(sentences, rng.randint(4, 9)):
            words = [re.sub(r"\d+", lambda m: str(rng.randint(1, 999)), w) for w in words]
            rng.shuffle(words)
            picked.append(" ".join(words))
        paragraphs = [" ".join(picked[i : i + 2]) for i in range(0, len(picked), 2)]
        out.append(Release(f"mix{k}", base.label, base.institution, base.split, base.title, paragraphs))
    return out
