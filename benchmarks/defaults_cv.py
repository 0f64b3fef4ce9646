"""Would the estimator's defaults, as a trial, have won any search? Their score on its folds.

For each data set and seed of ``benchmarks/results/runs.jsonl`` (JAX, full runs), the
estimator's own defaults are scored as one trial of ``SequenceSearch`` with the same
``cv="auto"`` folds the benchmark's search used, and printed beside the cross-validated
score of that search's pick (the same objective). The test split takes no part; the
test scores printed beside it are read from runs.jsonl::

    KERAS_BACKEND=jax python -m benchmarks.defaults_cv [--seeds 5] [DATASET ...]   # from the repository root

A no-regret guard that adds the defaults to the search as a trial changes a pick only
where the defaults' fold score beats the pick's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["macrodata", "airline"])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default: 5)")
    args = parser.parse_args(argv)

    import keras

    from benchmarks.run import DATASETS, RESULTS, _estimator, _load
    from seqtune import SequenceSearch

    rows = {(r["dataset"], r["seed"]): r for r in map(json.loads, RESULTS.open())
            if r["backend"] == keras.config.backend() and not r["quick"]}
    print(f"backend {keras.config.backend()}, {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            ds = DATASETS[name]
            data = _load(name)  # (X, y, X_test, y_test) or (y, y_test): the training part only
            fit_args = data[:2] if ds.task == "classification" else data[:1]
            for seed in range(args.seeds):
                row = rows.get((name, seed))
                if row is None:
                    print(f"{name} seed {seed}: no {keras.config.backend()} row in runs.jsonl")
                    continue
                estimator = _estimator(name, seed, quick=False)
                # A space must name a parameter: fix one at the estimator's own value.
                units = estimator.get_params()["units"]
                search = SequenceSearch(estimator, space={"units": units}, tuner="random",
                                        max_trials=1, cv="auto", directory=tmp,
                                        project_name=f"{name}{seed}", overwrite=True,
                                        tracking=False, refit=False, random_state=seed, verbose=0)
                started = time.perf_counter()
                search.fit(*fit_args)
                metric, objective = ds.metric, search.objective_["name"]
                print(f"{name} seed {seed}: defaults CV {objective} {search.best_score_:.4f} over "
                      f"{search.n_folds_} folds ({time.perf_counter() - started:.0f} s); the pick's "
                      f"CV {row['best_cv_score']:.4f}; test (runs.jsonl): defaults "
                      f"{row['defaults'][metric]:.3f}, searched {row['searched'][metric]:.3f}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
