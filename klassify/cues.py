"""Where the initiative words sit: LABELING.md's rule 2 as a handful of features.

A broad headline ("OO시, 청렴도 높인다") over one concrete event is labelled by that event, even when the
background paragraphs (last year's 청렴도 grade, plans that list every initiative) use more words. A bag
of words weighs all those words alike; these features tell the model *where* each label's cue words
occur: in the headline, in the lead sentence, in a sentence that carries event details (a date, a time,
a headcount, "참석한 가운데"), or only in sentences without them.
"""

from __future__ import annotations

import re

import numpy as np

from .lines import sentence_spans

#: Cue words per label (LABELING.md); ``other`` collects the events of rule 3 (meetings, evaluations...).
CUES = {
    "education": r"교육|특강|연수|강의|강연|아카데미|연극|워크숍",
    "contest": r"공모|경진대회|골든벨|시상|수상",
    "declaration": r"서약|선언|결의|다짐|협약",
    "kindness": r"친절",
    "reward": r"포상금|보상금|포상|보상",
    "other": r"회의|보고회|평가|측정|등급|캠페인|콘서트|토크|위촉|감사|점검|계획",
}
#: What makes a sentence report an event rather than background.
DETAILS = r"(지난|오는)\s*\d{1,2}일|\d{1,2}일\s*(오전|오후)|(오전|오후)\s*\d{1,2}시|\d[\d,]*\s*여?\s*명|참석한 가운데|참여한 가운데|참석해|참여해"
#: Per label: in the headline, in the lead sentence, in the lead with details, log(1 + later sentences
#: with details), log(1 + later sentences without).
PER_CUE = ("title", "lead", "lead_details", "detail_sentences", "other_sentences")


class CueFeatures:
    """Texts (headline line, then body) → dense features ``[N, len(cues) * 5]`` as a sparse matrix.

    The patterns are stored with each model, so a model keeps its features when this module changes.

    >>> cues = CueFeatures()
    >>> row = cues.transform(["OO시, 청렴도 높인다\\n시는 지난 2일 직원 300명이 참석한 가운데 청렴교육을 열었다."]).toarray()[0]
    >>> {name: float(v) for name, v in zip(cues.names, row) if v}
    {'education:lead': 1.0, 'education:lead_details': 1.0}
    """

    def __init__(self, cues: dict[str, str] = CUES, details: str = DETAILS, max_chars: int = 3000):
        self.cues = cues  # stored as given (scikit-learn's clone checks that)
        self.details = details
        self.max_chars = max_chars

    @property
    def names(self) -> list[str]:
        return [f"{label}:{kind}" for label in self.cues for kind in PER_CUE]

    def fit(self, texts, y=None):
        return self

    def transform(self, texts):
        from scipy.sparse import csr_matrix

        cue_patterns = [re.compile(p) for p in self.cues.values()]
        details = re.compile(self.details)
        rows = [self._features(text, cue_patterns, details) for text in texts]
        return csr_matrix(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self.names)))

    def _features(self, text: str, cue_patterns, details) -> list[float]:
        title, _, body = text.partition("\n")
        body = body[: self.max_chars]
        sentences = [body[a:b] for a, b in sentence_spans(body)]
        lead, later = (sentences[0], sentences[1:]) if sentences else ("", [])
        detailed = [bool(details.search(s)) for s in later]
        lead_detailed = bool(details.search(lead))
        out = []
        for cue in cue_patterns:
            hits = [bool(cue.search(s)) for s in later]
            in_lead = bool(cue.search(lead))
            out += [float(bool(cue.search(title))), float(in_lead), float(in_lead and lead_detailed),
                    float(np.log1p(sum(h and d for h, d in zip(hits, detailed)))),
                    float(np.log1p(sum(h and not d for h, d in zip(hits, detailed))))]
        return out

    def state(self) -> dict:
        return {"cues": dict(self.cues), "details": self.details, "max_chars": self.max_chars}

    @classmethod
    def from_state(cls, state: dict) -> "CueFeatures":
        return cls(state["cues"], state["details"], state["max_chars"])
