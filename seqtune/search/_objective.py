"""The objective of a search: which number ranks the trials, its direction, and how a fold gets it.

Each fold is scored on data its fit never saw (early stopping uses the estimator's own
inner split, or the training loss). Classifiers and regressors are ranked by
``"score"`` by default (accuracy / R², maximised), forecasters by ``"mae"`` of rolling
forecasts through the fold's held-out stretch (minimised; ``"mase"`` weighs several
series of different scales alike, where a summed MAE is decided by the widest one, but
as the default it picked worse on Macrodata: benchmarks/README.md). ``"val_loss"`` is the
held-out loss (log loss for classifiers, mean squared error in y's units for
regressors); any other Keras history metric (``"loss"``, ...) counts at the epoch whose
weights the fit kept. A trial's score is the mean over its folds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from seqtune.backtest import METRICS as FORECAST_METRICS
from seqtune.backtest import forecast_metrics, mase_period, mase_scale

__all__ = ["NonFiniteScore", "check_objective", "resolve_objective", "score_fold"]

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
    if task == "forecasting":
        # A forecaster has no single "score": its folds measure the forecast metrics.
        if name in FORECAST_METRICS or name.startswith("val_") or name == "loss":
            return
    elif name == "score" or name.startswith("val_") or name == "loss":
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


def score_fold(estimator: Any, task: str, name: str, fold: Any) -> tuple[float, dict, Any]:
    """The objective's value for an estimator fitted on one fold, scored on its held-out part.

    Parameters
    ----------
    estimator : fitted seqtune estimator
    task : str
    name : str
        The objective's name.
    fold : Holdout
        ``fold.validation`` is the held-out data, in the estimator's argument order.

    Returns
    -------
    value : float
    metrics : dict of str to float
        Classifiers: ``score`` (accuracy) and ``val_loss`` (log loss); regressors:
        ``score`` (R²) and ``val_loss`` (MSE); forecasters: ``mae``, ``rmse``,
        ``smape`` and ``mase``.
    predictions : ndarray of shape (n_held_out, n_outputs), or dict
        Class probabilities or predictions on the held-out rows, the trial's
        out-of-fold predictions. Forecasters: ``y_true`` and ``y_pred`` of shape
        (n_pooled, n_targets), the rolling forecasts through the fold's held-out
        stretch, and ``scale`` of shape (n_targets,), the MASE denominators.

    Raises
    ------
    keras_tuner.errors.FatalError
        When the objective is a history metric the estimator does not record (every
        trial would fail the same way).
    NonFiniteScore
        When the value is NaN or infinite.
    """
    import keras_tuner as kt
    from sklearn.metrics import log_loss, mean_squared_error, r2_score

    predictions = None
    if task == "forecasting":
        y_val, X_val = fold.validation
        history = {} if fold.history is None else {"y_history": fold.history[0],
                                                   "X_history": fold.history[1]}
        truth, forecasts, used = estimator.rolling_forecasts(y_val, X_val, **history)
        scale = mase_scale(used, mase_period(estimator.seasonal_difference))
        metrics = {k: float(v) for k, v in forecast_metrics(truth, forecasts, scale=scale).items()}
        predictions = {"y_true": truth, "y_pred": forecasts, "scale": scale}
    elif task == "classification":
        X_val, y_val = fold.validation
        predictions = estimator.predict_proba(X_val)
        labels = estimator.classes_[np.argmax(predictions, axis=1)]
        metrics = {"score": float(np.mean(labels == np.asarray(y_val))),
                   "val_loss": float(log_loss(y_val, predictions, labels=estimator.classes_))}
    else:
        X_val, y_val = fold.validation
        predictions = np.asarray(estimator.predict(X_val), dtype=float)
        metrics = {"score": float(r2_score(y_val, predictions)),
                   "val_loss": float(mean_squared_error(y_val, predictions))}
        predictions = predictions.reshape(len(predictions), -1)
    for alias in ("accuracy", "r2", "val_accuracy"):
        if name == alias:
            metrics[alias] = metrics["score"]
    if name in metrics:
        value = metrics[name]
    else:
        history = estimator.history_
        if name not in history:
            measured = sorted(metrics) if task == "forecasting" else ["score", "val_loss"]
            raise kt.errors.FatalError(
                f"objective={name!r} is not in the training history; the metrics "
                f"recorded are {sorted(history)}. Choose one of them, or one of "
                f"{measured}, which are measured on each fold's held-out part."
            )
        # The value of the weights the fit kept, not the best any epoch reached.
        value = float(history[name][estimator.best_epoch_])
        metrics[name] = value
    if not _is_finite(value):
        raise NonFiniteScore(f"objective {name!r} is {value}")
    return float(value), metrics, predictions
