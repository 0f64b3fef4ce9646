"""Offline loaders: shapes in Keras layout, indexes, and the name registry."""

import numpy as np
import pandas as pd
import pytest

from seqtune import datasets
from seqtune.datasets import (
    DATASETS,
    load_airline,
    load_basic_motions,
    load_dataset,
    load_gunpoint,
    load_macrodata_growth,
    load_pickup_gesture,
)

pytest.importorskip("aeon")
pytest.importorskip("statsmodels")


def test_gunpoint_in_keras_layout():
    X_train, y_train, X_test, y_test = load_gunpoint()
    assert X_train.shape == (50, 150, 1) and X_test.shape == (150, 150, 1)
    assert X_train.dtype == np.float32
    assert y_train.shape == (50,) and set(y_train) == {"1", "2"}
    assert y_test.shape == (150,)


def test_basic_motions_transposed_not_reshaped():
    from aeon.datasets import load_classification

    X_train, y_train, X_test, y_test = load_basic_motions()
    assert X_train.shape == (40, 100, 6) and X_test.shape == (40, 100, 6)
    raw, _ = load_classification("BasicMotions", split="train")  # (n, channels, length)
    np.testing.assert_allclose(X_train[3, :, 5], raw[3, 5, :], rtol=1e-6)
    assert len(set(y_train)) == 4


def test_pickup_gesture_is_a_list_of_variable_length_arrays():
    X_train, y_train, X_test, y_test = load_pickup_gesture()
    assert isinstance(X_train, list) and len(X_train) == 50 and len(X_test) == 50
    lengths = {x.shape[0] for x in X_train + X_test}
    assert min(lengths) >= 29 and max(lengths) <= 361 and len(lengths) > 1
    assert all(x.ndim == 2 and x.shape[1] == 1 for x in X_train)
    assert len(set(y_train)) == 10


def test_airline_monthly_period_index():
    y = load_airline()
    assert isinstance(y, pd.Series) and len(y) == 144
    assert isinstance(y.index, pd.PeriodIndex) and y.index.freqstr == "M"
    assert str(y.index[0]) == "1949-01" and str(y.index[-1]) == "1960-12"
    assert y.iloc[0] == 112.0 and y.iloc[-1] == 432.0


def test_macrodata_growth_matches_log_differences():
    import statsmodels.api as sm

    g = load_macrodata_growth()
    assert list(g.columns) == ["realgdp", "realcons", "realinv"] and g.shape == (202, 3)
    assert isinstance(g.index, pd.PeriodIndex) and str(g.index[0]) == "1959Q2"
    raw = sm.datasets.macrodata.load_pandas().data
    expected = 100 * np.log(raw["realgdp"].iloc[1] / raw["realgdp"].iloc[0])
    assert g["realgdp"].iloc[0] == pytest.approx(expected)
    assert not g.isna().any().any()


def test_registry_names_aliases_and_typos():
    assert set(DATASETS) == {"gunpoint", "basic_motions", "pickup_gesture", "airline", "macrodata_growth"}
    assert load_dataset("Airline").equals(load_airline())
    assert load_dataset("BasicMotions")[0].shape == (40, 100, 6)
    with pytest.raises(ValueError, match=r"Unknown data set name='airlines'.*Did you mean 'airline'\?"):
        load_dataset("airlines")


def test_missing_optional_dependency_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("aeon"):
            raise ImportError("No module named 'aeon'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"needs aeon\. Install .* `pip install seqtune\[data\]`"):
        datasets.load_airline()
