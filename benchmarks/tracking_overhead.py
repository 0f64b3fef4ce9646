"""Time MlflowTracker.log_trial for 50-epoch trial records, against sqlite and a server.

Usage::

    python benchmarks/tracking_overhead.py [--trials 20] [--epochs 50] [--no-server]

For each store and for ``background=False`` / ``True``, prints the time the caller
spends in ``log_trial`` per trial (4 per-epoch metric series, i.e. 200 metric values,
4 params, ~10 tags), what was still queued when the search ended (``flush``),
``start_search`` and ``end_search`` (leaderboard + 2 plots), and the share of a
search of trials of 5 s, 30 s and 120 s that this adds; then ``log_best_model``
for a small fitted SequenceClassifier. Everything goes to a temporary directory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from _tracking_helpers import MlflowServer, make_record  # noqa: E402
from seqtune.tracking import MlflowTracker  # noqa: E402


def _record(number: int, epochs: int) -> dict:
    record = make_record(number, epochs=epochs, started_at=time.time() - 5)
    history = record["history"]
    history["val_accuracy"] = [v - 0.01 for v in history["accuracy"]]
    return record


def measure(uri: str, state_dir: Path, trials: int, epochs: int, background: bool) -> dict:
    tracker = MlflowTracker(uri, "overhead", background=background)
    t0 = time.perf_counter()
    tracker.start_search(state_dir, run_name="overhead", params={"tuner": "random"}, tags={},
                         space_yaml="units: [4, 8]\n", fingerprint={"sha256": "0"})
    start = time.perf_counter() - t0
    records = [_record(i, epochs) for i in range(trials)]
    per_trial = []
    for record in records:
        t0 = time.perf_counter()
        tracker.log_trial(record)
        per_trial.append(time.perf_counter() - t0)
        if background:
            time.sleep(1.0)  # a trial trains meanwhile
    t0 = time.perf_counter()
    left = tracker.flush()
    drain = time.perf_counter() - t0
    assert left == 0 and len(tracker.logged_runs) == trials, tracker.last_error
    t0 = time.perf_counter()
    tracker.end_search(best_score=1.0, best_params=records[-1]["params"], records=records)
    end = time.perf_counter() - t0
    return {"start": start, "trials": per_trial, "drain": drain, "end": end}


def report(name: str, result: dict, trials: int) -> None:
    per = result["trials"]
    med = statistics.median(per)
    print(f"{name}: start_search {result['start'] * 1000:.0f} ms, "
          f"log_trial in the caller: median {med * 1000:.2f} ms, max {max(per) * 1000:.1f} ms; "
          f"queue left at the end {result['drain'] * 1000:.0f} ms; "
          f"end_search {result['end'] * 1000:.0f} ms")
    for trial_s in (5, 30, 120):
        search_s = trial_s * trials
        overhead = sum(per) + result["drain"] + result["start"] + result["end"]
        print(f"    {trials} trials of {trial_s:>3} s: logging adds {overhead / search_s:.2%}")


def measure_best_model(uri: str, state_dir: Path) -> float:
    import numpy as np

    from seqtune import SequenceClassifier

    rng = np.random.RandomState(0)
    X = rng.rand(64, 20, 2).astype("float32")
    y = (X[:, :, 0].mean(axis=1) > 0.5).astype(int)
    estimator = SequenceClassifier(units=8, epochs=1, random_state=0).fit(X, y)
    tracker = MlflowTracker(uri, "overhead")
    tracker.start_search(state_dir, run_name="best-model", params={}, tags={}, space_yaml=None,
                         fingerprint=None)
    t0 = time.perf_counter()
    assert tracker.log_best_model(estimator, X[:5]) is not None, tracker.last_error
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = f"sqlite:///{tmp / 'mlflow.db'}"
        MlflowTracker(db)._guarded(lambda: None)  # create the schema outside the timing
        stores = [("sqlite", db, None)]
        server = None
        if not args.no_server:
            server = MlflowServer(tmp / "server")
            server.start()
            stores.append((f"mlflow server {server.uri}", server.uri, server))
        try:
            for name, uri, _ in stores:
                for background in (False, True):
                    mode = "background" if background else "synchronous"
                    result = measure(uri, tmp / f"{name[:6]}-{mode}", args.trials, args.epochs,
                                     background)
                    report(f"{name}, {mode}", result, args.trials)
                print(f"{name}: log_best_model {measure_best_model(uri, tmp / 'best'):.2f} s")
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
