"""Forecast metrics against hand computation, and expanding-window backtests."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from seqtune.backtest import backtest, forecast_metrics, mase_period, mase_scale
from seqtune.forecaster import SequenceForecaster


def test_metrics_against_hand_computation():
    y_true = np.array([10.0, 20.0, 30.0, 40.0])
    y_pred = np.array([12.0, 18.0, 30.0, 44.0])
    y_train = np.array([1.0, 3.0, 2.0, 6.0, 4.0])  # naive abs diffs 2, 1, 4, 2 -> scale 2.25
    got = forecast_metrics(y_true, y_pred, y_train=y_train)
    assert got["mae"] == pytest.approx((2 + 2 + 0 + 4) / 4)
    assert got["rmse"] == pytest.approx(np.sqrt((4 + 4 + 0 + 16) / 4))
    smape = 100 * np.mean([4 / 22, 4 / 38, 0, 8 / 84])
    assert got["smape"] == pytest.approx(smape)
    assert got["mase"] == pytest.approx(2.0 / 2.25)
    assert list(got) == ["mae", "rmse", "smape", "mase"]


def test_mase_is_averaged_over_channels_with_seasonal_scale():
    y_train = np.column_stack([np.tile([0.0, 4.0], 5), np.arange(10.0)])
    np.testing.assert_allclose(mase_scale(y_train, 1), [4.0, 1.0])
    np.testing.assert_allclose(mase_scale(y_train, 2), [0.0, 2.0])
    y_true = np.array([[0.0, 10.0], [4.0, 11.0]])
    y_pred = np.array([[2.0, 10.5], [4.0, 11.5]])
    got = forecast_metrics(y_true, y_pred, y_train=y_train, metrics=("mase",))
    assert got == {"mase": pytest.approx(np.mean([1.0 / 4.0, 0.5 / 1.0]))}
    # The denominators given instead of the history they come from: the same figure.
    assert forecast_metrics(y_true, y_pred, scale=[4.0, 1.0], metrics=("mase",)) == got


def test_mase_period_is_the_explicit_period_else_the_season_else_one():
    # The forecaster's evaluate, the ensemble's and the search's fold scores share it.
    assert mase_period(12, 4) == 4
    assert mase_period(12) == 12
    assert mase_period(None) == 1
    assert mase_period(0, None) == 1


def test_metric_errors():
    with pytest.raises(ValueError, match=r"Unknown metrics \['mape'\]"):
        forecast_metrics([1.0], [1.0], metrics=("mape",))
    with pytest.raises(ValueError, match="needs y_train"):
        forecast_metrics([1.0], [1.0], metrics=("mase",))
    with pytest.raises(ValueError, match=r"shape \(2,\) but y_pred has shape \(3,\)"):
        forecast_metrics([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="longer than seasonal_period=12; got 5 steps"):
        mase_scale(np.ones(5), 12)


def test_backtest_rows_match_fits_at_each_origin():
    t = np.arange(90)
    y = pd.Series(np.sin(t / 3) + 5, index=pd.period_range("2000-01", periods=90, freq="M"))
    f = SequenceForecaster(lookback=6, horizon=3, units=4, epochs=1, random_state=0)
    df = backtest(f, y, n_origins=3, step=5, seasonal_period=12)
    assert list(df["origin"]) == [77, 82, 87]
    assert list(df["origin_label"]) == [y.index[77], y.index[82], y.index[87]]
    assert list(df.columns[:4]) == ["origin", "origin_label", "n_train", "fit_time_s"]
    assert {"mae", "rmse", "smape", "mase", "lookback", "cell", "strategy"} <= set(df.columns)
    assert (df["lookback"] == 6).all() and (df["horizon"] == 3).all()
    # Row values equal a hand-run fit/predict at that origin (same seed -> same model).
    refit = SequenceForecaster(**f.get_params()).fit(y.iloc[:82])
    pred = refit.predict().to_numpy()
    truth = y.to_numpy()[82:85]
    assert df.loc[1, "mae"] == pytest.approx(np.mean(np.abs(pred - truth)), rel=1e-5)
    values = y.to_numpy()
    scale = np.mean(np.abs(values[12:82] - values[:70]))  # seasonal naive MAE over the history
    assert df.loc[1, "mase"] == pytest.approx(np.mean(np.abs(pred - truth)) / scale, rel=1e-5)
    assert not hasattr(f, "model_")  # the template is cloned, never fitted


def test_backtest_scales_mase_by_the_forecasters_season_as_evaluate_does():
    t = np.arange(80)
    y = np.sin(2 * np.pi * t / 12) * 3 + t / 10 + 5
    f = SequenceForecaster(lookback=12, horizon=2, units=4, epochs=1, seasonal_difference=12,
                           random_state=0)
    df = backtest(f, y, n_origins=1, metrics=("mae", "mase"))
    history = y[:78]
    scale = np.mean(np.abs(history[12:] - history[:-12]))  # the seasonal naive forecast's MAE
    assert df.loc[0, "mase"] == pytest.approx(df.loc[0, "mae"] / scale, rel=1e-6)
    explicit = backtest(f, y, n_origins=1, metrics=("mae", "mase"), seasonal_period=1)
    assert explicit.loc[0, "mase"] == pytest.approx(
        explicit.loc[0, "mae"] / np.mean(np.abs(np.diff(history))), rel=1e-6)


def test_backtest_without_refit_fits_once_and_compares_configurations():
    y = np.sin(np.arange(70) / 3)
    base = SequenceForecaster(horizon=2, units=4, epochs=1, random_state=0)
    df = backtest(
        {"short": clone(base).set_params(lookback=4), "long": clone(base).set_params(lookback=8)},
        y, n_origins=2, refit=False,
    )
    assert list(df["config"]) == ["short", "short", "long", "long"]
    assert list(df["origin"]) == [66, 68, 66, 68]
    assert (df.groupby("lookback")["fit_time_s"].apply(lambda s: (s.iloc[1:] == 0).all())).all()
    assert df.groupby("lookback")["mae"].mean().shape == (2,)


def test_backtest_errors():
    f = SequenceForecaster(lookback=4, horizon=3)
    with pytest.raises(ValueError, match=r"n_origins=10 with step=3 and horizon=3 need more than 30 steps; y has 20"):
        backtest(f, np.arange(20.0), n_origins=10)
    with pytest.raises(ValueError, match="n_origins=0 must be >= 1"):
        backtest(f, np.arange(20.0), n_origins=0)
    # Airline's 144 months, 24-month forecasts from 36 months back, differenced: four
    # origins 24 apart start at month 48, short of the 61 a fit needs. Nothing is fitted.
    airline = SequenceForecaster(lookback=36, horizon=24, difference=1)
    with pytest.raises(ValueError, match=r"n_origins=4 with step=24 puts the first origin at step "
                                         r"48, too early to fit lookback=36 with horizon=24 \(a "
                                         r"lookback of at most 23 fits there\)"):
        backtest(airline, np.arange(144.0), n_origins=4)
