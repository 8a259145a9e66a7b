import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from klassify import PageReadError, extract_article, read_page
from klassify.lines import LineKind

# Short phrases (not copies of seed lines) that locate each seed's first sentence and its event.
SEED_MARKERS = {
    "000": ("최고의 업무능력", "청렴콘텐츠 공모전"),
    "001": ("청렴라이브(Live) 교육을 실시", "청렴라이브"),
    "002": ("지난 4월 8일, 의정부시는", "선언"),
    "003": ("민선7기 출범과 함께", "친절시책 아이디어를 공모"),
    "004": ("김동근 의정부시장이 정보도서관", "특별추진단 회의"),
}
WEATHER = re.compile(r"℃|°C")
ENGLISH_LINE = re.compile(r"^[^\uac00-\ud7a3]*[A-Za-z]{3,}[^\uac00-\ud7a3]*[A-Za-z]{3,}[^\uac00-\ud7a3]*$")
BOARD_ROW = re.compile(r"^\d{1,6}\s.*(19|20)\d{2}[-./]\d{1,2}[-./]\d{1,2}")


@pytest.mark.parametrize("key", sorted(SEED_MARKERS))
def test_seed_body_is_the_article(seeds, key):
    page = read_page(seeds[key]["text"])
    first_marker, event = SEED_MARKERS[key]
    first_sentence_line = next(i for i, line in enumerate(page.lines) if first_marker in line)
    assert page.kept_lines, "no body"
    assert page.kept_lines[0] <= first_sentence_line
    assert event in page.body
    for line in page.body.splitlines():
        assert not WEATHER.search(line), line
        assert not BOARD_ROW.match(line), line
        assert not ENGLISH_LINE.match(line), line
        assert "무단" not in line


def test_body_keeps_short_brief():
    brief = "홈 | 뉴스 | 로그인\n\n제천시, 신규 공무원 청렴교육\n제천시는 3일 신규 공무원 40명을 대상으로 청렴교육을 했다. 강의는 청렴연수원 강사가 맡았다.\n\n무단전재 및 재배포 금지"
    page = read_page(brief)
    assert page.body == "제천시는 3일 신규 공무원 40명을 대상으로 청렴교육을 했다. 강의는 청렴연수원 강사가 맡았다."
    assert page.title == "제천시, 신규 공무원 청렴교육"


def test_caption_and_bullets_do_not_cut_the_article():
    text = "\n".join([
        "시는 12일 시청 대강당에서 청렴 서약식을 열었다고 밝혔다.",
        "▲ 12일 시청 대강당에서 열린 청렴 서약식 모습 (사진=시청 제공)",
        "서약 내용은 다음과 같다.",
        "▲ 금품·향응 수수 금지",
        "▲ 부당한 업무 지시 거부",
        "▲ 사적 이해관계 신고",
        "▲ 공정한 직무 수행",
        "▲ 갑질 근절",
        "시장은 “청렴은 공직자의 기본”이라고 강조했다.",
        "무단전재 및 재배포 금지",
    ])
    body = read_page(text).body
    assert body.startswith("시는 12일") and body.endswith("강조했다.")
    assert "▲ 갑질 근절" in body


def test_english_translation_and_teasers_are_dropped():
    text = "\n".join([
        "남해군, 친절공무원 5명 선발",
        "남해군은 상반기 친절공무원 5명을 선발해 표창했다고 2일 밝혔다. 군민 추천과 전화 친절도 조사 결과를 반영했다.",
        "군 관계자는 “친절한 행정을 이어가겠다”고 말했다.",
        "※ 다음은 본문을 구글 자동 번역기로 옮긴 영문판입니다.",
        "Namhae County selected five kind public officials and awarded them on the 2nd.",
        "The county reflected residents' recommendations and phone kindness survey results.",
        "많이 본 기사",
        "거제시, 여름 해수욕장 개장 준비 한창이다.",
    ])
    page = read_page(text)
    assert page.body.splitlines() == text.splitlines()[1:3]


HTML_ARTICLE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>청주시, 공직자 갑질 예방 교육 | 충북뉴스</title></head>
<body><nav><ul><li>홈</li><li>정치</li><li>사회</li></ul></nav>
<article><h1>청주시, 공직자 갑질 예방 교육</h1><p class="byline">김하늘 기자</p>
<p>청주시는 20일 시청 임시청사 대회의실에서 간부 공무원 120명을 대상으로 갑질 예방 교육을 했다고 밝혔다.</p>
<p>이번 교육은 외부 전문 강사가 맡아 직장 내 괴롭힘 사례와 대처 방법을 설명했다. 시는 하반기에 전 직원 교육을 이어갈 계획이다.</p>
</article><footer>Copyright ⓒ 충북뉴스. 무단전재 및 재배포 금지</footer><script>var x = "<p>not text</p>";</script></body></html>"""


def test_html_article():
    page = read_page(HTML_ARTICLE)
    assert page.is_html
    assert page.title.startswith("청주시, 공직자 갑질 예방 교육")
    assert page.body.startswith("청주시는 20일") and "전 직원 교육" in page.body
    assert "Copyright" not in page.body and "not text" not in page.body


def test_html_board_list_and_login_have_no_prose_body():
    rows = "".join(f"<tr><td>{300 - i}</td><td>청렴 교육 실시 안내 {i}</td><td>감사실</td><td>2024-0{1 + i % 9}-1{i % 9}</td><td>{10 * i}</td></tr>" for i in range(15))
    board = f"<html><head><title>새소식</title></head><body><table><tr><th>번호</th><th>제목</th><th>부서</th><th>날짜</th><th>조회</th></tr>{rows}</table></body></html>"
    login = "<html><body><form><h2>로그인</h2><label>아이디</label><input name=id><label>비밀번호</label><input type=password><button>로그인</button><a href=#>아이디 찾기</a> <a href=#>비밀번호 찾기</a></form></body></html>"
    for markup in (board, login):
        page = read_page(markup)
        assert page.is_html
        assert not [i for i in page.kept_lines if page.kinds[i] is LineKind.PROSE]


def test_cp949_euckr_utf16_and_bom_bytes():
    text = "영천시는 5일 청렴 서약식을 열었다고 밝혔다. 직원 300명이 참석했다."
    for encoded in (text.encode("cp949"), text.encode("euc-kr"), text.encode("utf-16"), b"\xef\xbb\xbf" + text.encode()):
        assert read_page(encoded).body == text
    html = f"<html><head><meta charset='euc-kr'></head><body><p>{text}</p><p>{text}</p></body></html>".encode("cp949")
    assert text in read_page(html).body


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n" + bytes(200), b"PK\x03\x04" + bytes(100), b"%PDF-1.7\n" + bytes(range(256)) * 4, bytes(range(256)) * 8, 12345])
def test_binary_or_wrong_type_is_a_page_read_error(data):
    with pytest.raises(PageReadError):
        read_page(data)


def test_extract_article_is_body():
    text = "로그인\n시는 친절 공무원 10명을 선발해 표창했다고 25일 밝혔다."
    assert extract_article(text) == read_page(text).body


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_only_raise_page_read_error(data):
    try:
        page = read_page(data)
    except PageReadError:
        return
    assert isinstance(page.body, str)


korean_lines = st.lists(
    st.one_of(
        st.text(alphabet=st.sampled_from(list("청렴교육서약친절시는했다밝혔다 .▲0123456789℃맑음기자|번호조회")), max_size=120),
        st.sampled_from(["무단전재 및 재배포 금지", "많이 본 기사", "맑음서울17.8℃", "Integrity education was held.", "", "<p>"]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(korean_lines, st.sampled_from([None, False, True]))
def test_body_is_a_subsequence_of_the_input_lines(lines, html):
    text = "\n".join(lines)
    try:
        page = read_page(text, html=html)
    except PageReadError:
        return
    assert page.body == "\n".join(page.lines[i] for i in page.kept_lines)
    assert list(page.kept_lines) == sorted(set(page.kept_lines))
    if html is False or (html is None and not page.is_html):
        stripped = [line.strip() for line in text.splitlines()]
        it = iter(stripped)
        assert all(any(line == s for s in it) for line in page.body.splitlines())
