"""Tune a recurrent classifier on GunPoint with a small search, tracked in MLflow.

The main job of seqtune in a few minutes on 2 CPU cores:

1. load GunPoint offline (it ships inside aeon) with its published train/test split;
2. search the recurrent branch of an LSTM-FCN hybrid (cell, width, stride) with Keras
   Tuner (4 trials, at most 4 minutes), each trial scored by 3-fold cross-validation
   on the 50 training series, every trial an MLflow child run under one parent run, in
   the local store ``mlruns/``;
3. average up to three of the trials, chosen greedily on their out-of-fold
   predictions, each by its three fold models (no refit: each fold model was scored on
   series it never saw), log that final model to MLflow as a model, and score it on
   the test split beside the published references.

Run from the repository root::

    python examples/search_gunpoint.py
    mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db     # then open the link

The search state lives in ``seqtune_search/`` (rerun with ``overwrite=False`` to resume
an interrupted search instead of starting afresh).
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


# A small space as a dict (the same form as the YAML files in search_spaces/). LSTM-FCN's
# convolutional branch carries most of the accuracy on GunPoint (BENCHMARKS.md); the
# search tunes the recurrent branch beside it and how many steps it sees. With 50
# series, a 10 % inner holdout is 5 series, too few to stop on: each fit stops, and
# lowers its learning rate, on its training loss (validation_fraction=0), and the
# folds judge it.
SPACE = {
    "conv_branch": True,
    "cell": ["lstm", "gru"],
    "units": [8, 32],
    "stride": [2, 4],
    "learning_rate": 1.0e-3,
    "batch_size": 16,
    "epochs": 60,
    "patience": 30,
    "validation_fraction": 0.0,
    "reduce_lr_patience": 15,
}
MLFLOW_URI = "sqlite:///mlruns/mlflow.db"


def main() -> None:
    X_train, y_train, X_test, y_test = load_gunpoint()  # (50, 150, 1), (150, 150, 1)
    print(f"GunPoint: train {X_train.shape}, test {X_test.shape}, classes {sorted(set(y_train.tolist()))}")

    search = SequenceSearch(
        SequenceClassifier(random_state=0),
        space=SPACE,
        tuner="random",
        cv=3,  # each trial is scored on all 50 series, 17 at a time
        max_trials=4,
        time_budget=240,  # seconds for the trials
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

    columns = ["trial_id", "cell", "units", "stride", "score", "std_score", "split0_score",
               "split1_score", "split2_score", "status", "stopped_by", "duration_s"]
    board = search.results_[columns].sort_values("score", ascending=False)
    with pd.option_context("display.width", 140, "display.precision", 3):
        print("\nLeaderboard (score = mean accuracy over 3 folds of the training split; a "
              "pruned trial stopped\nafter clearly worse first folds, or when the time budget ran out: see stopped_by):")
        print(board.to_string(index=False))
    print(f"Final model: {search.final_model_}")
    print(f"\nBest params: {search.best_params_}")
    print(f"Search + final model wall time: {search_s:.0f} s on {os.cpu_count()} CPU cores "
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
