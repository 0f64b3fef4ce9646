"""Shared fixtures: tiny, quick data and estimator settings."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

# One recurrent layer of 4 units for a couple of epochs: enough to exercise every code
# path while keeping each fit well under a second.
TINY = dict(units=4, epochs=2, batch_size=16, random_state=0)


@pytest.fixture
def seq3d():
    """40 sequences of 12 steps x 2 features; label = sign of the last step's feature 0."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 12, 2)).astype(np.float32)
    y = (X[:, -1, 0] > 0).astype(int)
    return X, y


@pytest.fixture(scope="session")
def clf36():
    """36 sequences of 8 steps x 2 features; label = sign of feature 0's mean (read-only)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(36, 8, 2)).astype("float32")
    y = (X[:, :, 0].mean(axis=1) > 0).astype(int)
    return X, y


@pytest.fixture
def ragged():
    """30 univariate sequences of 5..14 steps, with labels and real-valued targets."""
    rng = np.random.RandomState(1)
    X = [rng.normal(size=rng.randint(5, 15)) for _ in range(30)]
    y = np.array([int(x[-1] > 0) for x in X])
    return X, y
