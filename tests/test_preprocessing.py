"""Series transforms: exact round trips of log / seasonal / plain differencing and scaling."""

import numpy as np
import pytest

from seqtune.preprocessing import SeriesTransformer, difference_series, undifference_forecast


@pytest.mark.parametrize("difference", [0, 1, 2])
@pytest.mark.parametrize("seasonal", [None, 4, 12])
def test_undifference_inverts_difference_exactly(difference, seasonal):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(80, 2)).cumsum(axis=0)
    z = difference_series(w, difference, seasonal)
    n_lost = (seasonal or 0) + difference
    assert z.shape == (80 - n_lost, 2)
    horizon = 7
    origins = np.arange(40, 70)
    # The true future of z, integrated from each history's tail, gives back w exactly.
    z_future = np.stack([z[o - n_lost : o - n_lost + horizon] for o in origins])
    tails = np.stack([w[o - n_lost : o] for o in origins]).reshape(len(origins), n_lost, 2)
    got = undifference_forecast(z_future, tails, difference, seasonal)
    truth = np.stack([w[o : o + horizon] for o in origins])
    np.testing.assert_allclose(got, truth, rtol=0, atol=1e-9)


def test_plain_and_seasonal_difference_values():
    w = np.array([1.0, 4, 9, 16, 25, 36])[:, None]
    np.testing.assert_array_equal(difference_series(w, 1)[:, 0], [3, 5, 7, 9, 11])
    np.testing.assert_array_equal(difference_series(w, 2)[:, 0], [2, 2, 2, 2])
    np.testing.assert_array_equal(difference_series(w, 0, 2)[:, 0], [8, 12, 16, 20])
    # seasonal first, then plain
    np.testing.assert_array_equal(difference_series(w, 1, 2)[:, 0], [4, 4, 4])


@pytest.mark.parametrize("scaling", ["standard", "window", None])
@pytest.mark.parametrize("log", [False, True])
def test_transformer_round_trip_through_inverse_forecast(scaling, log):
    rng = np.random.default_rng(1)
    y = np.exp(0.05 * rng.normal(size=(90, 1)).cumsum(axis=0)) * 100
    t = SeriesTransformer(log=log, difference=1, seasonal_difference=12, scaling=scaling).fit(y[:60])
    z, _ = t.transform(y)
    assert z.dtype == np.float32 and z.shape == (90 - 13, 1)
    if scaling == "standard":  # fitted on the training part only
        z_train, _ = t.transform(y[:60])
        np.testing.assert_allclose(z_train.mean(), 0, atol=1e-5)
        assert abs(z[60 - 13 :].mean()) > 1e-3
    origins = np.arange(60, 85)
    z_future = np.stack([z[o - 13 : o - 13 + 5] for o in origins]).astype(float)
    tails = np.stack([y[o - 13 : o] for o in origins])
    got = t.inverse_forecast(z_future, tails)
    truth = np.stack([y[o : o + 5] for o in origins])
    np.testing.assert_allclose(got, truth, rtol=2e-5)  # float32 transform, else exact


def test_exogenous_scaled_with_training_statistics_and_aligned():
    y = np.arange(1.0, 31.0)[:, None]
    X = np.column_stack([np.arange(30.0), np.ones(30)])
    t = SeriesTransformer(difference=1, scaling="standard").fit(y[:20], X[:20])
    z, X_t = t.transform(y, X)
    assert X_t.shape == (29, 2)  # the first row is lost to the difference, as for y
    expected = (X[1:, 0] - X[:20, 0].mean()) / X[:20, 0].std()
    np.testing.assert_allclose(X_t[:, 0], expected, rtol=1e-6)
    np.testing.assert_array_equal(X_t[:, 1], 0.0)  # constant column: zero, not NaN


def test_log_rejects_non_positive_values():
    with pytest.raises(ValueError, match=r"log=True needs a strictly positive series, but y holds 0.0"):
        SeriesTransformer(log=True).fit(np.array([[1.0], [0.0], [2.0]]))
