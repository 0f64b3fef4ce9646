"""The data ``seqtune search`` reads, from a file or a packaged data set.

Data formats accepted by ``seqtune search``
-------------------------------------------
``--dataset NAME``
    A packaged data set (``seqtune.datasets``): gunpoint, basic_motions,
    pickup_gesture (classification; the search runs on the train split and the test
    split is scored at the end), airline, macrodata_growth (forecasting; the last 24 /
    40 steps are held out and scored at the end).
``file.npz``
    Classification / regression: arrays ``X`` of shape (n_samples, n_timesteps) or
    (n_samples, n_timesteps, n_features) and ``y`` of shape (n_samples,).
    Forecasting: ``y``, the series, of shape (n_timesteps,) or (n_timesteps, n_targets),
    and optionally ``X``, exogenous series of shape (n_timesteps, n_exogenous).
``file.csv`` / ``file.parquet``
    Classification / regression, wide layout (default): one row per sample, the
    ``--target`` column holds the label and every other column is one time step of a
    univariate sequence. Long layout (``--id-column ID``): one row per time step; rows
    sharing an id form one sequence (in file order, so lengths may differ), the other
    numeric columns are its features, and the target is taken from the sequence's
    first row.
    Forecasting: one row per time step in time order; ``--series`` names the target
    column(s) (comma separated; by default the first numeric column that is not
    ``--exog``), ``--exog`` the exogenous ones.

Without ``--task``, a lone series is forecasting; otherwise text labels, or at most 20
distinct whole numbers, are classification and other numbers regression.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CliError", "load_data"]

#: Steps a packaged forecasting series holds out, scored at the end.
_HOLDOUT = {"airline": 24, "macrodata_growth": 40}


class CliError(Exception):
    """A problem with the command line's input; printed without a traceback."""


def _read_table(path: Path):
    import pandas as pd

    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise CliError(f"{path}: unknown file type {path.suffix!r}; expected .npz, .csv or .parquet")


def _columns(text: str | None) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()] if text else []


def _infer_task(y: Any) -> str:
    """Labels (text, or at most 20 distinct whole numbers) are classes; other numbers regress."""
    values = np.asarray(y)
    if values.dtype.kind not in "iufb":
        return "classification"
    finite = values[np.isfinite(values.astype(float))]
    whole = np.all(np.mod(finite, 1) == 0)
    return "classification" if whole and len(np.unique(finite)) <= 20 else "regression"


def _numeric(frame: Any, exclude: list) -> list:
    return [c for c in frame.columns if c not in exclude and frame[c].dtype.kind in "iufb"]


def load_data(args: argparse.Namespace) -> dict:
    """Read the data the command line names.

    Returns
    -------
    dict
        ``task``, ``fit`` (positional arguments of ``SequenceSearch.fit``), ``test``
        (a held-out split to score at the end, or None) and ``description``.
    """
    if args.dataset:
        return _load_packaged(args.dataset, args.task)
    if not args.data:
        raise CliError("no data: give a file (NPZ, CSV or Parquet) or --dataset NAME")
    path = Path(args.data)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    task = args.task
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        if "y" not in arrays:
            raise CliError(f"{path}: no array named 'y' (found {sorted(arrays)}); see seqtune search --help")
        # A lone series is a forecasting problem; exogenous X needs --task forecasting.
        task = task or ("forecasting" if "X" not in arrays else None)
        if task == "forecasting":
            return {"task": task, "fit": (arrays["y"], arrays.get("X")), "test": None,
                    "description": f"{path.name}: series of {len(arrays['y'])} steps"}
        if "X" not in arrays:
            raise CliError(f"{path}: no array named 'X' (found {sorted(arrays)}); see seqtune search --help")
        X, y = arrays["X"], arrays["y"]
        task = task or _infer_task(y)
        return {"task": task, "fit": (X, y), "test": None,
                "description": f"{path.name}: X {X.shape}, y {y.shape}"}

    frame = _read_table(path)
    if task == "forecasting" or (task is None and args.series):
        series = _columns(args.series) or _numeric(frame, _columns(args.exog))[:1]  # not a date
        missing = [c for c in series + _columns(args.exog) if c not in frame.columns]
        if missing:
            raise CliError(f"{path}: no column(s) {missing}; columns are {list(frame.columns)}")
        y = frame[series].to_numpy(dtype=float)
        y = y[:, 0] if y.shape[1] == 1 else y
        exog = frame[_columns(args.exog)].to_numpy(dtype=float) if args.exog else None
        return {"task": "forecasting", "fit": (y, exog), "test": None,
                "description": f"{path.name}: series {series} of {len(y)} steps"}

    target = args.target
    if target not in frame.columns:
        raise CliError(
            f"{path}: no target column {target!r}; columns are {list(frame.columns)[:20]}. "
            "Name it with --target (or pass --series for a forecasting series)."
        )
    if args.id_column:
        if args.id_column not in frame.columns:
            raise CliError(f"{path}: no id column {args.id_column!r}; columns are {list(frame.columns)}")
        features = _numeric(frame, [target, args.id_column])  # a timestamp column is no feature
        groups = frame.groupby(args.id_column, sort=False)
        X = [g[features].to_numpy(dtype=np.float32) for _, g in groups]
        y = groups[target].first().to_numpy()
        lengths = {len(x) for x in X}
        if len(lengths) == 1:
            X = np.stack(X)
        shape = X.shape if isinstance(X, np.ndarray) else f"{len(X)} sequences of varying length"
    else:
        X = frame.drop(columns=[target]).to_numpy(dtype=np.float32)
        y = frame[target].to_numpy()
        shape = X.shape
    task = task or _infer_task(y)
    return {"task": task, "fit": (X, y), "test": None, "description": f"{path.name}: X {shape}"}


def _load_packaged(name: str, task: str | None) -> dict:
    from seqtune.datasets import load_dataset

    key = name.strip().lower().replace("-", "_")
    data = load_dataset(name)
    if isinstance(data, tuple):
        X_train, y_train, X_test, y_test = data
        if task not in (None, "classification"):
            raise CliError(f"--dataset {name} is a classification data set, not {task}")
        return {"task": "classification", "fit": (X_train, y_train), "test": (X_test, y_test),
                "description": f"{name}: {len(y_train)} train / {len(y_test)} test sequences"}
    if task not in (None, "forecasting"):
        raise CliError(f"--dataset {name} is a forecasting series, not {task}")
    key = "macrodata_growth" if key.startswith("macro") else key  # alias "macrodata"
    holdout = _HOLDOUT.get(key, 0)
    values = data.to_numpy(dtype=float)
    train, test = (values[:-holdout], values[-holdout:]) if holdout else (values, None)
    return {"task": "forecasting", "fit": (train, None), "test": None if test is None else (test, None),
            "description": f"{name}: {len(train)} steps, last {holdout} held out"}
