"""Tune a recurrent classifier on GunPoint with a small search, tracked in MLflow.

The main job of seqtune in a few minutes on 2 CPU cores:

1. load GunPoint offline (it ships inside aeon) with its published train/test split;
2. search cell, width, stride and learning rate of a bidirectional recurrent
   classifier with Keras Tuner (5 trials, at most 4 minutes), every trial logged as
   an MLflow child run under one parent run, in the local store ``mlruns/``;
3. refit the best configuration on the whole training split, log it to MLflow as a
   model, and score it on the test split beside the published references.

Run from the repository root::

    python examples/search_gunpoint.py
    mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db     # then open the link

Each trial trains on 40 of the 50 training series; its validation loss on the other
10 ranks the trials. The search state lives in ``seqtune_search/`` (rerun with
``overwrite=False`` to resume an interrupted search instead of starting afresh).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow's start-up logs
if importlib.util.find_spec("seqtune") is None:  # running from a checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from seqtune import SequenceClassifier, SequenceSearch  # noqa: E402
from seqtune.datasets import GUNPOINT_REFERENCES, load_gunpoint  # noqa: E402


# A small space as a dict (the same form as the YAML files in search_spaces/). What
# matters on GunPoint (BENCHMARKS.md): bidirectional layers, and how many steps the
# model sees (stride 2 or 3 of 150). Early stopping is off: with 50 training series a
# 10-series validation split is too noisy to stop on, and a fixed 100 epochs is enough.
# Learning rates stay at or below 1e-3: at 3e-3 the training loss climbs again late in
# training, so the last epoch (the one kept, and scored) is often a poor one.
SPACE = {
    "cell": ["lstm", "gru"],
    "bidirectional": True,
    "units": [32, 64],
    "stride": [2, 3],
    "learning_rate": [5.0e-4, 1.0e-3],
    "batch_size": 16,
    "epochs": 100,
    "early_stopping": False,
}
MLFLOW_URI = "sqlite:///mlruns/mlflow.db"


def main() -> None:
    X_train, y_train, X_test, y_test = load_gunpoint()  # (50, 150, 1), (150, 150, 1)
    print(f"GunPoint: train {X_train.shape}, test {X_test.shape}, classes {sorted(set(y_train.tolist()))}")

    search = SequenceSearch(
        SequenceClassifier(random_state=0),
        space=SPACE,
        tuner="random",
        # Validation loss ranks trials more finely than accuracy on 10 series (which
        # moves in steps of 0.1 and ties); the epoch whose weights were kept counts.
        objective="val_loss",
        max_trials=5,
        time_budget=240,  # seconds for the trials; the final refit comes on top
        directory="seqtune_search",
        project_name="gunpoint_example",
        overwrite=True,
        tracking=True,
        tracking_uri=MLFLOW_URI,
        experiment_name="seqtune-gunpoint",
        random_state=0,
        verbose=1,
    )
    start = time.perf_counter()
    search.fit(X_train, y_train)
    search_s = time.perf_counter() - start
    accuracy = search.score(X_test, y_test)

    columns = ["trial_id", "cell", "units", "stride", "learning_rate", "score", "status",
               "epochs_run", "duration_s"]
    board = search.results_[columns].sort_values("score")
    with pd.option_context("display.width", 120, "display.precision", 3):
        print("\nLeaderboard (score = validation loss of the kept weights on the 10 held-out training "
              "series; lower is better):")
        print(board.to_string(index=False))
    print(f"\nBest params: {search.best_params_}")
    print(f"Search + refit wall time: {search_s:.0f} s on {os.cpu_count()} CPU cores "
          f"({len(search.results_)} trials)")

    print("\nGunPoint test accuracy (150 series)")
    print(f"  {'seqtune search (this run)':<32} {accuracy:.3f}")
    for name, score in GUNPOINT_REFERENCES.items():
        print(f"  {name:<32} {score:.3f}")
    if search.best_model_uri_:
        print(f"\nBest model logged to MLflow: {search.best_model_uri_}")
    print(f"Browse the runs: mlflow ui --backend-store-uri {MLFLOW_URI}")


if __name__ == "__main__":
    main()
