"""Seconds per epoch with and without Keras's fused cuDNN recurrent kernel.

Any ``recurrent_dropout`` > 0 (and, on JAX and torch, any padding mask) makes Keras fall
back from the fused cuDNN kernel to a step-by-step loop. This script measures what that
costs on the current device and prints whether seqtune predicted the fused path.

    KERAS_BACKEND=jax python benchmarks/fused_kernel.py [--epochs 3] [--n 4096] [--t 128]

Then a 4-trial search whose space can pick ``recurrent_dropout`` shows what each trial
records (``fused_kernel``, ``seconds_per_epoch``) and the one warning a GPU search gives.

On a CPU the two paths cost about the same (there is no fused kernel); the gap only
shows on a GPU.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from seqtune import SequenceClassifier, SequenceSearch
from seqtune.device import device_name


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, so that the first (compiling) one can be left out."""

    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--n", type=int, default=4096, help="sequences")
    parser.add_argument("--t", type=int, default=128, help="steps per sequence")
    parser.add_argument("--units", type=int, default=128)
    args = parser.parse_args()

    rng = np.random.RandomState(0)
    X = rng.normal(size=(args.n, args.t, 4)).astype(np.float32)
    y = (X[:, -1, 0] > 0).astype(int)
    ragged = [x[: rng.randint(args.t // 2, args.t + 1)] for x in X]
    print(f"backend={keras.config.backend()} device={device_name()} "
          f"n={args.n} t={args.t} units={args.units} epochs={args.epochs}")
    print(f"{'cell':5} {'config':22} {'fused':>5} {'s/epoch':>8}")
    for cell in ("lstm", "gru"):
        for label, data, params in [
            ("dropout=0.2", X, dict(dropout=0.2)),
            ("recurrent_dropout=0.2", X, dict(recurrent_dropout=0.2)),
            ("ragged (masked)", ragged, {}),
        ]:
            clf = SequenceClassifier(cell=cell, units=args.units, epochs=args.epochs,
                                     batch_size=256, early_stopping=False, random_state=0,
                                     **params)
            timer = EpochTimer()
            clf.fit(data, y, callbacks=[timer])
            # The first epoch includes compilation; report the median of the later ones.
            per_epoch = float(np.median(timer.times[1:] or timer.times))
            print(f"{cell:5} {label:22} {str(clf.fused_kernel_):>5} {per_epoch:8.3f}")

    space = {"units": args.units, "epochs": 2, "batch_size": 256, "early_stopping": False,
             "cell": ["lstm", "gru"], "recurrent_dropout": [0.0, 0.2]}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = SequenceSearch(SequenceClassifier(), space=space, tuner="random", max_trials=4,
                                directory=tmp, overwrite=True, tracking=False, refit=False,
                                random_state=0, verbose=0).fit(X, y)
    rd_warnings = [str(w.message) for w in caught if "recurrent_dropout" in str(w.message)]
    print(f"\nsearch: {len(rd_warnings)} recurrent_dropout warning(s)")
    for message in rd_warnings:
        print("  " + message)
    print(search.results_[["trial_id", "cell", "recurrent_dropout", "score", "fused_kernel",
                           "seconds_per_epoch"]].to_string(index=False))


if __name__ == "__main__":
    main()
