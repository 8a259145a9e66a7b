"""The TF-IDF initiative model: kiwipiepy morphemes + character n-grams → calibrated linear SVM.

It reads the cleaned body (with the title in front) of pages already judged to be articles and returns
probabilities over :data:`~klassify.labels.ARTICLE_LABELS` (the five initiatives and ``other``).
"""

from __future__ import annotations

import json
import re
import threading

import numpy as np

from .labels import ARTICLE_LABELS, NOT_ARTICLE
from .lines import sentence_spans  # noqa: F401  (re-exported: older code imports it from here)

#: Parts of speech that carry topic: common/proper nouns, verb and adjective stems, roots, foreign words.
CONTENT_TAGS = ("NNG", "NNP", "VV", "VA", "XR", "SL", "SH")

_lock = threading.Lock()
_tokenize_lock = threading.Lock()  # the Classifier tokenises the next batch in a background thread
_kiwis: dict = {}


def shared_kiwi(num_workers: int = -1, default_dict: bool = True):
    """One ``Kiwi`` per setting, built once per process and ready to use (~0.6 s, ~1.1 s with the default dictionary).

    The typo and multi-word dictionaries are left out: they cost ~170 MB of memory and did not change
    the morphemes of our pages (checked on 300 labeled pages). ``default_dict=False`` also leaves out
    kiwi's default user dictionary (mostly proper nouns), which halves the load time.
    """
    key = (num_workers, default_dict)
    with _lock:
        if key not in _kiwis:
            from kiwipiepy import Kiwi

            kiwi = Kiwi(num_workers=num_workers, load_typo_dict=False, load_multi_dict=False,
                        load_default_dict=default_dict)
            kiwi.tokenize("청렴")  # kiwi loads its language model on first use: do it now
            _kiwis[key] = kiwi
        return _kiwis[key]


def warm_up_kiwi(num_workers: int = -1, default_dict: bool = True) -> None:
    """Build the shared ``Kiwi`` in a background thread.

    Kiwi holds the GIL while it loads, so this overlaps the load only with GIL-free work (file reads,
    the encoder's tokenizer), not with Python code.
    """
    threading.Thread(target=shared_kiwi, args=(num_workers, default_dict), name="klassify-kiwi", daemon=True).start()


class KiwiMorphemes:
    """Texts → space-joined ``form/TAG`` morphemes of the first ``max_chars`` characters.

    With ``mark_first_line`` the morphemes of the first line (the headline, see
    :meth:`TfidfInitiativeModel.model_text`) get a ``T:`` prefix, so the classifier weighs a word in the
    headline separately from the same word in the body. Tokenises in one batch call so kiwi can use
    ``num_workers`` threads (-1 = all cores, 0 = one thread).

    With ``lead_chars`` the morphemes of the body's first ``lead_chars`` characters get an ``L:`` prefix
    in the same way: the lead names the event, later paragraphs are often background.

    >>> KiwiMorphemes().transform(["청렴 서약\\n청렴 교육을 실시했다"])
    ['T:청렴/NNG T:서약/NNG 청렴/NNG 교육/NNG 실시/NNG']
    >>> KiwiMorphemes(lead_chars=6).transform(["청렴 서약\\n청렴 교육을 실시했다"])
    ['T:청렴/NNG T:서약/NNG L:청렴/NNG L:교육/NNG 실시/NNG']
    """

    def __init__(self, tags=CONTENT_TAGS, max_chars: int = 1500, num_workers: int = -1, mark_first_line: bool = True,
                 lead_chars: int = 0, default_dict: bool = True):
        self.tags = tags
        self.max_chars = max_chars
        self.num_workers = num_workers
        self.mark_first_line = mark_first_line
        self.lead_chars = lead_chars
        self.default_dict = default_dict  # kiwi's default user dictionary (see shared_kiwi)

    def transform(self, texts):
        return [" ".join(term for term, _ in tokens) for tokens in self.analyze(texts)]

    def analyze(self, texts) -> list[list[tuple[str, int]]]:
        """``[(form/TAG, start offset), ...]`` of the content morphemes of each text's first ``max_chars``."""
        keep = set(self.tags)
        clipped = [t[: self.max_chars] if self.max_chars else t for t in texts]
        if not clipped:
            return []
        kiwi = shared_kiwi(self.num_workers, self.default_dict)
        with _tokenize_lock:
            # kiwi refuses batch input in single-thread mode (e.g. on a one-core machine).
            results = list(kiwi.tokenize(clipped)) if kiwi.num_workers > 1 else [kiwi.tokenize(t) for t in clipped]
        out = []
        for text, tokens in zip(clipped, results):
            first_line_end = text.find("\n") if self.mark_first_line else -1
            lead_end = first_line_end + 1 + self.lead_chars if self.lead_chars else -1
            out.append([(f"{_prefix(tok.start, first_line_end, lead_end)}{tok.form}/{tok.tag}", tok.start)
                        for tok in tokens if tok.tag in keep])
        return out


def _prefix(start: int, first_line_end: int, lead_end: int) -> str:
    return "T:" if start < first_line_end else "L:" if start < lead_end else ""


def title_terms(morphemes: str) -> str:
    """The headline's morphemes (``T:`` terms) of a :class:`KiwiMorphemes` output string.

    >>> title_terms("T:청렴/NNG T:서약/NNG L:교육/NNG 교육/NNG")
    'T:청렴/NNG T:서약/NNG'
    """
    return " ".join(t for t in morphemes.split() if t.startswith("T:"))


def title_prefix(title: str | None, body: str) -> str:
    """The title line put in front of the body, unless the body already starts with it."""
    return f"{title}\n" if title and title not in body[:300] else ""


class TfidfInitiativeModel:
    """A fitted TF-IDF model in a compact, pickle-free form, plus what is needed to explain its answers.

    Training uses the scikit-learn pipeline of :func:`klassify.training.build_pipeline`; :meth:`from_pipeline` keeps only
    the two vocabularies, their idf weights, the SVM's weights and the per-class sigmoid calibrators, which
    :meth:`save` writes as JSON + ``.npz`` (no code is executed when loading them).
    """

    labels = ARTICLE_LABELS
    kind = "tfidf"
    FILES = ("initiative.json", "initiative.npz")

    def __init__(self, morphemes: KiwiMorphemes, morph_vectorizer, char_vectorizer, coef, intercept, calib_a, calib_b,
                 classes, title_vectorizer=None, cue_features=None):
        self.morphemes = morphemes
        self.morph_vectorizer = morph_vectorizer
        self.char_vectorizer = char_vectorizer
        # headline morphemes as a block of their own, normalised on their own (None in older models)
        self.title_vectorizer = title_vectorizer
        # where each label's cue words sit (klassify.cues; None in older models)
        self.cue_features = cue_features
        self.coef = np.asarray(coef, dtype=np.float32)  # [classes, morph + char (+ title) (+ cue) features]
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.calib_a = np.asarray(calib_a, dtype=np.float64)
        self.calib_b = np.asarray(calib_b, dtype=np.float64)
        self.classes = list(classes)
        if sorted(set(self.classes) - {NOT_ARTICLE}) != sorted(self.labels):
            raise ValueError(f"training data must contain every article label {self.labels}, got {self.classes}")
        self._order = [self.classes.index(label) for label in self.labels]

    @property
    def predicts_not_article(self) -> bool:
        """Whether the text model also learned ``not_article`` (a seventh class the Classifier can blend
        into the article detector's score, for non-articles whose shape looks like an article)."""
        return NOT_ARTICLE in self.classes

    @classmethod
    def from_pipeline(cls, pipeline) -> "TfidfInitiativeModel":
        from .cues import CueFeatures

        union = pipeline.named_steps["features"]
        steps = dict(union.transformer_list)
        morph = steps["morphemes"]
        morph_tfidf, char_tfidf = morph.named_steps["tfidf"], steps["chars"]
        title_tfidf = steps["title"].named_steps["tfidf"] if "title" in steps else None
        cues = steps.get("cues")
        calibrated = pipeline.named_steps["classifier"].calibrated_classifiers_
        if len(calibrated) != 1:
            raise ValueError("expected CalibratedClassifierCV(ensemble=False)")
        svm = calibrated[0].estimator
        coef = np.array(svm.coef_, dtype=np.float64)
        # The union scaled some blocks by a weight; folding the weights into the coefficients gives the
        # same decisions from unscaled features, so predicting needs no extra setting.
        widths = {"morphemes": len(morph_tfidf.vocabulary_), "chars": len(char_tfidf.vocabulary_),
                  "title": len(title_tfidf.vocabulary_) if title_tfidf else 0,
                  "cues": len(cues.names) if cues is not None else 0}
        start = 0
        for name, _ in union.transformer_list:
            coef[:, start : start + widths[name]] *= (union.transformer_weights or {}).get(name, 1.0)
            start += widths[name]
        return cls(
            KiwiMorphemes(**morph.named_steps["kiwi"].get_params()),
            _vectorizer_from_state(_vectorizer_state(morph_tfidf), morph_tfidf.idf_),
            _vectorizer_from_state(_vectorizer_state(char_tfidf), char_tfidf.idf_),
            coef, svm.intercept_,
            [c.a_ for c in calibrated[0].calibrators], [c.b_ for c in calibrated[0].calibrators],
            pipeline.classes_,
            _vectorizer_from_state(_vectorizer_state(title_tfidf), title_tfidf.idf_) if title_tfidf else None,
            CueFeatures.from_state(cues.state()) if cues is not None else None,
        )

    @staticmethod
    def model_text(title: str | None, body: str, *, max_chars: int = 6000) -> str:
        """What the model reads: title, then body, clipped (char n-grams of the lead carry the topic)."""
        return (title_prefix(title, body) + body)[:max_chars]

    def prepare(self, texts) -> list:
        """The slow, GIL-free part of prediction (kiwi), which the Classifier runs one batch ahead."""
        return self.morphemes.analyze(list(texts))

    def predict_proba(self, texts, *, return_analyses: bool = False, prepared=None):
        """Calibrated probabilities ``[N, 6]`` in :data:`ARTICLE_LABELS` order (given that it is an article).

        With ``return_analyses=True`` also returns each text's morphemes, for :meth:`evidence`;
        ``prepared`` is :meth:`prepare`'s output for the same texts.
        """
        proba, _, analyses = self.predict_proba_with_not_article(texts, prepared=prepared)
        return (proba, analyses) if return_analyses else proba

    def predict_proba_with_not_article(self, texts, *, prepared=None):
        """``(article-label probabilities [N, 6], P(not_article) [N], analyses)``; P(not_article) is 0 for
        models trained without that class."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.labels))), np.zeros(0), []
        analyses = prepared if prepared is not None else self.prepare(texts)
        proba = self._class_proba(texts, analyses)
        not_article = proba[:, self.classes.index(NOT_ARTICLE)] if self.predicts_not_article else np.zeros(len(texts))
        article = proba[:, self._order]
        total = article.sum(axis=1, keepdims=True)
        article = np.divide(article, total, out=np.full_like(article, 1 / article.shape[1]), where=total > 0)
        return article, not_article, analyses

    def _class_proba(self, texts: list[str], analyses) -> np.ndarray:
        """Calibrated probabilities over :attr:`classes`, in that order."""
        from scipy.sparse import hstack

        docs = [" ".join(term for term, _ in a) for a in analyses]
        blocks = [self.morph_vectorizer.transform(docs), self.char_vectorizer.transform(texts)]
        if self.title_vectorizer is not None:
            blocks.append(self.title_vectorizer.transform([title_terms(d) for d in docs]))
        if self.cue_features is not None:
            blocks.append(self.cue_features.transform(texts))
        features = hstack(blocks).tocsr()
        decision = features @ self.coef.T + self.intercept
        # scikit-learn's sigmoid calibration, one-vs-rest, then normalised (as CalibratedClassifierCV does)
        proba = 1.0 / (1.0 + np.exp(self.calib_a * decision + self.calib_b))
        total = proba.sum(axis=1, keepdims=True)
        return np.divide(proba, total, out=np.full_like(proba, 1 / proba.shape[1]), where=total > 0)

    def evidence(self, title: str | None, body: str, analysis, label: str) -> str | None:
        """The body sentence whose morphemes push hardest towards ``label`` (morpheme weights of the SVM).

        Only the part of the text kiwi read (``morphemes.max_chars``) can be chosen; ties go to the
        earlier sentence.
        """
        if label not in self.labels or not analysis:
            return None
        offset = len(title_prefix(title, body))
        weights = self.coef[self.classes.index(label)]
        vocabulary = self.morph_vectorizer.vocabulary
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
                          "mark_first_line": self.morphemes.mark_first_line, "lead_chars": self.morphemes.lead_chars,
                          "default_dict": self.morphemes.default_dict},
            "morph_vectorizer": self.morph_vectorizer.state(),
            "char_vectorizer": self.char_vectorizer.state(),
        }
        extra = {}
        if self.title_vectorizer is not None:
            meta["title_vectorizer"] = self.title_vectorizer.state()
            extra["title_idf"] = self.title_vectorizer.idf
        if self.cue_features is not None:
            meta["cue_features"] = self.cue_features.state()
        (directory / self.FILES[0]).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.savez_compressed(
            directory / self.FILES[1], coef=self.coef, intercept=self.intercept, calib_a=self.calib_a,
            calib_b=self.calib_b, morph_idf=self.morph_vectorizer.idf, char_idf=self.char_vectorizer.idf, **extra,
        )
        return list(self.FILES)

    @classmethod
    def load(cls, directory) -> "TfidfInitiativeModel":
        from pathlib import Path

        from .cues import CueFeatures

        directory = Path(directory)
        meta = json.loads((directory / cls.FILES[0]).read_text(encoding="utf-8"))
        with np.load(directory / cls.FILES[1], allow_pickle=False) as arrays:
            a = {k: arrays[k] for k in arrays.files}
        morphemes = KiwiMorphemes(tags=tuple(meta["morphemes"]["tags"]), max_chars=meta["morphemes"]["max_chars"],
                                  mark_first_line=meta["morphemes"]["mark_first_line"],
                                  lead_chars=meta["morphemes"].get("lead_chars", 0),
                                  default_dict=meta["morphemes"].get("default_dict", True))
        warm_up_kiwi(morphemes.num_workers, morphemes.default_dict)
        return cls(
            morphemes,
            _vectorizer_from_state(meta["morph_vectorizer"], a["morph_idf"]),
            _vectorizer_from_state(meta["char_vectorizer"], a["char_idf"]),
            a["coef"], a["intercept"], a["calib_a"], a["calib_b"], meta["classes"],
            _vectorizer_from_state(meta["title_vectorizer"], a["title_idf"]) if "title_vectorizer" in meta else None,
            CueFeatures.from_state(meta["cue_features"]) if "cue_features" in meta else None,
        )


_VECTORIZER_PARAMS = ("analyzer", "ngram_range", "lowercase", "sublinear_tf", "norm", "use_idf", "smooth_idf")


def _vectorizer_state(vectorizer) -> dict:
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    return {"params": {k: getattr(vectorizer, k) for k in _VECTORIZER_PARAMS}, "vocabulary": vocabulary}


def _vectorizer_from_state(state: dict, idf: np.ndarray) -> "SparseTfidf":
    params = state["params"]
    if params["norm"] != "l2" or not params["use_idf"] or params["analyzer"] not in ("char_wb", "word"):
        raise ValueError(f"unsupported vectorizer settings {params}")
    return SparseTfidf(state["vocabulary"], idf, analyzer=params["analyzer"], ngram_range=tuple(params["ngram_range"]),
                       lowercase=params["lowercase"], sublinear_tf=params["sublinear_tf"])


class SparseTfidf:
    """The ``transform`` of a fitted scikit-learn ``TfidfVectorizer`` (``char_wb`` n-grams, or whitespace
    tokens and their n-grams), l2-normalised, with NumPy and SciPy only.

    Prediction never imports scikit-learn: that saves ~130 MB of memory and ~1 s of start-up per run.
    A test checks the output against scikit-learn's on real pages.
    """

    _WHITE_SPACES = re.compile(r"\s\s+")

    def __init__(self, vocabulary, idf, *, analyzer: str, ngram_range, lowercase: bool, sublinear_tf: bool):
        self.vocabulary = {term: i for i, term in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.analyzer, self.ngram_range = analyzer, tuple(ngram_range)
        self.lowercase, self.sublinear_tf = lowercase, sublinear_tf

    def terms(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        return self._char_wb(text) if self.analyzer == "char_wb" else self._word_ngrams(text.split())

    def _char_wb(self, text: str) -> list[str]:
        # scikit-learn's _char_wb_ngrams: n-grams inside each space-padded word
        low, high = self.ngram_range
        grams = []
        for word in self._WHITE_SPACES.sub(" ", text).split():
            word = f" {word} "
            for n in range(low, high + 1):
                grams.extend(word[i : i + n] for i in range(max(len(word) - n + 1, 1)))
                if len(word) <= n:
                    break
        return grams

    def _word_ngrams(self, tokens: list[str]) -> list[str]:
        low, high = self.ngram_range
        grams = list(tokens) if low == 1 else []
        for n in range(max(low, 2), high + 1):
            grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        return grams

    def state(self) -> dict:
        params = {"analyzer": self.analyzer, "ngram_range": list(self.ngram_range), "lowercase": self.lowercase,
                  "sublinear_tf": self.sublinear_tf, "norm": "l2", "use_idf": True, "smooth_idf": True}
        return {"params": params, "vocabulary": sorted(self.vocabulary, key=self.vocabulary.get)}

    def transform(self, texts):
        from scipy.sparse import csr_matrix

        indptr, indices, data = [0], [], []
        vocabulary = self.vocabulary
        for text in texts:
            counts: dict[int, int] = {}
            for term in self.terms(text):
                j = vocabulary.get(term)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            indices.extend(counts)
            data.extend(counts.values())
            indptr.append(len(indices))
        values = np.asarray(data, dtype=np.float64)
        cols = np.asarray(indices, dtype=np.int64)
        if self.sublinear_tf:
            values = np.log(values) + 1.0
        values *= self.idf[cols] if len(cols) else 1.0
        matrix = csr_matrix((values, cols, np.asarray(indptr)), shape=(len(indptr) - 1, len(self.idf)))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        matrix.data /= np.repeat(norms, np.diff(matrix.indptr))
        return matrix
