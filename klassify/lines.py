"""Line-level cleaning of a text page: what each line is, and which block of lines is the article.

Each line gets a :class:`LineKind`. The body is the block of lines with the most Korean prose, where a
block may bridge short gaps (photo captions, ▲ bullet items, sub-headings) but not runs of
boilerplate (teaser lists, board rows, an English translation). Boilerplate lines inside the block are
dropped; everything kept is a line of the input, unchanged.
"""

from __future__ import annotations

import enum
import re


class LineKind(enum.Enum):
    BLANK = "blank"
    PROSE = "prose"  # a Korean sentence (or several)
    TEXT = "text"  # other short text: headings, captions, list items, menu entries
    BOILER = "boiler"  # weather, share buttons, bylines, tags, comments UI, footer
    SECTION_END = "section_end"  # copyright line or a teaser/comment section header: the article is over
    ROW = "row"  # a row of a board list or table: numbers and dates around a title
    ENGLISH = "english"  # mostly Latin-script text (e.g. an appended machine translation)
    TRANSLATION_NOTICE = "translation_notice"


HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LATIN = re.compile(r"[A-Za-z]")
_SENTENCE_END = re.compile(r"(다|요|죠|음|함|임|까|니다|습니다)\s*[.!?…]*\s*[\"'”’)\]]*\s*$|[.!?][\"'”’)\]]*\s*$")
_WEATHER = re.compile(r"(℃|°C|°|㎜|미세먼지|강수확률|습도\s*\d|풍속)|^(맑음|흐림|구름\S*|비|눈|소나기|황사)\s*\S{0,8}\s*-?\d")
_DATE = re.compile(r"(19|20)\d{2}\s*[-./년]\s*\d{1,2}\s*[-./월]\s*\d{1,2}")
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
_SHARE = re.compile(
    r"페이스북|트위터|카카오(톡|스토리)|네이버\s*밴드|밴드|URL\s*복사|링크\s*복사|공유하기|기사\s*공유|스크랩|"
    r"인쇄하기|글자\s*(크기|크게|작게)|가\s*가|프린트|이메일\s*보내기|좋아요|SNS"
)
_SECTION_END = re.compile(
    r"무단\s*(전재|복제|배포|도용)|재배포|저작권|copyright|all rights reserved|ⓒ|©|"
    r"많이\s*본\s*(기사|뉴스)|관련\s*(기사|뉴스)|최신\s*(기사|뉴스)|인기\s*(기사|뉴스)|주요\s*(기사|뉴스)|"
    r"실시간\s*(기사|뉴스|인기)|포토\s*뉴스|photo\s*news|이\s*기사를?\s*(추천|좋아요)|댓글\s*\d*\s*개|"
    r"댓글\s*(쓰기|작성|달기|보기)|뉴스\s*댓글|^댓글$|^기사\s*목록|^전체\s*기사|^다른\s*기사",
    re.I,
)
_BOILER = re.compile(
    r"로그인\s*(후|하|이)|회원\s*가입|비밀번호|아이디\s*찾기|구독\s*신청|기사\s*제보|광고\s*문의|"
    r"개인정보\s*처리\s*방침|이용\s*약관|청소년\s*보호\s*정책|사업자\s*등록\s*번호|등록\s*번호|발행인|편집인|"
    r"^(prev|next)?\s*(이전|다음)\s*(글|기사|문서)|목록으로|맨\s*위로|TOP$|^태그|^#|^\[?(tag|tags)\]?",
    re.I,
)
_BYLINE = re.compile(r"기자\s*$|기자\s*[|ㅣ]|[\w.+-]+@[\w-]+\.[\w.]+|^(입력|수정|승인|등록|게재|기사\s*입력|최종\s*수정)\s*[:：]?\s*\d|^(조회|조회\s*수|추천|공감)\s*[:：]?\s*[\d,]+$")
_IMAGE_FILE = re.compile(r"\.(jpe?g|png|gif|bmp|webp)\s*$", re.I)
_TRANSLATION_NOTICE = re.compile(r"(번역|translat)", re.I)
_ROW_START = re.compile(r"^(\d{1,7}|공지|NEW|new|\[공지\])\s+\S")
_LIST_ITEM = re.compile(r"^\s*[▲△▶▷■□◆◇○●•·\-*※☞①-⑳]|^\s*\d{1,2}[.)]\s")
_MENU_WORD = re.compile(r"^(로그인|회원가입|메뉴|검색|홈|HOME|사이트맵|전체메뉴)$", re.I)
_MENU_SEPARATOR = re.compile(r"\s*[|│ㅣ·/>›»▸☰\[\]]\s*|\s{2,}")
_MANY_SEPARATORS = re.compile(r"(\s*[,|/·]\s*\S+){4,}")


def ends_sentence(line: str) -> bool:
    """Whether ``line`` ends as a sentence does (``…했다.``, ``…까요?``, a closing quote after the stop)."""
    return bool(_SENTENCE_END.search(line))


_LONG_LINE = 4000


def classify_line(line: str) -> LineKind:
    """The kind of one stripped line.

    >>> classify_line("맑음서울17.8℃").value, classify_line("시는 청렴 교육을 열었다고 밝혔다.").value
    ('boiler', 'prose')
    >>> classify_line("152 청렴 서약식 개최 행정지원과 2024-03-02 311").value
    'row'
    """
    if not line:
        return LineKind.BLANK
    n = len(line)
    if n > _LONG_LINE:
        # Judge a giant line (minified page, 5 MB of text on one line) by its head and tail, so every
        # regular expression below runs on bounded input.
        line = line[: _LONG_LINE // 2] + "\n" + line[-_LONG_LINE // 2 :]
    hangul = len(HANGUL.findall(line))
    latin = len(_LATIN.findall(line))
    if latin >= 20 and latin > 3 * hangul:
        return LineKind.TRANSLATION_NOTICE if hangul and _TRANSLATION_NOTICE.search(line) else LineKind.ENGLISH
    if hangul and _TRANSLATION_NOTICE.search(line) and ("구글" in line or "영문" in line or "Google" in line):
        return LineKind.TRANSLATION_NOTICE
    if n < 60 and _WEATHER.search(line):
        return LineKind.BOILER
    if n < 80 and (_SHARE.search(line) or _BYLINE.search(line) or _IMAGE_FILE.search(line)):
        return LineKind.BOILER
    if n < 120 and is_menu(line):
        return LineKind.BOILER
    if n < 120 and _SECTION_END.search(line):
        return LineKind.SECTION_END
    if n < 120 and _BOILER.search(line):
        return LineKind.BOILER
    if n < 160 and _DATE.search(line) and (_ROW_START.match(line) or re.search(r"조회|\d+\s*$", line)):
        if not _SENTENCE_END.search(line) or _ROW_START.match(line):
            return LineKind.ROW
    if hangul >= 12 and _SENTENCE_END.search(line[-200:]) and not _MANY_SEPARATORS.fullmatch(line[:300]):
        return LineKind.PROSE
    if hangul >= 40 and n >= 80 and not _LIST_ITEM.match(line):
        return LineKind.PROSE
    if n < 40 and hangul == 0 and (_DATE.search(line) or _TIME.search(line)):
        return LineKind.BOILER
    return LineKind.TEXT


def is_menu(line: str) -> bool:
    """A navigation line: three or more short items between separators (|, │, ㅣ, ·, >, [..], wide gaps).

    >>> is_menu("| 홈 | 양주소식 | 읍·면·동 | 교육·문화 |"), is_menu("[정치행정]  [경제]  [교육]"), is_menu("시는 3일 교육을 했다.")
    (True, True, False)
    >>> is_menu("크게 작게 위로 아래로 게시글 수정 내역 댓글로 가기"), is_menu("시, 청렴 교육 실시 올해 첫 교육")
    (True, False)
    """
    if _MENU_WORD.match(line):
        return True
    items = [item for item in _MENU_SEPARATOR.split(line) if item]
    if len(items) >= 3 and all(len(item) <= 8 for item in items) and not _SENTENCE_END.search(line):
        return True
    words = line.split()
    return len(words) >= 3 and sum(w in _UI_WORDS for w in words) >= max(3, len(words) // 2)


_UI_WORDS = frozenset(
    "크게 작게 위로 아래로 인쇄 목록 이전 다음 수정 삭제 댓글 댓글로 공유 스크랩 글자 가기 게시글 내역 확대 축소 닫기 "
    "보기 더보기 홈 검색 로그인 회원가입 글쓰기 답글 추천 신고 이전글 다음글 목록으로 프린트 메일 단축키".split()
)


def classify_lines(lines) -> tuple[LineKind, ...]:
    return tuple(classify_line(line) for line in lines)


# A block may bridge this much non-prose material between two prose lines.
_MAX_GAP_COST = 6.0
_GAP_COST = {
    LineKind.TEXT: 1.0,
    LineKind.BOILER: 2.0,
    LineKind.ROW: 3.0,
    LineKind.ENGLISH: 3.0,
    LineKind.TRANSLATION_NOTICE: _MAX_GAP_COST + 1,
    LineKind.SECTION_END: _MAX_GAP_COST + 1,
}
_DROPPED = {LineKind.BOILER, LineKind.SECTION_END, LineKind.ROW, LineKind.ENGLISH, LineKind.TRANSLATION_NOTICE, LineKind.BLANK}


def select_body(lines, kinds) -> tuple[int, ...]:
    """Indices of the lines that form the article body (empty when there is no prose at all)."""
    blocks = _prose_blocks(lines, kinds)
    if not blocks:
        return ()
    start, end = max(blocks, key=lambda block: _prose_weight(lines, kinds, block))
    start = _include_lead_in(lines, kinds, start)
    return tuple(i for i in range(start, end + 1) if kinds[i] not in _DROPPED and _keep_text_line(lines[i], kinds[i]))


def _prose_blocks(lines, kinds) -> list[tuple[int, int]]:
    blocks: list[tuple[int, int]] = []
    start = last = None
    cost = 0.0
    for i, kind in enumerate(kinds):
        if kind is LineKind.PROSE:
            if start is None:
                start = i
            last, cost = i, 0.0
        elif kind is not LineKind.BLANK and start is not None:
            cost += _line_gap_cost(lines[i], kind)
            if cost > _MAX_GAP_COST:
                blocks.append((start, last))
                start = last = None
                cost = 0.0
    if start is not None:
        blocks.append((start, last))
    return blocks


def _line_gap_cost(line: str, kind: LineKind) -> float:
    if kind is LineKind.TEXT and _LIST_ITEM.match(line) and len(HANGUL.findall(line)) >= 8:
        return 0.5  # ▲ captions and bullet items inside an article
    return _GAP_COST[kind]


def _prose_weight(lines, kinds, block) -> int:
    start, end = block
    return sum(len(lines[i]) for i in range(start, end + 1) if kinds[i] is LineKind.PROSE)


def _include_lead_in(lines, kinds, start: int) -> int:
    """Keep a dateline or sub-heading right above the first sentence, e.g. '[춘천=뉴스] 홍길동 기자'."""
    i = start - 1
    while i >= 0 and kinds[i] is LineKind.BLANK:
        i -= 1
    if i >= 0 and kinds[i] is LineKind.TEXT and re.match(r"^[\[(【].{1,30}[=＝].{0,30}[\])】]", lines[i]):
        return i
    return start


def is_list_item(line: str) -> bool:
    return bool(_LIST_ITEM.match(line))


def _keep_text_line(line: str, kind: LineKind) -> bool:
    if kind is not LineKind.TEXT:
        return True
    # Inside the block, keep captions, list items and sub-headings; drop bare menu words and symbols.
    return len(HANGUL.findall(line)) >= 4 or len(line) >= 20


_SENTENCE_BREAK = re.compile(r"(?<=[다요][.!?])\s+|(?<=[.!?][\"'”’])\s+|\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence (Korean sentence ends and line breaks), whitespace trimmed.

    >>> t = "시는 교육을 열었다. 200명이 참석했다.\\n▲ 사진"
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['시는 교육을 열었다.', '200명이 참석했다.', '▲ 사진']
    """
    spans, start = [], 0
    for match in [*_SENTENCE_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((start + lead, start + len(piece.rstrip())))
        if match:
            start = match.end()
    return spans
