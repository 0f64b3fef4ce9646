"""Trials per hour with 1 and 2 worker processes, and (on a GPU) 1 against k trials side by side.

CPU: the same search of a fixed small model (GRU(16), 600 x 40 x 3, 15 epochs, one
holdout), run by one supervised worker and by two, each limited to one math thread
(``SEQTUNE_THREADS_PER_WORKER=1``), so the comparison is of processes, not of threads.
Throughput is counted from the first trial's start to the last trial's end; the
start-up (the job written, the workers started, Keras and Keras Tuner imported, the
first trial handed out) is printed apart. Target: at least 1.6x with two workers on
two cores.

GPU (skipped without one): a larger model (LSTM(128), 4096 x 128 x 8) on GPU 0 with
``trials_per_gpu`` 1 and 4: small recurrent models leave most of a GPU idle, so four at
once should give at least 2x the trials per hour::

    python benchmarks/distributed.py [--trials 8] [--jobs 1,2] [--gpu-trials 8] [--per-gpu 1,4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def _data(samples: int, steps: int, features: int):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(samples, steps, features)).astype("float32")
    return X, (X[:, -5:, 0].sum(axis=1) > 0).astype(int)


def _run(X, y, space: dict, trials: int, **workers) -> dict:
    from seqtune import SequenceClassifier, SequenceSearch

    with tempfile.TemporaryDirectory() as tmp:
        search = SequenceSearch(SequenceClassifier(random_state=0), space=space, tuner="random",
                                max_trials=trials, cv=None, directory=tmp, overwrite=True,
                                tracking=False, refit=False, random_state=0, verbose=0, **workers)
        started = time.time()
        search.fit(X, y)
        records = search.records_
    first = min(r["started_at"] for r in records)
    last = max(r["ended_at"] for r in records)
    return {"trials": len(records), "startup_s": first - started, "span_s": last - first,
            "per_hour": 3600 * len(records) / max(last - first, 1e-9),
            "fit_s": float(np.mean([r["duration_s"] for r in records]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--gpu-trials", type=int, default=8)
    parser.add_argument("--per-gpu", default="1,4")
    args = parser.parse_args()

    import keras

    from seqtune.device import has_gpu

    print(f"keras {keras.__version__}, backend {keras.config.backend()}, {os.cpu_count()} CPU cores")
    X, y = _data(600, 40, 3)
    space = {"cell": "gru", "units": 16, "epochs": 15, "batch_size": 32, "early_stopping": False,
             "learning_rate": [1e-3 * (i + 1) for i in range(max(args.trials, 2))]}
    os.environ["SEQTUNE_THREADS_PER_WORKER"] = "1"
    rates = {}
    for jobs in [int(j) for j in args.jobs.split(",")]:
        # chief_address makes even one worker a separate process, so both sides pay the same.
        out = _run(X, y, space, args.trials, n_jobs=jobs, chief_address="127.0.0.1:0")
        rates[jobs] = out["per_hour"]
        print(f"CPU, {jobs} worker(s), 1 thread each: {out['per_hour']:.0f} trials/hour "
              f"({out['trials']} trials in {out['span_s']:.1f} s, {out['fit_s']:.1f} s per trial); "
              f"start-up {out['startup_s']:.1f} s", flush=True)
    if 1 in rates and len(rates) > 1:
        for jobs, rate in rates.items():
            if jobs != 1:
                print(f"  speed-up with {jobs} workers: {rate / rates[1]:.2f}x (target >= 1.6x for 2)")
    del os.environ["SEQTUNE_THREADS_PER_WORKER"]

    if not has_gpu():
        print("GPU: none visible to the backend; the side-by-side measurement was skipped.")
        return
    X, y = _data(4096, 128, 8)
    space = {"cell": "lstm", "units": 128, "epochs": 5, "batch_size": 256, "early_stopping": False,
             "learning_rate": [1e-3 * (i + 1) for i in range(max(args.gpu_trials, 2))]}
    gpu_rates = {}
    for k in [int(k) for k in args.per_gpu.split(",")]:
        out = _run(X, y, space, args.gpu_trials, gpus="0", trials_per_gpu=k)
        gpu_rates[k] = out["per_hour"]
        print(f"GPU 0, {k} trial(s) side by side: {out['per_hour']:.0f} trials/hour "
              f"({out['trials']} trials in {out['span_s']:.1f} s); start-up {out['startup_s']:.1f} s",
              flush=True)
    if 1 in gpu_rates:
        for k, rate in gpu_rates.items():
            if k != 1:
                print(f"  {k} side by side: {rate / gpu_rates[1]:.2f}x (target >= 2x for 4)")


if __name__ == "__main__":
    main()
