"""Seconds per epoch with and without Keras's fused cuDNN recurrent kernel.

Any ``recurrent_dropout`` > 0 (and, on JAX and torch, any padding mask) makes Keras fall
back from the fused cuDNN kernel to a step-by-step loop. This script measures what that
costs on the current device and prints whether seqtune predicted the fused path.

    KERAS_BACKEND=jax python benchmarks/fused_kernel.py [--epochs 3] [--n 4096] [--t 128]

On a CPU the two paths cost about the same (there is no fused kernel); the gap only
shows on a GPU.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from seqtune import SequenceClassifier
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


if __name__ == "__main__":
    main()
