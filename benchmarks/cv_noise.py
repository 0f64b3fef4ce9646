"""How noisy one holdout is against 5 folds, by training-set size: where ``cv="auto"`` switches.

A trial's score ranks configurations; its noise decides whether the ranking means
anything. Here one fixed configuration (GRU(16), 40 epochs, early stopping on the
training loss) is scored on ItalyPowerDemand (1096 series of 24 steps, train and test
pooled, shipped with aeon) at several sizes ``n``, by a 20 % stratified holdout under
``--repeats`` split seeds and by 5-fold stratified cross-validation under the same
seeds. Printed per size: the spread (standard deviation over seeds) of each estimate,
and the fits each costs::

    python benchmarks/cv_noise.py [--sizes 50,200,500,1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,500,1000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import keras
    from aeon.datasets import load_classification
    from sklearn.model_selection import StratifiedKFold

    from seqtune import SequenceClassifier
    from seqtune.splits import holdout_split

    X_a, y_a = load_classification("ItalyPowerDemand", split="train")
    X_b, y_b = load_classification("ItalyPowerDemand", split="test")
    X = np.transpose(np.concatenate([X_a, X_b]), (0, 2, 1)).astype("float32")
    y = np.concatenate([y_a, y_b])
    settings = dict(cell="gru", units=16, epochs=40, batch_size=32, validation_fraction=0.0,
                    patience=10, random_state=0)
    print(f"keras {keras.__version__}, backend {keras.config.backend()}; ItalyPowerDemand, "
          f"{len(y)} series; {args.repeats} split seeds per size")
    print("| n | holdout (20 %) score: mean ± std over seeds | 5-fold score: mean ± std | fits | s |")
    print("|---|---|---|---|---|")
    for n in [int(s) for s in args.sizes.split(",")]:
        rng = np.random.default_rng(n)
        rows = rng.choice(len(y), size=n, replace=False)
        Xn, yn = X[rows], y[rows]
        started = time.perf_counter()
        holdout, folds = [], []
        for seed in range(args.repeats):
            train, test, _ = holdout_split(n, 0.2, stratify=yn, random_state=seed)
            holdout.append(SequenceClassifier(**settings).fit(Xn[train], yn[train])
                           .score(Xn[test], yn[test]))
            splitter = StratifiedKFold(5, shuffle=True, random_state=seed)
            folds.append(np.mean([SequenceClassifier(**settings).fit(Xn[tr], yn[tr])
                                  .score(Xn[te], yn[te]) for tr, te in splitter.split(Xn, yn)]))
        print(f"| {n} | {np.mean(holdout):.3f} ± {np.std(holdout):.3f} | {np.mean(folds):.3f} ± "
              f"{np.std(folds):.3f} | 1 vs 5 | {time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
