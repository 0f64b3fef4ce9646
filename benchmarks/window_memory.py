"""Peak memory of one training epoch on a 5,000,000-step series with lookback=512.

Copying every window would need 5e6 x 512 x 4 bytes = 10 GB (float32). seqtune's
windows are a strided view of the series, and each batch is gathered only when Keras
asks for it, so peak memory stays near the size of the interpreter + TensorFlow + one
batch. Run:

    python benchmarks/window_memory.py [--steps 5000000] [--lookback 512] [--batch-size 8192]

It prints the peak resident set size (``resource.getrusage``), the size a copy of all
windows would take, and the wall time. Target: peak RSS under 2 GiB.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def _rss_mib() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5_000_000)
    parser.add_argument("--lookback", type=int, default=512)
    parser.add_argument("--horizon", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--units", type=int, default=2)
    parser.add_argument("--cell", default="gru")
    args = parser.parse_args()

    from seqtune.forecaster import SequenceForecaster

    rng = np.random.default_rng(0)
    t = np.arange(args.steps, dtype=np.float32)
    y = (np.sin(t / 50) + 0.1 * rng.standard_normal(args.steps)).astype(np.float32)
    n_windows = args.steps - args.lookback - args.horizon + 1
    copy_gib = n_windows * args.lookback * 4 / 2**30
    before = _rss_mib()
    forecaster = SequenceForecaster(
        lookback=args.lookback, horizon=args.horizon, cell=args.cell, units=args.units,
        batch_size=args.batch_size, epochs=1, early_stopping=False, random_state=0,
    )
    start = time.perf_counter()
    forecaster.fit(y)
    wall = time.perf_counter() - start
    peak = _rss_mib()
    print(f"series: {args.steps:,} steps, lookback={args.lookback}, {n_windows:,} windows")
    print(f"all windows copied would take: {copy_gib:.1f} GiB (float32)")
    print(f"peak RSS: {peak:,.0f} MiB ({peak / 1024:.2f} GiB); before fit: {before:,.0f} MiB "
          f"(series + interpreter + Keras)")
    print(f"one epoch: {wall:.1f} s wall ({forecaster.fit_time_:.1f} s in model.fit), "
          f"batch_size={args.batch_size}, {args.cell} units={args.units}, loss={forecaster.history_['loss'][-1]:.4f}")
    print("target: peak RSS < 2 GiB ->", "OK" if peak < 2048 else "MISSED")


if __name__ == "__main__":
    main()
