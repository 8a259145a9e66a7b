"""Model directories: safe (skops) serialisation, a manifest with sha256 of every file, and load checks.

A model directory holds ``manifest.json`` and one ``*.skops`` file per fitted object. Loading refuses a
directory whose files do not match the manifest's hashes, whose label list differs from ours, that was
written by another scikit-learn minor version, or that contains object types outside our allow-list,
unless the caller passes ``trust=True`` (then it only warns). skops files are loaded without pickle, so an
untrusted file cannot run code merely by being loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .labels import LABELS

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Types beyond skops's defaults that our own artifacts contain.
TRUSTED_TYPES = (
    "klassify.tfidf.KiwiMorphemes",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils._bunch.Bunch",
    "builtins.frozenset",
    "collections.defaultdict",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
)
TRACKED_LIBRARIES = ("klassify", "scikit-learn", "skops", "numpy", "kiwipiepy")


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


def save_model_dir(directory: str | os.PathLike, objects: dict, manifest: dict) -> Path:
    """Write each object as ``<name>.skops`` plus ``manifest.json`` (with hashes) into ``directory``."""
    import skops.io as sio

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, obj in objects.items():
        path = directory / f"{name}.skops"
        sio.dump(obj, path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
        files[path.name] = sha256_file(path)
    full = {
        "format_version": FORMAT_VERSION,
        "labels": list(LABELS),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
        **manifest,
        "files": files,
    }
    (directory / MANIFEST).write_text(json.dumps(full, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return directory


def read_manifest(directory: Path) -> dict:
    try:
        return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{directory / MANIFEST}: unreadable manifest ({e})") from e


def load_model_dir(directory: str | os.PathLike | None, *, trust: bool = False) -> tuple[dict, dict, Path]:
    """Verify and load a model directory → ``(objects by name, manifest, path)``."""
    import skops.io as sio

    directory = resolve_model_dir(directory)
    manifest = read_manifest(directory)
    problems = check_manifest(directory, manifest)
    if problems:
        message = f"model at {directory} failed its checks: " + "; ".join(problems)
        if not trust:
            raise ModelLoadError(message + ". Retrain it, or pass trust=True (CLI: --trust-model) if you trust its source.")
        warnings.warn(message, stacklevel=2)
    objects = {}
    for filename in manifest.get("files", {}):
        path = directory / filename
        untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
        if untrusted and not trust:
            raise ModelLoadError(f"{path} contains types klassify does not trust: {', '.join(untrusted)}")
        objects[Path(filename).stem] = sio.load(path, trusted=list(TRUSTED_TYPES) + untrusted)
    return objects, manifest, directory


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
    built = manifest.get("versions", {}).get("scikit-learn", "")
    here = library_versions()["scikit-learn"]
    if built.split(".")[:2] != here.split(".")[:2]:
        problems.append(f"built with scikit-learn {built}, this environment has {here}")
    return problems
