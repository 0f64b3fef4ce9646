"""The one array a logged model takes, and how it reaches the estimator's ``predict``.

A pyfunc model has a single input. Sequences and a forecaster's ``y_history`` pass
through unchanged; a forecaster fitted with exogenous features takes them as extra
columns after the targets (:func:`pack_history`), which :func:`serve_predict` splits
again. No MLflow import here: the search builds input examples with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["pack_history", "serve_predict"]


def pack_history(y_history: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
    """One serving input for a forecaster: ``y_history``'s columns, then ``X``'s.

    A pyfunc model takes one array, so a forecaster fitted with exogenous features
    receives them as extra columns, aligned step by step with the targets.

    Parameters
    ----------
    y_history : array-like of shape (n_timesteps,) or (n_timesteps, n_targets)
        The target history.
    X : array-like of shape (n_timesteps, n_exogenous), optional
        Exogenous features aligned with ``y_history``.

    Returns
    -------
    ndarray of shape (n_timesteps, n_targets + n_exogenous)
        ``y_history`` unchanged when ``X`` is None.
    """
    if X is None:
        return np.asarray(y_history)
    y_values = np.asarray(y_history, dtype=float)
    x_values = np.asarray(X, dtype=float)
    if len(x_values) != len(y_values):
        raise ValueError(
            f"X has {len(x_values)} steps but y_history has {len(y_values)}; exogenous "
            "features are aligned step by step with the targets, so pass as many of each."
        )
    return np.column_stack([y_values.reshape(len(y_values), -1), x_values.reshape(len(x_values), -1)])


def serve_predict(estimator: Any, model_input: np.ndarray) -> Any:
    """``estimator.predict`` on a serving input, unpacking :func:`pack_history`'s columns.

    Parameters
    ----------
    estimator : fitted estimator
        A seqtune (or any scikit-learn) estimator.
    model_input : ndarray of shape (n_samples, n_timesteps, n_features) or (n_timesteps, n_columns)
        Sequences, or a forecaster's ``y_history``; for a forecaster fitted with
        exogenous features, ``n_columns`` is ``n_targets + n_exogenous`` (targets first).

    Returns
    -------
    ndarray
        What ``estimator.predict`` returns.
    """
    n_exogenous = int(getattr(estimator, "n_exogenous_", 0) or 0)
    if not n_exogenous:
        return estimator.predict(model_input)
    values = np.asarray(model_input, dtype=float)
    n_targets = int(estimator.n_targets_)
    if values.ndim != 2 or values.shape[1] != n_targets + n_exogenous:
        raise ValueError(
            f"This forecaster was fitted with {n_exogenous} exogenous feature(s), so the model "
            f"takes an input of shape (n_timesteps, {n_targets + n_exogenous}): the "
            f"{n_targets} target column(s), then the exogenous ones. Got shape {values.shape}; "
            "build it with seqtune.tracking.pack_history(y_history, X)."
        )
    return estimator.predict(values[:, :n_targets], X=values[:, n_targets:])
