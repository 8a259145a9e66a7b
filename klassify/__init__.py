"""klassify: is a scraped Korean page a news article, and which public-sector integrity initiative does it report?

>>> import klassify
>>> klassify.LABELS
('education', 'contest', 'declaration', 'kindness', 'reward', 'other', 'not_article')
"""

from .artifacts import ModelLoadError
from .labels import LABELS
from .modeling import Classifier, Prediction
from .reading import Page, PageReadError, extract_article, read_page

__version__ = "0.1.0"
__all__ = ["Classifier", "Prediction", "LABELS", "Page", "PageReadError", "ModelLoadError", "read_page", "extract_article"]
