"""Fine-tuning the encoder initiative model: prune the vocabulary, LoRA over the first layers, early stopping.

Called by :func:`klassify.training.train` for ``--model bert``; the article detector, thresholds, report
and manifest are shared with the TF-IDF model.
"""

from __future__ import annotations

import copy
import os
import time

import numpy as np

from .bert import (
    DELTA_PREFIX,
    BertInitiativeModel,
    EncoderSettings,
    TorchEncoder,
    build_encoder,
    build_tokenizer,
    load_base_bert,
    tokenise,
    torch_device,
    trainable_module,
    windows_per_call,
)
from .evaluation import best_blend, blend_scores
from .labels import ARTICLE_LABELS, NOT_ARTICLE
from .vocabulary import is_prunable, pruned_tokenizer_json, used_piece_ids


def settings_from_args(args) -> EncoderSettings:
    return EncoderSettings(base_model=args.base_model, layers=args.layers, window=args.window, overlap=args.overlap,
                           max_windows=8 if args.max_windows == "auto" else args.max_windows, tuning=args.tuning, lora_rank=args.lora_rank,
                           lora_alpha=2 * args.lora_rank, backend=args.backend)


def training_autocast(precision: str, device):
    """The context the training steps run in: ``"fp32"`` as is, ``"bf16"`` under torch's bfloat16 autocast
    (a training 1.14x faster on a 2-core CPU with AVX512-BF16, measured in docs/encoder.md; the dev scoring and
    the saved model stay fp32). A device without native bfloat16 is refused: emulated, it is slower than fp32.

    >>> import torch
    >>> training_autocast("fp32", torch.device("cpu")).__class__.__name__
    'nullcontext'
    """
    import contextlib

    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    if precision != "bf16":
        raise ValueError(f"unknown precision {precision!r}; use fp32 or bf16")
    if not bf16_supported(device):
        raise ValueError(f"--precision bf16: {device} has no native bfloat16 (a CUDA GPU that supports it, or a CPU "
                         f"with AVX512-BF16 or AMX); emulated it trains slower than fp32, so use --precision fp32")
    return torch.autocast(device.type, dtype=torch.bfloat16)


def bf16_supported(device) -> bool:
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def prune(settings: EncoderSettings, texts) -> tuple[np.ndarray, object]:
    """Kept piece ids (pieces ``texts`` use + specials) and the pruned tokenizer."""
    from tokenizers import Tokenizer

    full = build_tokenizer(settings.base_model)
    full_json = full.to_str()
    if is_prunable(full_json):
        kept = used_piece_ids(full, texts)
        tokenizer = Tokenizer.from_str(pruned_tokenizer_json(full_json, kept))
    else:
        kept, tokenizer = np.arange(full.get_vocab_size(with_added_tokens=True)), full
    tokenizer.no_padding()
    tokenizer.no_truncation()
    settings.bos_id, settings.eos_id, settings.pad_id = (_token_id(tokenizer, names) for names in (
        ("<s>", "[CLS]"), ("</s>", "[SEP]"), ("<pad>", "[PAD]")))
    return kept, tokenizer


def _token_id(tokenizer, names) -> int:
    for name in names:
        if tokenizer.token_to_id(name) is not None:
            return tokenizer.token_to_id(name)
    raise ValueError(f"the tokenizer has none of {names}")


def fit_bert_model(args, train_rows, train_pages, dev_rows, dev_pages, detector, vocab_texts, log, *, row_weights=None):
    """Fine-tune on the pages of ``train_rows`` that have a body; keep the epoch with the best dev macro-F1 (7 labels).

    The head learns ``not_article`` as a seventh class when ``args.text_article_weights`` allows it (as the
    TF-IDF model does); each epoch is scored with the best blend of that class and the detector's
    ``detector`` score (weight and threshold, chosen on dev). ``row_weights`` multiply each row's loss
    (real pages weigh more than written ones).
    """
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(max(os.cpu_count() or 1, 1))
    device = torch_device(args.device)
    autocast = training_autocast(args.precision, device)  # before any work: an unsupported precision fails fast
    settings = settings_from_args(args)
    started = time.time()
    learn_not_article = any(w > 0 for w in args.text_article_weights)
    classes = [*ARTICLE_LABELS, NOT_ARTICLE] if learn_not_article else list(ARTICLE_LABELS)
    keep = [i for i, r in enumerate(train_rows) if r["label"] in classes and train_pages[i].body]
    if args.max_train_pages:
        keep = keep[: args.max_train_pages]
    texts = [BertInitiativeModel.model_text(train_pages[i].title, train_pages[i].body) for i in keep]
    y = np.array([classes.index(train_rows[i]["label"]) for i in keep])
    weight_of_row = np.ones(len(keep)) if row_weights is None else np.asarray(row_weights, dtype=float)[keep]

    kept_ids, tokenizer = prune(settings, [*texts, *vocab_texts])
    log(f"vocabulary pruned to {len(kept_ids):,} pieces ({time.time() - started:.0f} s)")
    bert = load_base_bert(settings.base_model, settings.layers, kept_ids)
    model = trainable_module(bert, len(classes), settings).to(device)
    # Full fine-tuning saves deltas from these; LoRA leaves the base weights untouched and needs no copy.
    base_layers = {k: v.detach().clone() for k, v in bert.named_parameters()
                   if settings.tuning == "full" and not k.startswith("embeddings.")}
    head = model.head if settings.tuning == "full" else model.base_model.model.head.modules_to_save["default"]
    trainable = [p for p in model.parameters() if p.requires_grad]
    what = "all layer weights" if settings.tuning == "full" else f"LoRA r={settings.lora_rank}"
    log(f"encoder: {settings.layers} layers, {sum(p.numel() for p in trainable):,} trainable parameters ({what} + head), "
        f"{len(classes)} classes, on {device}, {args.precision} steps")

    tokenised = tokenise(tokenizer, texts)
    counts = np.bincount(y, minlength=len(classes)).astype(float)
    class_weight = len(y) / (len(classes) * np.maximum(counts, 1))
    loss_weight = torch.tensor(class_weight[y] * weight_of_row, dtype=torch.float32, device=device)
    steps_per_epoch = int(np.ceil(len(keep) / args.batch_size))
    optimizer = torch.optim.AdamW(trainable, lr=args.learning_rate, weight_decay=0.01)
    total_steps = steps_per_epoch * args.epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / max(1, total_steps // 10)) * max(0.0, 1 - step / total_steps))
    rng = np.random.default_rng(args.seed)
    dev = DevScorer(detector, dev_rows, dev_pages, args.text_article_weights if learn_not_article else (0.0,))

    best = {"macro_f1": -1.0}
    history = []
    stale = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        losses = []
        for batch in np.array_split(rng.permutation(len(keep)), steps_per_epoch):
            with autocast:
                logits = document_logits(model, head, [tokenised[i] for i in batch], settings, args.train_windows)
            per_row = torch.nn.functional.cross_entropy(logits.float(), torch.as_tensor(y[batch], device=device), reduction="none")
            weights = loss_weight[torch.as_tensor(batch, device=device)]
            loss = (per_row * weights).sum() / weights.sum()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        model.eval()
        candidate = snapshot(model, head, tokenizer, settings, kept_ids, args.batch_size, base_layers, classes)
        macro, (mix, threshold) = dev.score(candidate)
        history.append({"epoch": epoch, "train_loss": round(float(np.mean(losses)), 4), "dev_macro_f1": round(macro, 4),
                        "text_article_weight": mix, "article_threshold": threshold,
                        "seconds": round(time.time() - started, 1)})
        log(f"  epoch {epoch}: loss {np.mean(losses):.4f}, dev macro-F1 {macro:.4f} (text not_article weight {mix}, "
            f"article threshold {threshold}; {time.time() - started:.0f} s)")
        if macro > best["macro_f1"] + 1e-9:
            best, stale = {"macro_f1": macro, "epoch": epoch, "model": candidate, "blend": (mix, threshold)}, 0
        else:
            stale += 1
            if stale >= args.patience:
                log(f"  early stop: no dev gain for {args.patience} epochs")
                break
    model = best["model"]
    reading = choose_reading(model, dev, *best["blend"], apply=args.max_windows == "auto")
    log(f"  reading {'chosen on dev' if args.max_windows == 'auto' else 'best on dev (not applied: --max-windows given)'}: "
        f"{reading['chosen']}")
    mix, threshold = dev.best_blend_of(model) if args.max_windows == "auto" else best["blend"]
    return model, {"best_epoch": best["epoch"], "dev_macro_f1": best["macro_f1"], "history": history,
                   "classes": classes, "text_article_weight": mix, "article_threshold": threshold,
                   "kept_pieces": int(len(kept_ids)), "reading": reading, "settings": dict(model.settings.__dict__)}


class DevScorer:
    """Dev macro-F1 of an encoder with the article detector, the best blend of the two chosen each time."""

    def __init__(self, detector, dev_rows, dev_pages, mixes):
        self.gold = [r["label"] for r in dev_rows]
        self.shape_score = detector.score_pages(dev_pages)
        self.has_body = np.array([bool(p.body) for p in dev_pages])
        self.todo = [i for i, p in enumerate(dev_pages) if p.body]
        self.texts = [BertInitiativeModel.model_text(dev_pages[i].title, dev_pages[i].body) for i in self.todo]
        self.mixes = tuple(mixes)

    def blends(self, model: BertInitiativeModel, proba: np.ndarray | None = None) -> dict:
        """``{(mix, threshold): macro-F1}``; ``proba`` over the model's classes for the dev pages with a body."""
        if proba is None:
            proba = model.proba_from_states(model.token_states(model.tokenise(self.texts)))
        conditional = np.zeros((len(self.gold), len(ARTICLE_LABELS)))
        text_not_article = np.zeros(len(self.gold))
        conditional[self.todo], text_not_article[self.todo] = model.split_classes(proba)
        mixes = self.mixes if model.predicts_not_article else (0.0,)
        return blend_scores(self.gold, self.shape_score, self.has_body, conditional, text_not_article, mixes)

    def score(self, model, proba=None) -> tuple[float, tuple[float, float]]:
        found = self.blends(model, proba)
        blend = best_blend(found)
        return found[blend], blend

    def best_blend_of(self, model) -> tuple[float, float]:
        return self.score(model)[1]


def choose_reading(model: BertInitiativeModel, dev: DevScorer, mix: float, threshold: float,
                   window_limits=(1, 2, 4, 8, None), poolings=("mean", "max"), tolerance: float = 0.005,
                   apply: bool = True) -> dict:
    """How many windows to read and how to pool them: the fewest windows within ``tolerance`` of the best dev
    macro-F1, at the epoch's blend (``mix``, ``threshold``) of the detector and the text model.

    Token states are computed once with every window; each candidate re-pools the first k windows.
    With ``apply``, sets ``model.settings.max_windows`` and ``.pooling``.
    """
    per_doc = model.token_states(model.tokenise(dev.texts), max_windows=None)
    scores = {}
    for limit in window_limits:
        for pooling in poolings:
            proba = model.proba_from_states([windows[:limit] if limit else windows for windows in per_doc], pooling)
            scores[(limit, pooling)] = dev.blends(model, proba)[(mix, threshold)]
    top = max(scores.values())
    order = {limit: k for k, limit in enumerate(window_limits)}
    limit, pooling = min((key for key, value in scores.items() if value >= top - tolerance),
                         key=lambda key: (order[key[0]], -scores[key]))
    if apply:
        model.settings.max_windows, model.settings.pooling = limit, pooling
    return {"chosen": {"max_windows": limit, "pooling": pooling, "dev_macro_f1": round(scores[(limit, pooling)], 4)},
            "dev_macro_f1": {f"{k[0] or 'all'}/{k[1]}": round(v, 4) for k, v in scores.items()}}


def document_logits(model, head, docs, settings: EncoderSettings, max_windows):
    """Logits per document: mean of all token states over the document's windows, then the head."""
    import torch

    from .bert import make_windows, pad_batch

    device = head.weight.device
    windows = make_windows(docs, settings, max_windows=max_windows)
    ids, mask = (torch.from_numpy(a).to(device) for a in pad_batch([w[2] for w in windows], settings.pad_id))
    states = model(input_ids=ids, attention_mask=mask)
    m = mask.unsqueeze(-1).to(states.dtype)
    sums = (states * m).sum(dim=1)
    doc_index = torch.tensor([w[0] for w in windows], device=device)
    doc_sum = torch.zeros(len(docs), states.shape[-1], device=device).index_add(0, doc_index, sums)
    doc_count = torch.zeros(len(docs), device=device).index_add(0, doc_index, m.sum(dim=(1, 2)))
    return head(doc_sum / doc_count.unsqueeze(-1))


def snapshot(model, head, tokenizer, settings, kept_ids, batch_size, base_layers, classes) -> BertInitiativeModel:
    """A frozen copy of the current weights as an initiative model (torch, LoRA unmerged) plus its saved state."""
    if settings.tuning == "full":
        state = {DELTA_PREFIX + k: (v.detach() - base_layers[k]).cpu().numpy().astype(np.float16)
                 for k, v in model.encoder.named_parameters() if k in base_layers}
        encoder = TorchEncoder(copy.deepcopy(model.encoder).eval())
    else:
        from peft import get_peft_model_state_dict

        state = {k: v.detach().cpu().numpy().copy() for k, v in get_peft_model_state_dict(model).items()}
        encoder = TorchEncoder(copy.deepcopy(model.base_model.model.encoder).eval())
    return BertInitiativeModel(tokenizer, encoder, head.weight.detach().cpu().numpy().copy(),
                               head.bias.detach().cpu().numpy().copy(), settings, kept_ids, adapter_state=state,
                               batch_size=windows_per_call(encoder, batch_size), classes=classes)


def pruning_agreement(model: BertInitiativeModel, texts) -> dict:
    """The pruned model against the same fine-tuned layers over the full 250k vocabulary, on ``texts``.

    Reports how many texts tokenise differently once pruned, how often the argmax agrees and the largest
    probability difference.
    """
    word = "embeddings.word_embeddings.weight"
    tuned = build_encoder(model.settings, model.kept_ids, model.adapter_state)  # plain BertModel, adapter merged
    full_bert = load_base_bert(model.settings.base_model, model.settings.layers)
    missing, unexpected = full_bert.load_state_dict({k: v for k, v in tuned.state_dict().items() if k != word}, strict=False)
    if unexpected or [m for m in missing if m != word and "position_ids" not in m]:
        raise RuntimeError(f"fine-tuned layers do not fit the unpruned base: {missing[:3]} {unexpected[:3]}")
    pruned = copy.copy(model)
    pruned.encoder = TorchEncoder(tuned)
    unpruned = copy.copy(model)
    unpruned.tokenizer = build_tokenizer(model.settings.base_model)
    unpruned.encoder = TorchEncoder(full_bert)
    texts = list(texts)
    full_ids = [e.ids for e in unpruned.tokenizer.encode_batch(texts, add_special_tokens=False)]
    pruned_ids = [model.kept_ids[e.ids].tolist() for e in model.tokenizer.encode_batch(texts, add_special_tokens=False)]
    a, b = unpruned.predict_proba(texts), pruned.predict_proba(texts)
    return {"pages": len(texts), "pages_tokenised_differently": sum(f != p for f, p in zip(full_ids, pruned_ids)),
            "same_label": round(float((a.argmax(1) == b.argmax(1)).mean()), 4),
            "max_abs_prob_diff": round(float(np.abs(a - b).max()), 4)}
