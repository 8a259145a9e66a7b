"""The fine-tuned encoder as an initiative model: windows over the page, mean pooling, a linear head.

What the model reads: the page title (unless the body starts with it) and the body, tokenised once and cut
into windows of ``window`` tokens that overlap by ``overlap`` tokens. Each window is encoded on its own;
a page's vector is the mean of all its token states across windows (each window's tokens weighted
equally), so a long body is read in pieces, never rejected: ``max_windows`` (stored with the model,
chosen on dev for accuracy and speed; ``None`` reads everything) bounds how many windows are read, and
each page's analysis records how many tokens were read of how many. The head is linear over that mean, so each token's share of a label's logit is exact,
and the evidence sentence is the body sentence whose tokens push hardest towards the label.

The model directory stores no base weights: only the LoRA adapter (or, for full fine-tuning, fp16 deltas
from the base) and head (``bert_adapter.safetensors``),
the kept vocabulary ids and the settings (``bert.json``). Loading rebuilds the base (``klassify.base_models``),
prunes it, keeps the first ``layers`` layers and merges the adapter; the resulting encoder runs in torch or,
when ``onnxruntime`` is installed, as a dynamically int8-quantised ONNX graph cached under the user's
cache directory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .labels import ARTICLE_LABELS, NOT_ARTICLE
from .lines import sentence_spans
from .tfidf import title_prefix

LORA_TARGETS = ["query", "key", "value", "dense"]


@dataclass
class EncoderSettings:
    """How the encoder is built and how it reads a page (stored in ``bert.json``)."""

    base_model: str = "e5-small-ko"
    layers: int = 4  # keep the first N transformer layers of the base
    window: int = 256  # tokens per window, including <s> and </s>
    overlap: int = 32
    max_windows: int | None = 8  # None → every window
    pooling: str = "mean"  # "mean": mean of all token states; "max": per-label max of window probabilities
    tuning: str = "lora"  # "lora" (adapters, ~2 MB saved) or "full" (all layer weights, fp16 deltas saved)
    lora_rank: int = 16
    lora_alpha: int = 32
    backend: str = "onnx"  # "onnx" (int8, needs onnxruntime) or "torch" (fp32)
    bos_id: int = 0  # ids in the (pruned) vocabulary: <s>/[CLS], </s>/[SEP], <pad>/[PAD]
    eos_id: int = 2
    pad_id: int = 1


# --- text → windows -----------------------------------------------------------------------------


@dataclass
class Tokenised:
    ids: list[int]  # content ids, no specials
    offsets: list[tuple[int, int]]  # character span of each id in the model text


def tokenise(tokenizer, texts) -> list[Tokenised]:
    """Content ids and character offsets of each text (no special tokens)."""
    return [Tokenised(e.ids, e.offsets) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def window_starts(n_tokens: int, content: int, overlap: int, max_windows: int | None) -> list[int]:
    """Start offsets of windows of ``content`` tokens that cover ``n_tokens`` with ``overlap``.

    >>> window_starts(10, 4, 1, None)
    [0, 3, 6]
    >>> window_starts(10, 4, 1, 2), window_starts(0, 4, 1, None)
    ([0, 3], [0])
    """
    step = max(content - overlap, 1)
    starts = [0]
    while starts[-1] + content < n_tokens:
        starts.append(starts[-1] + step)
    return starts if max_windows is None else starts[:max_windows]


def make_windows(tokenised: list[Tokenised], settings: EncoderSettings, *, max_windows: int | None = -1):
    """→ list of (doc index, content start, ids with specials); ``max_windows=-1`` uses the settings'."""
    limit = settings.max_windows if max_windows == -1 else max_windows
    content = settings.window - 2
    windows = []
    for doc, t in enumerate(tokenised):
        for start in window_starts(len(t.ids), content, settings.overlap, limit):
            windows.append((doc, start, [settings.bos_id, *t.ids[start : start + content], settings.eos_id]))
    return windows


def pad_batch(sequences: list[list[int]], pad: int = 1) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(s) for s in sequences)
    ids = np.full((len(sequences), width), pad, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


# --- encoders (token states) ------------------------------------------------------------------


def torch_device(name: str | None = "auto"):
    """``"auto"``/``None`` → the GPU when torch sees one, else the CPU; ``"cpu"``, ``"cuda"``, ``"cuda:1"`` as given."""
    import torch

    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but this torch build sees no CUDA GPU "
                         f"(torch {torch.__version__}); use --device cpu")
    return device


class TorchEncoder:
    """fp32 torch encoder (on the device its weights are on): ``(ids, mask) → token states [B, L, H]``."""

    name = "torch"

    def __init__(self, bert):
        self.bert = bert.eval()
        self.device = next(bert.parameters()).device

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.bert(input_ids=torch.from_numpy(ids).to(self.device),
                            attention_mask=torch.from_numpy(mask).to(self.device))
        return out.last_hidden_state.float().cpu().numpy()


def windows_per_call(encoder, on_cpu: int) -> int:
    """Windows per encoder call: the encoder's own number if it has one (the int8 graph: 1), 64 on a GPU,
    which wants many, else ``on_cpu``, small batches being fastest on a CPU (see :class:`BertInitiativeModel`)."""
    if getattr(encoder, "windows_per_call", None):
        return encoder.windows_per_call
    return 64 if getattr(encoder, "device", None) is not None and encoder.device.type != "cpu" else on_cpu


class OnnxEncoder:
    """The same encoder as an int8 ONNX Runtime session."""

    name = "onnx"
    # One window per call. Dynamic int8 quantisation scales a layer's activations by the range of the whole
    # input tensor, so in a batch a page's scores depended on its neighbours (by up to 0.08 in probability on
    # dev/test pages); alone, a page always gets the same scores. Measured on 2 cores: 1 window per call
    # 84-88 pages/s, 8 per call 86 (the batches' padding is gone too).
    windows_per_call = 1

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


# --- the model ---------------------------------------------------------------------------------


class BertInitiativeModel:
    """Encoder + linear head over the mean of token states: the 6 article labels, and ``not_article`` as a
    seventh class when it was trained with one (see :attr:`predicts_not_article`)."""

    kind = "bert"
    FILES = ("bert.json", "bert.npz", "bert_adapter.safetensors")
    labels = list(ARTICLE_LABELS)

    def __init__(self, tokenizer, encoder, head_weight: np.ndarray, head_bias: np.ndarray, settings: EncoderSettings,
                 kept_ids: np.ndarray, *, adapter_state: dict | None = None, batch_size: int = 8, classes=None):
        self.tokenizer = tokenizer  # tokenizers.Tokenizer over the pruned vocabulary
        self.encoder = encoder
        self.classes = list(classes or ARTICLE_LABELS)  # the head's outputs, in order
        if sorted(set(self.classes) - {NOT_ARTICLE}) != sorted(self.labels) or len(head_weight) != len(self.classes):
            raise ValueError(f"the head's classes {self.classes} do not fit {len(head_weight)} outputs and {self.labels}")
        self._order = [self.classes.index(label) for label in self.labels]
        self.head_weight = np.asarray(head_weight, dtype=np.float32)  # [classes, H]
        self.head_bias = np.asarray(head_bias, dtype=np.float32)
        self.settings = settings
        self.kept_ids = np.asarray(kept_ids, dtype=np.int64)
        self.adapter_state = adapter_state  # tensors saved with the model (LoRA + head)
        # Windows per encoder call (see windows_per_call). For fp32 on 2 cores 4–8 was fastest (78 pages/s at 8
        # vs 65 at 32), the activations of bigger batches no longer fitting in cache; int8 reads one at a time.
        self.batch_size = batch_size

    @property
    def predicts_not_article(self) -> bool:
        """Whether the head also learned ``not_article``, which the Classifier can blend into the article
        detector's score (as for the TF-IDF model)."""
        return NOT_ARTICLE in self.classes

    @staticmethod
    def model_text(title: str | None, body: str) -> str:
        """What the encoder reads: the title (unless the body starts with it), then the whole body."""
        return title_prefix(title, body) + body

    def tokenise(self, texts) -> list[Tokenised]:
        return tokenise(self.tokenizer, texts)

    def token_states(self, tokenised: list[Tokenised], max_windows: int | None = -1):
        """→ per document, in reading order: ``(first content token, states [window length, H])`` per window."""
        windows = make_windows(tokenised, self.settings, max_windows=max_windows)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i][2]))
        per_doc = [[] for _ in tokenised]
        for start in range(0, len(order), self.batch_size):
            chunk = [windows[i] for i in order[start : start + self.batch_size]]
            ids, mask = pad_batch([w[2] for w in chunk], self.settings.pad_id)
            states = self.encoder(ids, mask)
            for (doc, first, seq), state in zip(chunk, states):
                per_doc[doc].append((first, state[: len(seq)]))
        for windows in per_doc:  # batches ran shortest first; callers may take the first k windows
            windows.sort(key=lambda window: window[0])
        return per_doc

    def prepare(self, texts) -> list[Tokenised]:
        """Tokenisation (GIL-free), which the Classifier runs one batch ahead."""
        return self.tokenise(texts)

    def predict_proba(self, texts, *, return_analyses: bool = False, max_windows: int | None = -1, prepared=None):
        """Probabilities ``[N, 6]`` in :data:`ARTICLE_LABELS` order (analyses: token contributions, for evidence).

        ``prepared`` is :meth:`prepare`'s output for the same texts.
        """
        proba, _, analyses = self.predict_proba_with_not_article(texts, max_windows=max_windows, prepared=prepared)
        return (proba, analyses) if return_analyses else proba

    def predict_proba_with_not_article(self, texts, *, max_windows: int | None = -1, prepared=None):
        """``(article-label probabilities [N, 6], P(not_article) [N], analyses)``; P(not_article) is 0 for
        models trained without that class."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.labels))), np.zeros(0), []
        tokenised = prepared if prepared is not None else self.tokenise(texts)
        per_doc = self.token_states(tokenised, max_windows=max_windows)
        article, not_article = self.split_classes(self.proba_from_states(per_doc))
        analyses = [TokenAnalysis(t, windows, self.head_weight) for t, windows in zip(tokenised, per_doc)]
        return article, not_article, analyses

    def split_classes(self, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities → (article labels renormalised, in :attr:`labels` order; P(not_article))."""
        not_article = proba[:, self.classes.index(NOT_ARTICLE)] if self.predicts_not_article else np.zeros(len(proba))
        article = proba[:, self._order]
        total = article.sum(axis=1, keepdims=True)
        article = np.divide(article, total, out=np.full_like(article, 1 / article.shape[1]), where=total > 0)
        return article, not_article

    def proba_from_states(self, per_doc, pooling: str | None = None) -> np.ndarray:
        """Probabilities over :attr:`classes` from token states."""
        if (pooling or self.settings.pooling) == "max":
            rows = []
            for windows in per_doc:
                means = np.stack([state.mean(axis=0) for _first, state in windows])
                rows.append(_softmax(means @ self.head_weight.T + self.head_bias).max(axis=0))
            proba = np.stack(rows)
            return proba / proba.sum(axis=1, keepdims=True)
        pooled = np.stack([pool_windows(windows) for windows in per_doc])
        return _softmax(pooled @ self.head_weight.T + self.head_bias)

    def evidence(self, title: str | None, body: str, analysis, label: str) -> str | None:
        """The body sentence (≥ 10 chars) whose tokens add most to ``label``'s logit over the other labels'."""
        if label not in self.labels or analysis is None:
            return None
        contributions = analysis.contributions(self.classes.index(label))
        offset = len(title_prefix(title, body))
        spans = [(a, b) for a, b in sentence_spans(body) if b - a >= 10]
        if not spans:
            return None
        scores = np.zeros(len(spans))
        k = 0
        for (start, _end), value in zip(analysis.offsets, contributions):
            start -= offset
            while k < len(spans) and spans[k][1] <= start:
                k += 1
            if k == len(spans):
                break
            if start >= spans[k][0]:
                scores[k] += value
        if scores.max() <= 0:
            return None
        a, b = spans[int(np.argmax(scores))]
        return body[a:b]

    # --- persistence ----------------------------------------------------------------------------

    def save(self, directory) -> list[str]:
        from safetensors.numpy import save_file

        directory = Path(directory)
        (directory / self.FILES[0]).write_text(
            json.dumps({"settings": asdict(self.settings), "labels": self.labels, "classes": self.classes}, indent=2) + "\n", encoding="utf-8")
        np.savez_compressed(directory / self.FILES[1], kept_ids=self.kept_ids.astype(np.int32),
                            head_weight=self.head_weight, head_bias=self.head_bias)
        save_file({k: np.ascontiguousarray(v) for k, v in sorted(self.adapter_state.items())}, str(directory / self.FILES[2]))
        return list(self.FILES)

    @classmethod
    def load(cls, directory, *, backend: str | None = None, device: str | None = None) -> "BertInitiativeModel":
        """``backend``: ``"onnx"`` (int8, CPU) or ``"torch"``; ``device`` (torch only): ``"cpu"``, ``"cuda"``, ``"auto"``.

        Naming a GPU device without a backend selects torch, since the int8 graph runs on the CPU.
        """
        from safetensors.numpy import load_file

        directory = Path(directory)
        meta = json.loads((directory / cls.FILES[0]).read_text(encoding="utf-8"))
        settings = EncoderSettings(**meta["settings"])
        if backend:
            settings.backend = backend
        elif device not in (None, "auto", "cpu"):
            settings.backend = "torch"
        with np.load(directory / cls.FILES[1], allow_pickle=False) as arrays:
            kept_ids, head_weight, head_bias = arrays["kept_ids"], arrays["head_weight"], arrays["head_bias"]
        adapter = load_file(str(directory / cls.FILES[2]))
        fingerprint = _fingerprint(directory)
        tokenizer = cached_tokenizer(settings.base_model, kept_ids, fingerprint)
        encoder = None
        if settings.backend == "onnx":
            encoder = onnx_encoder(lambda: build_encoder(settings, kept_ids, adapter), fingerprint)
        if encoder is None:
            bert = cached_torch_encoder(lambda: build_encoder(settings, kept_ids, adapter), fingerprint)
            encoder = TorchEncoder(bert.to(torch_device(device)))
        return cls(tokenizer, encoder, head_weight, head_bias, settings, kept_ids, adapter_state=adapter,
                   batch_size=windows_per_call(encoder, 8), classes=meta.get("classes"))


class TokenAnalysis:
    """Token states of one page, kept only as their projection on the head (for evidence)."""

    def __init__(self, tokenised: Tokenised, windows, head_weight: np.ndarray):
        n_read = 0
        sums = np.zeros((len(tokenised.ids), head_weight.shape[0]), dtype=np.float32)
        counts = np.zeros(len(tokenised.ids), dtype=np.float32)
        total_tokens = sum(len(state) for _first, state in windows)
        for first, state in windows:
            content = state[1:-1]  # drop <s> and </s>
            projected = content @ head_weight.T
            sums[first : first + len(content)] += projected
            counts[first : first + len(content)] += 1
            n_read = max(n_read, first + len(content))
        read = counts > 0
        self.per_token = np.where(read[:, None], sums / np.maximum(counts, 1)[:, None], 0.0)[:n_read] / max(total_tokens, 1)
        self.offsets = tokenised.offsets[:n_read]
        self.tokens_read, self.tokens_total = n_read, len(tokenised.ids)

    def contributions(self, label_index: int) -> np.ndarray:
        """Each token's share of the label's logit minus its mean share of the other labels' logits."""
        others = np.delete(self.per_token, label_index, axis=1).mean(axis=1)
        return self.per_token[:, label_index] - others


def pool_windows(windows) -> np.ndarray:
    """Mean of every token state of every window (incl. <s>/</s>): the document's mean pooling, window by window."""
    total = sum(state.sum(axis=0) for _first, state in windows)
    return total / sum(len(state) for _first, state in windows)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# --- building the encoder ------------------------------------------------------------------------


def build_tokenizer(base_model: str, kept_ids=None):
    """``tokenizers.Tokenizer`` of the base, pruned to ``kept_ids`` when given (and the vocabulary is Unigram)."""
    from tokenizers import Tokenizer

    from .base_models import resolve_base_model
    from .vocabulary import is_prunable, pruned_tokenizer_json

    path = Path(resolve_base_model(base_model))
    if (path / "tokenizer.json").exists():
        text = (path / "tokenizer.json").read_text(encoding="utf-8")
    else:  # a hub id or a directory without tokenizer.json: let transformers find or convert it
        from transformers import AutoTokenizer

        text = AutoTokenizer.from_pretrained(str(path)).backend_tokenizer.to_str()
    if kept_ids is not None and is_prunable(text):
        text = pruned_tokenizer_json(text, kept_ids)
    tokenizer = Tokenizer.from_str(text)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def load_base_bert(base_model: str, layers: int, kept_ids=None):
    """The base ``BertModel`` with its first ``layers`` layers and, if given, only the ``kept_ids`` embedding rows.

    From a local directory with ``model.safetensors`` only the needed tensors are read (the embedding in
    slices of rows), so the 250k-row embedding is never held whole; other bases go through ``from_pretrained``.
    """
    import torch
    from transformers import BertConfig, BertModel

    from .base_models import resolve_base_model

    source = Path(resolve_base_model(base_model))
    weights = source / "model.safetensors"
    if not weights.exists():
        bert = BertModel.from_pretrained(str(source), add_pooling_layer=False)
        bert.encoder.layer = bert.encoder.layer[:layers]
        bert.config.num_hidden_layers = layers
        if kept_ids is not None:
            rows = bert.embeddings.word_embeddings.weight.data[torch.as_tensor(np.asarray(kept_ids), dtype=torch.long)]
            bert.embeddings.word_embeddings = torch.nn.Embedding.from_pretrained(rows.clone(), freeze=False, padding_idx=1)
            bert.config.vocab_size = len(kept_ids)
        return bert
    config = BertConfig.from_pretrained(str(source))
    config.num_hidden_layers = layers
    if kept_ids is not None:
        config.vocab_size = len(kept_ids)
    bert = BertModel(config, add_pooling_layer=False)
    state = _read_base_tensors(weights, layers, kept_ids)
    missing, unexpected = bert.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise ValueError(f"{weights}: tensors do not fit a BertModel (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return bert


def _read_base_tensors(weights: Path, layers: int, kept_ids) -> dict:
    from safetensors import safe_open

    word = "embeddings.word_embeddings.weight"
    state = {}
    with safe_open(str(weights), "pt") as f:
        for name in f.keys():
            if name.startswith("encoder.layer.") and int(name.split(".")[2]) >= layers:
                continue
            if name == word and kept_ids is not None:
                state[name] = _embedding_rows(f.get_slice(name), np.asarray(kept_ids))
            else:
                state[name] = f.get_tensor(name)
    return state


def _embedding_rows(table, kept_ids: np.ndarray, chunk: int = 16_384):
    import torch

    rows = []
    total = table.get_shape()[0]
    for start in range(0, total, chunk):
        wanted = kept_ids[(kept_ids >= start) & (kept_ids < start + chunk)]
        if len(wanted):
            block = table[start : min(start + chunk, total)]
            rows.append(block[torch.as_tensor(wanted - start, dtype=torch.long)].clone())
    return torch.cat(rows)


DELTA_PREFIX = "delta."


def trainable_module(bert, n_labels: int, settings: EncoderSettings):
    """BertModel + linear head, set up for ``settings.tuning``.

    ``"lora"``: peft injects low-rank adapters into every attention and feed-forward projection; only they
    and the head train. ``"full"``: every layer weight trains; the embeddings stay frozen (most of them are
    never seen in training, and the saved deltas then need not include them).
    """
    import torch

    class EncoderWithHead(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = bert
            self.head = torch.nn.Linear(bert.config.hidden_size, n_labels)

        def forward(self, input_ids, attention_mask):
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    module = EncoderWithHead()
    if settings.tuning == "full":
        for parameter in module.encoder.embeddings.parameters():
            parameter.requires_grad = False
        return module
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=settings.lora_rank, lora_alpha=settings.lora_alpha, lora_dropout=0.1,
                        target_modules=LORA_TARGETS, modules_to_save=["head"])
    return get_peft_model(module, config)


def build_encoder(settings: EncoderSettings, kept_ids, adapter_state: dict):
    """Rebuild the fine-tuned encoder: base → prune → first layers → LoRA merged in (or full-tuning deltas added)."""
    import torch

    bert = load_base_bert(settings.base_model, settings.layers, kept_ids)
    if settings.tuning == "full":
        parameters = dict(bert.named_parameters())
        with torch.no_grad():
            for name, delta in adapter_state.items():
                if name.startswith(DELTA_PREFIX):
                    parameters[name[len(DELTA_PREFIX):]] += torch.from_numpy(np.asarray(delta, dtype=np.float32))
        return bert.eval()
    from peft import set_peft_model_state_dict

    head_rows = [np.shape(v)[0] for k, v in adapter_state.items() if "head" in k and k.endswith("weight")]
    peft_model = trainable_module(bert, head_rows[0] if head_rows else len(ARTICLE_LABELS), settings)
    result = set_peft_model_state_dict(peft_model, {k: torch.from_numpy(np.array(v)) for k, v in adapter_state.items()})
    unexpected = [k for k in getattr(result, "unexpected_keys", []) if "lora" in k]
    if unexpected:
        raise ValueError(f"adapter tensors that fit no module: {unexpected[:3]}")
    return peft_model.merge_and_unload().encoder.eval()


def _fingerprint(directory: Path) -> str:
    digest = hashlib.sha256()
    for name in BertInitiativeModel.FILES:
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()[:16]


def _derived_dir(fingerprint: str) -> Path:
    """Where files derived from one model directory are cached (pruned tokenizer, ONNX graph)."""
    from .base_models import cache_dir

    return cache_dir() / "derived" / f"bert-{fingerprint}"


def cached_tokenizer(base_model: str, kept_ids, fingerprint: str):
    """The pruned tokenizer, built from the base once and then read from the cache."""
    import os

    from tokenizers import Tokenizer

    path = _derived_dir(fingerprint) / "tokenizer.json"
    if not path.exists():
        tokenizer = build_tokenizer(base_model, kept_ids)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"tokenizer.{os.getpid()}.json")
        tokenizer.save(str(tmp))
        os.replace(tmp, path)
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def cached_torch_encoder(build_bert, fingerprint: str):
    """The merged fp32 encoder, built by ``build_bert()`` once and then read from the cache.

    Rebuilding means reading the base, pruning it and merging the adapter (~5 s on 2 cores, ~10 s with a
    GPU's start); reading the merged weights back takes well under a second.
    """
    import os
    import shutil

    from safetensors.torch import load_file, save_file
    from transformers import BertConfig, BertModel

    directory = _derived_dir(fingerprint) / "torch"
    if (directory / "model.safetensors").exists():
        bert = BertModel(BertConfig.from_pretrained(str(directory)), add_pooling_layer=False)
        missing, unexpected = bert.load_state_dict(load_file(str(directory / "model.safetensors")), strict=False)
        if not unexpected and not [m for m in missing if "position_ids" not in m]:
            return bert.eval()
        shutil.rmtree(directory, ignore_errors=True)  # not what this model needs: rebuild it
    bert = build_bert()
    tmp = directory.with_name(f"torch.tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    bert.config.save_pretrained(str(tmp))
    save_file({k: v.contiguous() for k, v in bert.state_dict().items()}, str(tmp / "model.safetensors"),
              metadata={"format": "pt"})
    if directory.exists():  # another process cached it first
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, directory)
    return bert


def onnx_encoder(build_bert, fingerprint: str):
    """The int8 ONNX Runtime encoder, exported from ``build_bert()`` once and cached; ``None`` without onnxruntime.

    Once cached, loading needs neither torch nor the base weights.
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    path = _derived_dir(fingerprint) / "encoder-int8.onnx"
    if not path.exists():
        export_int8_onnx(build_bert(), path)
    return OnnxEncoder(path)


def export_int8_onnx(bert, path: Path) -> Path:
    """torch → ONNX (fp32) → ONNX Runtime's BERT fusions (attention, layer norm, GELU) → dynamic int8 weights."""
    import os
    import tempfile

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    class StatesOnly(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    bert.eval().config._attn_implementation = "eager"  # the pattern ONNX Runtime's attention fusion recognises
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        fp32, fused, int8 = (Path(tmp) / name for name in ("fp32.onnx", "fused.onnx", "int8.onnx"))
        example = torch.ones((2, 16), dtype=torch.long)
        axes = {0: "batch", 1: "length"}
        torch.onnx.export(StatesOnly(bert), (example, example), str(fp32), input_names=["input_ids", "attention_mask"],
                          output_names=["states"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "states": axes})
        optimized = optimize_model(str(fp32), model_type="bert", num_heads=bert.config.num_attention_heads,
                                   hidden_size=bert.config.hidden_size)
        optimized.save_model_to_file(str(fused))
        quantize_dynamic(str(fused), str(int8), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(int8, path)
    return path
