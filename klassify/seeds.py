"""The real seed pages in ``../shared/seeds`` (never copied into the repository) with their README labels."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .data import REPO_ROOT
from .labels import LABELS



def default_seeds_dir() -> Path:
    return Path(os.environ.get("KLASSIFY_SEEDS_DIR") or REPO_ROOT.parent / "shared" / "seeds")


def load_seeds(directory: str | os.PathLike | None = None) -> list[dict]:
    """``[{file, text, label, secondary}]`` from the seeds README's table; ``[]`` when absent."""
    directory = Path(directory) if directory else default_seeds_dir()
    readme = directory / "README.md"
    if not readme.exists():
        return []
    seeds = []
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].endswith(".txt"):
            continue
        label = cells[2].split()[0]
        if label not in LABELS or not (directory / cells[0]).exists():
            continue
        secondary = [w for w in re.findall(r"[a-z_]+", cells[3]) if w in LABELS]
        seeds.append({"file": cells[0], "text": (directory / cells[0]).read_bytes(), "label": label, "secondary": secondary})
    return seeds
