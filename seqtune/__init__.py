"""seqtune: scikit-learn estimators and Keras-Tuner AutoML for recurrent sequence models.

Data flows one way: :mod:`~seqtune.validation` → :mod:`~seqtune.sequences` /
:mod:`~seqtune.windows` → :mod:`~seqtune.model` → the estimators →
:mod:`~seqtune.search` → :mod:`~seqtune.tracking`.
"""

__version__ = "0.1.0"

from .backtest import backtest
from .classifier import SequenceClassifier
from .forecaster import SequenceForecaster
from .regressor import SequenceRegressor
from .search import SequenceSearch
from .spaces import SearchSpace, SpaceError, load_space
from .tracking import MlflowTracker, track_fit

__all__ = [
    "MlflowTracker",
    "SearchSpace",
    "SequenceClassifier",
    "SequenceForecaster",
    "SequenceRegressor",
    "SequenceSearch",
    "SpaceError",
    "__version__",
    "backtest",
    "load_space",
    "track_fit",
]
