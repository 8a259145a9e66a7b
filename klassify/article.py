"""Is it an article? A trained detector over page-level features of the raw page and its extraction.

The features describe the page's shape (how much Korean prose, how long the longest prose run, how many
list rows, dates, menu words, English lines...), so the detector generalises across sites instead of
memorising words. The model itself is a scikit-learn gradient-boosting classifier over these features,
trained on the labeled corpus (``not_article`` against every other label) in :mod:`klassify.training`.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .lines import LineKind
from .reading import Page

FEATURE_NAMES: tuple[str, ...] = (
    "log_raw_chars",
    "log_nonblank_lines",
    "log_body_chars",
    "body_share",
    "prose_line_share",
    "log_body_prose_chars",
    "row_line_share",
    "boiler_line_share",
    "short_text_line_share",
    "english_line_share",
    "date_line_share",
    "number_start_line_share",
    "log_mean_line_chars",
    "log_body_sentences",
    "body_hangul_share",
    "body_prose_line_share",
    "body_has_quote",
    "log_reporter_mentions",
    "log_report_verbs",
    "is_html",
    "menu_word_density",
    "separator_line_share",
    "log_prose_blocks",
    "log_body_lines",
    "body_digit_share",
    "log_max_prose_line_chars",
)

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_DATE = re.compile(r"(19|20)\d{2}\s*[-./년]\s*\d{1,2}")
_NUMBER_START = re.compile(r"^\d{1,7}\s")
_SENTENCE = re.compile(r"(다|요)[.!?]?[\"'”’)]*(\s|$)")
_REPORT_VERBS = re.compile(r"밝혔다|말했다|전했다|설명했다|강조했다|했다|됐다|이다|예정이다|계획이다")
_MENU_WORDS = re.compile(r"로그인|회원가입|검색|메뉴|바로가기|이전|다음|목록|전체보기|더보기|홈|사이트맵|닫기|처음|맨끝")
_DIGIT = re.compile(r"\d")


def page_features(page: Page) -> np.ndarray:
    """The detector's feature vector for one page (see :data:`FEATURE_NAMES`)."""
    kinds = page.kinds
    nonblank = [i for i, k in enumerate(kinds) if k is not LineKind.BLANK]
    n = max(len(nonblank), 1)
    count = {kind: 0 for kind in LineKind}
    for i in nonblank:
        count[kinds[i]] += 1
    lines = page.lines
    raw_chars = sum(len(lines[i]) for i in nonblank)
    body = page.body
    body_lines = page.kept_lines
    body_prose = [i for i in body_lines if kinds[i] is LineKind.PROSE]
    prose_chars = sum(len(lines[i]) for i in body_prose)
    return np.array(
        [
            math.log1p(raw_chars),
            math.log1p(len(nonblank)),
            math.log1p(len(body)),
            len(body) / max(raw_chars, 1),
            count[LineKind.PROSE] / n,
            math.log1p(prose_chars),
            count[LineKind.ROW] / n,
            (count[LineKind.BOILER] + count[LineKind.SECTION_END]) / n,
            sum(1 for i in nonblank if kinds[i] is LineKind.TEXT and len(lines[i]) < 20) / n,
            count[LineKind.ENGLISH] / n,
            sum(1 for i in nonblank if _DATE.search(lines[i])) / n,
            sum(1 for i in nonblank if _NUMBER_START.match(lines[i])) / n,
            math.log1p(raw_chars / n),
            math.log1p(len(_SENTENCE.findall(body))),
            len(_HANGUL.findall(body)) / max(len(body), 1),
            len(body_prose) / max(len(body_lines), 1),
            float(any(q in body for q in "“\"")),
            math.log1p(min(sum(line.count("기자") for line in lines), 20)),
            math.log1p(len(_REPORT_VERBS.findall(body))),
            float(page.is_html),
            sum(len(_MENU_WORDS.findall(lines[i])) for i in nonblank) / n,
            sum(1 for i in nonblank if lines[i].count("|") >= 2) / n,
            math.log1p(_count_prose_blocks(kinds)),
            math.log1p(len(body_lines)),
            len(_DIGIT.findall(body)) / max(len(body), 1),
            math.log1p(max((len(lines[i]) for i in body_prose), default=0)),
        ],
        dtype=np.float64,
    )


def feature_matrix(pages) -> np.ndarray:
    return np.vstack([page_features(p) for p in pages]) if pages else np.zeros((0, len(FEATURE_NAMES)))


def _count_prose_blocks(kinds) -> int:
    blocks, inside = 0, False
    for kind in kinds:
        if kind is LineKind.PROSE:
            if not inside:
                blocks += 1
            inside = True
        elif kind is not LineKind.BLANK:
            inside = False
    return blocks
