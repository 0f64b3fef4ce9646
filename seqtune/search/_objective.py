"""The objective of a search: which number ranks the trials, its direction, and how a trial gets it.

Classifiers and regressors are ranked by ``"score"`` by default (accuracy / R² on the
validation split, maximised), forecasters by ``"mae"`` of rolling forecasts through the
held-out tail (minimised). Any Keras history metric (``"val_loss"``, ``"loss"``, ...)
works too: its value at the epoch whose weights the trial kept counts.
"""

from __future__ import annotations

import math
from typing import Any

from seqtune.backtest import METRICS as FORECAST_METRICS

__all__ = ["NonFiniteScore", "check_objective", "resolve_objective", "score_trial"]

# Substrings that tell an objective's direction when the user gives only its name.
_MIN_HINTS = ("loss", "mae", "mse", "rmse", "smape", "mase", "error")
_MAX_HINTS = ("score", "accuracy", "acc", "auc", "r2", "precision", "recall", "f1")


class NonFiniteScore(RuntimeError):
    """A trial's loss or objective became NaN or infinite."""


def resolve_objective(objective: Any, task: str):
    """A ``keras_tuner.Objective`` for what the user passed (None: the task's default).

    Raises
    ------
    ValueError
        For an objective of the wrong type, or a name whose direction cannot be told.
    """
    import keras_tuner as kt

    if objective is None:
        if task == "forecasting":
            return kt.Objective("mae", direction="min")
        return kt.Objective("score", direction="max")
    if isinstance(objective, kt.Objective):
        return objective
    if not isinstance(objective, str) or not objective:
        raise ValueError(
            f"objective={objective!r} is not valid; expected None, a metric name such as "
            "'score' or 'val_loss', or keras_tuner.Objective(name, direction)."
        )
    lowered = objective.lower()
    if any(h in lowered for h in _MIN_HINTS):
        direction = "min"
    elif any(h in lowered for h in _MAX_HINTS):
        direction = "max"
    else:
        raise ValueError(
            f"Cannot tell whether objective={objective!r} should be minimised or "
            "maximised. Pass keras_tuner.Objective("
            f"{objective!r}, direction='min') or direction='max'."
        )
    return kt.Objective(objective, direction=direction)


def check_objective(name: str, task: str) -> None:
    """Raise a ``ValueError`` when ``name`` cannot be measured for ``task``."""
    if name == "score" or name.startswith("val_") or name == "loss":
        return
    if task == "forecasting" and name in FORECAST_METRICS:
        return
    if (task, name) in (("classification", "accuracy"), ("regression", "r2")):
        return
    accepted = "'score', 'loss', or a validation metric such as 'val_loss'"
    if task == "forecasting":
        accepted = f"one of {list(FORECAST_METRICS)}, 'loss' or 'val_loss'"
    raise ValueError(f"objective={name!r} is not available for {task}; expected {accepted}.")


def _is_finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def score_trial(estimator: Any, task: str, name: str, validation: tuple) -> tuple[float, dict]:
    """The objective's value for a fitted trial, and the metrics measured on the way.

    Parameters
    ----------
    estimator : fitted seqtune estimator
    task : str
    name : str
        The objective's name.
    validation : tuple
        The held-out data, in the estimator's argument order (see ``Holdout``).

    Returns
    -------
    value : float
    metrics : dict of str to float
        Forecasters: ``mae``, ``rmse``, ``smape`` and ``mase``.

    Raises
    ------
    keras_tuner.errors.FatalError
        When the objective is a history metric the estimator does not record (every
        trial would fail the same way).
    NonFiniteScore
        When the value is NaN or infinite.
    """
    import keras_tuner as kt

    metrics: dict[str, float] = {}
    history = estimator.history_
    epoch = estimator.best_epoch_
    if task == "forecasting":
        metrics = {k: float(v) for k, v in estimator.evaluate(*validation).items()}
    elif name in ("score", "accuracy", "r2"):
        accuracy = history.get("val_accuracy")
        if task == "classification" and accuracy and 0 <= epoch < len(accuracy):
            # Keras scored the validation data after every epoch; the kept epoch's
            # accuracy is exactly score(X_val, y_val), without a second pass.
            metrics["score"] = float(accuracy[epoch])
        else:
            metrics["score"] = float(estimator.score(*validation))
        if name != "score":
            metrics[name] = metrics["score"]
    if name in metrics:
        value = metrics[name]
    else:
        if name not in history:
            raise kt.errors.FatalError(
                f"objective={name!r} is not in the training history; the metrics "
                f"recorded are {sorted(history)}. Choose one of them."
            )
        # The value of the weights the trial kept, not the best any epoch reached.
        value = float(history[name][epoch])
        metrics[name] = value
    if not _is_finite(value):
        raise NonFiniteScore(f"objective {name!r} is {value}")
    return float(value), metrics
