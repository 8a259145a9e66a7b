import json
import shutil

import numpy as np
import pytest

from klassify import LABELS, Classifier, ModelLoadError, PageReadError, Prediction

EDU = "제천시는 3일 시청 대회의실에서 신규 공무원 40명을 대상으로 청렴교육을 했다고 밝혔다. 청렴연수원 강사가 청탁금지법과 갑질 예방을 강의했다."


def test_training_writes_model_report_and_manifest(tiny_model):
    path, clf, summary = tiny_model
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["labels"] == list(LABELS)
    assert set(manifest["files"]) == {"detector.npz", "initiative.json", "initiative.npz"}
    assert manifest["training_counts"]["dev"]["reward"] == 4
    for name in ("metrics.json", "confusion.png", "misclassified.jsonl", "report.md"):
        assert (path / "report" / name).exists()
    metrics = json.loads((path / "report" / "metrics.json").read_text())
    assert metrics["n"] == 28 and set(metrics["per_label"]) == set(LABELS)


def test_training_is_deterministic(tiny_model, tmp_path):
    path, clf, _ = tiny_model
    again = Classifier.load(path)
    assert np.allclose(clf.predict_proba([EDU]), again.predict_proba([EDU]))


@pytest.mark.parametrize("weights", [None, {"title": 2.0, "cues": 0.3}])
def test_compact_model_matches_the_sklearn_pipeline(written_rows, weights, tmp_path):
    from klassify.tfidf import TfidfInitiativeModel
    from klassify.training import build_pipeline

    articles = [r for r in written_rows if r["label"] != "not_article" and r["split"] == "train"][::4]
    texts, labels = [r["text"][:2000] for r in articles], [r["label"] for r in articles]
    pipeline = build_pipeline(C=0.5)
    # the compact model folds the blocks' weights into its coefficients
    pipeline.named_steps["features"].transformer_weights = weights
    pipeline.fit(texts, labels)
    compact = TfidfInitiativeModel.from_pipeline(pipeline)
    probe = [r["text"][:2000] for r in written_rows if r["split"] == "test"][:20]
    expected = pipeline.predict_proba(probe)[:, [list(pipeline.classes_).index(l) for l in compact.labels]]
    assert np.allclose(compact.predict_proba(probe), expected, atol=1e-5)
    import joblib  # the fitted pipeline is a plain scikit-learn object, for users who want one

    joblib.dump(pipeline, tmp_path / "pipeline.joblib")
    assert np.array_equal(joblib.load(tmp_path / "pipeline.joblib").predict_proba(probe), pipeline.predict_proba(probe))


def test_rescore_scores_a_grown_corpus_without_retraining(tiny_model, written_rows, tmp_path, capsys):
    import train as train_script

    model = tmp_path / "model"
    shutil.copytree(tiny_model[0], model)
    tiny_rows = [json.loads(l) for l in (tiny_model[0].parent / "tiny.jsonl").open(encoding="utf-8")]
    tiny_ids = {r["id"] for r in tiny_rows}
    added = [r for r in written_rows if r["split"] == "test" and r["id"] not in tiny_ids][:5]
    grown = tmp_path / "grown.jsonl"
    grown.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in tiny_rows + added), encoding="utf-8")
    before = json.loads((model / "manifest.json").read_text(encoding="utf-8"))

    assert train_script.main(["--rescore", str(model), "--data", str(grown), "--seeds-dir", str(tmp_path / "none"),
                              "--quiet"]) == 0
    after = Classifier.load(model).manifest  # the artifacts still pass their hash checks
    n_test = sum(r["split"] == "test" for r in tiny_rows) + len(added)
    assert after["metrics"]["test"]["n"] == n_test != before["metrics"]["test"]["n"]
    assert after["training_counts"] == before["training_counts"] and after["files"] == before["files"]
    assert after["rescored"]["previous_macro_f1"]["test"] == before["metrics"]["test"]["macro_f1"]
    assert json.loads((model / "report" / "metrics.json").read_text())["n"] == n_test
    from klassify.cli import main as cli

    cli(["info", "--model", str(model)])
    info = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    assert "not retrained" in info["rescored"]  # and the page counts shown are those the metrics used
    assert sum(int(part.split()[-1]) for part in info["test pages"].split(",")) == n_test

    shrunk = tmp_path / "shrunk.jsonl"
    shrunk.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in tiny_rows if r["label"] != "reward"),
                      encoding="utf-8")
    with pytest.raises(ValueError, match="lost pages"):
        train_script.main(["--rescore", str(model), "--data", str(shrunk), "--quiet"])


def test_reloaded_model_predicts_the_same(tiny_model):
    path, clf, _ = tiny_model
    reloaded = Classifier.load(path)
    texts = [EDU, "로그인\n아이디\n비밀번호\n아이디 찾기"]
    assert np.allclose(clf.predict_proba(texts), reloaded.predict_proba(texts))


def test_other_weight_is_chosen_on_dev_saved_and_changes_only_labels(tiny_model, tmp_path):
    path, clf, summary = tiny_model
    chosen = summary["selection"]["other_weight"]
    assert chosen == clf.other_weight and str(chosen) in summary["selection"]["dev_macro_f1_by_other_weight"]
    assert Classifier.load(path).other_weight == chosen
    texts = ["하남시는 청렴 문화 확산을 위해 직원 대상 청렴 특강과 회의를 열었다고 밝혔다. " * 3,
             "시는 24일 시청에서 간부회의를 열고 현안을 점검했다. " * 3]
    plain = Classifier.load(path)
    plain.other_weight = 1.0
    leaning = Classifier.load(path)
    leaning.other_weight = 1e-6  # `other` wins only where nothing else has any probability
    for a, b in zip(plain.predict(texts), leaning.predict(texts)):
        assert a.scores == b.scores and a.is_article == b.is_article
        assert b.label != "other" or not b.is_article
        if a.label != "other":
            assert a.label == b.label


def test_predict_api_shapes(tiny_model):
    _, clf, _ = tiny_model
    single = clf.predict(EDU)
    assert isinstance(single, Prediction)
    assert single.label in LABELS and set(single.scores) == set(LABELS)
    assert abs(sum(single.scores.values()) - 1) < 1e-3
    assert single.score == single.scores[single.label]
    assert set(single.to_dict()) >= {"label", "score", "scores", "is_article", "article_score", "secondary", "evidence"}
    many = clf.predict([EDU, EDU.encode("cp949"), ""], batch_size=2)
    assert len(many) == 3 and many[2].label == "not_article" and many[2].evidence is None
    proba = clf.predict_proba([EDU, "x"])
    assert proba.shape == (2, 7) and np.allclose(proba.sum(axis=1), 1)
    if single.is_article:
        assert single.evidence and single.evidence in EDU


def test_a_page_without_a_body_is_not_an_article_by_its_scores_too(tiny_model):
    _, clf, _ = tiny_model
    for text in ["", " \n\t", "청렴 서약식 개최", "홈 | 뉴스 | 로그인"]:
        prediction = clf.predict(text)
        assert prediction.label == "not_article" and not prediction.is_article
        assert prediction.article_score == 0.0
        assert prediction.score == prediction.scores["not_article"] == 1.0, (text, prediction.scores)


def test_predict_raises_only_page_read_error_for_bad_input(tiny_model):
    _, clf, _ = tiny_model
    with pytest.raises(PageReadError):
        clf.predict(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(PageReadError):
        clf.predict([EDU, 42])


def test_tampered_or_foreign_artifact_is_refused(tiny_model, tmp_path):
    path, _, _ = tiny_model
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    npz = copy / "initiative.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="sha256"):
        Classifier.load(copy)

    foreign = tmp_path / "foreign"
    shutil.copytree(path, foreign)
    manifest = json.loads((foreign / "manifest.json").read_text())
    manifest["labels"] = ["a", "b"]
    (foreign / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="label list"):
        Classifier.load(foreign)
    with pytest.warns(UserWarning):
        Classifier.load(foreign, trust=True)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no model"):
        Classifier.load(tmp_path / "nothing")


# Seed 000 (a broad headline over a contest) comes out `other` since the model was refit on real dev, whose
# many `other` pages pull such pages there (docs/results.md); a known miss, kept visible: strict, so the
# marker must go when the page is right again.
SEED_KEYS = [pytest.param("000", marks=pytest.mark.xfail(strict=True, reason="known miss: broad headline → other")),
             "001", "002", "003", "004"]


@pytest.mark.parametrize("key", SEED_KEYS)
def test_shipped_model_on_real_seed_pages(seeds, key):
    prediction = Classifier.load().predict(seeds[key]["text"])
    assert prediction.is_article, seeds[key]["file"]
    assert prediction.label == seeds[key]["label"], (seeds[key]["file"], prediction.scores)


def test_shipped_model_keeps_the_missed_seed_initiative_as_secondary(seeds):
    prediction = Classifier.load().predict(seeds["000"]["text"])
    assert prediction.is_article and seeds["000"]["label"] in [prediction.label, *prediction.secondary], prediction.scores


def test_shipped_model_classifies_the_examples():
    import json
    from pathlib import Path

    examples = Path(__file__).resolve().parent.parent / "data" / "examples"
    sources = json.loads((examples / "SOURCES.json").read_text(encoding="utf-8"))
    clf = Classifier.load()
    predictions = {name: clf.predict((examples / name).read_bytes()) for name in sources}
    correct = sum(predictions[name].label == info["label"] for name, info in sources.items())
    assert correct >= len(sources) - 1, {n: p.label for n, p in predictions.items()}


def test_shipped_model_manifest_reports_test_metrics():
    clf = Classifier.load()
    metrics = clf.manifest["metrics"]["test"]
    assert metrics["n"] >= 100 and 0 <= metrics["macro_f1"] <= 1


def test_light_detector_matches_scikit_learn(written_rows):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from klassify.article import ArticleDetector, feature_matrix
    from klassify.reading import read_page

    pages = [read_page(r["text"]) for r in written_rows[::3]]
    y = [r["label"] != "not_article" for r in written_rows[::3]]
    X = feature_matrix(pages)
    boosted = HistGradientBoostingClassifier(max_iter=50, max_leaf_nodes=15, random_state=0).fit(X[::2], y[::2])
    light = ArticleDetector.from_sklearn(boosted)
    assert np.allclose(light.article_score(X), boosted.predict_proba(X)[:, 1], atol=1e-12)


def test_detector_trained_on_fewer_features_reads_them_by_name(written_rows, tmp_path):
    """A detector saved before page features were added (or in another order) still scores pages the way it
    was trained; one that needs a feature this version lacks is refused."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from klassify.article import FEATURE_NAMES, ArticleDetector, feature_matrix
    from klassify.reading import read_page

    pages = [read_page(r["text"]) for r in written_rows[::3]]
    y = [r["label"] != "not_article" for r in written_rows[::3]]
    X = feature_matrix(pages)
    old = [len(FEATURE_NAMES) - 1 - i for i in range(0, len(FEATURE_NAMES), 2)]  # every other one, reversed
    boosted = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=15, random_state=0).fit(X[:, old], y)
    light = ArticleDetector.from_sklearn(boosted)
    arrays = dict(feature=light.feature, threshold=light.threshold, left=light.left, right=light.right,
                  is_leaf=light.is_leaf, missing_left=light.missing_left, value=light.value, roots=light.roots,
                  baseline=np.array(light.baseline))
    np.savez(tmp_path / ArticleDetector.FILE, **arrays, feature_names=np.array([FEATURE_NAMES[i] for i in old]))
    loaded = ArticleDetector.load(tmp_path)
    assert len(set(light.feature[~light.is_leaf])) > 3
    assert np.allclose(loaded.article_score(X), boosted.predict_proba(X[:, old])[:, 1], atol=1e-12)

    np.savez(tmp_path / ArticleDetector.FILE, **arrays,
             feature_names=np.array([FEATURE_NAMES[i] for i in old[:-1]] + ["a_feature_from_the_future"]))
    with pytest.raises(ModelLoadError, match="a_feature_from_the_future"):
        ArticleDetector.load(tmp_path)


def test_page_feature_for_teasers_cut_mid_sentence():
    from klassify.article import FEATURE_NAMES, page_features
    from klassify.reading import read_page

    article = read_page("청렴 교육 열려\n\n" + "\n".join(
        f"군은 {d}일 군청 대회의실에서 공직자 {n}명을 대상으로 청렴 교육을 열었다고 밝혔다." for d, n in
        ((3, 120), (4, 80), (5, 95))))

    def teaser_page(lead_end):
        return read_page("기자 페이지\n\n" + "\n\n".join(
            f"{t}\n군은 {d}일 군청 대회의실에서 공직자 {n}명을 대상으로 청렴 교육을 열었다고 {lead_end}" for t, d, n in
            (("청렴 교육 열려", 3, 120), ("친절 공무원 선발", 4, 80), ("공모전 시상식", 5, 95))))

    features = {name: FEATURE_NAMES.index(name) for name in ("cut_long_line_share", "cut_long_body_line_share")}
    assert [page_features(article)[i] for i in features.values()] == [0.0, 0.0]
    assert page_features(teaser_page("밝"))[features["cut_long_line_share"]] == 1.0  # cut mid-word
    assert page_features(teaser_page("밝혔다…"))[features["cut_long_body_line_share"]] == 1.0  # kept as body


def test_light_tfidf_matches_scikit_learn(written_rows):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from klassify.tfidf import _vectorizer_from_state, _vectorizer_state

    texts = [r["text"] for r in written_rows[::5]]
    for vectorizer in (TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2),
                       TfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), sublinear_tf=True)):
        vectorizer.fit(texts[::2])
        light = _vectorizer_from_state(_vectorizer_state(vectorizer), vectorizer.idf_)
        assert np.allclose(light.transform(texts).toarray(), vectorizer.transform(texts).toarray(), atol=1e-6)


def test_prediction_does_not_import_scikit_learn(tmp_path):
    import subprocess
    import sys

    code = ("import sys, klassify; c = klassify.Classifier.load(); c.predict('시는 청렴 교육을 열었다고 밝혔다.'); "
            "print(any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_model_files_without_the_headline_block_still_load_and_predict(tiny_model, tmp_path):
    """Models written before the headline and cue blocks (two feature blocks, no lead features) keep working."""
    from klassify.tfidf import TfidfInitiativeModel

    model = TfidfInitiativeModel.load(tiny_model[0])
    assert model.title_vectorizer is not None and model.morphemes.lead_chars == 100 and model.cue_features is not None
    model.save(tmp_path)
    meta = json.loads((tmp_path / "initiative.json").read_text(encoding="utf-8"))
    del meta["title_vectorizer"], meta["morphemes"]["lead_chars"], meta["cue_features"]
    (tmp_path / "initiative.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    with np.load(tmp_path / "initiative.npz") as arrays:
        a = {k: arrays[k] for k in arrays.files if k != "title_idf"}
    a["coef"] = a["coef"][:, : len(a["morph_idf"]) + len(a["char_idf"])]
    np.savez(tmp_path / "initiative.npz", **a)

    old = TfidfInitiativeModel.load(tmp_path)
    assert old.title_vectorizer is None and old.morphemes.lead_chars == 0 and old.cue_features is None
    proba = old.predict_proba([EDU])
    assert proba.shape == (1, 6) and np.isclose(proba.sum(), 1.0)


def test_cue_features_tell_the_detailed_event_from_the_plans():
    """LABELING.md rule 2: the initiative in a sentence with event details counts apart from one in a plan list."""
    from klassify.cues import CueFeatures

    cues = CueFeatures()
    page = ("OO군, 깨끗한 군정 만든다\n"
            "군은 공직 신뢰를 높이기 위해 노력하고 있다.\n"
            "군은 지난 5일 오후 2시 군청 대회의실에서 직원 200여 명이 참석한 가운데 청렴 특강을 열었다.\n"
            "군은 지난해 청렴도 평가에서 3등급을 받았다.\n"
            "앞으로 청렴 공모전과 서약식도 추진할 계획이다.")
    row = dict(zip(cues.names, cues.transform([page]).toarray()[0]))
    assert row["education:detail_sentences"] > 0 and row["education:other_sentences"] == 0
    assert row["contest:detail_sentences"] == 0 and row["contest:other_sentences"] > 0
    assert row["declaration:other_sentences"] > 0 and row["education:title"] == 0
    assert cues.transform([]).shape == (0, len(cues.names))
    assert CueFeatures.from_state(cues.state()).transform([page]).toarray().tolist() == cues.transform([page]).toarray().tolist()


def test_stack_takes_a_detector_share_only_when_it_wins_on_dev(tmp_path):
    """choose_stack tries a share of the article score from the first member's page-shape detector alone:
    here both members' own article scores call a tag page an article (0.8) that only its shape gives away (0.0),
    and no threshold in the grid can cut it, so only a detector share gets dev right."""
    from types import SimpleNamespace

    from klassify.modeling import StackedClassifier
    from klassify.reading import read_page
    from klassify.training import choose_stack

    class Fixed(Classifier):
        def __init__(self, shape, article, conditional, path=None):
            super().__init__(None, None, path=path)
            self.scores = np.array(shape), np.array(article), np.array(conditional, dtype=float)

        def prepare(self, pages):
            return None

        def _scores(self, pages, prepared=None):
            picked = [self.page_ids.index(p.body) for p in pages]
            return (*(part[picked] for part in self.scores), [None] * len(pages))

    bodies = [f"{n}번 페이지의 본문이라고 밝혔다." for n in range(4)]
    education, other, kindness = np.eye(6)[[0, 5, 3]]
    conditional = [other, education, other, kindness]
    (tmp_path / "manifest.json").write_text("{}")
    tfidf = Fixed([0.0, 0.9, 0.9, 0.9], [0.8, 0.9, 0.9, 0.9], conditional)
    encoder = Fixed([0.8, 0.9, 0.9, 0.9], [0.8, 0.9, 0.9, 0.9], conditional, path=tmp_path)
    for member in (tfidf, encoder):
        member.page_ids = bodies
    rows = [{"label": label, "secondary": []} for label in ("not_article", "education", "other", "kindness")]
    pages = [read_page(body) for body in bodies]
    args = SimpleNamespace(stack_detector_shares=(0.0, 0.25, 0.5), stack_shares=(0.0, 1.0),
                           other_weights=(1.0,), quiet=True)
    stack, chosen = choose_stack(tfidf, encoder, rows, pages, args)
    assert isinstance(stack, StackedClassifier) and stack.detector_share == chosen["detector_share"] > 0
    assert chosen["dev_macro_f1"] == 1.0 > chosen["dev_macro_f1_detector_share_0"]
    _, article, conditional, _ = stack._scores(pages)
    assert [stack.decide(a, q, page) for a, q, page in zip(article, conditional, pages)] == [r["label"] for r in rows]
    assert article[0] == pytest.approx(stack.detector_share * 0.0 + (1 - stack.detector_share) * 0.8)
