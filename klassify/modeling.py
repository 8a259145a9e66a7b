"""The facade: :class:`Classifier` runs a page's whole path and returns :class:`Prediction` objects.

read → clean (:mod:`klassify.reading`) → is it an article (:mod:`klassify.article`) → which initiative
(an initiative model such as :mod:`klassify.tfidf`) → evidence.

>>> clf = Classifier.load()                                   # doctest: +SKIP
>>> clf.predict("…청렴 서약식을 열었다고 밝혔다…").label     # doctest: +SKIP
'declaration'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .article import ArticleDetector
from .artifacts import ModelLoadError, verify_model_dir, write_manifest
from .labels import ARTICLE_LABELS, INITIATIVES, LABELS, NOT_ARTICLE
from .reading import Page, read_page

_OTHER = ARTICLE_LABELS.index("other")


@dataclass
class Prediction:
    """One page's answer. ``scores`` are joint probabilities over all 7 labels (they sum to 1)."""

    label: str
    score: float
    scores: dict[str, float]
    is_article: bool
    article_score: float
    secondary: list[str] = field(default_factory=list)
    evidence: str | None = None
    title: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class Classifier:
    """An article detector and an initiative model, with the thresholds chosen on dev."""

    labels: tuple[str, ...] = LABELS

    def __init__(self, detector, initiative_model, *, article_threshold: float = 0.5,
                 secondary_threshold: float = 0.5, text_article_weight: float = 0.0, other_weight: float = 1.0,
                 manifest: dict | None = None, path=None):
        self.detector = detector  # an article.ArticleDetector over article.page_features
        self.model = initiative_model
        self.article_threshold = article_threshold
        # Share of the article score that comes from the text model's own not_article class (models that
        # learned one): the detector sees a page's shape, the text model its words (minutes, forms, guides).
        self.text_article_weight = text_article_weight
        self.secondary_threshold = secondary_threshold
        # The label is the initiative probabilities' argmax with `other` weighted by this (chosen on real dev):
        # real pages with a broad headline over a concrete initiative drift towards `other`. Scores are not changed.
        self.other_weight = other_weight
        self.manifest = manifest or {}
        self.path = path

    # --- persistence -------------------------------------------------------------------------

    @classmethod
    def load(cls, path=None, *, trust: bool = False, backend: str | None = None,
             device: str | None = None) -> "Classifier":
        """Load a model directory (``None`` → the default model in ``models/``; a name → ``models/<name>``).

        ``backend`` overrides how an encoder model runs: ``"onnx"`` (int8, CPU) or ``"torch"`` (fp32);
        ``device`` (``"cpu"``, ``"cuda"``, ``"auto"``) is where torch runs it; a GPU device implies torch.
        Both are ignored by the TF-IDF model.
        """
        manifest, directory = verify_model_dir(path, trust=trust)
        model_type = manifest.get("model_type")
        thresholds = manifest.get("thresholds", {})
        if model_type == "stack":
            members = [cls.load(directory / name, trust=trust, backend=backend, device=device)
                       for name in manifest.get("members", ())]
            if len(members) != 2:
                raise ModelLoadError(f"{directory}: a stack needs 2 members, its manifest lists {len(members)}")
            return StackedClassifier(
                *members, article_share=thresholds["article_share"], initiative_share=thresholds["initiative_share"],
                detector_share=thresholds.get("detector_share", 0.0),
                article_threshold=thresholds.get("article", 0.5), secondary_threshold=thresholds.get("secondary", 0.5),
                other_weight=thresholds.get("other_weight", 1.0), manifest=manifest, path=directory)
        detector = ArticleDetector.load(directory)
        if model_type == "tfidf":
            from .tfidf import TfidfInitiativeModel

            model = TfidfInitiativeModel.load(directory)
        elif model_type == "bert":
            from .bert import BertInitiativeModel

            try:
                model = BertInitiativeModel.load(directory, backend=backend, device=device)
            except ImportError as e:
                raise ModelLoadError(f"{directory} is an encoder model, which needs torch, transformers and "
                                     f"onnxruntime (core dependencies: pip install klassify) ({e})") from e
        else:
            raise ModelLoadError(f"{directory}: unknown model type {model_type!r}")
        return cls(
            detector, model,
            article_threshold=thresholds.get("article", 0.5),
            secondary_threshold=thresholds.get("secondary", 0.5),
            text_article_weight=thresholds.get("text_article_weight", 0.0),
            other_weight=thresholds.get("other_weight", 1.0),
            manifest=manifest, path=directory,
        )

    def save(self, path, manifest: dict | None = None):
        info = {
            "model_type": self.model.kind,
            "thresholds": {"article": self.article_threshold, "secondary": self.secondary_threshold,
                           "text_article_weight": self.text_article_weight, "other_weight": self.other_weight},
            **(manifest or {}),
        }
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        files = [self.detector.save(directory), *self.model.save(directory)]
        self.path = write_manifest(directory, files, info)
        return self.path

    # --- prediction ---------------------------------------------------------------------------

    def predict(self, inputs, batch_size: int = 32, show_progress_bar: bool = False):
        """Classify one page (str/bytes → :class:`Prediction`) or many (iterable → list).

        Raises :class:`~klassify.reading.PageReadError` if a page cannot be read as text.
        """
        single = _is_single(inputs)
        predictions = self.predict_pages(_read_all(inputs), batch_size=batch_size, show_progress_bar=show_progress_bar)
        return predictions[0] if single else predictions

    def predict_proba(self, inputs, batch_size: int = 32) -> np.ndarray:
        """Joint probabilities ``[N, 7]`` in :attr:`labels` order."""
        pages = _read_all(inputs)
        return np.vstack([self._joint_scores(batch)[0] for batch in _batches(pages, batch_size)] or [np.zeros((0, 7))])

    def predict_pages(self, pages: list[Page], batch_size: int = 32, show_progress_bar: bool = False) -> list[Prediction]:
        """Classify read pages. The slow tokenisation of the next batch runs in a background thread
        while this one is classified (kiwi and the Rust tokenizer release the GIL), so both cores work."""
        from tqdm.auto import tqdm

        out: list[Prediction] = []
        with tqdm(total=len(pages), disable=not show_progress_bar, unit="page") as bar:
            for batch, prepared in run_ahead(_batches(pages, batch_size), self.prepare):
                out.extend(self.predict_prepared(batch, prepared.result()))
                bar.update(len(batch))
        return out

    def prepare(self, pages: list[Page]) -> "PreparedBatch":
        """First half of prediction: the model's tokenisation of the pages that have a body."""
        todo = [i for i, p in enumerate(pages) if p.body]
        texts = [self.model.model_text(pages[i].title, pages[i].body) for i in todo]
        return PreparedBatch(todo, texts, self.model.prepare(texts) if texts else [])

    def predict_prepared(self, pages: list[Page], prepared: "PreparedBatch | None" = None) -> list[Prediction]:
        """Second half: predictions for ``pages`` given :meth:`prepare`'s output for the same pages."""
        return self._predict_batch(pages, prepared)

    def _joint_scores(self, pages: list[Page], prepared: "PreparedBatch | None" = None):
        """→ (joint [N,7], article score [N], conditional initiative probabilities [N,6], analyses [N])."""
        _, article, conditional, analyses = self._scores(pages, prepared)
        return joint_probabilities(article, conditional), article, conditional, analyses

    def _scores(self, pages: list[Page], prepared: "PreparedBatch | None" = None):
        """→ (the detector's shape score [N], article score [N], conditional initiative probabilities [N,6],
        analyses [N])."""
        prepared = prepared if prepared is not None else self.prepare(pages)
        shape = self.detector.score_pages(pages)
        article = shape.copy()
        conditional = np.zeros((len(pages), len(ARTICLE_LABELS)))
        analyses = [None] * len(pages)
        todo, found = prepared.todo, []
        if todo and self.text_article_weight > 0 and getattr(self.model, "predicts_not_article", False):
            conditional[todo], text_not_article, found = self.model.predict_proba_with_not_article(
                prepared.texts, prepared=prepared.tokens)
            w = self.text_article_weight
            article[todo] = (1 - w) * article[todo] + w * (1 - text_not_article)
        elif todo:
            conditional[todo], found = self.model.predict_proba(prepared.texts, return_analyses=True,
                                                                prepared=prepared.tokens)
        for i, analysis in zip(todo, found):
            analyses[i] = analysis
        conditional[[i for i, p in enumerate(pages) if not p.body], ARTICLE_LABELS.index("other")] = 1.0
        return shape, article, conditional, analyses

    def _predict_batch(self, pages: list[Page], prepared: "PreparedBatch | None" = None) -> list[Prediction]:
        joint, article, conditional, analyses = self._joint_scores(pages, prepared)
        out = []
        for page, row, a, q, analysis in zip(pages, joint, article, conditional, analyses):
            label = self.decide(a, q, page)
            is_article = label != NOT_ARTICLE
            secondary = [
                l for l in INITIATIVES
                if is_article and l != label and q[ARTICLE_LABELS.index(l)] >= self.secondary_threshold
            ]
            out.append(Prediction(
                label=label,
                score=round(float(row[LABELS.index(label)]), 4),
                scores={l: round(float(s), 4) for l, s in zip(LABELS, row)},
                is_article=is_article,
                article_score=round(float(a), 4),
                secondary=secondary,
                evidence=self.model.evidence(page.title, page.body, analysis, label) if is_article else None,
                title=page.title,
            ))
        return out

    def decide(self, article_score: float, conditional, page: Page) -> str:
        """The label of one page from its article score and conditional initiative probabilities."""
        if article_score < self.article_threshold or not page.body:
            return NOT_ARTICLE
        return self.initiative_label(conditional)

    def initiative_label(self, conditional) -> str:
        """The article label of one page's conditional probabilities, `other` weighted by ``other_weight``.

        >>> clf = Classifier(None, None, other_weight=0.6)
        >>> clf.initiative_label(np.array([0.3, 0, 0, 0, 0, 0.45]))  # education vs other
        'education'
        """
        weighted = np.array(conditional, dtype=float)
        weighted[_OTHER] *= self.other_weight
        return ARTICLE_LABELS[int(np.argmax(weighted))]


class StackedClassifier(Classifier):
    """Two classifiers blended into one: the article score is ``article_share`` × the first member's plus the
    rest × the second's, the conditional initiative probabilities likewise with ``initiative_share``; then one
    article threshold and one `other` weight, as for a single model. ``detector_share`` of the article score
    comes from the first member's page-shape detector alone, beside the blend: each member's own article score
    leans mostly on its text model's not_article class, which misses page kinds that only their shape gives
    away (tag and reporter pages of teasers cut mid-sentence). All chosen on real dev
    (``train.py --model stack``). Evidence comes from the first member.

    >>> class Fixed(Classifier):
    ...     def __init__(self, shape, article, conditional):
    ...         super().__init__(None, None)
    ...         self.scores = np.array([shape]), np.array([article]), np.array([conditional])
    ...     def prepare(self, pages):
    ...         return None
    ...     def _scores(self, pages, prepared=None):
    ...         return *self.scores, [None]
    >>> tfidf, encoder = Fixed(0.1, 0.3, [0.6, 0, 0, 0, 0, 0.4]), Fixed(0.5, 0.9, [0.2, 0, 0, 0, 0, 0.8])
    >>> stack = StackedClassifier(tfidf, encoder, article_share=0.25, initiative_share=0.5, other_weight=0.6)
    >>> _, article, conditional, _ = stack._joint_scores([read_page("본문")])
    >>> float(article[0]), conditional[0].round(2).tolist(), stack.initiative_label(conditional[0])
    (0.75, [0.4, 0.0, 0.0, 0.0, 0.0, 0.6], 'education')
    >>> stack.detector_share = 0.5  # half the first member's shape score (0.1), half the blend (0.75)
    >>> round(float(stack._joint_scores([read_page("본문")])[1][0]), 3)
    0.425
    """

    member_names = ("tfidf", "bert")

    def __init__(self, first: Classifier, second: Classifier, *, article_share: float, initiative_share: float,
                 detector_share: float = 0.0, article_threshold: float = 0.5, secondary_threshold: float = 0.5,
                 other_weight: float = 1.0, manifest: dict | None = None, path=None):
        super().__init__(first.detector, first.model, article_threshold=article_threshold,
                         secondary_threshold=secondary_threshold, other_weight=other_weight,
                         manifest=manifest, path=path)
        self.members = (first, second)
        self.article_share = article_share
        self.initiative_share = initiative_share
        self.detector_share = detector_share

    def save(self, path, manifest: dict | None = None):
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        for name, member in zip(self.member_names, self.members):
            member.save(directory / name, member_record(member.manifest))
        info = {
            "model_type": "stack",
            "members": list(self.member_names),
            "thresholds": {"article": self.article_threshold, "secondary": self.secondary_threshold,
                           "other_weight": self.other_weight, "article_share": self.article_share,
                           "initiative_share": self.initiative_share, "detector_share": self.detector_share},
            **(manifest or {}),
        }
        self.path = write_manifest(directory, [f"{name}/manifest.json" for name in self.member_names], info)
        return self.path

    def prepare(self, pages: list[Page]) -> tuple:
        return tuple(member.prepare(pages) for member in self.members)

    def _scores(self, pages: list[Page], prepared: tuple | None = None):
        prepared = prepared if prepared is not None else (None,) * len(self.members)
        (shape, a1, q1, analyses), (_, a2, q2, _) = (member._scores(pages, p)
                                                     for member, p in zip(self.members, prepared))
        blend = self.article_share * a1 + (1 - self.article_share) * a2
        article = self.detector_share * shape + (1 - self.detector_share) * blend
        conditional = self.initiative_share * q1 + (1 - self.initiative_share) * q2
        return shape, article, conditional, analyses


def joint_probabilities(article, conditional) -> np.ndarray:
    """``[N, 7]`` in :data:`LABELS` order: each initiative's conditional probability times the article score,
    then not_article as one minus the article score."""
    return np.hstack([article[:, None] * conditional, (1 - article)[:, None]])


_GENERATED = ("format_version", "labels", "created", "versions", "files", "model_type", "thresholds")


def member_record(manifest: dict) -> dict:
    """What a member's manifest keeps when saved again (its training record), less what saving regenerates."""
    return {k: v for k, v in manifest.items() if k not in _GENERATED}


@dataclass
class PreparedBatch:
    """What :meth:`Classifier.prepare` computed for a batch: which pages have a body, their model texts
    and the model's tokens for them."""

    todo: list[int]
    texts: list[str]
    tokens: list


def run_ahead(items, work):
    """Yield ``(item, future of work(item))``, with the next item's work already running in a thread.

    Only one piece of work runs at a time, so it can use a shared tokenizer without racing itself.

    >>> [(x, f.result()) for x, f in run_ahead([1, 2, 3], lambda x: x * 10)]
    [(1, 10), (2, 20), (3, 30)]
    """
    from concurrent.futures import ThreadPoolExecutor

    end = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="klassify-prepare") as pool:
        items = iter(items)
        current = next(items, end)
        pending = pool.submit(work, current) if current is not end else None
        while current is not end:
            upcoming = next(items, end)
            following = pool.submit(work, upcoming) if upcoming is not end else None
            yield current, pending
            current, pending = upcoming, following


def _is_single(inputs) -> bool:
    return isinstance(inputs, (str, bytes, bytearray))


def _read_all(inputs) -> list[Page]:
    """One page (str/bytes) or an iterable of pages → read :class:`Page` objects."""
    return [read_page(x) for x in ([inputs] if _is_single(inputs) else inputs)]


def _batches(items, size: int):
    size = max(int(size), 1)
    for start in range(0, len(items), size):
        yield items[start : start + size]
