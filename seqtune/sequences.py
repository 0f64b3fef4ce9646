"""Stride, truncate and pad validated sequences into one ``(n, t, f)`` array.

Padding goes at the end of a sequence ("post") and is marked with NaN: validated input
never holds NaN, so NaN is an unambiguous sentinel that the model's padding-mask layer
turns into a Keras mask. Post padding keeps TensorFlow's cuDNN kernel usable with masks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["apply_stride", "pad_sequences", "max_length"]


def apply_stride(X: np.ndarray | Sequence[np.ndarray], stride: int):
    """Keep every ``stride``-th step, aligned so that the last step is always kept.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_timesteps, n_features) or list of (t_i, n_features)
    stride : int >= 1

    Returns
    -------
    Same container type, with ``ceil(t_i / stride)`` steps per sequence. A dense input
    gives a view, not a copy.
    """
    if stride == 1:
        return X
    if isinstance(X, np.ndarray):
        t = X.shape[1]
        return X[:, (t - 1) % stride :: stride]
    return [x[(len(x) - 1) % stride :: stride] for x in X]


def max_length(X: np.ndarray | Sequence[np.ndarray]) -> int:
    """Longest sequence, in steps."""
    if isinstance(X, np.ndarray):
        return int(X.shape[1])
    return int(max(len(x) for x in X))


def pad_sequences(
    X: np.ndarray | Sequence[np.ndarray], length: int
) -> tuple[np.ndarray, bool]:
    """Keep the last ``length`` steps of each sequence and NaN-pad shorter ones at the end.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_timesteps, n_features) or list of (t_i, n_features)
    length : int
        Number of steps of the result.

    Returns
    -------
    X_padded : ndarray of shape (n_samples, length, n_features), float32
    padded : bool
        Whether any sequence was shorter than ``length`` (and so needs a mask).
    """
    if isinstance(X, np.ndarray):
        t = X.shape[1]
        if t >= length:
            return X[:, t - length :], False
        out = np.full((X.shape[0], length, X.shape[2]), np.nan, dtype=np.float32)
        out[:, :t] = X
        return out, True
    n_features = X[0].shape[1]
    out = np.full((len(X), length, n_features), np.nan, dtype=np.float32)
    padded = False
    for i, x in enumerate(X):
        x = x[-length:]
        out[i, : len(x)] = x
        padded |= len(x) < length
    return out, padded
