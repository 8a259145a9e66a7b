"""Facts with evidence: the gazetteer is complete, names resolve to the right body, dates resolve against
the page date, and the extraction keeps the precision and recall measured on the hand-labeled gold."""

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from klassify.cli import main
from klassify.facts import GAZETTEER, extract_facts, find_institution, gazetteer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from facts_eval import evaluate  # noqa: E402


def test_gazetteer_lists_every_province_municipality_and_education_office():
    rows = [l.split("\t") for l in GAZETTEER.read_text(encoding="utf-8").splitlines() if l and not l.startswith("#")]
    kinds = Counter(r[1] for r in rows)
    assert (kinds["province"], kinds["municipality"], kinds["education_office"]) == (17, 226, 17)
    assert len({r[0] for r in rows if r[1] != "qualifier"}) == sum(v for k, v in kinds.items() if k != "qualifier")
    names, _ = gazetteer()
    assert {e.canonical for e in names["중구"]} == {"서울특별시 중구", "부산광역시 중구", "대구광역시 중구", "인천광역시 중구",
                                                 "대전광역시 중구", "울산광역시 중구"}
    assert [e.canonical for e in names["군위군"]] == ["대구광역시 군위군"]  # moved from 경북 in 2023


@pytest.mark.parametrize("text, expected", [
    ("부산 중구는 3일 구청에서 청렴 교육을 열었다.", "부산광역시 중구"),
    ("(부산=뉴스) 기자 = 중구는 3일 구청에서 청렴 교육을 열었다.", "부산광역시 중구"),
    ("포항시 남구 행정복지센터 직원들이 교육을 받았다. 포항시는 이날 밝혔다.", "경상북도 포항시"),
    ("이현재 하남시장은 24일 청렴 서약서에 서명했다.", "경기도 하남시"),
    ("마포구의회는 5일 행동강령 조례를 의결했다.", "서울특별시 마포구의회"),
    ("경기 광주시는 7일 친절 공무원을 뽑았다.", "경기도 광주시"),
    ("광주시는 7일 친절 공무원을 뽑았다.", "광주광역시"),
    ("강원 고성군은 9일 결의대회를 열었다.", "강원특별자치도 고성군"),
    ("충남교육청은 11일 연수를 했다.", "충청남도교육청"),
    ("권익위는 15일 보상금을 지급했다.", "국민권익위원회"),
    ("김석준 부산시교육감이 23일 친절교육에서 인사말을 했다.", "부산광역시교육청"),
    ("부산서부교육지원청은 8일부터 공모전을 연다.", "부산서부교육지원청"),
    ("하남도시공사(사장 ○○○)는 2일 직원 교육을 했다. 하남시 관계자도 참석했다.", "하남도시공사"),
    ("서울시민 100명이 참여했다.", None),  # 서울시민 is not 서울시
])
def test_institution(text, expected):
    found = find_institution(text)
    assert (found and found["value"]) == expected
    if found:
        assert text[slice(*found["span"])] == found["text"]


def test_event_date_resolves_against_the_page_date_and_skips_non_dates():
    body = "군은 1박 2일 연수를 마치고 지난 25일 군청에서 청렴 결의대회를 열었다고 3일 밝혔다."
    facts = extract_facts(body, "declaration", page_date="2024-02-03")
    assert facts["event_date"]["value"] == "2024-01-25" and facts["event_date"]["text"] == "지난 25일"
    assert extract_facts(body, "declaration")["event_date"]["value"] == "---25"  # no page date: partial


def test_label_facts_carry_their_spans():
    body = ("시는 공익신고 보상금 한도를 기존 1억 원에서 3억 원으로 올렸다. 지난해 신고자 2명에게 보상금 1,200만 원을 지급했다. "
            "최우수 1건, 우수 2건을 뽑았다.")
    reward = extract_facts(body, "reward")
    assert reward["reward_cap"]["value"] == 300_000_000 and [f["value"] for f in reward["reward_paid"]] == [12_000_000]
    assert "prizes" not in reward  # only the label's own facts
    contest = extract_facts(body, "contest")
    assert [f["value"] for f in contest["prizes"]] == ["최우수 1", "우수 2"]
    for facts in (reward, contest):
        for value in facts.values():
            for f in value if isinstance(value, list) else [value]:
                assert body[slice(*f["span"])] == f["text"]


def test_extraction_keeps_the_measured_quality_on_the_gold_pages():
    written = {json.loads(l)["id"]: json.loads(l) for l in (REPO / "data" / "labeled" / "written.jsonl").open(encoding="utf-8")}
    pages, fields = evaluate(REPO / "data" / "facts" / "written_dev_gold.jsonl", written)
    assert pages >= 150
    floors = {"institution": 0.95, "event_date": 0.9, "headcount": 0.8, "lecturer": 0.75, "prizes": 0.85,
              "prize_money": 0.9, "pledgers": 0.7, "selected": 0.8, "survey_score": 0.8, "reward_cap": 0.85,
              "reward_paid": 0.8}
    low = {f: fields[f] for f, floor in floors.items() if fields[f]["precision"] < floor or fields[f]["recall"] < floor}
    assert not low, low


def test_gold_spans_point_at_their_text():
    from klassify.reading import read_page

    written = {json.loads(l)["id"]: json.loads(l) for l in (REPO / "data" / "labeled" / "written.jsonl").open(encoding="utf-8")}
    for line in (REPO / "data" / "facts" / "written_dev_gold.jsonl").open(encoding="utf-8"):
        gold = json.loads(line)
        body = read_page(written[gold["id"]]["text"]).body
        for value in gold["facts"].values():
            for f in value if isinstance(value, list) else [value]:
                assert body[slice(*f["span"])] == f["text"], (gold["id"], f)


def test_predict_facts_column(tiny_model, tmp_path):
    text = ("제목: 하남시, 전 직원 청렴 교육\n\n하남시는 지난 14일 시청 대회의실에서 직원 300여 명을 대상으로 청렴 교육을 열었다고 "
            "20일 밝혔다. 강사로 나선 국민권익위원회 청렴연수원 김하늘 전문강사는 청탁금지법 사례를 소개했다. 시는 하반기에도 "
            "부서별 청렴 교육을 이어갈 계획이다.")
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["predict", str(src), "-o", str(out), "--model", str(tiny_model[0]), "--facts"]) == 0
    import csv

    row = next(csv.DictReader(out.open(encoding="utf-8")))
    facts = json.loads(row["facts"])
    assert facts["institution"]["value"] == "경기도 하남시" and facts["institution"]["text"] == "하남시"
    assert row["group"] == ""  # not asked for
