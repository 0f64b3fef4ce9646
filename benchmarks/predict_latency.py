"""How long does one ``predict`` call take for a few samples?

Fits a small ``SequenceClassifier`` (LSTM 16, one epoch) on the GunPoint training
split, then times ``predict`` on 1, 10 and 1000 samples against Keras's own
``model.predict`` on the same fitted model. seqtune calls the compiled predict step
through ``predict_on_batch`` (``seqtune.model.predict_in_batches``); ``model.predict``
builds a data pipeline on every call, which costs ~55 ms on TensorFlow. Callers that
predict a few samples at a time (scoring loops, rolling forecasts, serving) pay that
on every call. Medians of ``--repeats`` calls after one warm-up call per size.

Usage (from the repository root)::

    python benchmarks/predict_latency.py                  # active Keras backend
    python benchmarks/predict_latency.py --backend all    # tensorflow, jax, torch if installed

Measured on 2026-11-23 on the 2-core CPU machine while a TensorFlow benchmark shared
it (ms per call, seqtune / model.predict): TensorFlow 1 sample 3.6 / 58.7, 1000 samples
33 / 161; JAX 0.4 / 0.6 and 39 / 42. torch was not installed in that environment.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
BACKENDS = ("tensorflow", "jax", "torch")


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up: traces / compiles for this input shape
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def measure(repeats: int) -> None:
    import keras
    import numpy as np

    from seqtune import SequenceClassifier
    from seqtune.datasets import load_gunpoint

    X, y, _, _ = load_gunpoint()  # X: (50, 150, 1)
    clf = SequenceClassifier(units=16, epochs=1, random_state=0).fit(X, y)
    big = np.concatenate([X] * 20)
    print(f"\n{keras.config.backend()} (keras {keras.__version__})")
    print(f"{'samples':>8s} {'seqtune predict ms':>19s} {'model.predict ms':>17s}")
    for n in (1, 10, 1000):
        x = big[:n]
        x32 = x.astype("float32")
        ours = _median_ms(lambda: clf.predict(x), repeats)
        keras_ms = _median_ms(lambda: clf.model_.predict(x32, batch_size=256, verbose=0), repeats)
        print(f"{n:8d} {ours:19.1f} {keras_ms:17.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="tensorflow, jax, torch or all (default: active)")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if args.backend is None:
        measure(args.repeats)
        return
    wanted = BACKENDS if args.backend == "all" else (args.backend,)
    for backend in wanted:
        if importlib.util.find_spec(backend) is None:
            print(f"\n{backend}: not installed, skipped")
            continue
        # Keras fixes its backend at import time: one process per backend.
        subprocess.run([sys.executable, __file__, "--repeats", str(args.repeats)],
                       env={**os.environ, "KERAS_BACKEND": backend}, check=True)


if __name__ == "__main__":
    main()
