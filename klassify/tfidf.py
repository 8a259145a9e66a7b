"""The TF-IDF initiative model: kiwipiepy morphemes + character n-grams → calibrated linear SVM.

It reads the cleaned body (with the title in front) of pages already judged to be articles and returns
probabilities over :data:`~klassify.labels.ARTICLE_LABELS` (the five initiatives and ``other``).
"""

from __future__ import annotations

import json
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
    """One ``Kiwi`` per worker count, built once per process (loading its model takes ~1 s).

    The typo and multi-word dictionaries are left out: they cost ~170 MB of memory and did not change
    the morphemes of our pages (checked on 300 labeled pages).
    """
    from kiwipiepy import Kiwi

    with _lock:
        return Kiwi(num_workers=num_workers, load_typo_dict=False, load_multi_dict=False)


class KiwiMorphemes(BaseEstimator, TransformerMixin):
    """Texts → space-joined ``form/TAG`` morphemes of the first ``max_chars`` characters.

    With ``mark_first_line`` the morphemes of the first line (the headline, see
    :meth:`TfidfInitiativeModel.model_text`) get a ``T:`` prefix, so the classifier weighs a word in the
    headline separately from the same word in the body. Tokenises in one batch call so kiwi can use
    ``num_workers`` threads (-1 = all cores, 0 = one thread).

    >>> KiwiMorphemes().transform(["청렴 서약\\n청렴 교육을 실시했다"])
    ['T:청렴/NNG T:서약/NNG 청렴/NNG 교육/NNG 실시/NNG']
    """

    def __init__(self, tags=CONTENT_TAGS, max_chars: int = 1500, num_workers: int = -1, mark_first_line: bool = True):
        self.tags = tags
        self.max_chars = max_chars
        self.num_workers = num_workers
        self.mark_first_line = mark_first_line

    def fit(self, texts, y=None):
        return self

    def transform(self, texts):
        return [" ".join(term for term, _ in tokens) for tokens in self.analyze(texts)]

    def analyze(self, texts) -> list[list[tuple[str, int]]]:
        """``[(form/TAG, start offset), ...]`` of the content morphemes of each text's first ``max_chars``."""
        keep = set(self.tags)
        clipped = [t[: self.max_chars] if self.max_chars else t for t in texts]
        if not clipped:
            return []
        kiwi = shared_kiwi(self.num_workers)
        # kiwi refuses batch input in single-thread mode (e.g. on a one-core machine).
        results = kiwi.tokenize(clipped) if kiwi.num_workers > 1 else [kiwi.tokenize(t) for t in clipped]
        out = []
        for text, tokens in zip(clipped, results):
            first_line_end = text.find("\n") if self.mark_first_line else -1
            out.append([(f"{'T:' if tok.start < first_line_end else ''}{tok.form}/{tok.tag}", tok.start)
                        for tok in tokens if tok.tag in keep])
        return out


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


_SENTENCE_END = re.compile(r"(?<=[다요][.!?])\s+|(?<=[.!?][\"'”’])\s+|\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence (Korean sentence ends and line breaks), whitespace trimmed.

    >>> t = "시는 교육을 열었다. 200명이 참석했다.\\n▲ 사진"
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['시는 교육을 열었다.', '200명이 참석했다.', '▲ 사진']
    """
    spans, start = [], 0
    for match in [*_SENTENCE_END.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((start + lead, start + len(piece.rstrip())))
        if match:
            start = match.end()
    return spans


def title_prefix(title: str | None, body: str) -> str:
    """The title line put in front of the body, unless the body already starts with it."""
    return f"{title}\n" if title and title not in body[:300] else ""


class TfidfInitiativeModel:
    """A fitted TF-IDF model in a compact, pickle-free form, plus what is needed to explain its answers.

    Training uses the scikit-learn pipeline of :func:`build_pipeline`; :meth:`from_pipeline` keeps only
    the two vocabularies, their idf weights, the SVM's weights and the per-class sigmoid calibrators, which
    :meth:`save` writes as JSON + ``.npz`` (no code is executed when loading them).
    """

    labels = ARTICLE_LABELS
    kind = "tfidf"
    FILES = ("initiative.json", "initiative.npz")

    def __init__(self, morphemes: KiwiMorphemes, morph_vectorizer, char_vectorizer, coef, intercept, calib_a, calib_b,
                 classes):
        self.morphemes = morphemes
        self.morph_vectorizer = morph_vectorizer
        self.char_vectorizer = char_vectorizer
        self.coef = np.asarray(coef, dtype=np.float32)  # [classes, morph features + char features]
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.calib_a = np.asarray(calib_a, dtype=np.float64)
        self.calib_b = np.asarray(calib_b, dtype=np.float64)
        self.classes = list(classes)
        if sorted(self.classes) != sorted(self.labels):
            raise ValueError(f"training data must contain every article label {self.labels}, got {self.classes}")
        self._order = [self.classes.index(label) for label in self.labels]

    @classmethod
    def from_pipeline(cls, pipeline) -> "TfidfInitiativeModel":
        union = pipeline.named_steps["features"]
        morph = union.transformer_list[0][1]
        calibrated = pipeline.named_steps["classifier"].calibrated_classifiers_
        if len(calibrated) != 1:
            raise ValueError("expected CalibratedClassifierCV(ensemble=False)")
        svm = calibrated[0].estimator
        return cls(
            morph.named_steps["kiwi"], morph.named_steps["tfidf"], union.transformer_list[1][1],
            svm.coef_, svm.intercept_,
            [c.a_ for c in calibrated[0].calibrators], [c.b_ for c in calibrated[0].calibrators],
            pipeline.classes_,
        )

    @staticmethod
    def model_text(title: str | None, body: str, *, max_chars: int = 6000) -> str:
        """What the model reads: title, then body, clipped (char n-grams of the lead carry the topic)."""
        return (title_prefix(title, body) + body)[:max_chars]

    def predict_proba(self, texts, *, return_analyses: bool = False):
        """Calibrated probabilities ``[N, 6]`` in :data:`ARTICLE_LABELS` order.

        With ``return_analyses=True`` also returns each text's morphemes, for :meth:`evidence`.
        """
        from scipy.sparse import hstack

        texts = list(texts)
        if not texts:
            empty = np.zeros((0, len(self.labels)))
            return (empty, []) if return_analyses else empty
        analyses = self.morphemes.analyze(texts)
        morph = self.morph_vectorizer.transform([" ".join(term for term, _ in a) for a in analyses])
        features = hstack([morph, self.char_vectorizer.transform(texts)]).tocsr()
        decision = features @ self.coef.T + self.intercept
        # scikit-learn's sigmoid calibration, one-vs-rest, then normalised (as CalibratedClassifierCV does)
        proba = 1.0 / (1.0 + np.exp(self.calib_a * decision + self.calib_b))
        total = proba.sum(axis=1, keepdims=True)
        proba = np.divide(proba, total, out=np.full_like(proba, 1 / proba.shape[1]), where=total > 0)
        proba = proba[:, self._order]
        return (proba, analyses) if return_analyses else proba

    def evidence(self, title: str | None, body: str, analysis, label: str) -> str | None:
        """The body sentence whose morphemes push hardest towards ``label`` (morpheme weights of the SVM).

        Only the part of the text kiwi read (``morphemes.max_chars``) can be chosen; ties go to the
        earlier sentence.
        """
        if label not in self.labels or not analysis:
            return None
        offset = len(title_prefix(title, body))
        weights = self.coef[self.classes.index(label)]
        vocabulary = self.morph_vectorizer.vocabulary_
        spans = [(a, b) for a, b in sentence_spans(body) if b - a >= 10]
        scores = [0.0] * len(spans)
        k = 0
        for term, start in analysis:
            start -= offset
            while k < len(spans) and spans[k][1] <= start:
                k += 1
            if k == len(spans):
                break
            if start >= spans[k][0] and term in vocabulary:
                scores[k] += weights[vocabulary[term]]
        if not spans or max(scores) <= 0:
            return None
        a, b = spans[int(np.argmax(scores))]
        return body[a:b]

    # --- persistence --------------------------------------------------------------------------

    def save(self, directory) -> list[str]:
        from pathlib import Path

        directory = Path(directory)
        meta = {
            "classes": self.classes,
            "morphemes": {"tags": list(self.morphemes.tags), "max_chars": self.morphemes.max_chars,
                          "mark_first_line": self.morphemes.mark_first_line},
            "morph_vectorizer": _vectorizer_state(self.morph_vectorizer),
            "char_vectorizer": _vectorizer_state(self.char_vectorizer),
        }
        (directory / self.FILES[0]).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.savez_compressed(
            directory / self.FILES[1], coef=self.coef, intercept=self.intercept, calib_a=self.calib_a,
            calib_b=self.calib_b, morph_idf=self.morph_vectorizer.idf_.astype(np.float32),
            char_idf=self.char_vectorizer.idf_.astype(np.float32),
        )
        return list(self.FILES)

    @classmethod
    def load(cls, directory) -> "TfidfInitiativeModel":
        from pathlib import Path

        directory = Path(directory)
        meta = json.loads((directory / cls.FILES[0]).read_text(encoding="utf-8"))
        with np.load(directory / cls.FILES[1], allow_pickle=False) as arrays:
            a = {k: arrays[k] for k in arrays.files}
        morphemes = KiwiMorphemes(tags=tuple(meta["morphemes"]["tags"]), max_chars=meta["morphemes"]["max_chars"],
                                  mark_first_line=meta["morphemes"]["mark_first_line"])
        return cls(
            morphemes,
            _vectorizer_from_state(meta["morph_vectorizer"], a["morph_idf"]),
            _vectorizer_from_state(meta["char_vectorizer"], a["char_idf"]),
            a["coef"], a["intercept"], a["calib_a"], a["calib_b"], meta["classes"],
        )


_VECTORIZER_PARAMS = ("analyzer", "ngram_range", "token_pattern", "lowercase", "sublinear_tf", "norm", "use_idf", "smooth_idf")


def _vectorizer_state(vectorizer) -> dict:
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    params = {k: getattr(vectorizer, k) for k in _VECTORIZER_PARAMS}
    return {"params": params, "vocabulary": vocabulary}


def _vectorizer_from_state(state: dict, idf: np.ndarray):
    from sklearn.feature_extraction.text import TfidfVectorizer

    params = dict(state["params"])
    params["ngram_range"] = tuple(params["ngram_range"])
    vectorizer = TfidfVectorizer(dtype=np.float32, **params)
    vectorizer.vocabulary_ = {term: i for i, term in enumerate(state["vocabulary"])}
    vectorizer.idf_ = idf.astype(np.float64)
    return vectorizer
