#!/usr/bin/env python
"""Train a klassify model: fit on train, select on dev, report on test.

When the real-page cache is present (data/real/, see data/README.md), the real train split is trained on,
every choice is made on real dev, and real test is reported beside the written test split.

    python train.py --model tfidf [--data data/labeled] [--out models/tfidf] [--seed 0]
    python train.py --model bert [--base-model e5-small-ko] [--layers 4] [--epochs 6]
    python train.py --model stack [--encoder models/bert]   # TF-IDF blended with a trained encoder, chosen on dev
    python train.py --rescore models/bert [--data data/labeled]   # score again on a grown corpus, no training
"""

from __future__ import annotations

import argparse
import sys

from klassify.training import MODELS, TrainingArguments, rescore, train


def parse_args(argv=None) -> TrainingArguments:
    defaults = TrainingArguments()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=defaults.model, choices=list(MODELS), help="which model to train")
    p.add_argument("--data", default=None, help="labeled JSONL file or directory (default: data/labeled)")
    p.add_argument("--out", default=None, help="model directory to write (default: models/<model>)")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--news-negatives", type=int, default=defaults.news_negatives,
                   help="real news articles from ../shared/corpora shown to the article detector (0 = none; skipped if absent)")
    p.add_argument("--news-as-other", action=argparse.BooleanOptionalAction, default=defaults.news_as_other,
                   help="also train the initiative model on them as `other` (at --news-weight)")
    p.add_argument("--news-weight", type=float, default=defaults.news_weight,
                   help="sample weight of the news articles in the initiative model (with --news-as-other)")
    p.add_argument("--news-path", default=None, help="news JSONL.gz (default: ../shared/corpora/news_ko.jsonl.gz)")
    p.add_argument("--c-grid", default=",".join(map(str, defaults.c_grid)), help="SVM C values tried on dev")
    p.add_argument("--title-weights", default=",".join(map(str, defaults.title_weights)),
                   help="tfidf: weights of the headline block tried on dev (with each C; the first wins ties)")
    p.add_argument("--cue-weights", default=",".join(map(str, defaults.cue_weights)),
                   help="tfidf: weights of the cue block (where each label's cue words sit) tried on dev; 0 = no cue block")
    p.add_argument("--morpheme-chars", type=int, default=defaults.morpheme_chars,
                   help="characters of each text analysed by kiwi (speed/accuracy trade-off)")
    p.add_argument("--kiwi-default-dict", action=argparse.BooleanOptionalAction, default=defaults.kiwi_default_dict,
                   help="tfidf: analyse with kiwi's default user dictionary (off by default: it doubles kiwi's load time)")
    p.add_argument("--lead-chars", type=int, default=defaults.lead_chars,
                   help="tfidf: morphemes of the body's first N characters also count as lead features (0: off)")
    p.add_argument("--no-augmented", action="store_true", help="ignore augmented training rows")
    p.add_argument("--seeds-dir", default=None, help="seed pages to report on (default: ../shared/seeds)")
    p.add_argument("--real-pages", default=defaults.real_pages,
                   help="real web pages (data/real/): auto = train on the real train split and choose on real dev when "
                        "the text cache is present; none = written corpus only; or another index file")
    p.add_argument("--real-weights", default=",".join(map(str, defaults.real_weights)),
                   help="sample weights of a real training page (against 1 for a written one) tried on dev")
    p.add_argument("--real-waves", default=",".join(map(str, defaults.real_waves)),
                   help="collection waves of real train pages to use, e.g. 1,2 (dev and test are always all)")
    p.add_argument("--text-article-weights", default=",".join(map(str, defaults.text_article_weights)),
                   help="shares of the article decision given to the text model's not_article class, tried on dev "
                        "(all 0: the text model learns no not_article class)")
    p.add_argument("--other-weights", default=",".join(map(str, defaults.other_weights)),
                   help="weights on `other` in the label's argmax, tried on dev (1: none)")
    p.add_argument("--refit-with-dev", action=argparse.BooleanOptionalAction, default=defaults.refit_with_dev,
                   help="tfidf: after choosing on real dev, fit the chosen settings again on train + real dev")
    p.add_argument("--respect-ai-reservations", action=argparse.BooleanOptionalAction,
                   default=defaults.respect_ai_reservations,
                   help="leave out of training the real pages and news whose publishers reserve them from AI "
                        "training (their notice, or their site's); they are still scored")
    stack = p.add_argument_group("--model stack (a TF-IDF model, trained as above, blended with a trained encoder)")
    stack.add_argument("--encoder", default=defaults.encoder,
                       help="the trained encoder model to blend with (a name in models/ or a directory)")
    stack.add_argument("--stack-shares", default=",".join(map(str, defaults.stack_shares)),
                       help="TF-IDF's shares of the article score and of the initiative probabilities tried on dev")
    stack.add_argument("--stack-detector-shares", default=",".join(map(str, defaults.stack_detector_shares)),
                       help="shares of the article score taken from the page-shape detector alone, tried on dev "
                            "(0: the members' own article scores only)")
    bert = p.add_argument_group("--model bert")
    bert.add_argument("--base-model", default=defaults.base_model,
                      help="e5-small-ko (built in, offline), a Hugging Face hub id, or a local transformers directory")
    bert.add_argument("--layers", type=int, default=defaults.layers, help="keep and fine-tune the first N layers")
    bert.add_argument("--window", type=int, default=defaults.window, help="tokens per window (incl. <s>, </s>)")
    bert.add_argument("--overlap", type=int, default=defaults.overlap, help="tokens shared by consecutive windows")
    bert.add_argument("--max-windows", type=_max_windows, default=defaults.max_windows,
                      help="windows read per page when predicting: 'auto' (chosen on dev, the default), N, or 'all'")
    bert.add_argument("--train-windows", type=_optional_int, default=defaults.train_windows,
                      help="windows per page while training ('all' for every window)")
    bert.add_argument("--epochs", type=int, default=defaults.epochs)
    bert.add_argument("--patience", type=int, default=defaults.patience, help="early stopping on dev macro-F1")
    bert.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    bert.add_argument("--batch-size", type=int, default=defaults.batch_size, help="pages per training step")
    bert.add_argument("--tuning", choices=["lora", "full"], default=defaults.tuning,
                      help="LoRA adapters (small artifact) or full fine-tuning of the kept layers (fp16 deltas)")
    bert.add_argument("--lora-rank", type=int, default=defaults.lora_rank)
    bert.add_argument("--encoder-real-weight", type=float, default=defaults.encoder_real_weight,
                      help="loss weight of a real training page against a written one (the encoder trains once)")
    bert.add_argument("--backend", choices=["onnx", "torch"], default=defaults.backend,
                      help="how the saved model runs by default: int8 ONNX Runtime or fp32 torch")
    bert.add_argument("--device", default=defaults.device,
                      help="where the encoder trains: auto (a CUDA GPU if torch sees one, else the CPU), cpu or cuda")
    bert.add_argument("--precision", choices=["fp32", "bf16"], default=defaults.precision,
                      help="training steps in fp32, or under bfloat16 autocast (faster on a GPU or a CPU with "
                           "AVX512-BF16/AMX; refused elsewhere); the saved model is fp32 either way")
    bert.add_argument("--vocab-news", type=int, default=defaults.vocab_news,
                      help="real news articles (from ../shared, if present) whose pieces the pruned vocabulary keeps")
    bert.add_argument("--max-train-pages", type=int, default=None, help="use only the first N training pages (smoke runs)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--rescore", metavar="MODEL", default=None,
                   help="train nothing: score the model (name or directory) on the current dev/test splits and "
                        "rewrite its report and manifest metrics (for a corpus that grew since it was trained)")
    a = p.parse_args(argv)
    if a.rescore:
        return a
    return TrainingArguments(
        model=a.model, data=a.data, out=a.out, seed=a.seed, news_negatives=a.news_negatives, news_path=a.news_path,
        news_as_other=a.news_as_other, news_weight=a.news_weight,
        c_grid=tuple(float(c) for c in a.c_grid.split(",")),
        title_weights=tuple(float(w) for w in a.title_weights.split(",")),
        cue_weights=tuple(float(w) for w in a.cue_weights.split(",")), morpheme_chars=a.morpheme_chars, lead_chars=a.lead_chars,
        kiwi_default_dict=a.kiwi_default_dict,
        include_augmented=not a.no_augmented, seeds_dir=a.seeds_dir, quiet=a.quiet, real_pages=a.real_pages,
        real_weights=tuple(float(w) for w in a.real_weights.split(",")),
        text_article_weights=tuple(float(w) for w in a.text_article_weights.split(",")),
        other_weights=tuple(float(w) for w in a.other_weights.split(",")),
        real_waves=tuple(int(w) for w in a.real_waves.split(",")), refit_with_dev=a.refit_with_dev,
        respect_ai_reservations=a.respect_ai_reservations,
        base_model=a.base_model, layers=a.layers, window=a.window, overlap=a.overlap, max_windows=a.max_windows,
        train_windows=a.train_windows, epochs=a.epochs, patience=a.patience, learning_rate=a.learning_rate,
        batch_size=a.batch_size, tuning=a.tuning, lora_rank=a.lora_rank, encoder_real_weight=a.encoder_real_weight, backend=a.backend, device=a.device, precision=a.precision, vocab_news=a.vocab_news,
        max_train_pages=a.max_train_pages, encoder=a.encoder,
        stack_shares=tuple(float(w) for w in a.stack_shares.split(",")),
        stack_detector_shares=tuple(float(w) for w in a.stack_detector_shares.split(",")),
    )


def _optional_int(value: str):
    return None if value.lower() in ("all", "none") else int(value)


def _max_windows(value: str):
    return "auto" if value.lower() == "auto" else _optional_int(value)


def main(argv=None) -> int:
    args = parse_args(argv)
    if isinstance(args, TrainingArguments):
        train(args)
    else:
        rescore(args.rescore, data=args.data, seeds_dir=args.seeds_dir, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
