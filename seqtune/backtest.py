"""Forecast metrics and expanding-window backtests.

:func:`forecast_metrics` scores forecasts against actuals (MAE, RMSE, sMAPE, MASE);
:class:`RollingScoreMixin` gives a forecaster ``evaluate`` and ``score`` from its rolling
forecasts; :func:`backtest` refits a forecaster at several origins of one series and
returns one row per origin, so that lookbacks or cells can be compared from a single
DataFrame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

__all__ = ["METRICS", "RollingScoreMixin", "backtest", "forecast_metrics", "mase_period",
           "mase_scale"]

METRICS = ("mae", "rmse", "smape", "mase")


def mase_scale(y_train: np.ndarray, seasonal_period: int = 1) -> np.ndarray:
    """In-sample MAE of the seasonal naive forecast, per channel (the MASE denominator).

    Parameters
    ----------
    y_train : ndarray of shape (n_timesteps,) or (n_timesteps, n_channels)
    seasonal_period : int
        ``m`` of the naive forecast ``y_t = y_{t-m}``; 1 is the plain naive forecast.

    Returns
    -------
    scale : ndarray of shape (n_channels,)
    """
    y = np.asarray(y_train, dtype=float)
    y = y[:, None] if y.ndim == 1 else y
    m = int(seasonal_period)
    if m < 1 or len(y) <= m:
        raise ValueError(
            f"MASE needs a training series longer than seasonal_period={seasonal_period}; "
            f"got {len(y)} steps."
        )
    return np.mean(np.abs(y[m:] - y[:-m]), axis=0)


def mase_period(seasonal_difference: int | None, seasonal_period: int | None = None) -> int:
    """The ``m`` of MASE's naive forecast for a forecaster, the one rule every scorer uses.

    Parameters
    ----------
    seasonal_difference : int or None
        The forecaster's ``seasonal_difference``: its season, when it has one.
    seasonal_period : int, optional
        An explicit period, which wins.

    Returns
    -------
    int
        ``seasonal_period`` if given, else ``seasonal_difference``, else 1 (the plain
        naive forecast).
    """
    return int(seasonal_period or seasonal_difference or 1)


def forecast_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    y_train: np.ndarray | None = None,
    seasonal_period: int = 1,
    metrics: Sequence[str] = METRICS,
    scale: np.ndarray | None = None,
) -> dict[str, float]:
    """Score forecasts against actuals.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n,) or (n, n_channels), or any shape ending in n_channels
        Actual and forecast values; all leading axes are pooled.
    y_train : ndarray of shape (n_timesteps,) or (n_timesteps, n_channels), optional
        History that scales MASE; required when "mase" is asked for.
    seasonal_period : int
        Period of the naive forecast that scales MASE.
    metrics : sequence of {"mae", "rmse", "smape", "mase"}
    scale : ndarray of shape (n_channels,), optional
        MASE's denominators, as :func:`mase_scale` computes them from ``y_train``; when
        given, ``y_train`` and ``seasonal_period`` are not needed.

    Returns
    -------
    dict
        ``mae`` and ``rmse`` in the units of y; ``smape`` in percent (0-200);
        ``mase``: the MAE of each channel over its in-sample seasonal-naive MAE,
        averaged over channels.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"Unknown metrics {unknown}; expected a subset of {METRICS}.")
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}; they must match.")
    err = y_pred - y_true
    out: dict[str, float] = {}
    if "mae" in metrics:
        out["mae"] = float(np.mean(np.abs(err)))
    if "rmse" in metrics:
        out["rmse"] = float(np.sqrt(np.mean(err**2)))
    if "smape" in metrics:
        denom = np.abs(y_true) + np.abs(y_pred)
        # 0/0 (both exactly zero) counts as a perfect forecast.
        ratio = np.divide(2.0 * np.abs(err), denom, out=np.zeros_like(denom), where=denom > 0)
        out["smape"] = float(100.0 * np.mean(ratio))
    if "mase" in metrics:
        if scale is None and y_train is None:
            raise ValueError("The 'mase' metric needs y_train (the history that scales it) "
                             "or its scale.")
        scale = mase_scale(y_train, seasonal_period) if scale is None else np.asarray(scale, float)
        k = scale.shape[0]
        mae_per_channel = np.mean(np.abs(err).reshape(-1, k), axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["mase"] = float(np.mean(mae_per_channel / scale))
    return {m: out[m] for m in metrics}


class RollingScoreMixin:
    """``evaluate`` and ``score`` for a forecaster that has ``rolling_forecasts``.

    Shared by :class:`~seqtune.SequenceForecaster` and
    :class:`~seqtune.SequenceEnsembleForecaster`: each brings ``rolling_forecasts``
    (actuals, forecasts and history, as ``SequenceForecaster.rolling_forecasts``) and
    :meth:`_seasonal_difference`.
    """

    def _seasonal_difference(self) -> int | None:
        """The seasonal differencing that sets MASE's default period."""
        raise NotImplementedError

    def evaluate(
        self,
        y_val: Any,
        X_val: Any = None,
        *,
        y_history: Any = None,
        X_history: Any = None,
        seasonal_period: int | None = None,
    ) -> dict[str, float]:
        """Score rolling forecasts through a continuation (see ``rolling_forecasts``).

        Parameters
        ----------
        y_val : array-like of shape (n_val,) or (n_val, n_targets)
        X_val : array-like of shape (n_val, n_exogenous), optional
        y_history, X_history : optional
            The history before ``y_val``; the training series by default.
        seasonal_period : int or None
            Period of the naive forecast that scales MASE; defaults to
            ``seasonal_difference`` when set (an ensemble's first member's), else 1.

        Returns
        -------
        dict
            ``mae``, ``rmse``, ``smape`` (percent) and ``mase`` (mean over channels),
            over all forecast steps pooled.
        """
        truth, preds, history = self.rolling_forecasts(y_val, X_val, y_history=y_history,
                                                       X_history=X_history)
        period = mase_period(self._seasonal_difference(), seasonal_period)
        return forecast_metrics(truth, preds, y_train=history, seasonal_period=period)

    def score(self, y: Any, X: Any = None, y_history: Any = None, X_history: Any = None) -> float:
        """Negative MAE of rolling forecasts over the continuation ``y`` (higher is better).

        See :meth:`evaluate`; ``y_history`` defaults to the training series.
        """
        return -self.evaluate(y, X, y_history=y_history, X_history=X_history)["mae"]


def _rows(obj: Any, start: int, stop: int) -> Any:
    if obj is None:
        return None
    return obj.iloc[start:stop] if isinstance(obj, (pd.Series, pd.DataFrame)) else obj[start:stop]


def backtest(
    forecaster: Any,
    y: Any,
    X: Any = None,
    *,
    n_origins: int = 5,
    step: int | None = None,
    metrics: Sequence[str] = METRICS,
    refit: bool = True,
    seasonal_period: int | None = None,
) -> pd.DataFrame:
    """Expanding-window evaluation of a forecaster over the end of a series.

    The origins are the last ``n_origins`` cut points spaced ``step`` apart, the last
    one leaving exactly ``horizon`` steps: at origin ``t`` the forecaster is fitted on
    ``y[:t]`` (a fresh clone when ``refit``; otherwise the one fit at the first origin)
    and forecasts ``y[t:t + horizon]``.

    Parameters
    ----------
    forecaster : SequenceForecaster, or a list or dict of them
        An unfitted (or fitted) forecaster; it is cloned, never modified. Several
        forecasters (e.g. lookbacks or cells to compare) give one frame with a
        ``config`` column: the dict key, or the list position.
    y : array-like of shape (n_timesteps,) or (n_timesteps, n_targets), or pandas
    X : array-like of shape (n_timesteps, n_exogenous), optional
    n_origins : int
        Number of forecast origins.
    step : int or None
        Steps between origins; defaults to the forecaster's ``horizon``
        (non-overlapping test windows).
    metrics : sequence of {"mae", "rmse", "smape", "mase"}
    refit : bool
        Refit at every origin (expanding window). With False the forecaster is fitted
        once, at the first origin, and later origins only extend its history.
    seasonal_period : int or None
        Period of the naive forecast that scales MASE (12 for monthly data). None: the
        forecaster's ``seasonal_difference``, else 1, as ``evaluate`` and the search's
        ``"mase"`` objective (:func:`mase_period`).

    Returns
    -------
    pandas.DataFrame
        One row per origin, with columns ``origin`` (position of the first forecast
        step), ``origin_label`` (its index label for pandas input), ``n_train``,
        ``fit_time_s``, one column per metric, and the forecaster's ``lookback``,
        ``horizon``, ``cell`` and ``strategy`` so that frames from several
        configurations can be concatenated and grouped.
    """
    if isinstance(forecaster, (list, tuple, dict)):
        items = forecaster.items() if isinstance(forecaster, dict) else enumerate(forecaster)
        frames = [
            backtest(f, y, X, n_origins=n_origins, step=step, metrics=metrics, refit=refit,
                     seasonal_period=seasonal_period).assign(config=key)
            for key, f in items
        ]
        df = pd.concat(frames, ignore_index=True)
        return df[["config", *[c for c in df.columns if c != "config"]]]
    import time

    horizon = forecaster.get_params()["horizon"]
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon={horizon!r} must be an integer >= 1.")
    if n_origins < 1:
        raise ValueError(f"n_origins={n_origins!r} must be >= 1.")
    period = mase_period(forecaster.get_params().get("seasonal_difference"), seasonal_period)
    step = horizon if step is None else int(step)
    if step < 1:
        raise ValueError(f"step={step!r} must be >= 1.")
    n = len(y)
    origins = [n - horizon - i * step for i in range(n_origins)][::-1]
    if origins[0] < 1:
        raise ValueError(
            f"n_origins={n_origins} with step={step} and horizon={horizon} need more than "
            f"{horizon + (n_origins - 1) * step} steps; y has {n}. Lower n_origins or step."
        )
    lookback = forecaster.get_params().get("lookback")
    if lookback is not None and forecaster.max_lookback(origins[0]) < int(lookback):
        raise ValueError(
            f"n_origins={n_origins} with step={step} puts the first origin at step "
            f"{origins[0]}, too early to fit lookback={lookback} with horizon={horizon} (a "
            f"lookback of at most {forecaster.max_lookback(origins[0])} fits there). Lower "
            "n_origins or step."
        )
    rows = []
    fitted = None
    y_values = y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
    for origin in origins:
        start = time.perf_counter()
        y_hist, X_hist = _rows(y, 0, origin), _rows(X, 0, origin)
        if refit or fitted is None:
            fitted = clone(forecaster).fit(y_hist, X_hist)
            fit_time = time.perf_counter() - start
        else:
            fit_time = 0.0
        pred = fitted.predict(y_history=y_hist, X=X_hist)
        pred = pred.to_numpy() if isinstance(pred, (pd.Series, pd.DataFrame)) else np.asarray(pred)
        truth = y_values[origin : origin + horizon]
        scores = forecast_metrics(
            truth, pred, y_train=y_values[:origin], seasonal_period=period, metrics=metrics
        )
        label = y.index[origin] if isinstance(y, (pd.Series, pd.DataFrame)) else origin
        params = fitted.get_params()
        rows.append(
            {
                "origin": origin,
                "origin_label": label,
                "n_train": origin,
                "fit_time_s": fit_time,
                **scores,
                "lookback": params["lookback"],
                "horizon": params["horizon"],
                "cell": params["cell"],
                "strategy": params["strategy"],
            }
        )
    return pd.DataFrame(rows)
