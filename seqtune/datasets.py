"""Offline loaders for the benchmark data sets that ship inside aeon and statsmodels.

The classification loaders return ``(X_train, y_train, X_test, y_test)`` in Keras
layout ``(n_samples, n_timesteps, n_channels)``; aeon returns
``(n_samples, n_channels, n_timesteps)``, so the arrays are transposed here once.
Variable-length sets come back as lists of ``(n_timesteps_i, n_channels)`` arrays.

aeon is an optional dependency (statsmodels is a core one since the search's KPSS
test, but is imported here the same way): they are imported inside the loaders, and a
missing one raises an ``ImportError`` that says how to install it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DATASETS",
    "GUNPOINT_REFERENCES",
    "load_airline",
    "load_basic_motions",
    "load_dataset",
    "load_gunpoint",
    "load_macrodata_growth",
    "load_pickup_gesture",
]

_INSTALL_HINT = "Install the optional data dependencies with `pip install seqtune[data]`."


def _import_aeon_datasets() -> Any:
    try:
        import aeon.datasets as aeon_datasets
    except ImportError as exc:
        raise ImportError(f"Loading this data set needs aeon. {_INSTALL_HINT}") from exc
    return aeon_datasets


def _import_statsmodels_api() -> Any:
    try:
        import statsmodels.api as sm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"Loading this data set needs statsmodels. {_INSTALL_HINT}") from exc
    return sm


def _to_keras_layout(X: Any) -> np.ndarray | list[np.ndarray]:
    """Turn aeon's ``(n, channels, length)`` (or a list of ``(channels, length_i)``)
    into Keras's ``(n, length, channels)`` (or a list of ``(length_i, channels)``)."""
    if isinstance(X, np.ndarray):
        return np.ascontiguousarray(np.transpose(X, (0, 2, 1)), dtype=np.float32)
    return [np.ascontiguousarray(np.asarray(x, dtype=np.float32).T) for x in X]


def _load_classification(name: str) -> tuple[Any, np.ndarray, Any, np.ndarray]:
    aeon_datasets = _import_aeon_datasets()
    X_train, y_train = aeon_datasets.load_classification(name, split="train")
    X_test, y_test = aeon_datasets.load_classification(name, split="test")
    return (
        _to_keras_layout(X_train),
        np.asarray(y_train),
        _to_keras_layout(X_test),
        np.asarray(y_test),
    )


def load_gunpoint() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """GunPoint: univariate, 2 classes, 50 train / 150 test series of length 150.

    Returns
    -------
    X_train : ndarray of shape (50, 150, 1)
    y_train : ndarray of shape (50,)
        String labels ``"1"`` / ``"2"``.
    X_test : ndarray of shape (150, 150, 1)
    y_test : ndarray of shape (150,)
    """
    return _load_classification("GunPoint")


def load_basic_motions() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BasicMotions: 6 channels, 4 classes, 40 train / 40 test series of length 100.

    Returns
    -------
    X_train : ndarray of shape (40, 100, 6)
    y_train : ndarray of shape (40,)
    X_test : ndarray of shape (40, 100, 6)
    y_test : ndarray of shape (40,)
    """
    return _load_classification("BasicMotions")


def load_pickup_gesture() -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    """PickupGestureWiimoteZ: univariate, 10 classes, 50 / 50 series of length 29-361.

    Returns
    -------
    X_train : list of 50 ndarrays of shape (n_timesteps_i, 1)
    y_train : ndarray of shape (50,)
    X_test : list of 50 ndarrays of shape (n_timesteps_i, 1)
    y_test : ndarray of shape (50,)
    """
    return _load_classification("PickupGestureWiimoteZ")


def load_airline() -> pd.Series:
    """Monthly international airline passengers, 1949-01 to 1960-12 (144 values).

    The benchmark split holds out the last 24 months: ``y.iloc[:-24]`` / ``y.iloc[-24:]``.

    Returns
    -------
    y : pandas.Series of shape (144,)
        Float values indexed by a monthly ``PeriodIndex``.
    """
    aeon_datasets = _import_aeon_datasets()
    values = np.asarray(aeon_datasets.load_airline(), dtype=float)
    index = pd.period_range("1949-01", periods=len(values), freq="M", name="period")
    return pd.Series(values, index=index, name="passengers")


def load_macrodata_growth() -> pd.DataFrame:
    """Quarterly growth (100 x log difference) of US real GDP, consumption and investment.

    From statsmodels' ``macrodata`` (1959Q1-2009Q3); the first quarter is lost to the
    difference. The benchmark rolls one step ahead over the last 40 quarters.

    Returns
    -------
    growth : pandas.DataFrame of shape (202, 3)
        Columns ``realgdp``, ``realcons``, ``realinv`` indexed by a quarterly
        ``PeriodIndex``.
    """
    sm = _import_statsmodels_api()
    data = sm.datasets.macrodata.load_pandas().data
    index = pd.PeriodIndex.from_fields(
        year=data["year"].astype(int), quarter=data["quarter"].astype(int), freq="Q"
    )
    levels = data[["realgdp", "realcons", "realinv"]].set_axis(index)
    growth = 100.0 * np.log(levels).diff().iloc[1:]
    growth.index.name = "quarter"
    return growth


#: Published GunPoint test accuracies (UCR archive; Fawaz et al. 2019, 2020; Dempster et
#: al. 2020) and a hand-written BiLSTM measured on a 2-core CPU, for examples to print
#: beside their own score.
GUNPOINT_REFERENCES: dict[str, float] = {
    "1-NN DTW": 0.907,
    "MLP (Fawaz et al. 2019)": 0.928,
    "BiLSTM by hand (BENCHMARKS.md)": 0.927,
    "ResNet (Fawaz et al. 2019)": 0.991,
    "FCN (Fawaz et al. 2019)": 1.00,
    "InceptionTime": 1.00,
    "ROCKET": 1.00,
}

DATASETS: dict[str, Callable[[], Any]] = {
    "gunpoint": load_gunpoint,
    "basic_motions": load_basic_motions,
    "pickup_gesture": load_pickup_gesture,
    "airline": load_airline,
    "macrodata_growth": load_macrodata_growth,
}


def _normalise_name(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


_ALIASES = {
    "basicmotions": "basic_motions",
    "pickupgesturewiimotez": "pickup_gesture",
    "pickup_gesture_wiimote_z": "pickup_gesture",
    "macrodata": "macrodata_growth",
}


def load_dataset(name: str) -> Any:
    """Load a packaged data set by name (as the command line does).

    Parameters
    ----------
    name : str
        One of ``DATASETS`` (case-insensitive; ``-`` and ``_`` are interchangeable),
        or an alias such as ``"BasicMotions"`` or ``"macrodata"``.

    Returns
    -------
    data
        Whatever the matching ``load_*`` function returns.
    """
    key = _normalise_name(name)
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        from .validation import did_you_mean

        close = did_you_mean(key, DATASETS)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ValueError(
            f"Unknown data set name={name!r}; expected one of {sorted(DATASETS)}.{hint}"
        )
    return DATASETS[key]()
