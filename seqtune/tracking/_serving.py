"""The one array a logged model takes, and how it reaches the estimator's ``predict``.

A pyfunc model has a single input, one array. Sequences of one length and a
forecaster's ``y_history`` pass through unchanged. Sequences of different lengths are
NaN-padded at the end (:func:`pack_sequences`, the sentinel seqtune pads with itself),
and a forecaster fitted with exogenous features takes them as extra columns after the
targets (:func:`pack_history`); :func:`serve_predict` undoes both. No MLflow import
here: the search builds input examples with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqtune.sequences import max_length, pad_sequences

__all__ = ["input_example", "pack_history", "pack_sequences", "serve_predict"]


def pack_sequences(X: Any) -> np.ndarray:
    """Sequences as one array; a list of different lengths is NaN-padded at the end.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_timesteps, n_features) or list of (t_i, n_features)
        Sequences, as the estimators accept them.

    Returns
    -------
    ndarray of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps)
        ``X`` as an array; sequences shorter than the longest end in NaN steps.
    """
    try:
        return np.asarray(X)
    except ValueError:  # numpy refuses sequences of different lengths
        seqs = [np.asarray(x, dtype=np.float32) for x in X]
        seqs = [x.reshape(len(x), -1) for x in seqs]
        return pad_sequences(seqs, max_length(seqs))[0]


def _unpad(values: np.ndarray) -> list[np.ndarray]:
    """The sequences of a NaN-padded array: each without its trailing all-NaN steps."""
    out = []
    for x in values:
        kept = np.flatnonzero(~np.isnan(x).all(axis=1))
        out.append(x[: kept[-1] + 1 if len(kept) else 0])
    return out


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


def input_example(task: str, X: Any, y: Any, estimator: Any) -> np.ndarray:
    """The logged model's input example, from the data a search was fitted on.

    Parameters
    ----------
    task : {"classification", "regression", "forecasting"}
    X, y : array-like
        The search's ``fit`` arguments: sequences and targets, or a forecaster's series
        of shape (n_timesteps,) or (n_timesteps, n_targets) and its exogenous features.
    estimator : fitted estimator
        The final model (a forecaster's ``min_history`` sets the example's length).

    Returns
    -------
    ndarray
        The first 5 sequences, NaN-padded, of shape (5, n_timesteps, n_features); or a
        forecaster's shortest valid ``y_history`` (the series' last ``min_history``
        steps, at least 5), with its exogenous columns after the targets.
    """
    from seqtune.splits import n_rows, take

    if task == "forecasting":
        n_steps = n_rows(X)
        tail = np.arange(n_steps - min(n_steps, max(5, estimator.min_history)), n_steps)
        return pack_history(take(X, tail), None if y is None else take(y, tail))
    return pack_sequences(take(X, np.arange(min(5, n_rows(X)))))


def serve_predict(estimator: Any, model_input: np.ndarray) -> Any:
    """``estimator.predict`` on a serving input, unpacking :func:`pack_history`'s columns.

    Parameters
    ----------
    estimator : fitted estimator
        A seqtune (or any scikit-learn) estimator.
    model_input : ndarray of shape (n_samples, n_timesteps, n_features) or (n_timesteps, n_columns)
        Sequences (NaN steps at the end of one mark it shorter, as
        :func:`pack_sequences` writes them), or a forecaster's ``y_history``; for a
        forecaster fitted with exogenous features, ``n_columns`` is
        ``n_targets + n_exogenous`` (targets first).

    Returns
    -------
    ndarray
        What ``estimator.predict`` returns.
    """
    n_exogenous = int(getattr(estimator, "n_exogenous_", 0) or 0)
    if not n_exogenous:
        values = model_input
        # Validated input never holds NaN, so NaN steps can only be pack_sequences' padding.
        if (isinstance(values, np.ndarray) and values.ndim == 3 and values.dtype.kind == "f"
                and np.isnan(values).any()):
            values = _unpad(values)
        return estimator.predict(values)
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
