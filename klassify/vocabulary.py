"""Vocabulary pruning: keep only the tokenizer pieces that Korean text we have actually uses.

multilingual-e5-small's 250,037-row embedding is most of the model, yet Korean pages use a few tens of
thousands of its pieces. Pruning keeps the special tokens plus every piece the given texts produce,
renumbers them in their original order (so XLM-R's ``<s> <pad> </s> <unk>`` keep ids 0–3), and slices the
embedding rows to match. A text made only of kept pieces tokenises to exactly the same pieces as
before; a piece that was never seen is re-segmented into smaller kept pieces or ``<unk>``.
"""

from __future__ import annotations

import json

import numpy as np


def special_ids(tokenizer) -> set[int]:
    """Ids of the tokenizer's special tokens (``<s>``, ``<pad>``, ``</s>``, ``<unk>``, ``<mask>`` for XLM-R)."""
    return {i for i, token in tokenizer.get_added_tokens_decoder().items() if token.special}


def is_prunable(tokenizer_json: str) -> bool:
    """Only Unigram (SentencePiece) vocabularies are pruned; WordPiece/BPE tokenizers are used whole."""
    return json.loads(tokenizer_json)["model"]["type"] == "Unigram"


def used_piece_ids(tokenizer, texts, *, batch_size: int = 1000) -> np.ndarray:
    """Sorted ids of every piece ``tokenizer`` (a ``tokenizers.Tokenizer``) produces on ``texts``, plus specials."""
    seen = special_ids(tokenizer)
    texts = list(texts)
    for start in range(0, len(texts), batch_size):
        for encoding in tokenizer.encode_batch(texts[start : start + batch_size], add_special_tokens=False):
            seen.update(encoding.ids)
    return np.array(sorted(seen), dtype=np.int64)


def pruned_tokenizer_json(tokenizer_json: str, kept_ids) -> str:
    """The tokenizer (as JSON text) restricted to ``kept_ids``, ids renumbered 0..len-1 in the same order."""
    spec = json.loads(tokenizer_json)
    if spec["model"]["type"] != "Unigram":
        raise ValueError(f"only Unigram vocabularies can be pruned, not {spec['model']['type']}")
    kept_ids = [int(i) for i in kept_ids]
    if kept_ids != sorted(set(kept_ids)) or spec["model"].get("unk_id", 3) not in kept_ids:
        raise ValueError("kept ids must be sorted, unique and include the unknown-piece id")
    vocab = spec["model"]["vocab"]
    spec["model"]["vocab"] = [vocab[i] for i in kept_ids]
    new_id = {old: new for new, old in enumerate(kept_ids)}
    spec["model"]["unk_id"] = new_id[spec["model"].get("unk_id", 3)]
    for token in spec.get("added_tokens", []):
        token["id"] = new_id.get(token["id"])
    spec["added_tokens"] = [t for t in spec.get("added_tokens", []) if t["id"] is not None]
    _renumber_post_processor(spec.get("post_processor"), new_id)
    return json.dumps(spec, ensure_ascii=False)


def _renumber_post_processor(node, new_id: dict) -> None:
    """Special-token ids inside the post-processor (TemplateProcessing or RobertaProcessing)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "ids" and isinstance(value, list):
                node[key] = [new_id[v] for v in value]
            elif key in ("sep", "cls") and isinstance(value, list) and len(value) == 2:
                node[key] = [value[0], new_id[value[1]]]
            else:
                _renumber_post_processor(value, new_id)
    elif isinstance(node, list):
        for item in node:
            _renumber_post_processor(item, new_id)
