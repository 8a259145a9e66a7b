"""Fine-tuning the encoder initiative model: prune the vocabulary, LoRA over the first layers, early stopping.

Called by :func:`klassify.training.train` for ``--model bert``; the article detector, thresholds, report
and manifest are shared with the TF-IDF model.
"""

from __future__ import annotations

import copy
import os
import time

import numpy as np

from .bert import BertInitiativeModel, EncoderSettings, EncoderWithHead, TorchEncoder, build_tokenizer, load_base_bert
from .evaluation import classification_metrics
from .labels import ARTICLE_LABELS, NOT_ARTICLE
from .modeling import Classifier
from .vocabulary import pruned_tokenizer_json, used_piece_ids


def settings_from_args(args) -> EncoderSettings:
    return EncoderSettings(base_model=args.base_model, layers=args.layers, window=args.window, overlap=args.overlap,
                           max_windows=args.max_windows, lora_rank=args.lora_rank, lora_alpha=2 * args.lora_rank,
                           backend=args.backend)


def prune(settings: EncoderSettings, texts) -> tuple[np.ndarray, object]:
    """Kept piece ids (pieces ``texts`` use + specials) and the pruned tokenizer."""
    from tokenizers import Tokenizer

    full = build_tokenizer(settings.base_model)
    kept = used_piece_ids(full, texts)
    pruned = Tokenizer.from_str(pruned_tokenizer_json(full.to_str(), kept))
    pruned.no_padding()
    pruned.no_truncation()
    return kept, pruned


def fit_bert_model(args, train_rows, train_pages, dev_rows, dev_pages, detector, article_threshold, vocab_texts, log):
    """Fine-tune on the article pages of ``train_rows``; keep the epoch with the best dev macro-F1 (7 labels)."""
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(max(os.cpu_count() or 1, 1))
    settings = settings_from_args(args)
    started = time.time()
    keep = [i for i, r in enumerate(train_rows) if r["label"] != NOT_ARTICLE and train_pages[i].body]
    if args.max_train_pages:
        keep = keep[: args.max_train_pages]
    texts = [BertInitiativeModel.model_text(train_pages[i].title, train_pages[i].body) for i in keep]
    y = np.array([ARTICLE_LABELS.index(train_rows[i]["label"]) for i in keep])

    kept_ids, tokenizer = prune(settings, [*texts, *vocab_texts])
    log(f"vocabulary pruned to {len(kept_ids):,} pieces ({time.time() - started:.0f} s)")
    bert = load_base_bert(settings.base_model, settings.layers, kept_ids)
    model = EncoderWithHead.make(bert, len(ARTICLE_LABELS), settings)
    head = model.base_model.model.head.modules_to_save["default"]
    trainable = [p for p in model.parameters() if p.requires_grad]
    log(f"encoder: {settings.layers} layers, {sum(p.numel() for p in trainable):,} trainable parameters (LoRA r={settings.lora_rank} + head)")

    wrapper = BertInitiativeModel(tokenizer, None, np.zeros((6, 1)), np.zeros(6), settings, kept_ids, batch_size=args.batch_size)
    tokenised = wrapper.tokenise(texts)
    counts = np.bincount(y, minlength=len(ARTICLE_LABELS)).astype(float)
    class_weight = torch.tensor(len(y) / (len(ARTICLE_LABELS) * np.maximum(counts, 1)), dtype=torch.float32)
    steps_per_epoch = int(np.ceil(len(keep) / args.batch_size))
    optimizer = torch.optim.AdamW(trainable, lr=args.learning_rate, weight_decay=0.01)
    total_steps = steps_per_epoch * args.epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / max(1, total_steps // 10)) * max(0.0, 1 - step / total_steps))
    rng = np.random.default_rng(args.seed)

    best = {"macro_f1": -1.0}
    history = []
    stale = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        losses = []
        for batch in np.array_split(rng.permutation(len(keep)), steps_per_epoch):
            logits = document_logits(model, head, [tokenised[i] for i in batch], settings, args.train_windows)
            loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(y[batch]), weight=class_weight)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        model.eval()
        candidate = snapshot(model, head, tokenizer, settings, kept_ids, args.batch_size)
        clf = Classifier(detector, candidate, article_threshold=article_threshold)
        macro = classification_metrics([r["label"] for r in dev_rows], [p.label for p in clf.predict_pages(dev_pages)])["macro_f1"]
        history.append({"epoch": epoch, "train_loss": round(float(np.mean(losses)), 4), "dev_macro_f1": round(macro, 4),
                        "seconds": round(time.time() - started, 1)})
        log(f"  epoch {epoch}: loss {np.mean(losses):.4f}, dev macro-F1 {macro:.4f} ({time.time() - started:.0f} s)")
        if macro > best["macro_f1"] + 1e-9:
            best, stale = {"macro_f1": macro, "epoch": epoch, "model": candidate}, 0
        else:
            stale += 1
            if stale >= args.patience:
                log(f"  early stop: no dev gain for {args.patience} epochs")
                break
    return best["model"], {"best_epoch": best["epoch"], "dev_macro_f1": best["macro_f1"], "history": history,
                           "kept_pieces": int(len(kept_ids)), "settings": settings.__dict__}


def document_logits(model, head, docs, settings: EncoderSettings, max_windows):
    """Logits per document: mean of all token states over the document's windows, then the head."""
    import torch

    from .bert import make_windows, pad_batch

    windows = make_windows(docs, settings, max_windows=max_windows)
    ids, mask = pad_batch([w[2] for w in windows])
    states = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    m = torch.from_numpy(mask).unsqueeze(-1).to(states.dtype)
    sums = (states * m).sum(dim=1)
    doc_index = torch.tensor([w[0] for w in windows])
    doc_sum = torch.zeros(len(docs), states.shape[-1]).index_add(0, doc_index, sums)
    doc_count = torch.zeros(len(docs)).index_add(0, doc_index, m.sum(dim=(1, 2)))
    return head(doc_sum / doc_count.unsqueeze(-1))


def snapshot(model, head, tokenizer, settings, kept_ids, batch_size) -> BertInitiativeModel:
    """A frozen copy of the current weights as an initiative model (torch, LoRA unmerged) plus its saved state."""
    from peft import get_peft_model_state_dict

    state = {k: v.detach().cpu().numpy().copy() for k, v in get_peft_model_state_dict(model).items()}
    encoder = TorchEncoder(copy.deepcopy(model.base_model.model.encoder).eval())
    return BertInitiativeModel(tokenizer, encoder, head.weight.detach().numpy().copy(), head.bias.detach().numpy().copy(),
                               settings, kept_ids, adapter_state=state, batch_size=batch_size)
