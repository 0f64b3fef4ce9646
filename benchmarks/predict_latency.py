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

A second table times final models that average several networks (``--members``): a
search's bag of fold models and its ensemble of configurations call every member.

Measured on 2026-12-04 on the 2-core CPU machine, nothing else running
(``--backend all --repeats 10``; ms per call, seqtune / model.predict): TensorFlow 1
sample 3.0 / 44.8, 1000 samples 26 / 82; JAX 0.5 / 1.0 and 35 / 34. Final models of
1, 5 and 15 members, 1 sample: TensorFlow 4.1, 12.7 and 41.5 ms; JAX 0.6, 2.3 and 5.6
ms; 1000 samples: TensorFlow 22, 135 and 328 ms; JAX 31, 163 and 470 ms. torch was not
installed.
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


def measure_members(repeats: int, sizes: tuple[int, ...]) -> None:
    """Milliseconds per ``predict`` of a final model averaging ``k`` fitted networks.

    A search's final model is one network (a refit), the k fold models of the best trial
    (``final_model="bag"``), or up to 3 configurations' fold models (``ensemble="auto"``
    with 5 folds: up to 15). Each member here is the same small LSTM(16), fitted for one
    epoch with its own seed; the members of a real search differ in size.
    """
    import numpy as np

    from seqtune import SequenceClassifier
    from seqtune.datasets import load_gunpoint
    from seqtune.ensemble import SequenceEnsembleClassifier

    X, y, _, _ = load_gunpoint()
    members = [SequenceClassifier(units=16, epochs=1, random_state=i).fit(X, y)
               for i in range(max(sizes))]
    big = np.concatenate([X] * 20)
    print(f"\n{'members':>8s} " + " ".join(f"{f'{n} samples ms':>15s}" for n in (1, 10, 1000)))
    for k in sizes:
        model = SequenceEnsembleClassifier(members[:k])
        cells = [_median_ms(lambda n=n: model.predict(big[:n]), repeats) for n in (1, 10, 1000)]
        print(f"{k:8d} " + " ".join(f"{c:15.1f}" for c in cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="tensorflow, jax, torch or all (default: active)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--members", default="1,5,15",
                        help="also time final models averaging this many networks (default: "
                             "1,5,15: a refit, a 5-fold bag, a 3-configuration ensemble); "
                             "'' to skip")
    args = parser.parse_args()
    try:
        sizes = tuple(int(k) for k in args.members.split(",") if k.strip())
    except ValueError:
        parser.error(f"--members {args.members!r}: expected comma-separated counts, e.g. 1,5,15")
    if any(k < 1 for k in sizes):
        parser.error(f"--members {args.members!r}: every count must be at least 1")
    if args.backend is None:
        measure(args.repeats)
        if sizes:
            measure_members(args.repeats, sizes)
        return
    wanted = BACKENDS if args.backend == "all" else (args.backend,)
    for backend in wanted:
        if importlib.util.find_spec(backend) is None:
            print(f"\n{backend}: not installed, skipped")
            continue
        # Keras fixes its backend at import time: one process per backend.
        subprocess.run([sys.executable, __file__, "--repeats", str(args.repeats),
                        "--members", args.members],
                       env={**os.environ, "KERAS_BACKEND": backend}, check=True)


if __name__ == "__main__":
    main()
