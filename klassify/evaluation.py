"""Metrics and the evaluation report (per-label P/R/F1, macro-F1, confusion matrix, misclassified pages)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .labels import ARTICLE_LABELS, LABELS, NOT_ARTICLE



ARTICLE_THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.3, 0.71, 0.05), 2))


def blend_scores(gold, shape_score, has_body, conditional, text_not_article, mixes, thresholds=ARTICLE_THRESHOLDS) -> dict:
    """Macro-F1 of each way to decide "is it an article": ``{(mix, threshold): macro-F1}``.

    The article score is the detector's ``shape_score`` blended with the text model's view,
    ``(1 - mix) * shape + mix * (1 - P(not_article))``, cut at ``threshold``; pages without a body are never
    articles, and articles take the text model's top label from ``conditional`` ([N, 6]).

    >>> s = blend_scores(["reward", "not_article"], np.array([0.9, 0.9]), np.array([True, True]),
    ...                  np.eye(6)[[4, 4]], np.array([0.0, 1.0]), mixes=(0.0, 0.5), thresholds=(0.5,))
    >>> s[(0.0, 0.5)] < s[(0.5, 0.5)] == 1.0
    True
    """
    article_labels = np.array(ARTICLE_LABELS)[np.asarray(conditional).argmax(axis=1)]
    scores = {}
    for mix in mixes:
        article = np.where(has_body, (1 - mix) * shape_score + mix * (1 - np.asarray(text_not_article)), 0.0)
        for threshold in thresholds:
            predicted = np.where((article >= threshold) & has_body, article_labels, NOT_ARTICLE)
            scores[(float(mix), float(threshold))] = classification_metrics(gold, list(predicted))["macro_f1"]
    return scores


def best_blend(scores: dict) -> tuple[float, float]:
    """The best ``(mix, threshold)`` of :func:`blend_scores`; ties go to the earliest mix, then to the
    threshold nearest 0.5 (an extreme threshold chosen on few dev pages does not carry over)."""
    top = max(scores.values())
    tied = [key for key, value in scores.items() if value >= top - 1e-9]
    return min((key for key in tied if key[0] == tied[0][0]), key=lambda key: abs(key[1] - 0.5))


def macro_f1_of_codes(gold, predicted, n_labels: int = len(LABELS)) -> float:
    """:func:`classification_metrics`' macro-F1 (over the labels present in ``gold``, rounded the same way) from
    label indices: fast enough to search a large grid of decisions.

    >>> gold, predicted = ["reward", "other", "other", "not_article"], ["reward", "reward", "other", "other"]
    >>> code = {label: i for i, label in enumerate(LABELS)}.get
    >>> fast = macro_f1_of_codes([code(g) for g in gold], [code(p) for p in predicted])
    >>> fast, fast == classification_metrics(gold, predicted)["macro_f1"]
    (0.3889, True)
    """
    gold, predicted = np.asarray(gold), np.asarray(predicted)
    confusion = np.bincount(gold * n_labels + predicted, minlength=n_labels * n_labels).reshape(n_labels, n_labels)
    true_positives, gold_counts = np.diag(confusion), confusion.sum(axis=1)
    denominators = gold_counts + confusion.sum(axis=0)
    f1 = np.divide(2 * true_positives, denominators, out=np.zeros(n_labels), where=denominators > 0)
    present = gold_counts > 0
    return round(float(f1[present].mean()), 4) if present.any() else 0.0


def classification_metrics(gold: list[str], predicted: list[str], labels=LABELS) -> dict:
    """``{n, accuracy, macro_f1, per_label: {label: {precision, recall, f1, support}}, confusion, labels}``.

    ``confusion[i][j]`` counts pages of gold ``labels[i]`` predicted as ``labels[j]``.

    >>> m = classification_metrics(["reward", "other"], ["reward", "reward"])
    >>> m["per_label"]["reward"]["precision"], m["accuracy"]
    (0.5, 0.5)
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = list(labels)
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    present = [i for i, label in enumerate(labels) if label in set(gold)]
    return {
        "n": len(gold),
        "accuracy": round(float(np.mean([g == q for g, q in zip(gold, predicted)])) if gold else 0.0, 4),
        "macro_f1": round(float(np.mean(f[present])) if present else 0.0, 4),
        "per_label": {
            label: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                    "f1": round(float(f[i]), 4), "support": int(s[i])}
            for i, label in enumerate(labels)
        },
        "labels": labels,
        "confusion": confusion_matrix(gold, predicted, labels=labels).tolist(),
    }


def evaluate(classifier, rows: list[dict], *, batch_size: int = 64, show_progress_bar: bool = False):
    """Run ``classifier`` over labeled rows → ``(metrics, predictions)``."""
    predictions = classifier.predict([r["text"] for r in rows], batch_size=batch_size, show_progress_bar=show_progress_bar)
    metrics = classification_metrics([r["label"] for r in rows], [p.label for p in predictions])
    if any(r.get("kind") for r in rows):
        metrics["per_kind"] = per_kind_accuracy(rows, predictions)
    return metrics, predictions


def per_kind_accuracy(rows: list[dict], predictions) -> dict:
    """``{kind: {n, correct, accuracy}}`` over rows that carry a page ``kind`` (real pages do).

    >>> from types import SimpleNamespace as P
    >>> per_kind_accuracy([{"kind": "board_list", "label": "not_article"}], [P(label="other")])
    {'board_list': {'n': 1, 'correct': 0, 'accuracy': 0.0}}
    """
    counts: dict[str, list[int]] = {}
    for row, pred in zip(rows, predictions):
        n_correct = counts.setdefault(row.get("kind") or "unknown", [0, 0])
        n_correct[0] += 1
        n_correct[1] += row["label"] == pred.label
    return {kind: {"n": n, "correct": c, "accuracy": round(c / n, 4)} for kind, (n, c) in sorted(counts.items())}


def format_metrics(metrics: dict) -> str:
    lines = [f"{'label':<12} {'prec':>6} {'rec':>6} {'f1':>6} {'n':>5}"]
    for label, m in metrics["per_label"].items():
        lines.append(f"{label:<12} {m['precision']:>6.3f} {m['recall']:>6.3f} {m['f1']:>6.3f} {m['support']:>5}")
    lines.append(f"{'macro-F1':<12} {'':>6} {'':>6} {metrics['macro_f1']:>6.3f} {metrics['n']:>5}")
    if metrics.get("per_kind"):
        lines.append("")
        lines.append(f"{'page kind':<31} {'correct':>9} {'acc':>6}")
        for kind, m in metrics["per_kind"].items():
            lines.append(f"{kind:<31} {m['correct']:>4}/{m['n']:<4} {m['accuracy']:>6.3f}")
    return "\n".join(lines)


def write_report(directory, metrics: dict, rows: list[dict], predictions, *, title: str) -> Path:
    """metrics.json, confusion.png, misclassified.jsonl and report.md in ``directory``.

    Real pages (``source == "real"``) are listed by id and url only: their texts are copyrighted and
    reports are often committed.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_confusion(metrics, directory / "confusion.png", title=title)
    wrong = [(r, p) for r, p in zip(rows, predictions) if r["label"] != p.label]
    with (directory / "misclassified.jsonl").open("w", encoding="utf-8") as f:
        for row, pred in wrong:
            item = {"id": row["id"], "gold": row["label"], "predicted": pred.label, "score": pred.score,
                    "scores": pred.scores}
            if row.get("source") == "real":
                item |= {"url": row.get("url"), "kind": row.get("kind")}
            else:
                item |= {"evidence": pred.evidence, "text": row["text"]}
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    (directory / "report.md").write_text(
        f"# {title}\n\n```\n{format_metrics(metrics)}\n```\n\n"
        f"Misclassified: {len(wrong)} of {metrics['n']} (see misclassified.jsonl); confusion matrix: confusion.png\n",
        encoding="utf-8",
    )
    return directory


def plot_confusion(metrics: dict, path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, matrix = metrics["labels"], np.array(metrics["confusion"])
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center",
                        color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
