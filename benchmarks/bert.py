#!/usr/bin/env python
"""Encoder model speed: klassify's batched int8 path against a plain transformers pipeline, one run.

    python benchmarks/bert.py [--model bert] [--pages 200] [--json benchmarks/results/bert.json] [--device cuda]

Pages: hand-written dev/test pages of 1,200–1,800 characters (~1,500 on average), cycled to ``--pages``.
Each stage runs in its own subprocess (own peak RSS), on the same pages and machine:

- ``pipeline``: ``transformers.pipeline("text-classification")`` over the same fine-tuned encoder + head
  (merged LoRA, fp32, mean pooling), one page at a time as a plain user would call it, truncated at 512
  tokens; it reads the model text (title + cleaned body) klassify's model reads;
- ``torch``: klassify's encoder path in fp32 (sorted by length, batched, windows pooled);
- ``onnx``: the same with the int8 ONNX Runtime encoder (the default backend), one window per call;
- ``classifier``: ``Classifier.predict`` end-to-end (read + clean + is_article + encoder + evidence);
- the ``klassify predict`` CLI, with its peak RSS.

Printed: pages/s per stage and the ratio to the pipeline. With ``--device cuda`` the pipeline, torch,
classifier and CLI stages run on the GPU (torch fp32; the int8 ONNX stage stays on the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import run  # noqa: E402
from run import cli_run, finish  # noqa: E402

STAGES = {
    "pipeline": "transformers pipeline, fp32, batch 1",
    "torch": "klassify encoder, torch fp32, batched",
    "onnx": "klassify encoder, onnx int8, a window per call",
    "classifier": "Classifier.predict end-to-end (onnx)",
}


def sample_pages(n: int) -> list[str]:
    return run.sample_pages(n, chars=(1200, 1800), articles_only=True)


def model_texts(clf, texts: list[str]) -> list[str]:
    from klassify.reading import read_page

    pages = [read_page(t) for t in texts]
    return [clf.model.model_text(p.title, p.body) for p in pages if p.body]


def hf_pipeline(clf, device: str):
    """A plain pipeline over the same weights: BertModel (LoRA merged) + mean pooling + the trained head."""
    import torch
    from transformers import BertModel, BertPreTrainedModel, PreTrainedTokenizerFast, pipeline
    from transformers.modeling_outputs import SequenceClassifierOutput

    model = clf.model
    bert = model.encoder.bert

    class MeanPoolClassifier(BertPreTrainedModel):
        def __init__(self, config):
            super().__init__(config)
            self.bert = BertModel(config, add_pooling_layer=False)
            self.classifier = torch.nn.Linear(config.hidden_size, len(model.classes))

        def forward(self, input_ids=None, attention_mask=None, **_):
            states = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            return SequenceClassifierOutput(logits=self.classifier((states * mask).sum(1) / mask.sum(1)))

    config = bert.config
    config.id2label = dict(enumerate(model.classes))  # the head's outputs (7 when it learned not_article)
    config.label2id = {l: i for i, l in enumerate(model.classes)}
    wrapped = MeanPoolClassifier(config)
    wrapped.bert.load_state_dict(bert.state_dict())
    wrapped.classifier.weight.data = torch.from_numpy(model.head_weight)
    wrapped.classifier.bias.data = torch.from_numpy(model.head_bias)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=model.tokenizer, bos_token="<s>", eos_token="</s>",
                                        unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>")
    return pipeline("text-classification", model=wrapped.eval(), tokenizer=tokenizer,
                    device=0 if device.startswith("cuda") else -1, top_k=None)


def run_stage(stage: str, n: int, model: str, device: str = "cpu") -> dict:
    from klassify.modeling import Classifier

    texts = sample_pages(n)
    on_gpu = device != "cpu" and stage != "onnx"
    backend = "torch" if stage in ("torch", "pipeline") or on_gpu else "onnx"
    clf = Classifier.load(model, backend=backend, device=device if on_gpu else "cpu")
    if stage == "classifier":
        clf.predict(texts[:8])
        start = time.perf_counter()
        clf.predict(texts, batch_size=64)
        return finish(len(texts), start)
    inputs = model_texts(clf, texts)
    if stage == "pipeline":
        pipe = hf_pipeline(clf, device)
        pipe(inputs[:4], truncation=True, max_length=512)
        start = time.perf_counter()
        for text in inputs:
            pipe(text, truncation=True, max_length=512)
        return finish(len(inputs), start)
    clf.model.predict_proba(inputs[:8])
    start = time.perf_counter()
    clf.model.predict_proba(inputs)
    result = finish(len(inputs), start)
    _, analyses = clf.model.predict_proba(inputs[:50], return_analyses=True)
    result["tokens_read_mean"] = sum(a.tokens_read for a in analyses) / len(analyses)
    result["tokens_total_mean"] = sum(a.tokens_total for a in analyses) / len(analyses)
    return result


def in_subprocess(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="bert")
    p.add_argument("--pages", type=int, default=200)
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "bert.json"))
    p.add_argument("--device", default="cpu", help="cpu, or cuda: run the torch stages on the GPU")
    p.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.stage:
        print(json.dumps(run_stage(a.stage, a.pages, a.model, a.device)))
        return 0
    stages = {name: in_subprocess(["--stage", name, "--pages", str(a.pages), "--model", a.model, "--device", a.device])
              for name in STAGES}
    texts = sample_pages(a.pages)
    cli_seconds, cli_rss = cli_run(texts, a.model, () if a.device == "cpu" else ("--device", a.device))
    rate = {name: s["pages"] / s["seconds"] for name, s in stages.items()}
    rate["cli"] = len(texts) / cli_seconds
    labels = {**STAGES, "cli": "klassify predict CLI (incl. start-up)"}
    if a.device != "cpu":
        labels = {name: label.replace("fp32", f"fp32 on {a.device}").replace("(onnx)", f"(torch on {a.device})")
                  for name, label in labels.items()} | {"cli": f"klassify predict CLI on {a.device} (incl. start-up)"}
    rss = {name: s["peak_rss_mb"] for name, s in stages.items()} | {"cli": cli_rss}
    print(f"{len(texts)} pages, mean {sum(map(len, texts)) / len(texts):.0f} chars; {os.cpu_count()} CPUs; "
          f"encoder reads {stages['onnx']['tokens_read_mean']:.0f} of {stages['onnx']['tokens_total_mean']:.0f} tokens per page")
    print(f"{'stage':<42} {'pages/s':>9} {'vs pipeline':>12} {'peak RSS':>9}")
    for name, label in labels.items():
        print(f"{label:<42} {rate[name]:>9.1f} {rate[name] / rate['pipeline']:>11.2f}x {rss[name]:>6.0f} MB")
    result = {"pages": len(texts), "cpus": os.cpu_count(), "device": a.device, "pages_per_s": {labels[k]: round(v, 1) for k, v in rate.items()},
              "ratio_vs_pipeline": {labels[k]: round(v / rate["pipeline"], 2) for k, v in rate.items()},
              "peak_rss_mb": {labels[k]: round(v) for k, v in rss.items()},
              "tokens_read_mean": round(stages["onnx"]["tokens_read_mean"]),
              "tokens_total_mean": round(stages["onnx"]["tokens_total_mean"])}
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
