"""The TF-IDF initiative model: kiwipiepy morphemes + character n-grams → calibrated linear SVM.

It reads the cleaned body (with the title in front) of pages already judged to be articles and returns
probabilities over :data:`~klassify.labels.ARTICLE_LABELS` (the five initiatives and ``other``).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .labels import ARTICLE_LABELS

#: Parts of speech that carry topic: common/proper nouns, verb and adjective stems, roots, foreign words.
CONTENT_TAGS = ("NNG", "NNP", "VV", "VA", "XR", "SL", "SH")

_lock = threading.Lock()


@lru_cache(maxsize=4)
def shared_kiwi(num_workers: int = -1):
    """One ``Kiwi`` per worker count, built once per process (loading its model takes ~1 s)."""
    from kiwipiepy import Kiwi

    with _lock:
        return Kiwi(num_workers=num_workers)


class KiwiMorphemes(BaseEstimator, TransformerMixin):
    """Texts → space-joined ``form/TAG`` morphemes of the first ``max_chars`` characters.

    Tokenises in one batch call so kiwi can use ``num_workers`` threads (-1 = all cores, 0 = one thread).

    >>> KiwiMorphemes().transform(["청렴 교육을 실시했다"])
    ['청렴/NNG 교육/NNG 실시/NNG']
    """

    def __init__(self, tags=CONTENT_TAGS, max_chars: int = 1500, num_workers: int = -1):
        self.tags = tags
        self.max_chars = max_chars
        self.num_workers = num_workers

    def fit(self, texts, y=None):
        return self

    def transform(self, texts):
        keep = set(self.tags)
        clipped = [t[: self.max_chars] if self.max_chars else t for t in texts]
        if not clipped:
            return []
        kiwi = shared_kiwi(self.num_workers)
        # kiwi refuses batch input in single-thread mode (e.g. on a one-core machine).
        results = kiwi.tokenize(clipped) if kiwi.num_workers > 1 else [kiwi.tokenize(t) for t in clipped]
        return [" ".join(f"{tok.form}/{tok.tag}" for tok in tokens if tok.tag in keep) for tokens in results]


def build_pipeline(*, C: float = 0.5, max_chars: int = 1500, random_state: int = 0):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    morphemes = Pipeline(
        [
            ("kiwi", KiwiMorphemes(max_chars=max_chars)),
            ("tfidf", TfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), sublinear_tf=True,
                                      min_df=2, max_features=30_000, dtype=np.float32)),
        ]
    )
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2, max_features=50_000,
                            dtype=np.float32)
    svm = LinearSVC(C=C, class_weight="balanced", random_state=random_state)
    return Pipeline(
        [
            ("features", FeatureUnion([("morphemes", morphemes), ("chars", chars)])),
            # ensemble=False: one SVM on all training data, calibrated on 5-fold out-of-fold scores
            # (a fifth of the artifact size of keeping all five fold models).
            ("classifier", CalibratedClassifierCV(svm, method="sigmoid", cv=5, ensemble=False)),
        ]
    )


_SENTENCE_SPLIT = re.compile(r"(?<=[다요][.!?])\s+|(?<=[.!?][\"'”’])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a body (Korean sentence ends and line breaks).

    >>> split_sentences("시는 교육을 열었다. 200명이 참석했다.\\n▲ 사진")
    ['시는 교육을 열었다.', '200명이 참석했다.', '▲ 사진']
    """
    return [s.strip() for s in _SENTENCE_SPLIT.split(text) if s and s.strip()]


class TfidfInitiativeModel:
    """A fitted TF-IDF pipeline plus what is needed to explain its answers."""

    labels = ARTICLE_LABELS
    kind = "tfidf"

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self._evidence_weights = None

    @staticmethod
    def model_text(title: str | None, body: str, *, max_chars: int = 6000) -> str:
        """What the model reads: title, then body, clipped (char n-grams of the lead carry the topic)."""
        text = f"{title}\n{body}" if title and title not in body[:300] else body
        return text[:max_chars]

    def fit(self, texts, labels):
        self.pipeline.fit(list(texts), list(labels))
        self._check_classes()
        return self

    def predict_proba(self, texts) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.labels)))
        return self.reorder(self.pipeline.predict_proba(texts))

    def evidence(self, body: str, label: str) -> str | None:
        """The body sentence whose character n-grams push hardest towards ``label``."""
        sentences = [s for s in split_sentences(body) if len(s) >= 10]
        if not sentences or label not in self.labels:
            return None
        chars = self.pipeline.named_steps["features"].transformer_list[1][1]
        weights = self._char_weights()[list(self.pipeline.classes_).index(label)]
        scores = chars.transform(sentences) @ weights
        return sentences[int(np.argmax(scores))]

    def _char_weights(self) -> np.ndarray:
        if self._evidence_weights is None:
            union = self.pipeline.named_steps["features"]
            n_morph = len(union.transformer_list[0][1].named_steps["tfidf"].vocabulary_)
            calibrated = self.pipeline.named_steps["classifier"].calibrated_classifiers_
            coef = np.mean([c.estimator.coef_ for c in calibrated], axis=0)
            self._evidence_weights = coef[:, n_morph:]
        return self._evidence_weights

    def _check_classes(self):
        classes = tuple(self.pipeline.classes_)
        if classes != tuple(sorted(self.labels)):
            raise ValueError(f"training data must contain every article label {self.labels}, got {classes}")

    def reorder(self, proba: np.ndarray) -> np.ndarray:
        """Columns of ``pipeline.predict_proba`` (sorted class names) → :data:`ARTICLE_LABELS` order."""
        order = [list(self.pipeline.classes_).index(label) for label in self.labels]
        return proba[:, order]
