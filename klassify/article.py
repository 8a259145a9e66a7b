"""Is it an article? A trained detector over page-level features of the raw page and its extraction.

The features describe the page's shape (how much Korean prose, how long the longest prose run, how many
list rows, dates, menu words, English lines...), so the detector generalises across sites instead of
memorising words. The model itself is a scikit-learn gradient-boosting classifier over these features,
trained on the labeled corpus (``not_article`` against every other label) in :mod:`klassify.training`.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .lines import HANGUL, LineKind, ends_sentence
from .reading import Page

FEATURE_NAMES: tuple[str, ...] = (
    "log_raw_chars",
    "log_nonblank_lines",
    "log_body_chars",
    "body_share",
    "prose_line_share",
    "log_body_prose_chars",
    "row_line_share",
    "boiler_line_share",
    "short_text_line_share",
    "english_line_share",
    "date_line_share",
    "number_start_line_share",
    "log_mean_line_chars",
    "log_body_sentences",
    "body_hangul_share",
    "body_prose_line_share",
    "body_has_quote",
    "log_reporter_mentions",
    "log_report_verbs",
    "is_html",
    "menu_word_density",
    "separator_line_share",
    "log_prose_blocks",
    "log_body_lines",
    "body_digit_share",
    "log_max_prose_line_chars",
    "markup_char_share",
    "question_answer_line_share",
    # Appended (older detectors read their features by name): lines of 30+ characters cut off before a
    # sentence ends, as on tag and reporter pages running several teasers together ("...을 열었다고 밝").
    "cut_long_line_share",
    "cut_long_body_line_share",  # the same within the extracted body, a line ending in "…" counted as cut
)

_DATE = re.compile(r"(19|20)\d{2}\s*[-./년]\s*\d{1,2}")
_NUMBER_START = re.compile(r"^\d{1,7}\s")
_SENTENCE = re.compile(r"(다|요)[.!?]?[\"'”’)]*(\s|$)")
_REPORT_VERBS = re.compile(r"밝혔다|말했다|전했다|설명했다|강조했다|했다|됐다|이다|예정이다|계획이다")
_MENU_WORDS = re.compile(r"로그인|회원가입|검색|메뉴|바로가기|이전|다음|목록|전체보기|더보기|홈|사이트맵|닫기|처음|맨끝")
_DIGIT = re.compile(r"\d")
_MARKUP = re.compile(r'[{}\[\]<>=":]')
_ELLIPSIS_END = re.compile(r"(…|\.\s?\.\s?\.)\s*$")
_QA_LINE = re.compile(r"^(Q|A|Q\d+|질문|답변|문|답)\s*[.:)\]]|^\[?(Q|A)\]?\s")


def page_features(page: Page) -> np.ndarray:
    """The detector's feature vector for one page (see :data:`FEATURE_NAMES`)."""
    kinds = page.kinds
    nonblank = [i for i, k in enumerate(kinds) if k is not LineKind.BLANK]
    n = max(len(nonblank), 1)
    count = {kind: 0 for kind in LineKind}
    for i in nonblank:
        count[kinds[i]] += 1
    lines = page.lines
    raw_chars = sum(len(lines[i]) for i in nonblank)
    body = page.body
    body_lines = page.kept_lines
    body_prose = [i for i in body_lines if kinds[i] is LineKind.PROSE]
    prose_chars = sum(len(lines[i]) for i in body_prose)
    return np.array(
        [
            math.log1p(raw_chars),
            math.log1p(len(nonblank)),
            math.log1p(len(body)),
            len(body) / max(raw_chars, 1),
            count[LineKind.PROSE] / n,
            math.log1p(prose_chars),
            count[LineKind.ROW] / n,
            (count[LineKind.BOILER] + count[LineKind.SECTION_END]) / n,
            sum(1 for i in nonblank if kinds[i] is LineKind.TEXT and len(lines[i]) < 20) / n,
            count[LineKind.ENGLISH] / n,
            sum(1 for i in nonblank if _DATE.search(lines[i])) / n,
            sum(1 for i in nonblank if _NUMBER_START.match(lines[i])) / n,
            math.log1p(raw_chars / n),
            math.log1p(len(_SENTENCE.findall(body))),
            len(HANGUL.findall(body)) / max(len(body), 1),
            len(body_prose) / max(len(body_lines), 1),
            float(any(q in body for q in "“\"")),
            math.log1p(min(sum(line.count("기자") for line in lines), 20)),
            math.log1p(len(_REPORT_VERBS.findall(body))),
            float(page.is_html),
            sum(len(_MENU_WORDS.findall(lines[i])) for i in nonblank) / n,
            sum(1 for i in nonblank if lines[i].count("|") >= 2) / n,
            math.log1p(_count_prose_blocks(kinds)),
            math.log1p(len(body_lines)),
            len(_DIGIT.findall(body)) / max(len(body), 1),
            math.log1p(max((len(lines[i]) for i in body_prose), default=0)),
            len(_MARKUP.findall(page.raw_text[:20000])) / max(min(raw_chars, 20000), 1),
            sum(1 for i in nonblank if _QA_LINE.match(lines[i])) / n,
            _cut_share([lines[i] for i in nonblank if len(lines[i]) >= 30]),
            _cut_share([lines[i] for i in body_lines if len(lines[i]) >= 30], ellipsis_cuts=True),
        ],
        dtype=np.float64,
    )


def feature_matrix(pages) -> np.ndarray:
    return np.vstack([page_features(p) for p in pages]) if pages else np.zeros((0, len(FEATURE_NAMES)))


def _cut_share(lines, ellipsis_cuts: bool = False) -> float:
    cut = sum(1 for line in lines if not ends_sentence(line) or (ellipsis_cuts and _ELLIPSIS_END.search(line)))
    return cut / max(len(lines), 1)


def _count_prose_blocks(kinds) -> int:
    blocks, inside = 0, False
    for kind in kinds:
        if kind is LineKind.PROSE:
            if not inside:
                blocks += 1
            inside = True
        elif kind is not LineKind.BLANK:
            inside = False
    return blocks


class ArticleDetector:
    """The fitted detector in a light, pickle-free form: the gradient-boosted trees as flat arrays.

    Training uses scikit-learn's ``HistGradientBoostingClassifier``; :meth:`from_sklearn` copies its trees
    (split feature, threshold, children, leaf values) so prediction needs only NumPy, which keeps
    scikit-learn (~130 MB and ~1 s of imports) out of ``klassify predict``.
    """

    FILE = "detector.npz"

    def __init__(self, feature, threshold, left, right, is_leaf, missing_left, value, roots, baseline: float):
        self.feature, self.threshold = np.asarray(feature, np.intp), np.asarray(threshold, np.float64)
        self.left, self.right = np.asarray(left, np.intp), np.asarray(right, np.intp)
        self.is_leaf, self.missing_left = np.asarray(is_leaf, bool), np.asarray(missing_left, bool)
        self.value, self.roots = np.asarray(value, np.float64), np.asarray(roots, np.intp)
        self.baseline = float(baseline)
        self._depth = self._max_depth()

    @classmethod
    def from_sklearn(cls, model) -> "ArticleDetector":
        if len(model.classes_) != 2 or any(len(trees) != 1 for trees in model._predictors):
            raise ValueError("expected a binary HistGradientBoostingClassifier")
        parts = {k: [] for k in ("feature", "threshold", "left", "right", "is_leaf", "missing_left", "value")}
        roots, offset = [], 0
        for (tree,) in model._predictors:
            nodes = tree.nodes
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits are not supported")
            roots.append(offset)
            parts["feature"].append(nodes["feature_idx"])
            parts["threshold"].append(nodes["num_threshold"])
            parts["left"].append(nodes["left"].astype(np.int64) + offset)
            parts["right"].append(nodes["right"].astype(np.int64) + offset)
            parts["is_leaf"].append(nodes["is_leaf"].astype(bool))
            parts["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
            parts["value"].append(nodes["value"])
            offset += len(nodes)
        flat = {k: np.concatenate(v) for k, v in parts.items()}
        return cls(**flat, roots=np.array(roots), baseline=float(np.ravel(model._baseline_prediction)[0]))

    def article_score(self, X: np.ndarray) -> np.ndarray:
        """P(article) for each row of a feature matrix (see :func:`feature_matrix`)."""
        X = np.asarray(X, dtype=np.float64)
        if not len(X):
            return np.zeros(0)
        rows = np.arange(len(X))[:, None]
        pos = np.broadcast_to(self.roots, (len(X), len(self.roots))).copy()
        for _ in range(self._depth):
            x = X[rows, self.feature[pos]]
            go_left = np.where(np.isnan(x), self.missing_left[pos], x <= self.threshold[pos])
            pos = np.where(self.is_leaf[pos], pos, np.where(go_left, self.left[pos], self.right[pos]))
        raw = self.baseline + self.value[pos].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-raw))

    def score_pages(self, pages) -> np.ndarray:
        """P(article) for each page, and 0 for a page without a body (nothing left but a headline, menus or
        nothing at all): it cannot be an article, whatever the trees make of its all-zero shape."""
        scores = self.article_score(feature_matrix(pages))
        scores[[i for i, page in enumerate(pages) if not page.body]] = 0.0
        return scores

    def _max_depth(self) -> int:
        depth, frontier = 0, self.roots[~self.is_leaf[self.roots]]
        while len(frontier):
            depth += 1
            children = np.concatenate([self.left[frontier], self.right[frontier]])
            frontier = children[~self.is_leaf[children]]
        return depth + 1

    def save(self, directory) -> str:
        from pathlib import Path

        np.savez_compressed(Path(directory) / self.FILE, feature=self.feature, threshold=self.threshold,
                            left=self.left, right=self.right, is_leaf=self.is_leaf, missing_left=self.missing_left,
                            value=self.value, roots=self.roots, baseline=np.array(self.baseline),
                            feature_names=np.array(FEATURE_NAMES))
        return self.FILE

    @classmethod
    def load(cls, directory) -> "ArticleDetector":
        from pathlib import Path

        with np.load(Path(directory) / cls.FILE, allow_pickle=False) as a:
            arrays = {k: a[k] for k in a.files}
        names = tuple(str(n) for n in arrays.pop("feature_names", ()))
        unknown = [n for n in names if n not in FEATURE_NAMES]
        if not names or unknown:
            from .artifacts import ModelLoadError

            raise ModelLoadError(f"{directory}: the article detector was trained on page features this version "
                                 f"does not compute ({', '.join(unknown) or 'none recorded'}); retrain the model")
        # Trees address features by position: a detector trained before features were added reads its own
        # features from their current positions, so adding a feature does not invalidate older models.
        position = np.array([FEATURE_NAMES.index(n) for n in names], dtype=np.intp)
        arrays["feature"] = position[np.where(arrays["is_leaf"], 0, arrays["feature"])]  # a leaf's is unused
        return cls(**{k: v for k, v in arrays.items() if k != "baseline"}, baseline=float(arrays["baseline"]))
