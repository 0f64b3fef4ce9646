"""Validation splits, defined once for the estimators and the search.

Two kinds of holdout exist in seqtune:

* :func:`holdout_split`: a shuffled, stratified-when-possible share of the samples, for
  sequence classifiers and regressors (their samples are exchangeable);
* :func:`tail_split`: the most recent share, in time order, for forecasters (shuffling
  would let a model see the future of its validation targets).

Both return index arrays, so any container (arrays, lists of ragged arrays, pandas
objects) is cut the same way with :func:`take`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing

__all__ = ["holdout_split", "tail_split", "take", "n_rows"]


def holdout_split(
    n_samples: int,
    fraction: float,
    *,
    stratify: Any = None,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Shuffled holdout of ``ceil(fraction * n_samples)`` samples, stratified when possible.

    Parameters
    ----------
    n_samples : int
    fraction : float in (0, 1)
        Share held out.
    stratify : array-like of shape (n_samples,), default=None
        Class labels to stratify by. When some class is too small to appear on both
        sides, the split falls back to a plain shuffled one (see the returned flag).
    random_state : int, RandomState instance or None

    Returns
    -------
    train, held_out : ndarray of int
        Row indices, in scikit-learn's shuffled order.
    stratified : bool
        False when ``stratify`` was given but a stratified split was impossible.
    """
    idx = np.arange(n_samples)
    n_held_out = math.ceil(fraction * n_samples)
    try:
        train, held_out = train_test_split(
            idx, test_size=n_held_out, stratify=stratify, random_state=random_state)
        return train, held_out, True
    except ValueError:
        if stratify is None:
            raise
    train, held_out = train_test_split(idx, test_size=n_held_out, random_state=random_state)
    return train, held_out, False


def tail_split(n_steps: int, fraction: float, *, min_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The last ``max(min_size, ceil(fraction * n_steps))`` steps, in time order.

    Parameters
    ----------
    n_steps : int
        Length of the series (or number of windows).
    fraction : float in (0, 1)
    min_size : int, default=1
        Smallest tail, e.g. a forecaster's ``horizon``.

    Returns
    -------
    train, tail : ndarray of int
        ``arange(n_steps - n_tail)`` and the ``n_tail`` indices after it; ``train``
        may be empty when the series is too short (callers decide what that means).
    """
    n_tail = min(n_steps, max(int(min_size), math.ceil(fraction * n_steps)))
    cut = n_steps - n_tail
    return np.arange(cut), np.arange(cut, n_steps)


def take(data: Any, indices: np.ndarray) -> Any:
    """Rows ``indices`` of an array, a list of sequences or a pandas object (None stays None)."""
    if data is None:
        return None
    return _safe_indexing(data, indices)


def n_rows(data: Any) -> int:
    """Number of samples (or time steps) of an array, a list or a pandas object."""
    return int(data.shape[0]) if hasattr(data, "shape") else len(data)
