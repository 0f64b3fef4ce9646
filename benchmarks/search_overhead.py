"""What a search costs beyond training: search wall time vs the trials' bare model.fit time.

Runs N trials (default 5, the size of the README's example search) of one fixed small
model twice, with MLflow tracking off and on (a fresh sqlite store in a temporary
directory), and prints:

* the search's wall time (no refit unless ``--refit``) and the sum of the time each
  trial spent inside ``model.fit`` (``fit_time_``), and their ratio (target: <= 1.05
  with MLflow on);
* the same search with tracking on vs off (target: logging adds <= 2 %), and how much of
  it is the fixed end-of-search cost (summary, leaderboard CSV and plots, about 0.2 s),
  which a search with ``refit=True`` (the default) overlaps with the refit;
* the Keras backend and device.

The trials differ only in the learning rate, so each trains the same model on the same
data for the same number of epochs::

    python benchmarks/search_overhead.py [--trials 5] [--samples 2000] [--epochs 20] [--repeats 1] [--refit]

Logging costs a fixed ~0.15 s per search (plus ~0.12 s to log the best model after the
refit) and ~0.02 s per trial, so its share shrinks as trials get longer: the default
trials take 3-7 s (the README's example search takes ~20 s per trial).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def _data(samples: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(samples, steps, 3)).astype("float32")
    y = (X[:, -5:, 0].sum(axis=1) > 0).astype(int)
    return X, y


def _timed_tracker(uri: str):
    """An MlflowTracker that records how long its end-of-search summary takes.

    A search queues ``end_search`` on the tracker's logging queue (``wait=False``), so
    the call itself returns at once; the time is the queued work's, measured around
    the summary (metrics, leaderboard CSV and plots).
    """
    import seqtune.tracking._tracker as tracker_module
    from seqtune.tracking import MlflowTracker

    summary = tracker_module.log_summary
    timings: list[float] = []

    def timed_summary(*args, **kwargs):
        start = time.perf_counter()
        try:
            return summary(*args, **kwargs)
        finally:
            timings.append(time.perf_counter() - start)

    class TimedTracker(MlflowTracker):
        @property
        def end_seconds(self) -> float:
            return timings[-1] if timings else 0.0

        def close(self) -> None:
            try:
                super().close()
            finally:
                tracker_module.log_summary = summary

    tracker_module.log_summary = timed_summary
    return TimedTracker(uri, experiment_name="overhead")


def _search(X, y, args, directory: str, tracking: bool, store: str):
    from seqtune.classifier import SequenceClassifier
    from seqtune.search import SequenceSearch

    space = {
        "cell": "gru", "units": args.units, "epochs": args.epochs, "batch_size": 64,
        "early_stopping": False,
        # Same model and cost for every trial; only the learning rate differs.
        "learning_rate": [1e-3 * (i + 1) for i in range(args.trials)],
    }
    tracker = _timed_tracker(f"sqlite:///{store}/mlflow.db") if tracking else False
    search = SequenceSearch(
        SequenceClassifier(random_state=0), space=space, tuner="random", max_trials=args.trials,
        directory=os.path.join(directory, "search"), overwrite=True, tracking=tracker,
        refit=args.refit, random_state=0, verbose=0,
    )
    start = time.perf_counter()
    search.fit(X, y)
    wall = time.perf_counter() - start
    fit_times = [r["seconds_per_epoch"] * r["epochs_run"] for r in search.records_]
    assert len(fit_times) == args.trials and all(r["status"] == "COMPLETED" for r in search.records_)
    if args.refit:
        fit_times.append(search.best_estimator_.fit_time_)
    return wall, float(np.sum(fit_times)), tracker.end_seconds if tracking else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--refit", action="store_true",
                        help="refit the best configuration (and, tracked, log it as an MLflow model)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each configuration; the fastest counts")
    args = parser.parse_args()

    import keras

    from seqtune.classifier import SequenceClassifier
    from seqtune.device import device_name

    X, y = _data(args.samples, args.steps)
    store = tempfile.mkdtemp(prefix="seqtune-overhead-")
    # Warm up once per process: backend start-up, keras-tuner and MLflow imports, and
    # the creation of the sqlite store's tables. A user pays these once, not per search.
    SequenceClassifier(units=4, epochs=1, random_state=0).fit(X[:64], y[:64])
    warm = argparse.Namespace(**{**vars(args), "trials": 1, "epochs": 1})
    _search(X[:64], y[:64], warm, store, tracking=True, store=store)

    results = {}
    for tracking in (False, True) * args.repeats:
        with tempfile.TemporaryDirectory() as tmp:
            wall, fit, end = _search(X, y, args, tmp, tracking, store)
        best = results.get(tracking)
        if best is None or wall < best[0]:
            results[tracking] = (wall, fit, end)

    print(f"keras {keras.__version__}, backend {keras.config.backend()}, device {device_name()}")
    print(f"{args.trials} trials of a GRU({args.units}) on {args.samples} x {args.steps} x 3, {args.epochs} epochs each")
    for tracking in (False, True):
        wall, fit, _ = results[tracking]
        label = "MLflow on " if tracking else "tracking off"
        print(f"  {label:12s}: search wall {wall:7.2f} s, sum of model.fit {fit:7.2f} s, "
              f"ratio {wall / fit:.3f} ({(wall - fit) / args.trials:.2f} s per trial outside model.fit)")
    (off_wall, off_fit, _), (on_wall, on_fit, end) = results[False], results[True]
    # Training time varies run to run by more than logging costs, so compare the time
    # spent outside model.fit, relative to the untracked search's wall time.
    logging = (on_wall - on_fit) - (off_wall - off_fit)
    print(f"  MLflow logging adds {logging:+.2f} s = {100 * logging / off_wall:+.1f} % of the search "
          f"wall time (raw wall-time difference {100 * (on_wall - off_wall) / off_wall:+.1f} %)")
    print(f"  of which {end:.2f} s is the end-of-search summary, leaderboard and plots, paid once per "
          "search (overlapped with the refit when refit=True)")


if __name__ == "__main__":
    main()
