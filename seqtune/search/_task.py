"""What a search is about: the task of its estimator, its data split, and what the data allows.

* :func:`estimator_task` tells a classifier, a regressor and a forecaster apart by class.
* :func:`split_holdout` cuts the data a trial trains on from the data it is scored on:
  a stratified shuffled holdout for sequence classifiers, a plain one for regressors,
  the tail of the series for forecasters (see :mod:`seqtune.splits`).
* :func:`narrow_space` cuts values the data cannot support (a ``sequence_length``
  beyond the longest sequence, a ``lookback`` beyond what the series allows).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtune.splits import holdout_split, n_rows, tail_split, take

__all__ = ["Holdout", "estimator_task", "longest_sequence", "narrow_space", "split_holdout"]


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
    for forecasters (``X`` the exogenous series, or None).
    """

    train: tuple
    validation: tuple


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
                       validation=(take(y, tail), take(X, tail)))
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
                   validation=(take(X, held_out), take(y, held_out)))


def longest_sequence(X: Any) -> int:
    """Steps of the longest sequence in an array ``(n, t[, f])`` or a list of sequences."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 2:
        return int(shape[1])
    return int(max(len(np.asarray(x)) for x in X))


def narrow_space(space: Any, task: str, estimator: Any, data: Any, holdout: Holdout):
    """Cut the space to what the data and the fixed estimator allow; warn once if anything changed.

    Parameters
    ----------
    space : SearchSpace
    task : str
    estimator : the search's estimator (its fixed parameters)
    data : the full ``X`` (classification, regression) or ``y`` (forecasting)
    holdout : Holdout
        Forecasters: the lookback must fit the training part.

    Returns
    -------
    SearchSpace
    """
    if task == "forecasting":
        drop = {}
        if estimator.get_params().get("strategy") == "seq2seq" and "strategy" not in space:
            # Every trial drawing linear_skip=True would fail: seq2seq has no linear path.
            drop["linear_skip"] = "strategy='seq2seq' has no linear path"
        max_lookback = estimator.max_lookback(n_rows(holdout.train[0]))
        space, messages = space.narrow(max_lookback=max_lookback, drop=drop)
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
