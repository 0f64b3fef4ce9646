"""What pruning saves and what it costs: the same search with ``pruning=True`` and ``False``.

Per data set and seed, two searches with the default space, cross-validation and
identical trials (the same oracle seed and a fixed ``--trials``, no time budget, so
both run the same configurations), one pruning trials whose first folds are clearly
worse than the best. Printed: the seconds the trials took, how many were pruned, the
best cross-validated score, and the test score of the final model::

    python -m benchmarks.pruning [--trials 12] [--seeds 2] [DATASET ...]   # from the repository root

Random search, so that a pruned trial's partial score cannot steer the next draws (with
Bayesian optimisation it would, which is part of what pruning changes there).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["gunpoint", "basic_motions"])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)

    from benchmarks.protocol import DATASETS, load_split, make_estimator, score_on_test
    from seqtune import SequenceSearch

    import keras

    print(f"keras {keras.__version__}, backend {keras.config.backend()}, {os.cpu_count()} CPU cores; "
          f"random search, {args.trials} trials, cv='auto'")
    print("| data set | seed | pruning | trial s | pruned | best CV score | test score |")
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets:
        ds = DATASETS[name]
        data = load_split(name)
        fit_args = data[:2] if ds.task == "classification" else (data[0],)
        test = data[2:] if ds.task == "classification" else data[1]
        for seed in range(args.seeds):
            for pruning in (False, True):
                with tempfile.TemporaryDirectory() as tmp:
                    search = SequenceSearch(
                        make_estimator(name, seed, quick=False), space="default", tuner="random",
                        max_trials=args.trials, cv="auto", pruning=pruning, directory=tmp,
                        overwrite=True, tracking=False, random_state=seed, verbose=0)
                    started = time.perf_counter()
                    search.fit(*fit_args)
                    wall = time.perf_counter() - started
                    seconds = sum(r["duration_s"] or 0 for r in search.records_)
                    pruned = sum(r["stopped_by"] == "pruning" for r in search.records_)
                    score = score_on_test(name, search.best_estimator_, test)[ds.metric]
                print(f"| {ds.title} | {seed} | {'on' if pruning else 'off'} | {seconds:.0f} "
                      f"({wall:.0f} wall) | {pruned} | {search.best_score_:.3f} | {score:.3f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
