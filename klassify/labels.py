"""The label set, in the fixed order used by every model and every probability array."""

LABELS: tuple[str, ...] = (
    "education",
    "contest",
    "declaration",
    "kindness",
    "reward",
    "other",
    "not_article",
)

#: The five initiative types; `other` and `not_article` are not initiatives.
INITIATIVES: tuple[str, ...] = LABELS[:5]

#: Labels an article can have (everything but `not_article`).
ARTICLE_LABELS: tuple[str, ...] = LABELS[:6]

NOT_ARTICLE = "not_article"

DESCRIPTIONS: dict[str, str] = {
    "education": "청렴·반부패·갑질 예방 교육, 특강, 연수",
    "contest": "청렴·적극행정 공모전, 표어/UCC/아이디어 공모, 시상",
    "declaration": "청렴 서약식, 선언식, 결의대회, 실천 다짐",
    "kindness": "친절행정, 친절공무원 선발, 친절도 조사",
    "reward": "공익·부패·부조리 신고 포상금/보상금",
    "other": "기사이지만 위 다섯 가지가 아님",
    "not_article": "기사가 아닌 페이지 (목록, 메뉴, 날씨, 로그인, 오류, 검색결과…)",
}


def check_label(label: str) -> str:
    """Return ``label`` if it is one of :data:`LABELS`, else raise ``ValueError``.

    >>> check_label("reward")
    'reward'
    """
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    return label
