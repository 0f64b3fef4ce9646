"""Resident memory after each of many forecaster fits in one process, as a search runs.

A search fits a fresh estimator for every fold of every trial, in one process, and
clears the Keras session before each (as ``TrialRunner`` does). Memory should therefore
stay flat after the first fits. On TensorFlow each ``model.fit`` used to leave its
traced graph in TensorFlow's gradient registry (see ``seqtune/_tensorflow.py``). Run:

    python -m benchmarks.fit_memory [--fits 16] [--ensemble-size 5]

It fits ``SequenceForecaster(lookback=12, horizon=24, cell="gru", units=32, epochs=15,
early_stopping=False)`` on Airline's first 120 months ``--fits`` times, predicts once
after each, and prints the resident set size (``/proc/self/statm``) after each fit,
then the growth per fit from the third fit on (the first two warm up the backend).
Target: under 5 MiB per fit.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=16)
    parser.add_argument("--ensemble-size", type=int, default=5)
    args = parser.parse_args()
    if args.fits < 4:
        parser.error(f"--fits must be at least 4 to measure growth after warm-up; got {args.fits}")

    import keras

    from seqtune import SequenceForecaster
    from seqtune.datasets import load_airline

    y = load_airline().to_numpy(float)[:120]
    print(f"backend {keras.config.backend()}, keras {keras.__version__}, "
          f"start {_rss_mib():.0f} MiB")
    rss = []
    start = time.perf_counter()
    for i in range(args.fits):
        keras.backend.clear_session()
        forecaster = SequenceForecaster(
            lookback=12, horizon=24, ensemble_size=args.ensemble_size, cell="gru", units=32,
            epochs=15, early_stopping=False, random_state=i,
        ).fit(y)
        forecaster.predict()
        del forecaster
        rss.append(_rss_mib())
        print(f"fit {i + 1:3d}: {rss[-1]:7.0f} MiB  {time.perf_counter() - start:6.0f} s",
              flush=True)
    slope = np.polyfit(np.arange(2, args.fits), rss[2:], 1)[0]
    print(f"growth from fit 3 to fit {args.fits}: {rss[-1] - rss[2]:+.0f} MiB, "
          f"{slope:+.1f} MiB per fit (least squares); target < 5 MiB per fit")


if __name__ == "__main__":
    main()
