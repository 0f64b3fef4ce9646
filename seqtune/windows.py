"""Forecasting windows cut from a strided view of a series, one batch at a time.

A series of ``T`` steps and ``k`` channels holds ``T - lookback - horizon + 1``
windows. Copying each of them would need ``O(T * lookback * k)`` memory (about
10 GB for five million steps at ``lookback=512``); here the windows are a
read-only ``numpy.lib.stride_tricks.sliding_window_view`` of the series, and
:class:`WindowDataset` copies only the rows of the batch Keras asks for, so
memory stays ``O(T * k + batch_size * lookback * k)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "WindowDataset",
    "n_windows",
    "normalize_windows",
    "sliding_windows",
    "window_starts",
]

STRATEGIES = ("direct", "seq2seq")


def sliding_windows(a: np.ndarray, length: int) -> np.ndarray:
    """All windows of ``length`` consecutive rows of ``a``, as a view (no copy).

    Parameters
    ----------
    a : ndarray of shape (n_timesteps, n_features)
    length : int
        Rows per window.

    Returns
    -------
    windows : ndarray of shape (n_timesteps - length + 1, length, n_features)
        A read-only view sharing memory with ``a``; ``windows[i] == a[i:i + length]``.
    """
    if a.ndim != 2:
        raise ValueError(f"sliding_windows expects a 2-D array (n_timesteps, n_features); got shape {a.shape}.")
    if not 1 <= length <= a.shape[0]:
        raise ValueError(
            f"Window length={length} must lie between 1 and the series length {a.shape[0]}."
        )
    # sliding_window_view puts the window axis last: (n, n_features, length) -> (n, length, n_features).
    return sliding_window_view(a, length, axis=0).transpose(0, 2, 1)


def normalize_windows(
    history: np.ndarray, n_targets: int, eps: float = 1e-6
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise each window's target channels by their own mean and std over the lookback.

    Per-window ("instance") normalisation lets one model follow a series whose level or
    spread drifts (trend, multiplicative seasonality) without differencing: the model
    sees shapes, and its forecasts are mapped back with the window's own statistics.

    Parameters
    ----------
    history : ndarray of shape (n_windows, lookback, n_features)
        The first ``n_targets`` features are targets; the rest (exogenous) are left as is.
    n_targets : int
    eps : float
        Floor of the standard deviation, so that flat windows do not divide by zero.

    Returns
    -------
    normalised : ndarray of shape (n_windows, lookback, n_features)
        A new array (the input is not modified).
    mean, std : ndarray of shape (n_windows, 1, n_targets)
        Map forecasts back with ``forecast * std + mean``.
    """
    targets = history[:, :, :n_targets]
    mean = targets.mean(axis=1, keepdims=True)
    std = np.maximum(targets.std(axis=1, keepdims=True), eps)
    normalised = history.copy()
    normalised[:, :, :n_targets] = (targets - mean) / std
    return normalised, mean, std


def n_windows(n_timesteps: int, lookback: int, horizon: int) -> int:
    """Number of complete (``lookback`` history + ``horizon`` targets) windows in a series."""
    return max(0, n_timesteps - lookback - horizon + 1)


def window_starts(
    n_timesteps: int, lookback: int, horizon: int, *, first_target: int = 0
) -> np.ndarray:
    """Start indices of the complete windows whose first target step is ``>= first_target``.

    A window starting at ``s`` reads history rows ``s .. s + lookback - 1`` and target rows
    ``s + lookback .. s + lookback + horizon - 1``. ``first_target`` selects validation
    windows whose targets lie in a continuation appended at that row while their
    history may reach back into the training part.
    """
    lo = max(0, first_target - lookback)
    return np.arange(lo, n_windows(n_timesteps, lookback, horizon), dtype=np.int64)


class WindowDataset(keras.utils.PyDataset):
    """A Keras ``PyDataset`` of forecasting windows that builds one batch at a time.

    Parameters
    ----------
    y : ndarray of shape (n_timesteps, n_targets)
        The (already transformed) target series.
    X : ndarray of shape (n_timesteps, n_exogenous) or None
        Exogenous features aligned row by row with ``y``; they are fed beside ``y``
        over the ``lookback`` history of each window (past covariates).
    lookback : int
        History rows per window.
    horizon : int
        Target rows per window.
    strategy : {"direct", "seq2seq"}
        ``"direct"`` yields ``(history, targets)`` with targets flattened to
        ``(batch, horizon * n_targets)``. ``"seq2seq"`` yields
        ``((history, decoder_inputs), targets)`` for teacher forcing: the decoder
        input at step ``h`` is the true ``y`` one step before target ``h``; targets
        have shape ``(batch, horizon, n_targets)``.
    starts : sequence of int or None
        Window start indices to serve (see :func:`window_starts`); all complete
        windows when None.
    batch_size : int
    shuffle : bool
        Draw a new order of the windows every epoch.
    seed : int or None
        Seed of the shuffling generator, for reproducible epochs.
    window_norm : bool
        Standardise each window's history, targets and decoder inputs by the mean and
        std of its own history (see :func:`normalize_windows`).
    **kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size`` for ``PyDataset``.

    Notes
    -----
    The series is stored once as float32 ``(n_timesteps, n_targets + n_exogenous)``;
    ``history_windows`` is a strided view of it, so no per-window copy exists until
    ``__getitem__`` gathers one batch.
    """

    def __init__(
        self,
        y: np.ndarray,
        X: np.ndarray | None = None,
        *,
        lookback: int,
        horizon: int,
        strategy: str = "direct",
        starts: Sequence[int] | np.ndarray | None = None,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int | None = None,
        window_norm: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy={strategy!r} is not supported; expected one of {STRATEGIES}.")
        y = np.asarray(y, dtype=np.float32)
        if y.ndim == 1:
            y = y[:, None]
        if X is not None:
            X = np.asarray(X, dtype=np.float32)
            if X.ndim == 1:
                X = X[:, None]
            if X.shape[0] != y.shape[0]:
                raise ValueError(
                    f"Exogenous X has {X.shape[0]} rows but y has {y.shape[0]}; they must be aligned row by row."
                )
        self.lookback = int(lookback)
        self.horizon = int(horizon)
        self.strategy = strategy
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.window_norm = bool(window_norm)
        self.n_targets = y.shape[1]
        # One contiguous float32 copy of the series (O(T * k)), whatever the input dtype.
        self.series = (
            np.ascontiguousarray(y) if X is None else np.ascontiguousarray(np.concatenate([y, X], axis=1))
        )
        total = n_windows(len(self.series), self.lookback, self.horizon)
        if total == 0:
            raise ValueError(
                f"A series of {len(self.series)} steps holds no window of lookback={self.lookback} "
                f"+ horizon={self.horizon} steps; give at least {self.lookback + self.horizon} steps "
                "or lower lookback/horizon."
            )
        self.starts = (
            np.arange(total, dtype=np.int64) if starts is None else np.asarray(starts, dtype=np.int64)
        )
        if self.starts.size == 0:
            raise ValueError("WindowDataset got no window start indices (starts is empty).")
        if self.starts.min() < 0 or self.starts.max() >= total:
            raise ValueError(
                f"Window start indices must lie in [0, {total - 1}]; "
                f"got {self.starts.min()}..{self.starts.max()}."
            )
        # Views into self.series: the windows exist only as strides.
        self.history_windows = sliding_windows(self.series, self.lookback)
        self.target_windows = sliding_windows(self.series[:, : self.n_targets], self.horizon)
        self._rng = np.random.default_rng(seed)
        self._order = self.starts.copy()
        if self.shuffle:
            self._rng.shuffle(self._order)

    def __len__(self) -> int:
        return -(-len(self._order) // self.batch_size)

    @property
    def num_batches(self) -> int:
        return len(self)

    def __getitem__(self, index: int):
        if index < 0 or index >= len(self):
            raise IndexError(f"Batch index {index} out of range for {len(self)} batches.")
        starts = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        # Fancy indexing on the strided views copies just this batch.
        history = self.history_windows[starts]
        targets = self.target_windows[starts + self.lookback]
        decoder_inputs = (
            self.target_windows[starts + self.lookback - 1] if self.strategy == "seq2seq" else None
        )
        if self.window_norm:
            history, mean, std = normalize_windows(history, self.n_targets)
            targets = (targets - mean) / std
            if decoder_inputs is not None:
                decoder_inputs = (decoder_inputs - mean) / std
        if self.strategy == "direct":
            return history, targets.reshape(len(starts), -1)
        return (history, decoder_inputs), targets

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._rng.shuffle(self._order)
