"""``SequenceForecaster``: a raw series in, ``lookback`` and ``horizon`` as plain parameters.

``fit`` transforms the series (log, differencing, scaling; fitted on the training data
only), cuts windows from a strided view of it (:mod:`seqtune.windows`, O(T * k)
memory) and trains either a direct multi-output recurrent model or an
encoder-decoder (:mod:`seqtune.seq2seq`). ``predict`` forecasts the ``horizon`` steps
after a history; ``evaluate`` rolls origins through a held-out continuation with one
batched model call.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import keras
import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import BaseSequenceEstimator, seeded
from .backtest import RollingScoreMixin
from .model import build_recurrent_model, predict_in_batches
from .preprocessing import SeriesTransformer, future_index
from .seq2seq import build_seq2seq_model, decode_autoregressive
from .splits import tail_split
from .validation import check_exog, check_exog_presence, check_history, check_series
from .windows import (
    STRATEGIES,
    WindowDataset,
    n_windows,
    normalize_windows,
    sliding_windows,
    window_starts,
)

__all__ = ["SequenceForecaster"]

_MEANING = {"horizon": "future steps to forecast", "lookback": "past steps the model sees"}


class SequenceForecaster(RollingScoreMixin, BaseSequenceEstimator):
    """Recurrent forecaster of the next ``horizon`` steps from the last ``lookback`` steps.

    Parameters
    ----------
    lookback : int, default=24
        Past steps the model sees (after differencing).
    horizon : int, default=1
        Steps ahead it forecasts at once.
    strategy : {"direct", "seq2seq"}, default="direct"
        ``"direct"``: one dense head with ``horizon * n_targets`` outputs.
        ``"seq2seq"``: an encoder-decoder trained with teacher forcing, decoded
        autoregressively at prediction time.
    scaling : {"standard", "window", None}, default="standard"
        ``"standard"``: standardise the (transformed) series and the exogenous
        features with statistics of the training series. ``"window"``: standardise
        each window by the mean and std of its own lookback (instance normalisation,
        as neuralforecast and RevIN do) so that one model follows drifting levels and
        spreads without differencing; exogenous features get the training statistics.
    log : bool, default=False
        Model ``log(y)``: for multiplicative seasonality or exponential growth
        (the series must be positive).
    difference : int, default=1
        Plain differences taken before scaling (0, 1 or 2). With the default 1 the model
        forecasts changes rather than levels, so it can follow a trend beyond the range
        it was trained on (a scaled level model cannot). Set 0 for series without trend
        or level shifts, such as growth rates.
    seasonal_difference : int or None, default=None
        Period ``m`` of one seasonal difference (e.g. 12 for monthly data).
    loss : {"mse", "mae", "huber"}, default="mse"
        Training loss on the transformed series. "mae" trains for the median, which
        suits MAE/MASE-scored forecasts of series with outliers.
    linear_skip : bool, default=False
        Add a linear path from the flattened lookback window to the forecast, beside
        the recurrent network (LSTNet's autoregressive "highway"): the network then
        learns what a linear autoregression misses. Helps on short, nearly linear
        series (macroeconomic growth rates). ``strategy="direct"`` only.
    ensemble_size : int, default=1
        Train this many independently initialised networks side by side in one Keras
        model (one ``fit``, one batched predict) and average their forecasts: a deep
        ensemble. On series of a few hundred steps a single network's forecast
        varies a lot with its seed; averaging narrows that (figures in
        ``benchmarks/README.md``). Training costs about ``ensemble_size`` times as
        much. ``strategy="direct"`` only.
    cell : {"lstm", "gru", "rnn"}, default="lstm"
    units : int, default=64
    n_layers : int, default=1
    bidirectional : bool, default=False
        Bidirectional recurrent layers over the history.
    dropout, recurrent_dropout : float, default=0.0
    learning_rate : float, default=1e-3
    clipnorm : float or None, default=1.0
    batch_size : int, default=32
    epochs : int, default=200
    early_stopping : bool, default=True
        Stop when the validation loss stops improving (restoring the best weights).
        Validation windows are the continuation given as ``validation_data``, or else
        the last ``validation_fraction`` of the training windows in time order. With
        ``horizon > 1`` the first of those share target steps with the last training
        windows, as with Keras's ``validation_split``, so the validation loss is
        somewhat optimistic. A gap of ``horizon - 1`` windows would remove the overlap
        but also the most recent training data, which measured worse on Airline, so
        there is none. Pass ``validation_data`` for a disjoint continuation.
    validation_fraction : float, default=0.1
        With 0 nothing is held out and early stopping watches the training loss.
    patience : int, default=20
    random_state : int, RandomState or None, default=None
    verbose : int, default=0
    reduce_lr_patience : int or None, default=None
        Halve the learning rate when the monitored loss has not improved for this many
        epochs (down to ``learning_rate / 64``); None keeps it constant.

    Attributes
    ----------
    model_ : keras.Model
    history_ : dict of list of float
        Per-epoch ``loss`` (and ``val_loss``).
    n_epochs_ : int
    best_epoch_ : int
        0-based index into ``history_`` of the epoch whose weights the model holds (the
        best validation epoch with early stopping, else the last one).
    fit_time_ : float
        Seconds spent in ``model.fit``.
    fused_kernel_ : bool
    n_params_ : int
    n_targets_ : int
        Target channels ``k``.
    n_exogenous_ : int
        Exogenous features (0 when ``X`` was not given).
    transformer_ : SeriesTransformer
    y_train_ : ndarray of shape (n_timesteps, n_targets)
        The training series (history of the default ``predict`` and MASE scale).

    Examples
    --------
    >>> import numpy as np
    >>> from seqtune.forecaster import SequenceForecaster
    >>> y = np.sin(np.arange(200) / 5)
    >>> f = SequenceForecaster(lookback=20, horizon=5, units=8, epochs=2, random_state=0)
    >>> f.fit(y).predict().shape
    (5,)
    """

    _parameter_constraints: dict = {
        **BaseSequenceEstimator._parameter_constraints,
        "lookback": [Interval(Integral, 1, None, closed="left")],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions(set(STRATEGIES))],
        "scaling": [StrOptions({"standard", "window"}), None],
        "log": ["boolean"],
        "difference": [Interval(Integral, 0, 2, closed="both")],
        "seasonal_difference": [Interval(Integral, 2, None, closed="left"), None],
        "loss": [StrOptions({"mse", "mae", "huber"})],
        "linear_skip": ["boolean"],
        "ensemble_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        lookback: int = 24,
        horizon: int = 1,
        *,
        strategy: str = "direct",
        scaling: str | None = "standard",
        log: bool = False,
        difference: int = 1,
        seasonal_difference: int | None = None,
        loss: str = "mse",
        linear_skip: bool = False,
        ensemble_size: int = 1,
        cell: str = "lstm",
        units: int = 64,
        n_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        learning_rate: float = 1e-3,
        clipnorm: float | None = 1.0,
        batch_size: int = 32,
        epochs: int = 200,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 20,
        random_state: Any = None,
        verbose: int = 0,
        reduce_lr_patience: int | None = None,
    ) -> None:
        self.lookback = lookback
        self.horizon = horizon
        self.strategy = strategy
        self.scaling = scaling
        self.log = log
        self.difference = difference
        self.seasonal_difference = seasonal_difference
        self.loss = loss
        self.linear_skip = linear_skip
        self.ensemble_size = ensemble_size
        self.cell = cell
        self.units = units
        self.n_layers = n_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.learning_rate = learning_rate
        self.clipnorm = clipnorm
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose
        self.reduce_lr_patience = reduce_lr_patience

    # -- input checks -------------------------------------------------------------------

    def _check_forecast_params(self) -> None:
        # Explicit messages for the two parameters users set most, before the generic table.
        for name in ("horizon", "lookback"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(
                    f"{name}={value!r} is invalid: {name} must be an integer >= 1 "
                    f"(the number of {_MEANING[name]})."
                )
        self._validate_hyperparams()
        if self.scaling == "window" and self.lookback < 2:
            # One step has no spread: every window would normalise to zeros and every
            # forecast would collapse to the last value (the naive forecast).
            raise ValueError(
                f"scaling='window' needs lookback >= 2 (got lookback={self.lookback}): a "
                "one-step window has no spread to standardise by. Use scaling='standard' "
                "or a longer lookback."
            )
        if self.strategy == "seq2seq":
            given = {k: v for k, v, default in (("linear_skip", self.linear_skip, False),
                                                ("ensemble_size", self.ensemble_size, 1))
                     if v != default}
            if given:
                raise ValueError(
                    f"{', '.join(f'{k}={v!r}' for k, v in given.items())} is only available with "
                    "strategy='direct'; the seq2seq decoder has neither. Use strategy='direct' "
                    "or leave linear_skip=False and ensemble_size=1."
                )

    @property
    def _n_lost(self) -> int:
        return int(self.seasonal_difference or 0) + int(self.difference)

    @property
    def min_history(self) -> int:
        """The fewest steps ``predict``'s ``y_history`` may have: ``lookback`` plus differencing."""
        return int(self.lookback) + self._n_lost

    def max_lookback(self, n_timesteps: int) -> int:
        """The longest ``lookback`` that leaves a training window in a series of that length.

        A window needs ``lookback + horizon`` steps after differencing (plain and
        seasonal differences each cost their order in steps). The search uses this to
        narrow a space's ``lookback`` values to what its training series allows.

        Parameters
        ----------
        n_timesteps : int
            Length of the training series.

        Returns
        -------
        int
            At least 1 (a shorter series fails in ``fit`` with a message that says why).
        """
        return max(1, int(n_timesteps) - self._n_lost - int(self.horizon))

    # -- fit ----------------------------------------------------------------------------

    def fit(
        self,
        y: Any,
        X: Any = None,
        *,
        validation_data: Any = None,
        callbacks: list | None = None,
    ) -> SequenceForecaster:
        """Fit on a series; the windows are cut here.

        Parameters
        ----------
        y : array-like of shape (n_timesteps,) or (n_timesteps, n_targets)
            Or a pandas Series / DataFrame (any index; a DatetimeIndex or PeriodIndex
            gives dated forecasts). No NaN.
        X : array-like of shape (n_timesteps, n_exogenous), optional
            Exogenous features aligned with ``y`` (past covariates: the model sees
            them over the lookback window; ``predict`` needs them for the history).
        validation_data : y_val or (y_val, X_val), optional
            The continuation of ``y`` (and ``X``). Validation windows have their targets
            in ``y_val`` and may take their history from the end of ``y``; early
            stopping monitors them.
        callbacks : list of keras.callbacks.Callback, optional
            Extra callbacks (the search adds its time budget and NaN guards).

        Returns
        -------
        self
        """
        self._check_forecast_params()
        y_values, index = check_series(y, "y")
        x_values = check_exog(X, len(y_values), name="X", aligned_with="y")
        lookback, horizon, n_lost = int(self.lookback), int(self.horizon), self._n_lost
        needed = lookback + horizon + n_lost
        if len(y_values) < needed:
            raise ValueError(
                f"y has {len(y_values)} steps, fewer than lookback={lookback} + horizon={horizon}"
                + (f" + {n_lost} lost to differencing" if n_lost else "")
                + f" = {needed}; give a longer series or lower lookback/horizon."
            )

        self.univariate_ = np.ndim(y) == 1 or isinstance(y, pd.Series)
        self.n_targets_ = y_values.shape[1]
        self.n_exogenous_ = 0 if x_values is None else x_values.shape[1]
        self.index_ = index
        self.columns_ = list(y.columns) if isinstance(y, pd.DataFrame) else None
        self.name_ = y.name if isinstance(y, pd.Series) else None
        self.transformer_ = SeriesTransformer(
            log=self.log, difference=self.difference,
            seasonal_difference=self.seasonal_difference, scaling=self.scaling,
        ).fit(y_values, x_values)
        z, x_t = self.transformer_.transform(y_values, x_values)

        seed = self._seed()
        with seeded(seed):
            n_total = n_windows(len(z), lookback, horizon)
            train_starts = np.arange(n_total)
            val_ds = None
            if validation_data is not None:
                val_ds = self._validation_windows(validation_data, y_values, x_values)
            elif self.early_stopping and self.validation_fraction > 0:
                # Hold out the most recent windows, in time order: shuffling would let the model
                # see the future of its validation targets.
                keep, tail = tail_split(n_total, self.validation_fraction)
                if len(keep):
                    train_starts, val_starts = train_starts[keep], train_starts[tail]
                    val_ds = WindowDataset(
                        z, x_t, lookback=lookback, horizon=horizon, strategy=self.strategy,
                        starts=val_starts, batch_size=max(self.batch_size, 256),
                        window_norm=self.scaling == "window",
                    )
            train_ds = WindowDataset(
                z, x_t, lookback=lookback, horizon=horizon, strategy=self.strategy,
                starts=train_starts, batch_size=self.batch_size, shuffle=True, seed=seed,
                window_norm=self.scaling == "window",
            )
            model = self._build_model(n_features=self.n_targets_ + self.n_exogenous_)
            self._train(model, train_ds, validation_data=val_ds, callbacks=callbacks)

        self.y_train_ = y_values
        self.X_train_tail_ = None if x_values is None else x_values[-(lookback + n_lost) :]
        return self

    def _validation_windows(
        self, validation_data: Any, y_values: np.ndarray, x_values: np.ndarray | None
    ) -> WindowDataset:
        if isinstance(validation_data, tuple):
            if len(validation_data) != 2:
                raise ValueError(
                    "validation_data must be y_val or a pair (y_val, X_val); "
                    f"got a tuple of {len(validation_data)} items."
                )
            y_val, X_val = validation_data
        else:
            y_val, X_val = validation_data, None
        y_val, _ = check_series(y_val, "validation_data y_val")
        if y_val.shape[1] != self.n_targets_:
            raise ValueError(
                f"validation_data y_val has {y_val.shape[1]} channels but y has {self.n_targets_}."
            )
        x_val = check_exog(X_val, len(y_val), name="validation_data X_val", aligned_with="y_val")
        check_exog_presence(self.n_exogenous_, x_val, "validation_data X_val")
        if len(y_val) < self.horizon:
            raise ValueError(
                f"validation_data y_val has {len(y_val)} steps, fewer than horizon={self.horizon}; "
                "it must hold at least one full forecast window."
            )
        y_full = np.concatenate([y_values, y_val])
        x_full = None if x_values is None else np.concatenate([x_values, x_val])
        z_full, x_full_t = self.transformer_.transform(y_full, x_full)
        starts = window_starts(
            len(z_full), self.lookback, self.horizon, first_target=len(y_values) - self._n_lost
        )
        return WindowDataset(
            z_full, x_full_t, lookback=self.lookback, horizon=self.horizon, strategy=self.strategy,
            starts=starts, batch_size=max(self.batch_size, 256),
            window_norm=self.scaling == "window",
        )

    def _build_model(self, n_features: int) -> keras.Model:
        common = dict(
            cell=self.cell, units=self.units, n_layers=self.n_layers,
            bidirectional=self.bidirectional, dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout, learning_rate=self.learning_rate,
            clipnorm=self.clipnorm, loss=self.loss,
        )
        if self.strategy == "seq2seq":
            return build_seq2seq_model(
                lookback=self.lookback, n_features=n_features, n_targets=self.n_targets_,
                horizon=self.horizon, **common,
            )
        return build_recurrent_model(
            n_timesteps=self.lookback, n_features=n_features,
            n_outputs=self.horizon * self.n_targets_, head_activation=None,
            linear_skip=self.linear_skip, n_members=self.ensemble_size, **common,
        )

    # -- predict ------------------------------------------------------------------------

    def _history(self, y_history: Any, X: Any,
                 x_name: str = "X") -> tuple[np.ndarray, np.ndarray | None, pd.Index | None]:
        """Validate a prediction history; default to the end of the training series."""
        needed = self.min_history
        if y_history is None:
            if X is not None:
                raise ValueError(
                    f"{x_name} was given without y_history. Exogenous {x_name} is aligned with "
                    "y_history; pass both, or neither to forecast after the training series.")
            return self.y_train_[-needed:], self.X_train_tail_, self.index_
        why = f"lookback={self.lookback}" + (f" + {self._n_lost} lost to differencing"
                                             if self._n_lost else "")
        return check_history(y_history, X, n_targets=self.n_targets_,
                             n_exogenous=self.n_exogenous_, needed=needed, why=why, x_name=x_name)

    def _forecast_origins(self, y_full: np.ndarray, x_full: np.ndarray | None, origins: np.ndarray) -> np.ndarray:
        """Forecast after each origin of one series in a single batched model call.

        Parameters
        ----------
        y_full : ndarray of shape (n_timesteps, n_targets)
            Original-scale series; ``origins`` are positions of the first forecast step,
            each needing ``lookback + n_lost`` rows before it.
        x_full : ndarray of shape (n_timesteps, n_exogenous) or None
        origins : ndarray of int of shape (n_origins,)

        Returns
        -------
        ndarray of shape (n_origins, horizon, n_targets)
        """
        lookback, horizon, n_lost = int(self.lookback), int(self.horizon), self._n_lost
        # Transform only the rows the histories need (the transformer is row-local but for
        # differencing, which reaches back n_lost rows).
        lo = int(origins.min()) - lookback - n_lost
        hi = int(origins.max())
        z, x_t = self.transformer_.transform(y_full[lo:hi], None if x_full is None else x_full[lo:hi])
        series = z if x_t is None else np.concatenate([z, x_t], axis=1)
        # z row j is original row lo + n_lost + j; the window ending before origin o starts at
        # z row o - lo - n_lost - lookback.
        windows = sliding_windows(series, lookback)[origins - lo - n_lost - lookback]
        if self.scaling == "window":
            windows, mean, std = normalize_windows(windows, self.n_targets_)
        if self.strategy == "seq2seq":
            out = decode_autoregressive(
                self.model_, windows, windows[:, -1, : self.n_targets_], horizon=horizon,
                n_layers=self.n_layers, bidirectional=self.bidirectional, cell=self.cell,
            )
        else:
            out = predict_in_batches(self.model_, windows, batch_size=4096)
            # An ensemble's output holds one block per member: average them.
            out = out.reshape(len(origins), -1, horizon, self.n_targets_).mean(axis=1)
        if self.scaling == "window":
            out = out * std + mean
        tails = (
            np.stack([y_full[o - n_lost : o] for o in origins])
            if n_lost else np.zeros((len(origins), 0, self.n_targets_))
        )
        return self.transformer_.inverse_forecast(out, tails)

    def predict(self, y_history: Any = None, X: Any = None) -> Any:
        """Forecast the ``horizon`` steps after ``y_history`` (or after the training series).

        Parameters
        ----------
        y_history : array-like of shape (n_timesteps, n_targets) or (n_timesteps,), optional
            At least ``lookback`` steps (plus those lost to differencing). Defaults to the
            training series.
        X : array-like of shape (n_timesteps, n_exogenous), optional
            Exogenous features aligned with ``y_history``; required when the forecaster
            was fitted with ``X`` and ``y_history`` is given.

        Returns
        -------
        forecast : ndarray of shape (horizon,) or (horizon, n_targets), or pandas
            A Series / DataFrame indexed by the ``horizon`` future dates when the
            history (or, by default, the training series) was pandas.
        """
        check_is_fitted(self, "model_")
        values, x_values, index = self._history(y_history, X)
        forecast = self._forecast_origins(values, x_values, np.array([len(values)]))[0]
        if y_history is not None and not isinstance(y_history, (pd.Series, pd.DataFrame)):
            index = None
        return self._wrap(forecast, index)

    def _wrap(self, forecast: np.ndarray, index: pd.Index | None) -> Any:
        if index is None:
            return forecast[:, 0] if self.univariate_ else forecast
        future = future_index(index, int(self.horizon))
        if self.univariate_:
            return pd.Series(forecast[:, 0], index=future, name=self.name_)
        return pd.DataFrame(forecast, index=future, columns=self.columns_)

    # -- evaluation ---------------------------------------------------------------------

    def rolling_forecasts(
        self, y_val: Any, X_val: Any = None, *, y_history: Any = None, X_history: Any = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The forecasts :meth:`evaluate` scores, pooled over its origins.

        Origin ``i`` (``i = 0 .. len(y_val) - horizon``, or just 0 when ``y_val`` is
        shorter than ``horizon``) forecasts ``y_val[i:i + horizon]`` from the history
        followed by ``y_val[:i]``; one batched model call serves every origin.

        Parameters
        ----------
        y_val : array-like of shape (n_val,) or (n_val, n_targets)
            The continuation of the history.
        X_val : array-like of shape (n_val, n_exogenous), optional
        y_history, X_history : optional
            The history before ``y_val``; the training series by default.

        Returns
        -------
        y_true, y_pred : ndarray of shape (n_pooled, n_targets)
            Actuals and forecasts, origin after origin.
        history : ndarray of shape (n_history, n_targets)
            The history used (it scales MASE).
        """
        check_is_fitted(self, "model_")
        if y_history is None:
            if X_history is not None:
                raise ValueError("X_history was given without y_history; pass both or neither.")
            hist, x_hist = self.y_train_, self.X_train_tail_
        else:
            hist, x_hist, _ = self._history(y_history, X_history, "X_history")
        y_v, _ = check_series(y_val, "y_val")
        if y_v.shape[1] != self.n_targets_:
            raise ValueError(f"y_val has {y_v.shape[1]} channels but this forecaster was fitted on {self.n_targets_}.")
        x_v = check_exog(X_val, len(y_v), name="X_val", aligned_with="y_val")
        check_exog_presence(self.n_exogenous_, x_v, "X_val")
        horizon = int(self.horizon)
        n_origins = max(1, len(y_v) - horizon + 1)
        # The exogenous history may be just the tail kept from fit: align it to the end of hist.
        y_full = np.concatenate([hist, y_v])
        x_full = None
        if x_v is not None:
            x_full = np.full((len(y_full), x_v.shape[1]), np.nan)
            x_full[len(hist) - len(x_hist) : len(hist)] = x_hist
            x_full[len(hist) :] = x_v
        forecasts = self._forecast_origins(y_full, x_full, len(hist) + np.arange(n_origins))
        steps = [min(horizon, len(y_v) - i) for i in range(n_origins)]
        return (np.concatenate([y_v[i : i + n] for i, n in enumerate(steps)]),
                np.concatenate([forecasts[i, :n] for i, n in enumerate(steps)]), hist)

    def _seasonal_difference(self) -> int | None:
        return self.seasonal_difference
