"""What a search is about: the task of its estimator, its folds, and what the data allows.

* :func:`estimator_task` tells a classifier, a regressor and a forecaster apart by class.
* :func:`make_folds` cuts the data each trial trains on from the data it is scored on,
  once or ``k`` times (``cv``): a stratified shuffled holdout or k-fold for sequence
  classifiers, a plain one for regressors, the tail of the series or expanding-window
  origins for forecasters (see :mod:`seqtune.splits`).
* :func:`narrow_space` cuts values the data cannot support (a ``sequence_length``
  beyond the longest sequence, a ``lookback`` beyond what the shortest fold allows).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import numpy as np

from seqtune.splits import holdout_split, n_rows, tail_split, take
from seqtune.validation import did_you_mean

__all__ = ["AUTO_CV_MAX_SAMPLES", "Holdout", "estimator_task", "folds_digest",
           "longest_sequence", "make_folds", "narrow_space", "resolve_cv", "split_holdout",
           "warn_recurrent_dropout"]

#: ``cv="auto"`` cross-validates classifiers and regressors with fewer training samples
#: than this (5 folds), and scores larger sets on one holdout. See ``resolve_cv``.
AUTO_CV_MAX_SAMPLES = 1000
#: ``cv="auto"`` for forecasters: at most this many expanding-window origins.
AUTO_CV_MAX_ORIGINS = 3
#: A searched ``difference`` loses 0 when a KPSS test rejects a constant level at this size.
LEVEL_STATIONARITY_ALPHA = 0.05


def estimator_task(estimator: Any) -> str:
    """``"classification"``, ``"regression"`` or ``"forecasting"`` for a seqtune estimator.

    Raises
    ------
    TypeError
        For anything that is not a seqtune estimator, naming what was received.
    """
    from seqtune._base import BaseSequenceEstimator
    from seqtune.classifier import SequenceClassifier
    from seqtune.forecaster import SequenceForecaster
    from seqtune.regressor import SequenceRegressor

    for cls, task in ((SequenceForecaster, "forecasting"), (SequenceClassifier, "classification"),
                      (SequenceRegressor, "regression")):
        if isinstance(estimator, cls):
            return task
    kind = "a seqtune estimator of another kind" if isinstance(estimator, BaseSequenceEstimator) \
        else "not a seqtune estimator"
    raise TypeError(
        f"SequenceSearch got estimator={estimator!r}, which is {kind}. Expected "
        "SequenceClassifier(), SequenceRegressor() or SequenceForecaster()."
    )


@dataclass(frozen=True)
class Holdout:
    """One split of the search's data: what a trial trains on and what scores it.

    ``train`` and ``validation`` are the positional arguments of the estimator's own
    ``fit`` and scoring calls: ``(X, y)`` for classifiers and regressors, ``(y, X)``
    for forecasters (``X`` the exogenous series, or None). ``history`` is, for a
    forecaster, the series before ``validation`` (``(y, X)``) when it differs from the
    training part (a gap between them); None otherwise.
    """

    train: tuple
    validation: tuple
    train_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    test_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    history: tuple | None = None


def resolve_cv(cv: Any, task: str, n: int, *, horizon: int = 1, fraction: float = 0.2) -> Any:
    """The ``cv`` a search uses: None (one holdout), a number of folds, or a splitter.

    ``"auto"`` cross-validates small data, where one holdout is a handful of samples:
    classifiers and regressors with fewer than :data:`AUTO_CV_MAX_SAMPLES` samples get
    5 folds; forecasters get up to :data:`AUTO_CV_MAX_ORIGINS` expanding-window folds,
    as many as keep every fold's training part at least half the series (Airline and
    Macrodata: 3).
    """
    if isinstance(cv, str) and cv != "auto":
        raise ValueError(f"cv={cv!r} is invalid: expected 'auto', None, a number of folds >= 2, "
                         "a scikit-learn splitter or an iterable of (train, test) index pairs."
                         + (" Did you mean 'auto'?" if did_you_mean(cv, ["auto"]) else ""))
    if isinstance(cv, bool):
        raise ValueError(f"cv={cv!r} is invalid: expected 'auto', None, a number of folds >= 2, "
                         "a scikit-learn splitter or an iterable of (train, test) index pairs.")
    if cv != "auto":
        return cv
    if task != "forecasting":
        return 5 if n < AUTO_CV_MAX_SAMPLES else None
    # The first fold trains on the series up to its first origin: keep that at least half.
    room = n // 2 - int(horizon) + 1
    return next((k for k in range(AUTO_CV_MAX_ORIGINS, 1, -1)
                 if k * _origin_step(n, k, fraction) <= room), None)


def _origin_step(n: int, k: int, fraction: float) -> int:
    """Forecast origins each of ``k`` expanding-window folds scores: ``fraction`` of the series in all."""
    return max(1, math.ceil(fraction * n / k))


def make_folds(task: str, first: Any, second: Any, *, cv: Any, fraction: float,
               random_state: Any, horizon: int = 1) -> list[Holdout]:
    """The folds every trial of a search is trained and scored on.

    Parameters
    ----------
    task : {"classification", "regression", "forecasting"}
    first, second
        ``X, y`` for classifiers and regressors; ``y, X`` for forecasters.
    cv : None, int >= 2, a scikit-learn splitter, or an iterable of (train, test) index pairs
        None: one holdout of ``fraction`` (:func:`split_holdout`). An int ``k``:
        ``StratifiedKFold`` (classifiers) or ``KFold`` (regressors), shuffled with
        ``random_state``; for forecasters ``k`` expanding-window refits over the last
        ``k * step`` forecast origins, ``step = ceil(fraction * n / k)``: each fold
        trains on everything before its first origin and is scored on its rolling
        forecasts from its ``step`` origins (a span of ``step + horizon - 1`` steps;
        the last fold's last forecast ends the series). Any splitter or pairs are used
        as given;
        a forecaster's folds must train on a prefix of the series and score a
        contiguous stretch after it.
    fraction : float in (0, 1)
    random_state : int, RandomState instance or None
    horizon : int

    Returns
    -------
    list of Holdout
    """
    if cv is None:
        return [split_holdout(task, first, second, fraction=fraction, random_state=random_state,
                              horizon=horizon)]
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit, check_cv

    data, target = (first, None) if task == "forecasting" else (first, second)
    n = n_rows(data)
    if task != "forecasting" and n_rows(target) != n:
        raise ValueError(f"X has {n} samples but y has {n_rows(target)}; they must match.")
    if isinstance(cv, Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv={cv!r} is invalid: a number of folds must be >= 2 (or pass "
                             "cv=None for one holdout).")
        if task == "forecasting":
            # Split the forecast origins (the steps with a full horizon after them).
            splitter = TimeSeriesSplit(n_splits=int(cv), test_size=_origin_step(n, int(cv), fraction))
        elif task == "classification":
            splitter = StratifiedKFold(int(cv), shuffle=True, random_state=random_state)
        else:
            splitter = KFold(int(cv), shuffle=True, random_state=random_state)
    else:
        splitter = check_cv(cv, target, classifier=task == "classification")
    by_origins = task == "forecasting" and isinstance(cv, Integral)
    n_split = n - int(horizon) + 1 if by_origins else n
    if by_origins and n_split <= cv:
        raise ValueError(f"cv={cv!r} cannot split a series of {n} steps with horizon={horizon}: "
                         f"{cv} folds need more than {int(cv) + int(horizon) - 1} steps. Lower "
                         "cv, or pass cv=None for one holdout.")
    try:
        pairs = [(np.asarray(tr), np.asarray(te))
                 for tr, te in splitter.split(np.zeros((n_split, 1)), target)]
    except ValueError as exc:
        raise ValueError(f"cv={cv!r} cannot split these {n} samples: {exc}") from exc
    if not pairs:
        raise ValueError(f"cv={cv!r} produced no folds; expected at least one (train, test) pair.")
    if task == "forecasting":
        if by_origins:
            # Rolling-origin evaluation: each fold's model forecasts from each of its origins
            # (up to the next fold's refit), so its span runs horizon - 1 steps past them.
            pairs = [(tr, np.arange(te[0], te[-1] + horizon)) for tr, te in pairs]
        return [_series_fold(first, second, train, test, cv, horizon) for train, test in pairs]
    return [Holdout(train=(take(first, train), take(second, train)),
                    validation=(take(first, test), take(second, test)),
                    train_index=train, test_index=test) for train, test in pairs]


def folds_digest(folds: list[Holdout]) -> str:
    """A digest of the folds' indices: trials of one search must be scored on the same folds."""
    digest = hashlib.sha256()
    for fold in folds:
        for index in (fold.train_index, fold.test_index):
            digest.update(np.asarray(index, dtype=np.int64).tobytes() + b"|")
    return digest.hexdigest()[:16]


def _series_fold(y: Any, X: Any, train: np.ndarray, test: np.ndarray, cv: Any,
                 horizon: int) -> Holdout:
    train, test = np.sort(train), np.sort(test)
    prefix = len(train) and train[0] == 0 and np.all(np.diff(train) == 1)
    contiguous = len(test) and np.all(np.diff(test) == 1) and test[0] >= len(train)
    if not (prefix and contiguous):
        raise ValueError(
            f"cv={cv!r} gave a forecasting fold that does not train on the start of the series "
            "and score a stretch after it. Pass an int (expanding-window origins) or a "
            "sklearn.model_selection.TimeSeriesSplit."
        )
    if len(test) < horizon:
        raise ValueError(f"cv={cv!r} gave a fold scoring {len(test)} steps, fewer than "
                         f"horizon={horizon}; every fold must hold a full forecast.")
    before = np.arange(test[0])
    history = None if len(before) == len(train) else (take(y, before), take(X, before))
    return Holdout(train=(take(y, train), take(X, train)), validation=(take(y, test), take(X, test)),
                   train_index=train, test_index=test, history=history)


def split_holdout(task: str, first: Any, second: Any, *, fraction: float, random_state: Any,
                  horizon: int = 1) -> Holdout:
    """Hold out ``fraction`` of the data to score trials.

    Parameters
    ----------
    task : {"classification", "regression", "forecasting"}
    first, second
        ``X, y`` for classifiers and regressors; ``y, X`` for forecasters.
    fraction : float in (0, 1)
    random_state : int, RandomState instance or None
        Seeds the shuffled holdout (not used for forecasters).
    horizon : int
        Forecasters hold out at least this many steps.

    Raises
    ------
    ValueError
        When the lengths of X and y differ, or the series is too short to hold out.
    """
    if task == "forecasting":
        y, X = first, second
        n = n_rows(y)
        train, tail = tail_split(n, fraction, min_size=horizon)
        if len(train) < 2:
            raise ValueError(
                f"The series has {n} steps; holding out {len(tail)} for validation "
                f"(validation_fraction={fraction}, horizon={horizon}) leaves too few to "
                "train on. Use a longer series or a smaller validation_fraction."
            )
        return Holdout(train=(take(y, train), take(X, train)),
                       validation=(take(y, tail), take(X, tail)), train_index=train,
                       test_index=tail)
    X, y = first, second
    if n_rows(X) != n_rows(y):
        raise ValueError(f"X has {n_rows(X)} samples but y has {n_rows(y)}; they must match.")
    stratify = y if task == "classification" else None
    train, held_out, stratified = holdout_split(n_rows(X), fraction, stratify=stratify,
                                                random_state=random_state)
    if not stratified:
        warnings.warn(
            "A stratified validation split is impossible (some class has too few members); "
            "using a random split instead. Some classes may be missing from validation.",
            UserWarning, stacklevel=3,
        )
    return Holdout(train=(take(X, train), take(y, train)),
                   validation=(take(X, held_out), take(y, held_out)), train_index=train,
                   test_index=held_out)


def longest_sequence(X: Any) -> int:
    """Steps of the longest sequence in an array ``(n, t[, f])`` or a list of sequences."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 2:
        return int(shape[1])
    return int(max(len(np.asarray(x)) for x in X))


def narrow_space(space: Any, task: str, estimator: Any, data: Any, folds: list[Holdout]):
    """Cut the space to what the data and the fixed estimator allow; warn once if anything changed.

    Parameters
    ----------
    space : SearchSpace
    task : str
    estimator : the search's estimator (its fixed parameters)
    data : the full ``X`` (classification, regression) or ``y`` (forecasting)
    folds : list of Holdout
        Forecasters: the lookback must fit the shortest training part.

    Notes
    -----
    For a forecaster, a searched ``difference`` loses 0 when a KPSS test rejects a
    constant level (p < :data:`LEVEL_STATIONARITY_ALPHA` on any channel), as
    ``auto_arima`` picks its differencing: a model of the undifferenced levels of a
    trending series must forecast values beyond any it was trained on. On Airline such
    trials scored a median first-fold MAE of 94 against 32 for differenced ones, and
    took most of a search's trials (benchmarks/README.md).

    Returns
    -------
    SearchSpace
    """
    if task == "forecasting":
        drop = {}
        if estimator.get_params().get("strategy") == "seq2seq" and "strategy" not in space:
            # Every trial drawing linear_skip=True would fail: seq2seq has no linear path.
            drop["linear_skip"] = "strategy='seq2seq' has no linear path"
        values = np.asarray(data, dtype=float)
        if "log" in space and np.nanmin(values) <= 0:
            # A log of zero or negative values would fail every trial that draws log=True.
            drop["log"] = f"the series has values <= 0 (down to {np.nanmin(values):.4g})"
        exclude = {}
        if ("difference" in space and "seasonal_difference" not in space
                and estimator.get_params().get("seasonal_difference") is None):
            from seqtune.preprocessing import level_stationarity_pvalue

            pvalue = level_stationarity_pvalue(values)
            if pvalue is not None and pvalue < LEVEL_STATIONARITY_ALPHA:
                why = f"a KPSS test rejects a constant level, p = {pvalue:.2g}: the series trends"
                exclude["difference"] = ((0,), why + " or drifts")
        max_lookback = estimator.max_lookback(min(n_rows(f.train[0]) for f in folds))
        space, messages = space.narrow(max_lookback=max_lookback, drop=drop, exclude=exclude)
    else:
        space, messages = space.narrow(max_sequence_length=longest_sequence(data))
    if messages:
        warnings.warn(
            "The search space asks for more than the data or the estimator allows and was "
            "narrowed: " + "; ".join(messages),
            UserWarning,
            stacklevel=3,
        )
    return space


def warn_recurrent_dropout(space: Any, estimator: Any) -> None:
    """On a GPU, warn once when the search can pick ``recurrent_dropout > 0`` (no fused kernel)."""
    from seqtune import device

    if not device.has_gpu():
        return
    largest = estimator.get_params().get("recurrent_dropout", 0.0) or 0.0
    if "recurrent_dropout" in space:
        largest = max(largest, _largest(space["recurrent_dropout"]) or 0.0)
    if largest > 0:
        warnings.warn(
            "This search can pick recurrent_dropout > 0 (up to "
            f"{largest}), which turns off Keras's fused cuDNN kernel on this GPU: such "
            "trials train slower per epoch (on an H100: 1.3-2x with JAX, 46x with torch; "
            "users report 7-25x with TensorFlow). Prefer `dropout` (dropout "
            "on each layer's inputs), which keeps the fused kernel, and set "
            "recurrent_dropout to 0 in the space.",
            UserWarning,
            stacklevel=4,
        )


def _largest(dist: Any) -> float | None:
    """Largest number a search-space distribution can take."""
    values = dist.possible_values
    if values is None:
        return float(dist.max)
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return max(numbers) if numbers else None
