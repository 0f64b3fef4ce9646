"""Bad input gets a clear error naming what was received and what was expected."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.exceptions import NotFittedError

from seqtune import SequenceClassifier, SequenceRegressor

from conftest import TINY


@pytest.fixture(scope="module")
def fitted3d():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 6, 4))
    y = np.arange(20) % 2
    return SequenceClassifier(**TINY).fit(X, y), X, y


def test_feature_count_mismatch_names_both_counts(fitted3d):
    clf, X, _ = fitted3d
    with pytest.raises(ValueError, match="X has 3 features per step; this SequenceClassifier was fitted with 4"):
        clf.predict(X[:, :, :3])


def test_2d_column_mismatch_uses_sklearn_message():
    X = np.random.RandomState(0).normal(size=(20, 6))
    reg = SequenceRegressor(**TINY).fit(X, X[:, -1])
    with pytest.raises(ValueError, match="X has 5 features, but SequenceRegressor is expecting 6"):
        reg.predict(X[:, :5])


@pytest.mark.parametrize("bad, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_nan_and_inf_in_X(bad, match):
    X = np.zeros((10, 5, 2))
    X[3, 2, 1] = bad
    with pytest.raises(ValueError, match=match):
        SequenceClassifier(**TINY).fit(X, np.arange(10) % 2)
    ragged = [np.zeros(4), np.array([1.0, bad])]
    with pytest.raises(ValueError, match=rf"contains {match} in sequence X\[1\]"):
        SequenceClassifier(**TINY).fit(ragged, [0, 1])


def test_nan_in_y():
    y = np.ones(10)
    y[2] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        SequenceRegressor(**TINY).fit(np.zeros((10, 4)), y)


def test_string_X():
    with pytest.raises(ValueError, match="non-numeric"):
        SequenceClassifier(**TINY).fit([np.array(["a", "b"]), np.array(["c"])], [0, 1])
    with pytest.raises(ValueError, match="could not convert string"):
        SequenceClassifier(**TINY).fit(np.array([["a", "b"], ["c", "d"]]), [0, 1])


@pytest.mark.parametrize(("shape", "message"), [
    ((10,), r"Expected 2D array, got 1D array instead"),
    ((2, 3, 4, 5), r"X has 4 dimensions \(shape \(2, 3, 4, 5\)\); SequenceClassifier expects "
                   r"\(n_samples, n_timesteps\) or \(n_samples, n_timesteps, n_features\)"),
])
def test_wrong_number_of_dimensions(shape, message):
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(**TINY).fit(np.zeros(shape), np.arange(shape[0]) % 2)


def test_empty_X_and_length_mismatch():
    with pytest.raises(ValueError, match="0 sample"):
        SequenceClassifier(**TINY).fit(np.zeros((0, 5)), [])
    with pytest.raises(ValueError, match="X is empty: SequenceClassifier needs at least one sequence"):
        SequenceClassifier(**TINY).fit([], [])
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[10, 9\]"):
        SequenceClassifier(**TINY).fit(np.zeros((10, 5, 1)), np.arange(9) % 2)


def test_single_class():
    with pytest.raises(ValueError, match=r"at least 2 classes in y; got 1 class: \['a'\]"):
        SequenceClassifier(**TINY).fit(np.zeros((6, 4)), ["a"] * 6)


def test_invalid_cell_suggests_valid_ones():
    with pytest.raises(ValueError, match=r"cell='lstn'.*\['gru', 'lstm', 'rnn'\].*Did you mean 'lstm'"):
        SequenceClassifier(cell="lstn").fit(np.zeros((6, 4)), [0, 1] * 3)


def test_invalid_numeric_param_names_parameter_and_value():
    with pytest.raises(ValueError, match="'units' parameter of SequenceRegressor.*Got 0"):
        SequenceRegressor(units=0).fit(np.zeros((6, 4)), np.zeros(6))


def test_unknown_param_gets_did_you_mean():
    with pytest.raises(ValueError, match="Invalid parameter 'unit'.*Did you mean 'units'"):
        SequenceClassifier().set_params(unit=8)


def test_sparse_input():
    with pytest.raises(TypeError, match="Sparse data was passed for X, but dense data is required"):
        SequenceClassifier(**TINY).fit(sparse.csr_matrix(np.eye(6)), [0, 1] * 3)


def test_predict_before_fit():
    with pytest.raises(NotFittedError, match="This SequenceClassifier instance is not fitted yet"):
        SequenceClassifier().predict(np.zeros((2, 3)))
    with pytest.raises(NotFittedError, match="This SequenceRegressor instance is not fitted yet"):
        SequenceRegressor().predict(np.zeros((2, 3)))


def test_short_sequences_without_mask_are_rejected_clearly(fitted3d):
    clf, _, _ = fitted3d
    with pytest.raises(ValueError, match="shorter than the 6 steps.*no padding mask"):
        clf.predict([np.zeros((3, 4)), np.zeros((6, 4))])


def test_dataframe_rows_are_sequences_and_names_are_kept():
    X = pd.DataFrame(np.random.RandomState(0).normal(size=(12, 5)),
                     columns=[f"t{i}" for i in range(5)])
    clf = SequenceClassifier(**TINY).fit(X, np.arange(12) % 2)
    assert clf.n_features_in_ == 5 and clf.n_step_features_ == 1
    assert clf.feature_names_in_.tolist() == ["t0", "t1", "t2", "t3", "t4"]
    # As for any scikit-learn estimator fitted on a DataFrame, a bare array warns.
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = clf.predict(X.to_numpy())
    np.testing.assert_array_equal(clf.predict(X), from_array)
