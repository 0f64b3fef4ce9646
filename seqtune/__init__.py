"""seqtune: scikit-learn estimators and Keras-Tuner AutoML for recurrent sequence models.

Data flows one way: :mod:`~seqtune.validation` → :mod:`~seqtune.sequences` /
:mod:`~seqtune.windows` → :mod:`~seqtune.model` → the estimators →
:mod:`~seqtune.search` → :mod:`~seqtune.tracking`.

The public names are imported on first use, so that ``seqtune --help`` does not wait
for a Keras backend to load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Eager: a light module, and a lazy ``backtest`` would be shadowed by the submodule of
# the same name as soon as anything imported it.
from .backtest import backtest, forecast_metrics  # noqa: E402

_EXPORTS = {
    "SequenceClassifier": "classifier",
    "SequenceRegressor": "regressor",
    "SequenceForecaster": "forecaster",
    "SequenceSearch": "search",
    "read_trial_records": "search",
    "SearchSpace": "spaces",
    "SpaceError": "spaces",
    "load_space": "spaces",
    "MlflowTracker": "tracking",
    "track_fit": "tracking",
    "load_dataset": "datasets",
}

__all__ = sorted([*_EXPORTS, "__version__", "backtest", "forecast_metrics"])

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .classifier import SequenceClassifier
    from .datasets import load_dataset
    from .forecaster import SequenceForecaster
    from .regressor import SequenceRegressor
    from .search import SequenceSearch, read_trial_records
    from .spaces import SearchSpace, SpaceError, load_space
    from .tracking import MlflowTracker, track_fit


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'seqtune' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
