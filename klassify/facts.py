"""Facts with evidence: who acted, when, and how big, each with the character span it came from.

For an article's cleaned body (:attr:`klassify.reading.Page.body`) and its label:

* ``institution`` — the acting body, normalised to its canonical name in the shipped gazetteer
  (``klassify/resources/gazetteer.tsv``: 17 시·도, 226 시·군·구, 17 교육청, central government and major public
  bodies; councils are derived: ``마포구의회`` → ``서울특별시 마포구의회``). A body the gazetteer does not list
  (a 도시공사, an 교육지원청) is reported under the name the text gives it.
* ``event_date`` — when the reported event happened, resolved against the page date (``지난 15일`` on a page
  dated 2024-03-20 → ``2024-03-15``). Without a page date it stays partial: ``--03-15`` or ``---15``.
* by label: ``headcount`` and ``lecturer`` (education), ``prizes`` and ``prize_money`` (contest),
  ``pledgers`` (declaration), ``selected`` and ``survey_score`` (kindness), ``reward_cap`` and
  ``reward_paid`` (reward).

Every fact is ``{"value": ..., "span": [start, end], "text": body[start:end]}``; ``prizes``,
``prize_money`` and ``reward_paid`` are lists of facts, the others one fact. Missing facts are left out.

>>> facts = extract_facts("하남시는 지난 14일 시청 대회의실에서 직원 300여 명을 대상으로 청렴 교육을 열었다고 20일 밝혔다. "
...                       "강사로 나선 국민권익위원회 청렴연수원 김하늘 전문강사는 사례를 소개했다.", "education", page_date="2024-05-20")
>>> facts["institution"]
{'value': '경기도 하남시', 'span': [0, 3], 'text': '하남시'}
>>> facts["event_date"]["value"], facts["headcount"]["value"], facts["lecturer"]["value"]
('2024-05-14', 300, '김하늘')
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

GAZETTEER = Path(__file__).resolve().parent / "resources" / "gazetteer.tsv"
LABEL_FIELDS = {
    "education": ("headcount", "lecturer"),
    "contest": ("prizes", "prize_money"),
    "declaration": ("pledgers",),
    "kindness": ("selected", "survey_score"),
    "reward": ("reward_cap", "reward_paid"),
}
FIELDS = ("institution", "event_date") + tuple(f for fields in LABEL_FIELDS.values() for f in fields)


def extract_facts(body: str, label: str | None = None, *, page_date=None, page_text: str | None = None,
                  title: str | None = None) -> dict:
    """The facts of one article (see the module docstring). ``page_date`` is an ISO date string or a
    ``date``; without it the first full date in ``page_text`` (the whole page) or the body is used.
    When the body never names the acting body (a page cut after its lead says only ``시는``), the
    ``title`` is searched; that fact has ``"in": "title"`` and its span is in the title."""
    facts = {}
    institution = find_institution(body)
    if institution is None and title:
        institution = find_institution(title)
        if institution:
            institution["in"] = "title"
    if institution:
        facts["institution"] = institution
    when = page_date_of(page_date, page_text, body)
    event = find_event_date(body, when)
    if event:
        facts["event_date"] = event
    for field in LABEL_FIELDS.get(label or "", ()):
        found = EXTRACTORS[field](body)
        if found:
            facts[field] = found
    return facts


def fact(body: str, value, start: int, end: int) -> dict:
    return {"value": value, "span": [start, end], "text": body[start:end]}


# --- gazetteer ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    canonical: str
    kind: str  # province, municipality, city, education_office, central, public_body, qualifier
    province: str


@lru_cache(maxsize=1)
def gazetteer() -> tuple[dict[str, list[Entry]], re.Pattern]:
    """Surface name → entries (several for 중구 or 고성군), and one regex matching any surface name."""
    names: dict[str, list[Entry]] = {}
    for line in GAZETTEER.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        canonical, kind, province, aliases = (line.split("\t") + [""] * 4)[:4]
        entry = Entry(canonical, kind, province)
        surfaces = {a for a in aliases.split(";") if a}
        if kind != "municipality":
            surfaces.add(canonical)
        for surface in surfaces:
            names.setdefault(surface, []).append(entry)
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return names, re.compile(f"(?<![가-힣A-Za-z])(?:{alternation})")


_PARTICLE = "은는이가을를의에와과도로서만께"
_SUFFIX = re.compile(r"(교육감|청장|청|장|수|의회)?")
_APPOSITION = re.compile(r"\s*\([^()]{1,30}\)")  # 하남시(시장 이현재)는
_SUBJECT = re.compile(r"(은|는|이|가|측은|측이)(?![가-힣])")
_UNLISTED_BODY = re.compile(
    r"(?<![가-힣])((?:[가-힣]{2,6} )?[가-힣A-Za-z]{2,12}"
    r"(?:도시공사|도시개발공사|도시관리공사|시설공단|시설관리공단|관리공단|교육지원청|의료원|대학교병원|병원|대학교|재단|공사|공단|"
    r"공제회|진흥원|지방경찰청|경찰청|경찰서|해양경찰서|소방본부|소방안전본부|소방서|교도소|구치소|국유림관리소|관리소|지방청|지청))"
    r"(?=[은는이가의와과(,]|에서)")


@dataclass
class Mention:
    start: int
    end: int  # end of the name (before any 청/장/의회 suffix)
    entries: list
    council: bool = False
    subject: bool = False


def mentions(body: str) -> list[Mention]:
    """Gazetteer names in ``body`` that stand as words (followed by a particle, a suffix or a non-letter)."""
    names, pattern = gazetteer()
    found = []
    for m in pattern.finditer(body):
        surface = m.group()
        suffix = _SUFFIX.match(body, m.end()).group()
        after = m.end() + len(suffix)
        nxt = body[after : after + 1]
        if nxt and re.match(r"[가-힣]", nxt) and nxt not in _PARTICLE:
            continue  # part of a longer word: 광주시민, 중구난방
        entries = names[surface]
        if body.startswith("교육감", m.end()):  # 부산시교육감: the province's education office
            entries = [e for p in entries if p.kind == "province" for e in names.get(p.canonical + "교육청", [])] or entries
        mention = Mention(m.start(), m.end(), entries, council=suffix == "의회")
        rest = body[after:]
        rest = rest[_APPOSITION.match(rest).end():] if _APPOSITION.match(rest) else rest
        mention.subject = bool(_SUBJECT.match(rest))
        found.append(mention)
    return _drop_city_districts(body, found)


def _drop_city_districts(body: str, found: list[Mention]) -> list[Mention]:
    """Remove ``남구`` in ``포항시 남구``: a district of the city just named, not 부산광역시 남구."""
    out = []
    for i, m in enumerate(found):
        previous = found[i - 1] if i else None
        if (previous and body[previous.end : m.start].strip() == "" and m.start - previous.end <= 2
                and any(e.kind in ("municipality", "city") and e.canonical.endswith("시") for e in previous.entries)
                and all(e.kind == "municipality" and e.canonical.endswith("구") for e in m.entries)):
            continue
        out.append(m)
    return out


def resolve(mention: Mention, body: str, context: dict[str, int]) -> Entry | None:
    """One entry for a mention: a province named right before it (``부산 중구``), else the province most
    named in the text (``context``), else the entry itself when there is only one."""
    entries = [e for e in mention.entries if e.kind != "qualifier"]
    if len(entries) <= 1:
        return entries[0] if entries else None
    before = body[max(0, mention.start - 12) : mention.start]
    for e in entries:
        names = _province_names(e.province)
        if any(before.rstrip().endswith(n) for n in names):
            return e
    ranked = sorted(entries, key=lambda e: -context.get(e.province, 0))
    if context.get(ranked[0].province, 0) > context.get(ranked[1].province, 0):
        return ranked[0]
    provinces = [e for e in entries if e.kind == "province"]
    return provinces[0] if provinces else None  # 광주시 alone: the metropolitan city


@lru_cache(maxsize=None)
def _province_names(province: str) -> tuple[str, ...]:
    names, _ = gazetteer()
    return tuple(n for n, entries in names.items() if any(e.kind in ("province", "qualifier") and e.canonical == province
                                                          or e.kind == "qualifier" and e.province == province
                                                          for e in entries))


def province_context(found: list[Mention]) -> dict[str, int]:
    """How often each province is named, directly or through a body that only it has."""
    counts: dict[str, int] = {}
    for m in found:
        provinces = {e.province for e in m.entries if e.province}
        if len(provinces) == 1:
            p = provinces.pop()
            counts[p] = counts.get(p, 0) + 1
    return counts


def canonical_name(entry: Entry, council: bool) -> str:
    return entry.canonical + "의회" if council and entry.kind in ("province", "municipality", "city") else entry.canonical


def find_institution(body: str) -> dict | None:
    """The acting body: the first body named as a subject (``하남시는``, ``하남시장은``, ``하남시(시장 …)가``) in
    the lead, else the first subject anywhere, else the first body named; an unlisted 공사/공단/교육지원청
    that is the lead's subject wins over a listed body named later."""
    found = [m for m in mentions(body) if any(e.kind != "qualifier" for e in m.entries)]
    context = province_context(mentions(body))
    lead_end = _lead_end(body)
    unlisted = _unlisted_subject(body, lead_end)
    ordered = ([m for m in found if m.subject and m.start < lead_end] + [m for m in found if m.subject] + found)
    for m in ordered:
        if unlisted and unlisted[0] < m.start:
            break
        entry = resolve(m, body, context)
        if entry is not None:
            return fact(body, canonical_name(entry, m.council), m.start, m.end + (2 if m.council else 0))
    unlisted = unlisted or _unlisted_subject(body, len(body)) or _unlisted_subject(body, lead_end, subject=False)
    if unlisted:
        return fact(body, unlisted[2], unlisted[0], unlisted[1])
    return None


def _lead_end(body: str) -> int:
    """End of the lead: the first sentence that ends in 다. (two if the first is a short title-like line)."""
    ends = [m.end() for m in re.finditer(r"다\.|\n", body)]
    ends = [e for e in ends if e > 30] or [len(body)]
    return ends[0]


def _unlisted_subject(body: str, lead_end: int, subject: bool = True):
    for m in _UNLISTED_BODY.finditer(body, 0, lead_end + 1):
        name = m.group(1).split()[-1] if " " in m.group(1) else m.group(1)
        start = m.end(1) - len(name)
        names, _ = gazetteer()
        if name in names:
            continue
        rest = body[m.end(1):]
        rest = rest[_APPOSITION.match(rest).end():] if _APPOSITION.match(rest) else rest
        if _SUBJECT.match(rest) or not subject:
            return start, m.end(1), name
    return None


# --- dates -------------------------------------------------------------------------------------

_FULL_DATE = re.compile(r"(?<!\d)(20\d\d|19\d\d)\s*(?:[.\-/]\s*|년\s*)(\d{1,2})\s*(?:[.\-/]\s*|월\s*)(\d{1,2})(?!\d)\s*일?")
_DAY = re.compile(
    r"(?:(지난해|작년|올해|금년|내년)\s*)?(?:(\d{4})\s*년\s*)?(?:(지난달|이달|다음\s?달|지난|오는)\s*)?"
    r"(?:(\d{1,2})\s*월\s*)?(?:(\d{1,2})\s*[~∼～\-]\s*)?(?<!박)(?<!박\s)(\d{1,2})\s*일(?!\s*(?:간|이내|만에|째|동안|분|자|이상|전|장))"
)
_ANNOUNCE = re.compile(r"^\s*(?:\([월화수목금토일]\)\s*)?(밝혔|전했|발표했|알렸|말했|설명했)")
_HELD = re.compile(r"[^.다]{0,30}?(?:에서\s|열린|열고|열었|개최|실시|진행|가졌|갖고)")  # a date followed by where or what
_FUTURE = re.compile(r"(할 예정|예정이다|계획이다|한다\.|연다\.|갖는다|개최한다|실시한다|진행한다|받는다)")


def page_date_of(page_date, page_text: str | None, body: str) -> dt.date | None:
    """The page date: given, else the first full date on the page (header lines first), else in the body."""
    if isinstance(page_date, dt.datetime):
        return page_date.date()
    if isinstance(page_date, dt.date):
        return page_date
    if isinstance(page_date, str) and page_date:
        m = _FULL_DATE.search(page_date)
        if m:
            return _date(*map(int, m.groups()))
    for text in (page_text, body):
        for m in _FULL_DATE.finditer(text or ""):
            d = _date(*map(int, m.groups()))
            if d:
                return d
    return None


def _date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def find_event_date(body: str, page: dt.date | None) -> dict | None:
    """The first date of the lead that is not only when the news was announced (``…고 25일 밝혔다``); that
    announcement date if it is the lead's only date; else the first date in the body."""
    lead_end = _lead_end(body)
    candidates = [m for m in _DAY.finditer(body) if _plausible(m)]
    lead = [m for m in candidates if m.start() < lead_end]
    events = [m for m in lead if not _ANNOUNCE.match(body, m.end())]
    held = [m for m in events if _HELD.match(body, m.end())]
    chosen = (held or events or lead or candidates or [None])[0]
    if chosen is None:
        return None
    sentence_end = body.find("다.", chosen.end())
    future = bool(_FUTURE.search(body[chosen.end() : sentence_end + 2 if sentence_end >= 0 else len(body)]))
    return fact(body, resolve_date(chosen, page, future), chosen.start(), chosen.end())


def _plausible(m: re.Match) -> bool:
    month, day = m.group(4), int(m.group(6))
    return 1 <= day <= 31 and (month is None or 1 <= int(month) <= 12)


def resolve_date(m: re.Match, page: dt.date | None, future: bool = False) -> str:
    """ISO date of a ``_DAY`` match against the page date; partial (``--MM-DD``, ``---DD``) without one.

    >>> page = dt.date(2024, 3, 20)
    >>> [resolve_date(_DAY.search(s), page) for s in ("지난 15일", "지난 25일", "오는 5일", "지난달 3일", "12월 30일", "지난해 5월 2일")]
    ['2024-03-15', '2024-02-25', '2024-04-05', '2024-02-03', '2023-12-30', '2023-05-02']
    >>> resolve_date(_DAY.search("지난 15일"), None)
    '---15'
    """
    rel_year, year, modifier, month, first_day, day = m.groups()
    day = int(first_day or day)
    modifier = (modifier or "").replace(" ", "")
    if year:
        return _iso(int(year), int(month), day) if month else f"{year}-??-{day:02d}"
    if page is None:
        return f"--{int(month):02d}-{day:02d}" if month else f"---{day:02d}"
    if month:
        month = int(month)
        y = page.year - 1 if rel_year in ("지난해", "작년") else page.year + 1 if rel_year == "내년" else page.year
        if not rel_year:
            candidates = [y - 1, y, y + 1]
            if modifier == "지난":
                candidates = [c for c in candidates if _safe(c, month, day) <= page] or [y]
            elif modifier == "오는":
                candidates = [c for c in candidates if _safe(c, month, day) >= page] or [y]
            y = min(candidates, key=lambda c: abs((_safe(c, month, day) - page).days))
        return _iso(y, month, day)
    if modifier == "지난달":
        return _shift_month(page, -1, day)
    if modifier in ("다음달",):
        return _shift_month(page, 1, day)
    if modifier == "오는" or (modifier == "" and future and day > page.day):
        return _shift_month(page, 0 if day >= page.day else 1, day)
    if modifier == "이달":
        return _shift_month(page, 0, day)
    return _shift_month(page, 0 if day <= page.day else -1, day)  # 지난 15일, or a bare 15일 in a past report


def _safe(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _iso(year: int, month: int, day: int) -> str:
    d = _date(year, month, day)
    return d.isoformat() if d else f"{year}-{month:02d}-{day:02d}"


def _shift_month(page: dt.date, months: int, day: int) -> str:
    index = page.year * 12 + page.month - 1 + months
    return _iso(index // 12, index % 12 + 1, day)


# --- numbers and money -------------------------------------------------------------------------

_MONEY = re.compile(r"(?<![\d,.~∼])(\d[\d,]*(?:\.\d+)?(?:\s*[조억천백만]\s*(?:\d[\d,]*)?)*(?:\s*여\s*[만억])?)"
                    r"\s*(원|(?<=[억만])(?=\s*(?:까지|으로|을|의|이|에)))")
_PEOPLE = re.compile(r"(?<![\d,.])(\d[\d,]*(?:\s*[천백]\s*\d*)?)\s*(?:여\s*)?명")


def parse_won(text: str) -> int | None:
    """Korean money to won.

    >>> [parse_won(s) for s in ("300만 원", "1억 2,000만원", "4천860만 원", "5억4천만원", "1,870만 원", "2억", "100,000원", "3.5억 원", "4천800여만원")]
    [3000000, 120000000, 48600000, 540000000, 18700000, 200000000, 100000, 350000000, 48000000]
    """
    text = text.replace(",", "").replace(" ", "").replace("여", "").rstrip("원")
    total, pending = 0.0, 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)?([조억천백십만]?)", text):
        if not number and not unit:
            continue
        value = float(number) if number else 1.0
        if unit in ("천", "백", "십"):
            pending += value * {"천": 1000, "백": 100, "십": 10}[unit]
        elif unit in ("조", "억", "만"):
            total += (pending + (value if number else 0)) * {"조": 10**12, "억": 10**8, "만": 10**4}[unit]
            pending = 0.0
        else:
            pending += value
    total += pending
    return int(round(total)) if total else None


def _money(body: str, start: int = 0, end: int | None = None):
    for m in _MONEY.finditer(body, start, len(body) if end is None else end):
        won = parse_won(m.group(1))
        if won:
            yield m, won


def _sentences(body: str):
    """``(start, end)`` of each sentence (ends at 다. or a line break)."""
    start = 0
    for m in re.finditer(r"(?<=다\.)\s+|\n+", body):
        if m.start() > start:
            yield start, m.start()
        start = m.end()
    if start < len(body):
        yield start, len(body)


def _sentences_with(body: str, pattern: str):
    cue = re.compile(pattern)
    return [(s, e) for s, e in _sentences(body) if cue.search(body, s, e)]


# --- per-label facts ---------------------------------------------------------------------------

def find_headcount(body: str) -> dict | None:
    """People trained: the first ``N(여) 명`` in a sentence about attending or being taught."""
    for s, e in _sentences_with(body, r"참석|대상|참여|수강|이수|수료|교육|강의|강사|특강|연수|참가|모여|들었"):
        for m in _PEOPLE.finditer(body, s, e):
            count = parse_won(m.group(1)) or 0
            if count >= 2:
                return fact(body, count, m.start(), m.end())
    return None


_TITLES = (r"(?:전문강사|강사|교수|변호사|공인노무사|노무사|소장|대표|위원|원장|박사|작가|감사관|연구위원|전문위원|코치|관장|회장|"
           r"사무관|국장|과장|팀장|계장|담당|이사)(?=[\s,.를을가이는은와과의에께(]|$)")
_TEACHER = r"(?:전문\s?강사|강사|교수|변호사|공인노무사|노무사|박사)"
_NAME = r"(?<![가-힣])([가-힣]{2,4})"
_LECTURER = [
    re.compile(r"(?:강사로|강연자로|연사로)\s*(?:나선|초빙된|초청된|참여한|나서)\s*(?:[^\s,.]+\s+){0,5}?" + _NAME + r"\s*(?:씨|" + _TITLES + r")"),
    re.compile(r"(?:강의를|강연을|강의는|강연은)\s*(?:맡은|맡아|진행한)?\s*(?:[^\s,.]+\s+){0,5}?" + _NAME + r"\s*(?:씨|" + _TITLES + r")"),
    re.compile(_NAME + r"\s*" + _TITLES + r"(?:를|을|가|이|는|은)?\s*(?:직접\s*)?(?:강사로\s*)?(?:초빙|초청|강사로)"),
    re.compile(_NAME + r"\s*" + _TEACHER + r"(?:가|이|는|은|의)\s*(?:[^.]{0,40})(?:강의|강연|특강|맡)"),
    re.compile(_NAME + r"\s*(?:씨|" + _TITLES + r")?\s*(?:가|이)\s*(?:[^.]{0,20})맡(?:아|았|고)"),
    re.compile(_TEACHER + r"\s+" + _NAME + r"\s*(?:씨|" + _TITLES + r")?(?:가|는|이|의|를|은)"),
]
_NOT_NAMES = {"관계자", "담당자", "참석자", "직원", "공무원", "강사", "전문", "청렴", "교육", "외부", "전직", "현직", "소속", "등록",
              "출신", "지역", "분야", "법무법인", "이날", "이번", "특히", "또한", "주무관", "유명", "초빙", "초청", "자체", "기관",
              "전문가", "감사", "시청", "군청", "구청", "도청", "이어", "이후", "오전", "오후", "연극", "극단", "대학", "민간"}


_SURNAMES = set("김이박최정강조윤장임한오서신권황안송전홍유고문양손배백허남심노하곽성차주우구민류나진지엄채원천방공현함변염"
                "여추도소석선설마길연위표명기반라왕금옥육인맹제모탁국어은편용예경봉사부태")
_NEXT_NAME = re.compile(r"\s*" + _TITLES + r"\s+([가-힣]{2,4})\s*(?:씨|" + _TITLES + r")")


def find_lecturer(body: str) -> dict | None:
    """The lecturer's name (``강사로 나선 … 김하늘 씨``, ``김하늘 교수를 초빙해``), the first such in the text."""
    best = None
    teaching = [(s, e) for s, e in _sentences_with(body, r"강의|강연|특강|강사|교육|연수|설명|소개|풀어")]
    for pattern in _LECTURER:
        for m in pattern.finditer(body):
            if not any(s <= m.start(1) < e for s, e in teaching):
                continue
            start, end = m.span(1)
            following = _NEXT_NAME.match(body, end)
            if following:  # 전직 지자체 국장 최용진 씨: the name is the last one before 씨
                start, end = following.span(1)
            name = body[start:end]
            if name in _NOT_NAMES or name[0] not in _SURNAMES or len(name) == 4 and name[:2] not in _DOUBLE_SURNAMES:
                continue
            if best is None or start < best[0]:
                best = (start, end, name)
            break
    return fact(body, best[2], best[0], best[1]) if best else None


_DOUBLE_SURNAMES = {"남궁", "황보", "제갈", "선우", "독고", "사공", "서문"}


_PRIZE = re.compile(r"(?<![가-힣])(대상|최우수상?|우수상?|장려상?|금상|은상|동상|입선|가작|특별상|인기상|특선|노력상)\s*(?:에는\s*|은\s*|\()?\s*(?:각\s*)?(\d+)\s*(?:명|건|편|팀|점|개|곳|작품)")


def find_prizes(body: str) -> list[dict]:
    """Prize tiers with their counts (``최우수 1건``); the value is ``"최우수 1"``."""
    out, seen = [], set()
    for m in _PRIZE.finditer(body):
        tier = m.group(1) if m.group(1) in ("대상", "금상", "은상", "동상") else m.group(1).removesuffix("상")
        value = f"{tier} {int(m.group(2))}"
        if value not in seen:  # the lead and the details often repeat a tier
            seen.add(value)
            out.append(fact(body, value, m.start(), m.end()))
    return out


def find_prize_money(body: str) -> list[dict]:
    """Amounts in sentences about prizes (상금, 시상금, 상품권, 부상, 포상금 for winners)."""
    out, seen = [], set()
    for s, e in _sentences_with(body, r"상금|상품권|부상|시상|수상|포상금|상장과|대상|최우수|우수상?|장려"):
        if re.search(r"신고|보상금|한도|환수", body[s:e]):
            continue  # a reward scheme's amounts, not prizes
        for m, won in _money(body, s, e):
            if won not in seen:
                seen.add(won)
                out.append(fact(body, won, m.start(), m.end()))
    return out


_GROUP_SIZE = r"\d[\d,]*\s*(?:여\s*)?(?:명|곳|개사|개\s?기관)(?:\s*대표(?:들)?)?"
_PLEDGERS = [
    re.compile(r"([^.\n]{2,80}?)\s*(?:등\s*)?(" + _GROUP_SIZE + r")(?:이|은|과|가)?\s*(?:이\s*)?(?:참석|참여|참가|함께|모여)"),
    re.compile(r"([^.\n]{2,60}?)\s*등이\s*(?:참석|참여|참가)"),
    re.compile(r"([^.\n]{0,60}?)(" + _GROUP_SIZE + r")(?:은|이|가|들은|들이)\s"),
    re.compile(r"(?:^|[.\n]\s*|,\s*)([가-힣·\s]{2,30}?)(?:들)?(?:은|는|이|가)\s*[^.\n]{0,60}?(?:서약서|선언문|결의문|다짐|서명)"),
]


def find_pledgers(body: str) -> dict | None:
    """Who pledged: the participants of the 서약식/선언식/결의대회 (``간부 공무원 30명이 참석한 가운데``); the
    patterns are tried in order over all pledge sentences, so a head count beats a bare subject."""
    sentences = _sentences_with(body, r"서약|선언|결의|다짐|협약|선서")
    for pattern in _PLEDGERS:
        for s, e in sentences:
            sentence = body[s:e]
            m = pattern.search(sentence)
            if not m:
                continue
            start, end = _trim_phrase(sentence, m.start(1), m.end(2) if m.re.groups >= 2 else m.end(1))
            if end - start >= 2:
                return fact(body, sentence[start:end], s + start, s + end)
    return None


_PHRASE_START = re.compile(r".*(?:에서|가운데|열고|대상으로|실시해|맞아|위해|통해|함께|은|는|이|가|에는)\s+", re.S)


def _trim_phrase(sentence: str, start: int, end: int) -> tuple[int, int]:
    """Cut a participant phrase to its noun phrase: after the last ``…에서 ``/``…은 `` before it."""
    head = _PHRASE_START.match(sentence, start, end)
    if head:
        start = head.end()
    while start < end and sentence[start] in " ,'\"‘“(":
        start += 1
    return start, end


def find_selected(body: str) -> dict | None:
    """How many officials were selected as kind (``친절 공무원 10명을 선발``)."""
    for s, e in _sentences_with(body, r"선발|선정|뽑|시상|표창|친절왕|친절 공무원|친절공무원"):
        for m in _PEOPLE.finditer(body, s, e):
            after = body[m.end() : e]
            if re.match(r"\s*(?:을|를|이|가|에게|은|씩)?\s*[^.]{0,30}?(?:선발|선정|뽑|표창|시상|수상)", after):
                return fact(body, int(m.group(1).replace(",", "")), m.start(), m.end())
    return None


_SCORE = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)\s*(점|%|％)")
_NOT_A_SCORE = re.compile(r"\)?\s*(?:만점|에서|보다|이던|였던|이었던|올|상승|높|떨어|하락|낮|내려|포인트|차이|미만|이상|이하)")


def find_survey_score(body: str) -> dict | None:
    """The score of a kindness or satisfaction survey (``평균 92.3점``, ``'친절했다'는 응답 93%``): the first one
    that is not a scale (``100점 만점``), an earlier score (``…에서``, ``…보다``) or a change (``3점 올랐다``)."""
    for s, e in _sentences_with(body, r"친절도|만족도|점수|조사 결과|평가 결과|평가에서|모니터링|평균|만족|친절했다"):
        for m in _SCORE.finditer(body, s, e):
            value = float(m.group(1))
            if value > 100 or _NOT_A_SCORE.match(body, m.end()):
                continue
            if m.group(2) != "점" and (body[m.start() - 1 : m.start()] == "(" or not re.search(r"만족|친절", body[s:e])):
                continue  # a percentage counts only as a satisfaction share, not a weight in brackets
            return fact(body, value, m.start(), m.end())
    return None


_CAP_AFTER = re.compile(r"^\s*(?:까지|한도|을\s*한도로|이내|상한)")


def find_reward_cap(body: str) -> dict | None:
    """The most a reward may reach: the largest amount named as a cap (``최대 5억 원``, ``2억 원까지``,
    ``한도를 기존 1억 원에서 3억 원으로`` → 3억)."""
    caps = []
    for s, e in _sentences_with(body, r"포상금|보상금|포상|보상|신고"):
        found = list(_money(body, s, e))
        for k, (m, won) in enumerate(found):
            before = body[max(s, m.start() - 12) : m.start()]
            after = body[m.end() : m.end() + 8]
            capped = re.search(r"(최대|최고|한도|상한)", before) or _CAP_AFTER.match(after)
            raised = re.match(r"\s*(?:에서|→|->)", after) and k + 1 < len(found)
            if raised:
                caps.append(found[k + 1])  # the new cap, not the old one
            elif capped:
                caps.append((m, won))
    if not caps:
        return None
    m, won = max(caps, key=lambda c: c[1])
    return fact(body, won, m.start(), m.end())


def find_reward_paid(body: str) -> list[dict]:
    """Amounts actually paid out (sentences with 지급했다/받았다/지급하기로 의결), caps excluded."""
    cap = find_reward_cap(body)
    out = []
    for s, e in _sentences_with(body, r"지급했|지급하였|지급됐|지급되었|지급된|지급한|지급액|받았|받게 됐|받는다|지급하기로|의결|수령|"
                                       r"지급한다고|지급을"):
        for m, won in _money(body, s, e):
            if cap and cap["span"][0] == m.start():
                continue
            before = body[max(s, m.start() - 12) : m.start()]
            after = body[m.end() : m.end() + 10]
            if (re.search(r"(최대|최고|한도|상한|환수|부정수급|횡령|예산|편성|기존)", before)
                    or re.match(r"\s*(?:을|를|이|가)?\s*(?:환수|회수|부풀|횡령|편취|부당|까지|에서|한도)", after)):
                continue
            out.append(fact(body, won, m.start(), m.end()))
    return out


EXTRACTORS = {
    "headcount": find_headcount,
    "lecturer": find_lecturer,
    "prizes": find_prizes,
    "prize_money": find_prize_money,
    "pledgers": find_pledgers,
    "selected": find_selected,
    "survey_score": find_survey_score,
    "reward_cap": find_reward_cap,
    "reward_paid": find_reward_paid,
}
