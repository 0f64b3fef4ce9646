"""The results table's protocol: its data sets, their targets and references, the budget.

:mod:`benchmarks.run` runs it and :mod:`benchmarks.table` renders its rows; the other
benchmark scripts load the same data sets and estimators from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "runs.jsonl"
OUTPUT = REPO / "benchmarks" / "RESULTS.md"
DEFAULT_BUDGET_S = 900.0  # the cap: 15 minutes of search per data set and seed
DEFAULT_MAX_TRIALS = 40


@dataclass(frozen=True)
class Dataset:
    title: str
    task: str  # "classification" or "forecasting"
    shape: str
    metric: str  # what the table reports: "accuracy", "mae" or "mase"
    references: str
    target: str
    horizon: int = 1
    n_test: int = 0  # forecasting: steps held out at the end
    better: str = "max"
    targets: dict = field(default_factory=dict)  # {"median": x, "worst": x, "mean": x}
    objective: str = "score"  # what SequenceSearch ranks trials by, by default, on this set


DATASETS = {
    "gunpoint": Dataset(
        "GunPoint", "classification", "50/150, 150 × 1", "accuracy",
        "1-NN DTW 0.907 · MLP 0.928 · ResNet 0.991 · FCN 1.00 · LSTM-FCN 1.00 · InceptionTime 1.00 · ROCKET 1.00",
        "median ≥ 0.99, worst ≥ 0.97", targets={"median": 0.99, "worst": 0.97}),
    "basic_motions": Dataset(
        "BasicMotions", "classification", "40/40, 100 × 6", "accuracy",
        "1-NN DTW (dependent) 0.975 · MiniRocket, ROCKET, ResNet, InceptionTime 1.00",
        "median 1.00", targets={"median": 1.0}),
    "pickup_gesture": Dataset(
        "PickupGestureWiimoteZ", "classification", "50/50, 29–361 × 1 (variable length)", "accuracy",
        "1-NN DTW 0.66 · MLP 0.604 · ResNet 0.704 · FCN 0.744 · InceptionTime 0.760 · ROCKET 0.830",
        "median ≥ 0.76 (InceptionTime), aim 0.83 (ROCKET)", targets={"median": 0.76}),
    "airline": Dataset(
        "Airline", "forecasting", "120 / 24 months", "mae",
        "seasonal naive 71.3 · SARIMA 39.4 · Holt-Winters 29.0 · neuralforecast LSTM 13.4–14.3",
        "median MAE < 13.4, worst < 20", horizon=24, n_test=24, better="min",
        targets={"median": 13.4, "worst": 20.0}, objective="mae"),
    "macrodata": Dataset(
        "Macrodata (q/q growth, 3 series)", "forecasting", "162 / 40 quarters, one step ahead",
        "mase", "naive 0.661 · mean 0.635 · VAR(1) 0.503", "mean MASE < 0.503",
        horizon=1, n_test=40, better="min", targets={"mean": 0.503}, objective="mae"),
}


def load_split(name: str) -> tuple:
    """A data set's published split: ``(X_train, y_train, X_test, y_test)`` for a
    classification set, ``(y_train, y_test)`` series of shape (n_timesteps, n_targets)
    or (n_timesteps,) for a forecasting set."""
    from seqtune import datasets

    ds = DATASETS[name]
    if ds.task == "classification":
        return getattr(datasets, f"load_{name}")()
    series = datasets.load_airline() if name == "airline" else datasets.load_macrodata_growth()
    values = series.to_numpy(dtype=float)
    return values[: -ds.n_test], values[-ds.n_test:]


def make_estimator(name: str, seed: int, quick: bool):
    """The estimator with its defaults that the table's searches start from (5 epochs
    under ``--quick``)."""
    from seqtune import SequenceClassifier, SequenceForecaster

    ds = DATASETS[name]
    extra = {"epochs": 5} if quick else {}
    if ds.task == "classification":
        return SequenceClassifier(random_state=seed, **extra)
    return SequenceForecaster(horizon=ds.horizon, random_state=seed, **extra)


def score_on_test(name: str, model, test) -> dict[str, float]:
    """``{"accuracy": ...}`` for a classifier, else the forecaster's ``evaluate`` metrics."""
    ds = DATASETS[name]
    if ds.task == "classification":
        X_test, y_test = test
        return {"accuracy": float(model.score(X_test, y_test))}
    metrics = model.evaluate(test)
    return {k: float(v) for k, v in metrics.items()}
