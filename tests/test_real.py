"""The real-page set's tooling: index and cache, rebuilding the cache, building the index, the copy
check, agreement, and evaluation on real pages. Real texts are copyrighted and never in the repository,
so these tests make their own small index and cache from our hand-written pages."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from klassify.cli import main as cli_main
from klassify.real import RealCacheMissing, compare_text, load_real, read_index, text_parts, text_sha256

REPO = Path(__file__).resolve().parent.parent


def index_row(row_id, text, *, label="other", split="dev", url=None, query="q", kind="news_article"):
    return {"id": row_id, "url": url or f"https://example.go.kr/{row_id}", "label": label, "secondary": [],
            "split": split, "kind": kind, "hard_negative": False, "group": "g0", "query": query, "rank": 1,
            "site": "example.go.kr", "note": "test", "chars": len(text), "sha256": text_sha256(text),
            "parts": text_parts(text)}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def fake_real(tmp_path, written_rows):
    """An index and cache of 14 'real' pages (hand-written texts standing in), two per label."""
    chosen, taken = [], {}
    for r in written_rows:
        if r["split"] == "test" and taken.get(r["label"], 0) < 2:
            taken[r["label"]] = taken.get(r["label"], 0) + 1
            chosen.append(r)
    rows = [index_row(f"real-{i:04d}", r["text"], label=r["label"], split=("dev", "test")[i % 2],
                      kind="news_article" if r["label"] != "not_article" else "board_list")
            for i, r in enumerate(chosen)]
    index = write_jsonl(tmp_path / "index.jsonl", rows)
    cache = write_jsonl(tmp_path / "texts.jsonl", [{"id": row["id"], "text": r["text"]} for row, r in zip(rows, chosen)])
    return index, cache, rows, chosen


SAMPLE = "부산시는 5일 청렴 서약식을 열었다.\n직원 300명이 참석했다.\n시장은 청렴을 강조했다.\n이날 행사는 1시간 진행됐다.\n"


def test_compare_text_tells_a_copying_slip_from_another_text():
    row = index_row("r", SAMPLE)
    assert compare_text(SAMPLE, row) == "exact"
    assert compare_text(SAMPLE.replace("300명", "30명"), row) == "slip"
    assert compare_text("전혀 다른 글입니다. " * 5, row) == "different"
    assert compare_text(SAMPLE.replace("직원", "직원들과 주민 여러분 모두"), row) == "different"  # length moved > 8


def test_read_index_rejects_unknown_labels_and_duplicate_ids(tmp_path):
    bad = write_jsonl(tmp_path / "i.jsonl", [index_row("a", SAMPLE, label="news")])
    with pytest.raises(ValueError, match="label"):
        read_index(bad)
    dup = write_jsonl(tmp_path / "d.jsonl", [index_row("a", SAMPLE), index_row("a", SAMPLE)])
    with pytest.raises(ValueError, match="duplicate"):
        read_index(dup)


def test_load_real_joins_texts_and_warns_about_missing_or_changed_ones(tmp_path):
    rows = [index_row("a", SAMPLE), index_row("b", SAMPLE + "더."), index_row("c", "다른 글. " * 30)]
    index = write_jsonl(tmp_path / "i.jsonl", rows)
    cache = write_jsonl(tmp_path / "t.jsonl", [{"id": "a", "text": SAMPLE}, {"id": "c", "text": "바뀐 글. " * 30}])
    with pytest.warns(UserWarning, match="1 rows have no cached text and 1 cached texts do not match"):
        got = load_real(index=index, cache=cache)
    assert [r["id"] for r in got] == ["a"] and got[0]["text"] == SAMPLE and got[0]["source"] == "real"
    with pytest.raises(RealCacheMissing, match="rebuild it"):
        load_real(index=index, cache=tmp_path / "absent.jsonl")


def run_script(*args, cwd=REPO):
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True)


def test_materialize_rebuilds_the_cache_from_saved_answers(tmp_path):
    rows = [index_row("a", SAMPLE, query="q1"), index_row("b", "둘째 글입니다. " * 20, query="q2"),
            index_row("c", "셋째 글입니다. " * 20, query="q2")]
    index = write_jsonl(tmp_path / "index.jsonl", rows)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "1.json").write_text(json.dumps({"query": "q1", "results": [
        {"rank": 1, "url": rows[0]["url"], "excerpt": SAMPLE.replace("300명", "30명")}]}, ensure_ascii=False))
    (raw / "2.json").write_text(json.dumps({"query": "q2", "results": [
        {"rank": 1, "url": rows[1]["url"], "excerpt": "둘째 글입니다. " * 20},
        {"rank": 2, "url": rows[2]["url"], "excerpt": "완전히 바뀐 셋째 글. " * 20}]}, ensure_ascii=False))
    cache = tmp_path / "texts.jsonl"
    plan = run_script("data/real/materialize.py", "--plan", "--index", index, "--cache", cache)
    assert [json.loads(line)["query"] for line in plan.stdout.splitlines()] == ["q2", "q1"]
    done = run_script("data/real/materialize.py", raw, "--index", index, "--cache", cache)
    assert done.returncode == 1  # one row could not be verified
    assert "a\tslip" in done.stdout and "c\tdifferent" in done.stdout
    cached = {r["id"]: r for r in map(json.loads, cache.read_text(encoding="utf-8").splitlines())}
    assert set(cached) == {"a", "b"} and cached["a"]["match"] == "slip" and cached["b"]["match"] == "exact"


def test_build_index_keeps_no_text_dedupes_and_never_splits_a_group(tmp_path, written_rows):
    staging = tmp_path / "collector"
    staging.mkdir()
    pages = [r for r in written_rows if r["split"] == "train"][:40]
    results = [{"rank": i + 1, "url": f"https://site{i % 7}.kr/view?id={i}", "excerpt": r["text"]} for i, r in enumerate(pages)]
    results.append({"rank": 99, "url": "https://copy.kr/1", "excerpt": pages[0]["text"]})  # same text, other url
    (staging / "q001.json").write_text(json.dumps({"query": "청렴", "results": results}, ensure_ascii=False))
    labels = [{"file": "q001.json", "rank": r["rank"], "url": r["url"], "label": p["label"], "secondary": [],
               "kind": "news_article" if p["label"] != "not_article" else "board_list", "group": f"event {i}",
               "note": "test"} for i, (r, p) in enumerate(zip(results, pages + [pages[0]]))]
    labels.append(dict(labels[1]))  # the same url labeled twice
    write_jsonl(staging / "labels.jsonl", labels)
    index, cache = tmp_path / "index.jsonl", tmp_path / "texts.jsonl"
    done = run_script("data/real/build_index.py", staging, "--index", index, "--cache", cache)
    assert done.returncode == 0, done.stderr
    assert "same text as" in done.stdout
    rows = read_index(index)
    assert len(rows) == 40
    texts = {r["text"] for r in pages}
    assert not any(t[:30] in index.read_text(encoding="utf-8") for t in texts)
    by_group = {}
    for r in rows:
        by_group.setdefault(r["group"], set()).add(r["split"])
        by_group.setdefault(r["site"], set()).add(r["split"])
    assert all(len(splits) == 1 for splits in by_group.values())
    assert {r["split"] for r in rows} <= {"train", "dev", "test"}
    assert load_real(index=index, cache=cache, warn=False)[0]["text"] in texts


def test_build_index_append_keeps_indexed_rows_and_holds_pages_that_join_dev_or_test(tmp_path, written_rows):
    pages = [r for r in written_rows if r["split"] == "train"]
    index, cache = tmp_path / "index.jsonl", tmp_path / "texts.jsonl"

    def stage(name, chosen, urls):
        folder = tmp_path / name
        folder.mkdir()
        results = [{"rank": i + 1, "url": u, "excerpt": p["text"]} for i, (u, p) in enumerate(zip(urls, chosen))]
        (folder / "q001.json").write_text(json.dumps({"query": name, "results": results}, ensure_ascii=False))
        write_jsonl(folder / "labels.jsonl", [
            {"file": "q001.json", "rank": r["rank"], "url": r["url"], "label": p["label"], "secondary": [],
             "kind": "news_article" if p["label"] != "not_article" else "board_list", "group": f"{name} {i}",
             "note": "test"} for i, (r, p) in enumerate(zip(results, chosen))])
        return folder

    first = stage("wave1", pages[:40], [f"https://site{i % 7}.kr/v?id={i}" for i in range(40)])
    assert run_script("data/real/build_index.py", first, "--index", index, "--cache", cache).returncode == 0
    before = {r["id"]: r for r in read_index(index)}
    held_site = next(r["site"] for r in before.values() if r["split"] != "train")
    urls = [f"https://{held_site}/new"] + [f"https://fresh{i}.kr/a" for i in range(1, 10)]
    second = stage("wave2", pages[40:50], urls)
    pending = tmp_path / "pending.jsonl"
    done = run_script("data/real/build_index.py", "--append", second, "--index", index, "--cache", cache,
                      "--pending", pending)
    assert done.returncode == 0, done.stderr
    after = {r["id"]: r for r in read_index(index)}
    assert all(after[k] == v for k, v in before.items())  # indexed rows untouched
    added = [r for k, r in after.items() if k not in before]
    assert len(added) == 9 and {r["split"] for r in added} == {"train"}
    [held] = read_index(pending)
    assert held["site"] == held_site and held["split"] != "train"
    assert len(load_real(index=index, cache=cache, warn=False)) == 49

    promote = ("data/real/build_index.py", "--promote", pending, second, "--index", index, "--cache", cache)
    assert run_script(*promote).returncode == 0 and len(read_index(index)) == 49  # not labeled twice yet: stays
    write_jsonl(pending, [{**held, "labels": 2}])
    done = run_script(*promote)
    assert done.returncode == 0, done.stderr
    assert read_index(pending) == [] and {r["id"]: r["split"] for r in read_index(index)}[held["id"]] == held["split"]
    promoted = next(r for r in load_real(index=index, cache=cache, warn=False) if r["id"] == held["id"])
    assert promoted["text"] == pages[40]["text"]


def test_copy_check_fails_on_a_copied_run_and_passes_on_allowlisted_phrases(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    source = "가나다라마바사아자차카타파하 거너더러머버서어저처커터퍼허 고노도로모보소오조초코토포호 구누두루무부수우주추쿠투푸후"
    cache = write_jsonl(tmp_path / "texts.jsonl", [{"id": "real-1", "text": source}])
    (repo / "notes.md").write_text("our words only\n", encoding="utf-8")
    allow = tmp_path / "allow.txt"
    allow.write_text("", encoding="utf-8")
    common = ["data/copy_check.py", "--repo", repo, "--real", cache, "--seeds", tmp_path / "none",
              "--news", tmp_path / "none.gz", "--allow", allow]
    assert run_script(*common).returncode == 0
    (repo / "notes.md").write_text("quoted: " + source[10:50] + "\n", encoding="utf-8")
    failed = run_script(*common)
    assert failed.returncode == 1 and "notes.md" in failed.stdout and "real page real-1" in failed.stdout
    allow.write_text(source[5:55] + "\n", encoding="utf-8")
    assert run_script(*common).returncode == 0


def test_agreement_kappa_and_adjudication(tmp_path):
    sys.path.insert(0, str(REPO / "data" / "real"))
    try:
        from agreement import cohen_kappa
    finally:
        sys.path.pop(0)
    assert cohen_kappa(list("aabb"), list("aabb")) == 1.0
    rows = [index_row(x, SAMPLE, label="other") for x in "abc"]
    index = write_jsonl(tmp_path / "index.jsonl", rows)
    second = write_jsonl(tmp_path / "second.jsonl", [{"id": "a", "label": "other"}, {"id": "b", "label": "reward"}])
    log = tmp_path / "adjudication.jsonl"
    assert "1 disagreements have no adjudication" in run_script(
        "data/real/agreement.py", second, "--index", index, "--apply", write_jsonl(log, [])).stderr
    write_jsonl(log, [{"id": "b", "first": "other", "second": "reward", "final": "reward", "reason": "test"}])
    done = run_script("data/real/agreement.py", second, "--index", index, "--apply", log)
    assert done.returncode == 0 and "other→reward 1" in done.stdout
    after = {r["id"]: r for r in read_index(index)}
    assert after["b"]["label"] == "reward" and after["a"]["labels"] == 2 and "labels" not in after["c"]
    again = run_script("data/real/agreement.py", second, "--index", index, "--log", log)
    assert "2 pages labeled twice: 1 agree" in again.stdout  # first labels read back from the log


def test_evaluate_real_without_a_cache_is_one_clear_line(tmp_path, monkeypatch, capsys, fake_real):
    index, _, _, _ = fake_real
    monkeypatch.setenv("KLASSIFY_REAL_PAGES", str(tmp_path / "absent.jsonl"))
    assert cli_main(["evaluate", "--real", str(index)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no real-page text cache" in err[0]
    assert cli_main(["evaluate"]) == 2


def test_evaluate_real_reports_kinds_and_writes_no_text(tmp_path, monkeypatch, capsys, fake_real, tiny_model):
    index, cache, rows, chosen = fake_real
    monkeypatch.setenv("KLASSIFY_REAL_PAGES", str(cache))
    report = tmp_path / "report"
    code = cli_main(["evaluate", "--real", str(index), "--split", "all", "--model", str(tiny_model[0]),
                     "--report", str(report), "--json", str(tmp_path / "m.json")])
    assert code == 0
    out = capsys.readouterr().out
    assert "page kind" in out and "board_list" in out and "news_article" in out
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["n"] == len(rows) and sum(k["n"] for k in metrics["per_kind"].values()) == len(rows)
    written = "".join(p.read_text(encoding="utf-8") for p in report.glob("*.*") if p.suffix in (".jsonl", ".md", ".json"))
    assert not any(r["text"][:30] in written for r in chosen)
    for line in (report / "misclassified.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        assert "text" not in item and item["url"].startswith("https://example.go.kr/")


def test_training_uses_real_pages_when_cached(tmp_path, monkeypatch, capsys, written_rows, fake_real):
    from klassify.training import TrainingArguments, train

    index, cache, rows, chosen = fake_real
    # a real train split too, from other written pages
    extra, taken = [], {}
    for r in written_rows:
        if r["split"] == "dev" and taken.get(r["label"], 0) < 2:
            taken[r["label"]] = taken.get(r["label"], 0) + 1
            extra.append(r)
    train_rows = [index_row(f"real-t{i:03d}", r["text"], label=r["label"], split="train") for i, r in enumerate(extra)]
    # one dev page whose publisher reserves it from AI training: scored on dev, never learned in the refit
    reserved_id = next(row["id"] for row in rows if row["split"] == "dev")
    texts = {json.loads(l)["id"]: json.loads(l)["text"] for l in cache.read_text(encoding="utf-8").splitlines()}
    texts[reserved_id] += "\nⓒ 무단전재 및 재배포, AI학습 이용 금지"
    indexed = [row | ({"site": "reserved.kr"} | {k: v for k, v in index_row(row["id"], texts[row["id"]]).items()
                                                  if k in ("sha256", "parts", "chars")}
                      if row["id"] == reserved_id else {}) for row in read_index(index)]
    write_jsonl(index, indexed + train_rows)
    write_jsonl(cache, [{"id": i, "text": t} for i, t in texts.items()]
                + [{"id": row["id"], "text": r["text"]} for row, r in zip(train_rows, extra)])
    monkeypatch.setenv("KLASSIFY_REAL_PAGES", str(cache))
    small, taken = [], {}
    for r in written_rows:
        if r["split"] != "dev" and taken.get((r["label"], r["split"]), 0) < (8 if r["split"] == "train" else 2):
            taken[(r["label"], r["split"])] = taken.get((r["label"], r["split"]), 0) + 1
            small.append(r)
    data = write_jsonl(tmp_path / "small.jsonl", small + [r for r in written_rows if r["split"] == "dev"][:14])
    out = tmp_path / "model"
    settings = dict(data=str(data), news_negatives=0, c_grid=(0.3,), real_weights=(1.0, 3.0),
                    seeds_dir=str(tmp_path / "none"), quiet=True, real_pages=str(index))
    clf, summary = train(TrainingArguments(out=str(out), refit_with_dev=False, **settings))
    assert summary["real_pages"]["counts"]["train"] == {label: 2 for label in {r["label"] for r in extra}}
    assert summary["selection"]["chosen_on"] == "real_dev"
    assert summary["selection"]["real_weight"] in (1.0, 3.0)
    assert {"dev", "test", "real_dev", "real_test"} <= set(summary["metrics"])
    misclassified = out / "report" / "real-test" / "misclassified.jsonl"
    assert misclassified.exists() and all("text" not in json.loads(l) for l in misclassified.read_text().splitlines())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["real_pages"]["index_sha256"] == summary["real_pages"]["index_sha256"]

    # The refit (the default) fits the same choices again on train + real dev, chooses nothing on the pages
    # it now trains on, and no longer scores real dev.
    refit, refit_summary = train(TrainingArguments(out=str(tmp_path / "refit"), **settings))
    chosen = ("real_weight", "C", "text_article_weight", "article_threshold", "other_weight")
    assert {k: refit_summary["selection"][k] for k in chosen} == {k: summary["selection"][k] for k in chosen}
    assert refit_summary["selection"]["refit_on"] == "train + real_dev"
    assert refit_summary["selection"]["real_dev_macro_f1_before_refit"] == pytest.approx(
        summary["metrics"]["real_dev"]["macro_f1"], abs=1e-3)
    assert "real_dev" not in refit_summary["metrics"] and "real_test" in refit_summary["metrics"]
    n_real_dev = sum(row["split"] == "dev" for row in rows)
    assert refit_summary["selection"]["real_dev_left_out_of_refit_ai_reserved"] == 1
    capsys.readouterr()
    assert cli_main(["info", "--model", str(tmp_path / "refit")]) == 0
    assert "left out:           0 real train pages (sites that reserve their pages from AI training: reserved.kr)" \
        in capsys.readouterr().out
    assert sum(refit_summary["training_counts"]["train_with_news"].values()) == \
        sum(summary["training_counts"]["train_with_news"].values()) + n_real_dev - 1
    assert (refit.article_threshold, refit.secondary_threshold) == (clf.article_threshold, clf.secondary_threshold)


def test_training_without_the_cache_says_so_and_uses_written_pages(tmp_path, monkeypatch, capsys):
    from klassify.training import TrainingArguments, real_splits

    monkeypatch.setenv("KLASSIFY_REAL_PAGES", str(tmp_path / "absent.jsonl"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert real_splits(TrainingArguments(real_pages="auto")) is None
    assert "real pages not used: no real-page text cache" in capsys.readouterr().out
    with pytest.raises(RealCacheMissing):
        real_splits(TrainingArguments(real_pages=str(REPO / "data" / "real" / "index.jsonl")))


def test_training_leaves_out_pages_their_publishers_reserve_from_ai_training(tmp_path, monkeypatch, written_rows):
    """A site that prints an AI-training reservation under any page (here a dev page) has all its train pages
    left out, and says so in the record; the dev page is still there to be scored."""
    from klassify.training import TrainingArguments, real_record, real_splits

    texts = [r["text"] for r in written_rows[:4]]
    texts[0] += "\n무단전재 및 재배포, AI 학습 및 활용 금지"
    sites = ["reserved.kr", "reserved.kr", "open.kr", "open.kr"]
    splits = ["dev", "train", "train", "test"]
    rows = [index_row(f"real-{i}", text, split=split) | {"site": site}
            for i, (text, site, split) in enumerate(zip(texts, sites, splits))]
    index = write_jsonl(tmp_path / "index.jsonl", rows)
    cache = write_jsonl(tmp_path / "texts.jsonl", [{"id": r["id"], "text": t} for r, t in zip(rows, texts)])
    monkeypatch.setenv("KLASSIFY_REAL_PAGES", str(cache))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        real = real_splits(TrainingArguments(real_pages=str(index), quiet=True))
        kept = real_splits(TrainingArguments(real_pages=str(index), quiet=True, respect_ai_reservations=False))
    assert [r["id"] for r in real["train"]] == ["real-2"] and [r["id"] for r in real["dev"]] == ["real-0"]
    assert real_record(real)["ai_reserved"] == {"sites": ["reserved.kr"], "train_pages_left_out": 1}
    assert [r["id"] for r in kept["train"]] == ["real-1", "real-2"] and kept["ai_reserved_sites"] == []
