import pickle

import numpy as np
import pandas as pd
import pytest

from seqtune import SequenceRegressor

from conftest import TINY


def test_single_and_multi_output_shapes(seq3d):
    X, _ = seq3d
    y1 = X[:, -1, 0]
    reg = SequenceRegressor(**TINY).fit(X, y1)
    assert reg.predict(X).shape == (40,) and reg.n_outputs_ == 1
    y2 = X[:, -1, :] * [1.0, 100.0]
    reg2 = SequenceRegressor(**TINY).fit(X, y2)
    assert reg2.predict(X).shape == (40, 2)
    assert reg2.predict(X[:, :, :]).shape == (40, 2)
    assert SequenceRegressor(**TINY).fit(X, y1[:, None]).predict(X).shape == (40, 1)


def test_learns_a_linear_target_in_original_units():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 6, 1))
    y = 1000.0 + 50.0 * X[:, -1, 0] + 20.0 * X[:, -2, 0]  # far from unit scale
    reg = SequenceRegressor(cell="gru", units=8, epochs=40, learning_rate=0.01,
                            early_stopping=False, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.9
    assert abs(reg.predict(X).mean() - 1000.0) < 10.0


def test_ragged_and_pandas_input(ragged):
    X, _ = ragged
    y = np.array([x[-1] for x in X])
    reg = SequenceRegressor(**TINY).fit(X, pd.Series(y))
    assert reg.predict(X).shape == (30,)
    assert reg.masked_


def test_pickle_gives_identical_predictions(seq3d):
    X, _ = seq3d
    reg = SequenceRegressor(**TINY, cell="rnn", n_layers=2).fit(X, X[:, -1, 1])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


def test_validation_data_with_wrong_output_count(seq3d):
    X, _ = seq3d
    with pytest.raises(ValueError, match="y has 2 outputs; this SequenceRegressor was fitted with 1"):
        SequenceRegressor(**TINY).fit(X, X[:, -1, 0], validation_data=(X, X[:, -1, :]))
