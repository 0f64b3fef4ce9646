"""SequenceForecaster: shapes, pandas in/out, batched evaluation, errors, clone and pickle."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from seqtune.device import has_gpu
from seqtune.forecaster import SequenceForecaster

TINY = dict(units=4, epochs=2, batch_size=16, random_state=0)


def _sine(n=160, k=1, trend=0.0, seed=0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    cols = [np.sin(t / 4 + j) + trend * t + 0.05 * rng.normal(size=n) + 3 for j in range(k)]
    return np.stack(cols, axis=1) if k > 1 else cols[0]


@pytest.fixture(scope="module")
def fitted_direct():
    y = _sine(160)
    return SequenceForecaster(lookback=12, horizon=4, difference=1, **TINY).fit(y[:140]), y


@pytest.fixture(scope="module")
def fitted_seq2seq():
    y = _sine(160, k=2)
    f = SequenceForecaster(
        lookback=10, horizon=3, strategy="seq2seq", scaling="window", bidirectional=True,
        n_layers=2, **TINY,
    )
    return f.fit(y[:140]), y


def test_direct_fit_predict_shapes_and_fitted_attributes(fitted_direct):
    f, y = fitted_direct
    pred = f.predict()
    assert pred.shape == (4,) and np.all(np.isfinite(pred))
    assert f.n_epochs_ == 2 and set(f.history_) == {"loss", "val_loss"}
    assert f.fit_time_ > 0 and f.n_params_ > 0
    # Unmasked windows: the fused kernel applies exactly when a GPU is there.
    assert f.fused_kernel_ is has_gpu()
    assert f.model_.output_shape == (None, 4)
    # A history of numpy values forecasts after its own end.
    other = f.predict(y_history=y[:150])
    assert other.shape == (4,) and not np.allclose(other, pred)


def test_seq2seq_multivariate_shapes(fitted_seq2seq):
    f, y = fitted_seq2seq
    pred = f.predict()
    assert pred.shape == (3, 2) and np.all(np.isfinite(pred))
    assert [i.shape for i in f.model_.inputs] == [(None, 10, 2), (None, 3, 2)]
    assert f.predict(y_history=y[:100]).shape == (3, 2)


@pytest.mark.parametrize("fixture", ["fitted_direct", "fitted_seq2seq"])
def test_evaluate_batches_the_same_forecasts_as_one_predict_per_origin(fixture, request):
    f, y = request.getfixturevalue(fixture)
    y_val = y[140:]
    horizon = f.horizon
    preds, truth = [], []
    for i in range(len(y_val) - horizon + 1):
        preds.append(f.predict(y_history=y[: 140 + i]))
        truth.append(y_val[i : i + horizon])
    preds, truth = np.concatenate(preds), np.concatenate(truth)
    mae = np.mean(np.abs(preds - truth))
    got = f.evaluate(y_val)
    assert set(got) == {"mae", "rmse", "smape", "mase"}
    assert got["mae"] == pytest.approx(mae, rel=1e-5)
    assert got["rmse"] == pytest.approx(np.sqrt(np.mean((preds - truth) ** 2)), rel=1e-5)
    assert f.score(y_val) == pytest.approx(-mae, rel=1e-5)


def test_evaluate_short_continuation_scores_a_partial_horizon(fitted_direct):
    f, y = fitted_direct
    pred = f.predict()
    got = f.evaluate(y[140:142])  # 2 steps, horizon 4: one origin, first 2 forecasts
    assert got["mae"] == pytest.approx(np.mean(np.abs(pred[:2] - y[140:142])), rel=1e-5)


def test_ensemble_forecast_is_the_mean_of_its_members():
    y = _sine(120)
    f = SequenceForecaster(lookback=12, horizon=4, difference=0, scaling=None, ensemble_size=3,
                           linear_skip=True, **TINY).fit(y)
    assert f.model_.output_shape == (None, 12)
    single = SequenceForecaster(lookback=12, horizon=4, difference=0, scaling=None,
                                linear_skip=True, **TINY).fit(y)
    assert f.n_params_ == 3 * single.n_params_
    # Unscaled, undifferenced: the forecast is the raw output, averaged over members.
    raw = f.model_.predict(y[-12:].reshape(1, 12, 1), verbose=0).reshape(3, 4)
    assert not np.allclose(raw[0], raw[1])
    np.testing.assert_allclose(f.predict(), raw.mean(axis=0), rtol=1e-5, atol=1e-6)
    # The custom loss travels with the pickled model.
    again = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(again.predict(), f.predict())


def test_window_scaling_needs_a_window_with_spread():
    f = SequenceForecaster(lookback=1, scaling="window", **TINY)
    with pytest.raises(ValueError, match=r"scaling='window' needs lookback >= 2 \(got lookback=1\)"):
        f.fit(_sine(60))


@pytest.mark.parametrize("params", [dict(ensemble_size=3), dict(linear_skip=True)])
def test_seq2seq_rejects_direct_only_options(params):
    f = SequenceForecaster(lookback=6, horizon=2, strategy="seq2seq", **params, **TINY)
    name, value = next(iter(params.items()))
    with pytest.raises(ValueError, match=rf"{name}={value!r} is only available with strategy='direct'"):
        f.fit(_sine(60))


def test_pandas_in_pandas_out_with_future_index():
    idx = pd.period_range("2000-01", periods=80, freq="M")
    y = pd.Series(_sine(80), index=idx, name="load")
    f = SequenceForecaster(lookback=6, horizon=3, **TINY).fit(y)
    pred = f.predict()
    assert isinstance(pred, pd.Series) and pred.name == "load"
    assert list(pred.index) == list(pd.period_range("2006-09", periods=3, freq="M"))
    # A pandas history dates the forecast after its own end.
    pred2 = f.predict(y_history=y.iloc[:50])
    assert pred2.index[0] == pd.Period("2004-03", freq="M")
    # numpy history -> numpy forecast
    assert isinstance(f.predict(y_history=y.to_numpy()[:50]), np.ndarray)


def test_dataframe_with_datetime_index_keeps_columns_and_freq():
    idx = pd.date_range("2024-01-01", periods=70, freq="D")
    y = pd.DataFrame(_sine(70, k=2), index=idx, columns=["a", "b"])
    f = SequenceForecaster(lookback=5, horizon=2, **TINY).fit(y)
    pred = f.predict()
    assert isinstance(pred, pd.DataFrame) and list(pred.columns) == ["a", "b"]
    assert list(pred.index) == list(pd.date_range("2024-03-11", periods=2, freq="D"))


def test_clone_and_pickle_give_identical_predictions(fitted_direct, tmp_path):
    f, y = fitted_direct
    path = tmp_path / "forecaster.pkl"
    path.write_bytes(pickle.dumps(f))
    restored = pickle.loads(path.read_bytes())
    np.testing.assert_allclose(restored.predict(), f.predict(), rtol=1e-6)
    np.testing.assert_allclose(restored.predict(y_history=y[:120]), f.predict(y_history=y[:120]), rtol=1e-6)
    twin = clone(f)
    assert twin.get_params() == f.get_params() and not hasattr(twin, "model_")
    np.testing.assert_allclose(twin.fit(y[:140]).predict(), f.predict(), rtol=1e-5)


def test_params_round_trip_and_unknown_name_hint():
    assert SequenceForecaster().get_params()["difference"] == 1
    f = SequenceForecaster(lookback=7, horizon=2, strategy="seq2seq", seasonal_difference=12)
    params = f.get_params()
    assert params["lookback"] == 7 and params["horizon"] == 2 and params["seasonal_difference"] == 12
    f.set_params(lookback=9, cell="gru")
    assert f.lookback == 9 and f.cell == "gru"
    with pytest.raises(ValueError, match="'loss' parameter of SequenceForecaster must be a str among"):
        SequenceForecaster(lookback=5, loss="mape").fit(np.arange(30.0))
    with pytest.raises(ValueError, match="Did you mean 'lookback'"):
        f.set_params(lookbak=3)


def test_validation_data_continuation_is_monitored():
    y = _sine(120)
    f = SequenceForecaster(lookback=8, horizon=2, early_stopping=False, **TINY)
    f.fit(y[:100], validation_data=y[100:])
    assert len(f.history_["val_loss"]) == 2
    # Without a continuation and without early stopping nothing is held out.
    g = clone(f).fit(y[:100])
    assert set(g.history_) == {"loss"}
    # A continuation of exactly one horizon is one window whose history lies in y.
    h = clone(f).fit(y[:100], validation_data=y[100:102])
    assert len(h.history_["val_loss"]) == 2
    with pytest.raises(ValueError, match="validation_data y_val has 1 steps, fewer than horizon=2"):
        clone(f).fit(y[:100], validation_data=y[100:101])


def test_exogenous_features_fit_predict_and_required():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = np.roll(X[:, 0], 1) + 0.1 * X[:, 1]
    f = SequenceForecaster(lookback=5, horizon=1, **TINY).fit(y[:100], X[:100])
    assert f.n_exogenous_ == 2
    assert f.predict().shape == (1,)
    assert f.predict(y_history=y[:110], X=X[:110]).shape == (1,)
    assert set(f.evaluate(y[100:], X[100:])) == {"mae", "rmse", "smape", "mase"}
    with pytest.raises(ValueError, match=r"fitted with 2 exogenous feature\(s\), so X is required"):
        f.predict(y_history=y[:110])
    with pytest.raises(ValueError, match="Exogenous X has 109 rows but y_history has 110"):
        f.predict(y_history=y[:110], X=X[:109])
    with pytest.raises(ValueError, match="X has 1 exogenous features, but this forecaster was fitted with 2"):
        f.predict(y_history=y[:110], X=X[:110, :1])
    with pytest.raises(ValueError, match="X was given without y_history"):
        f.predict(X=X[:110])
    with pytest.raises(ValueError, match="fitted with 2 exogenous feature\\(s\\), so X_val is required"):
        f.evaluate(y[100:])
    # rolling_forecasts and evaluate name their history's features X_history, not X.
    with pytest.raises(ValueError, match=r"so X_history is required"):
        f.evaluate(y[100:], X[100:], y_history=y[:100])
    with pytest.raises(ValueError, match="Exogenous X_history has 99 rows but y_history has 100"):
        f.rolling_forecasts(y[100:], X[100:], y_history=y[:100], X_history=X[:99])


def test_bad_input_errors_name_the_values():
    y = _sine(40)
    with pytest.raises(ValueError, match=r"Exogenous X has 39 rows but y has 40"):
        SequenceForecaster(lookback=5, **TINY).fit(y, np.zeros((39, 1)))
    with pytest.raises(
        ValueError, match=r"y has 40 steps, fewer than lookback=36 \+ horizon=4 \+ 1 lost to differencing = 41"
    ):
        SequenceForecaster(lookback=36, horizon=4, difference=1, **TINY).fit(y)
    gappy = pd.Series(y, index=pd.period_range("2000-01", periods=40, freq="M"))
    gappy.iloc[[7, 8]] = np.nan
    with pytest.raises(ValueError, match=r"y has 2 step\(s\) with NaN.*first at \['2000-08', '2000-09'\].*y.interpolate\(\)"):
        SequenceForecaster(lookback=5, **TINY).fit(gappy)
    # pandas' missing values and text columns get the same messages as arrays.
    missing = pd.Series(y, dtype="Float64")
    missing.iloc[3] = pd.NA
    with pytest.raises(ValueError, match=r"y has 1 step\(s\) with NaN or infinite values \(first at \['3'\]\)"):
        SequenceForecaster(lookback=5, **TINY).fit(missing)
    with pytest.raises(ValueError, match=r"y must be numeric; could not convert it to float"):
        SequenceForecaster(lookback=5, **TINY).fit(pd.DataFrame({"a": y, "b": ["x"] * 40}))
    with pytest.raises(ValueError, match=r"horizon=0 is invalid: horizon must be an integer >= 1"):
        SequenceForecaster(lookback=5, horizon=0).fit(y)
    with pytest.raises(ValueError, match=r"lookback=2.5 is invalid"):
        SequenceForecaster(lookback=2.5).fit(y)
    with pytest.raises(ValueError, match="Did you mean 'gru'"):
        SequenceForecaster(lookback=5, cell="gur").fit(y)
    f = SequenceForecaster(lookback=10, horizon=2, seasonal_difference=4, **TINY).fit(y)
    with pytest.raises(
        ValueError, match=r"y_history has 12 steps, fewer than the 15 this forecaster needs \(lookback=10 \+ 5 lost"
    ):
        f.predict(y_history=y[:12])
    with pytest.raises(ValueError, match="y_history has 2 channels, but this forecaster was fitted on 1"):
        f.predict(y_history=np.zeros((20, 2)))
    with pytest.raises(ValueError, match="X was given, but this forecaster was fitted without exogenous"):
        f.predict(y_history=y, X=np.zeros((40, 1)))


def test_log_needs_a_positive_series():
    y = _sine(40) - 3.5  # crosses zero
    with pytest.raises(ValueError, match="log=True needs a strictly positive series"):
        SequenceForecaster(lookback=5, log=True, **TINY).fit(y)


def test_differencing_lets_a_tiny_model_follow_a_trend():
    # A straight line: after one difference the target is constant, so even a barely
    # trained model forecasts the continuation closely, and far better than without.
    y = 10.0 + 2.0 * np.arange(100)
    params = dict(lookback=6, horizon=3, units=4, epochs=30, random_state=0, early_stopping=False)
    diffed = SequenceForecaster(difference=1, **params).fit(y[:80])
    plain = SequenceForecaster(difference=0, **params).fit(y[:80])
    mae_diffed = diffed.evaluate(y[80:])["mae"]
    assert mae_diffed < 1.0
    assert mae_diffed < plain.evaluate(y[80:])["mae"] / 5


def test_airline_forecast_is_dated_and_positive():
    pytest.importorskip("aeon")
    from seqtune.datasets import load_airline

    y = load_airline()
    f = SequenceForecaster(lookback=12, horizon=24, log=True, **TINY).fit(y.iloc[:-24])
    pred = f.predict()
    assert pred.index.equals(y.index[-24:])
    assert (pred > 0).all()  # exp of a log-scale forecast
