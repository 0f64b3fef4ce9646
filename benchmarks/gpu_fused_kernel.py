"""Seconds per epoch with and without Keras's fused cuDNN kernel, and what a search records.

Run on a machine with a GPU::

    python benchmarks/gpu_fused_kernel.py [--samples 2048] [--steps 128] [--epochs 3]

It fits the same LSTM / GRU with ``recurrent_dropout=0`` (fused kernel eligible) and
``recurrent_dropout=0.2`` (generic kernel), prints seconds per epoch and the ratio, then
runs a 4-trial search whose space can pick recurrent_dropout (expect one warning) and
prints what each trial recorded: ``fused_kernel`` and ``seconds_per_epoch``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--units", type=int, default=128)
    args = parser.parse_args()

    from seqtune.classifier import SequenceClassifier
    from seqtune.device import device_name, has_gpu
    from seqtune.search import SequenceSearch

    print(f"keras {keras.__version__}, backend {keras.config.backend()}, device {device_name()}")
    if not has_gpu():
        print("no GPU visible to this backend: the fused kernel cannot run here")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.samples, args.steps, 4)).astype("float32")
    y = (X[:, -8:, 0].mean(axis=1) > 0).astype(int)

    common = dict(units=args.units, epochs=args.epochs, batch_size=64, early_stopping=False,
                  random_state=0)
    for cell in ("lstm", "gru"):
        timings = {}
        for rd in (0.0, 0.2):
            est = SequenceClassifier(cell=cell, recurrent_dropout=rd, **common).fit(X, y)
            # Includes the first epoch's tracing; more epochs dilute it.
            per_epoch = est.fit_time_ / est.n_epochs_
            timings[rd] = per_epoch
            print(f"{cell} recurrent_dropout={rd}: fused_kernel={est.fused_kernel_} "
                  f"{per_epoch:.3f} s/epoch (fit {est.fit_time_:.2f}s, {est.n_epochs_} epochs)")
        print(f"{cell}: recurrent_dropout=0.2 is {timings[0.2] / timings[0.0]:.1f}x slower per epoch")

    space = {"units": args.units, "epochs": args.epochs, "batch_size": 64, "early_stopping": False,
             "cell": ["lstm", "gru"], "recurrent_dropout": [0.0, 0.2]}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = SequenceSearch(SequenceClassifier(), space=space, tuner="random", max_trials=4,
                                directory=tmp, tracking=False, refit=False, random_state=0,
                                verbose=0).fit(X, y)
    rd_warnings = [str(w.message) for w in caught if "recurrent_dropout" in str(w.message)]
    print(f"recurrent_dropout warnings: {len(rd_warnings)}")
    for message in rd_warnings:
        print("  " + message)
    print(search.results_[["trial_id", "cell", "recurrent_dropout", "score", "fused_kernel",
                           "seconds_per_epoch", "epochs_run"]].to_string(index=False))


if __name__ == "__main__":
    main()
