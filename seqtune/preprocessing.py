"""Invertible series transforms for the forecaster (log, differencing, scaling), and the
dates of its forecasts (:func:`future_index`).

The transforms run in this order, and predictions are inverted in reverse:

1. ``log``: ``w = log(y)`` for multiplicative seasonality or growth (needs ``y > 0``);
2. seasonal differencing with period ``m``: ``u_t = w_t - w_{t-m}``;
3. plain differencing, ``difference`` times: ``z_t = u_t - u_{t-1}``;
4. standard scaling of ``z`` (and of exogenous features), fitted on training data only.

Differencing drops the first ``n_lost = seasonal_difference + difference`` steps, so a
forecast of ``z`` is turned back into ``y`` from the last ``n_lost`` values of the
history in the log scale (:meth:`SeriesTransformer.inverse_forecast`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

__all__ = ["SeriesTransformer", "difference_series", "future_index", "level_stationarity_pvalue",
           "undifference_forecast"]

SCALINGS = ("standard", "window", None)


def difference_series(w: np.ndarray, difference: int = 0, seasonal_difference: int | None = None) -> np.ndarray:
    """Apply seasonal then plain differencing along axis 0.

    Parameters
    ----------
    w : ndarray of shape (n_timesteps, n_channels)
    difference : int
        Number of plain (lag 1) differences.
    seasonal_difference : int or None
        Seasonal period ``m`` of one seasonal difference, or None for none.

    Returns
    -------
    z : ndarray of shape (n_timesteps - n_lost, n_channels)
        ``n_lost = (seasonal_difference or 0) + difference``.
    """
    z = np.asarray(w, dtype=float)
    if seasonal_difference:
        m = int(seasonal_difference)
        z = z[m:] - z[:-m]
    for _ in range(int(difference)):
        z = np.diff(z, axis=0)
    return z


def undifference_forecast(
    z_future: np.ndarray, w_tail: np.ndarray, difference: int = 0, seasonal_difference: int | None = None
) -> np.ndarray:
    """Invert :func:`difference_series` for forecasts that continue known histories.

    Parameters
    ----------
    z_future : ndarray of shape (n_origins, horizon, n_channels)
        Forecasts of the differenced series for the steps after each history.
    w_tail : ndarray of shape (n_origins, n_lost, n_channels)
        The last ``n_lost`` undifferenced values (after the log, if any) of each history.
    difference, seasonal_difference
        As given to :func:`difference_series`.

    Returns
    -------
    w_future : ndarray of shape (n_origins, horizon, n_channels)
    """
    z_future = np.asarray(z_future, dtype=float)
    w_tail = np.asarray(w_tail, dtype=float)
    m = int(seasonal_difference or 0)
    d = int(difference)
    horizon = z_future.shape[1]
    # Rebuild the levels of each differencing stage from the tail: stages[0] = w, stages[1] = after
    # the seasonal difference, ... stages[-1] = z. Each stage keeps its last values only.
    stages = [w_tail]
    if m:
        stages.append(w_tail[:, m:] - w_tail[:, :-m])
    for _ in range(d):
        stages.append(np.diff(stages[-1], axis=1))
    # Integrate back one stage at a time: plain differences first, then the seasonal one.
    out = z_future
    for level in range(len(stages) - 2, -1, -1):
        tail = stages[level]
        is_seasonal = m and level == 0
        lag = m if is_seasonal else 1
        values = np.concatenate([tail[:, tail.shape[1] - lag :], np.empty_like(out)], axis=1)
        for h in range(horizon):
            values[:, lag + h] = values[:, h] + out[:, h]
        out = values[:, lag:]
    return out


class SeriesTransformer:
    """Log / difference / scale a series, fitted on training data, invertible for forecasts.

    Parameters
    ----------
    log : bool
        Take the natural log first (the series must be strictly positive).
    difference : int
        Plain differences (0, 1 or 2).
    seasonal_difference : int or None
        Seasonal period of one seasonal difference (e.g. 12 for monthly data).
    scaling : {"standard", "window", None}
        ``"standard"``: standardise the differenced series and the exogenous features
        with statistics of the training data. ``"window"``: standardise only the
        exogenous features here; the targets are standardised per window later
        (:func:`seqtune.windows.normalize_windows`).

    Attributes
    ----------
    n_lost_ : int
        Leading steps dropped by differencing.
    scaler_ : StandardScaler or None
    exog_scaler_ : StandardScaler or None
    """

    def __init__(
        self,
        log: bool = False,
        difference: int = 0,
        seasonal_difference: int | None = None,
        scaling: str | None = "standard",
    ) -> None:
        self.log = log
        self.difference = difference
        self.seasonal_difference = seasonal_difference
        self.scaling = scaling

    @property
    def n_lost(self) -> int:
        return int(self.seasonal_difference or 0) + int(self.difference)

    def _log(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if not self.log:
            return y
        if np.any(y <= 0):
            bad = float(y[y <= 0].flat[0])
            raise ValueError(
                f"log=True needs a strictly positive series, but y holds {bad!r}; "
                "use log=False or shift the series."
            )
        return np.log(y)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> SeriesTransformer:
        """Fit the scalers on the training series ``y`` (n_timesteps, n_channels) and ``X``."""
        z = difference_series(self._log(y), self.difference, self.seasonal_difference)
        self.n_lost_ = self.n_lost
        self.scaler_ = StandardScaler().fit(z) if self.scaling == "standard" else None
        self.exog_scaler_ = (
            StandardScaler().fit(np.asarray(X, dtype=float))
            if self.scaling in ("standard", "window") and X is not None else None
        )
        return self

    def transform(self, y: np.ndarray, X: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Transform ``y`` (and ``X``), dropping the ``n_lost_`` leading steps from both.

        Returns
        -------
        z : ndarray of shape (n_timesteps - n_lost_, n_channels), float32
        X_t : ndarray of shape (n_timesteps - n_lost_, n_exogenous), float32, or None
        """
        z = difference_series(self._log(y), self.difference, self.seasonal_difference)
        if self.scaler_ is not None:
            z = self.scaler_.transform(z)
        X_t = None
        if X is not None:
            X_t = np.asarray(X, dtype=float)[self.n_lost_ :]
            if self.exog_scaler_ is not None:
                X_t = self.exog_scaler_.transform(X_t)
            X_t = X_t.astype(np.float32)
        return z.astype(np.float32), X_t

    def inverse_forecast(self, z_future: np.ndarray, y_tail: np.ndarray) -> np.ndarray:
        """Turn forecasts of the transformed series back into the original scale.

        Parameters
        ----------
        z_future : ndarray of shape (n_origins, horizon, n_channels)
            Model outputs in the transformed (scaled, differenced) space.
        y_tail : ndarray of shape (n_origins, n_lost_, n_channels)
            The last ``n_lost_`` original values of each history (unused when
            no differencing is done).

        Returns
        -------
        y_future : ndarray of shape (n_origins, horizon, n_channels)
        """
        z = np.asarray(z_future, dtype=float)
        n, h, k = z.shape
        if self.scaler_ is not None:
            z = self.scaler_.inverse_transform(z.reshape(n * h, k)).reshape(n, h, k)
        if self.n_lost_:
            w = undifference_forecast(z, self._log(y_tail), self.difference, self.seasonal_difference)
        else:
            w = z
        return np.exp(w) if self.log else w


def level_stationarity_pvalue(y: np.ndarray) -> float | None:
    """The smallest KPSS p-value over the channels: does any wander from a constant level?

    The KPSS test's null hypothesis is a stationary series around a constant level
    (``statsmodels.tsa.stattools.kpss``, ``regression="c"``, automatic lags); a small
    p-value says a channel trends or drifts, so a model of the undifferenced levels
    would have to forecast values beyond any it was trained on. statsmodels reports
    p-values within [0.01, 0.1] only (its table's ends).

    Parameters
    ----------
    y : ndarray of shape (n_timesteps, n_channels)
        Non-finite steps are left out.

    Returns
    -------
    float or None
        None when no channel has the 12 finite steps the test is given at least.
    """
    import warnings

    from statsmodels.tsa.stattools import kpss

    pvalues = []
    for column in np.asarray(y, dtype=float).reshape(len(y), -1).T:
        column = column[np.isfinite(column)]
        if len(column) < 12 or np.ptp(column) == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # InterpolationWarning: p outside its table
            pvalues.append(float(kpss(column, regression="c", nlags="auto")[1]))
    return min(pvalues) if pvalues else None


def future_index(index: pd.Index, horizon: int) -> pd.Index:
    """The ``horizon`` labels after the end of ``index``, frequency-aware.

    Parameters
    ----------
    index : pandas.PeriodIndex, DatetimeIndex (with a regular frequency) or integer index
    horizon : int

    Returns
    -------
    pandas.Index of length ``horizon``

    Raises
    ------
    ValueError
        For an index with no regular frequency, or of a type that cannot be extended.
    """
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(index[-1] + 1, periods=horizon, freq=index.freq, name=index.name)
    if isinstance(index, pd.DatetimeIndex):
        freq = index.freq or (pd.infer_freq(index) if len(index) >= 3 else None)
        if freq is None:
            raise ValueError(
                "Cannot date the forecast: the DatetimeIndex of the history has no regular "
                "frequency. Set one with y.asfreq('<freq>') (e.g. 'D', 'MS', 'h'), or pass "
                "numpy arrays."
            )
        return pd.date_range(index[-1], periods=horizon + 1, freq=freq, name=index.name)[1:]
    if isinstance(index, pd.RangeIndex) or pd.api.types.is_integer_dtype(index):
        step = index[-1] - index[-2] if len(index) >= 2 else 1
        return pd.RangeIndex(index[-1] + step, index[-1] + step * (horizon + 1), step, name=index.name)
    raise ValueError(
        f"Cannot extend an index of type {type(index).__name__} into the future; use a "
        "DatetimeIndex, PeriodIndex or integer index, or pass numpy arrays."
    )
