import json
from pathlib import Path

import pytest

from klassify.seeds import load_seeds
from klassify.training import TrainingArguments, train

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def seeds():
    found = load_seeds()
    if not found:
        pytest.skip("../shared/seeds is absent")
    return {s["file"][:3]: s for s in found}


@pytest.fixture(scope="session")
def written_rows():
    return [json.loads(l) for l in (REPO / "data" / "labeled" / "written.jsonl").open(encoding="utf-8")]


@pytest.fixture(scope="session")
def augmented_rows():
    return [json.loads(l) for l in (REPO / "data" / "labeled" / "augmented.jsonl").open(encoding="utf-8")]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, written_rows):
    """A model trained in seconds on a small slice of the corpus (no news, one C)."""
    rows, taken = [], {}
    quota = {"train": 10, "dev": 4, "test": 4}
    for r in written_rows:
        key = (r["label"], r["split"])
        if taken.get(key, 0) < quota[r["split"]]:
            taken[key] = taken.get(key, 0) + 1
            rows.append(r)
    root = tmp_path_factory.mktemp("tiny")
    data = root / "tiny.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    args = TrainingArguments(data=str(data), out=str(root / "model"), news_negatives=0, c_grid=(0.3,),
                             seeds_dir=str(root / "no-seeds"), quiet=True, real_pages="none")
    clf, summary = train(args)
    return root / "model", clf, summary
