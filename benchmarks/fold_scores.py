"""How far a search's fold scores can be trusted: the defaults and the pick, scored again.

For each data set and seed of ``benchmarks/results/runs.jsonl`` (this backend, full
runs), one configuration at a time is scored as the single trial of a ``SequenceSearch``
on the same ``cv="auto"`` folds the benchmark's search used, with the same objective.
The test split takes no part; the test scores printed beside them are read from
runs.jsonl. Two questions::

    KERAS_BACKEND=jax python -m benchmarks.fold_scores [--seeds 5] [DATASET ...]   # from the repository root
    KERAS_BACKEND=jax python -m benchmarks.fold_scores --pick-seeds 3 airline
    KERAS_BACKEND=jax python -m benchmarks.fold_scores --pick-seeds 1 --set scaling=window airline

- Would the estimator's defaults, as a trial, have won the search? (the default) A
  no-regret guard that adds them as a trial changes a pick only where their fold score
  beats the pick's.
- ``--pick-seeds K``: how much of the pick's fold score was the luck of its fit? The
  pick is scored again with its own seed (which should reproduce the recorded score)
  and with ``K`` other seeds for the networks' weights (the folds stay the same). A
  search picks the best of many noisy scores, so the pick's score under fresh seeds is
  expected to be worse; how much worse says how much the selection chased noise.
- ``--set NAME=VALUE`` (with ``--pick-seeds``): the same, with one parameter of every
  pick changed, to ask whether an option the space lacks would have scored better on
  the folds the search saw, before any search is run with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Fresh weight seeds for ``--pick-seeds``: far from the benchmark's seeds 0-4.
_SEED_OFFSET = 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["macrodata", "airline"])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default: 5)")
    parser.add_argument("--pick-seeds", type=int, default=0, metavar="K",
                        help="score each search's pick again with its own and K other weight "
                             "seeds, instead of scoring the defaults")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="with --pick-seeds: change a parameter of every pick (a YAML "
                             "value: scaling=window, log=true)")
    parser.add_argument("--intensify", type=int, default=None, metavar="K",
                        help="read the rows of runs.jsonl run with this intensify value "
                             "(default: the rows of today's default search)")
    args = parser.parse_args(argv)
    overrides = _overrides(parser, args.set)
    if overrides and not args.pick_seeds:
        parser.error("--set changes the picks: it needs --pick-seeds K")

    import keras

    from benchmarks.protocol import DATASETS, RESULTS, load_split, make_estimator
    from benchmarks.table import is_current_default

    # The latest row per data set and seed of one protocol (a later row of another
    # section, say --max-trials 100, must not stand in for the default search's).
    rows = {(r["dataset"], r["seed"]): r for r in map(json.loads, RESULTS.open())
            if r["backend"] == keras.config.backend() and not r["quick"]
            and (is_current_default(r) if args.intensify is None
                 else r.get("intensify") == args.intensify)}
    print(f"backend {keras.config.backend()}, {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            ds = DATASETS[name]
            data = load_split(name)  # (X, y, X_test, y_test) or (y, y_test): the training part only
            fit_args = data[:2] if ds.task == "classification" else data[:1]
            for seed in range(args.seeds):
                row = rows.get((name, seed))
                if row is None:
                    print(f"{name} seed {seed}: no {keras.config.backend()} row in runs.jsonl")
                    continue
                test = f"test (runs.jsonl): defaults {row['defaults'][ds.metric]:.3f}, " \
                       f"searched {row['searched'][ds.metric]:.3f}"
                estimator = make_estimator(name, seed, quick=False)
                if not args.pick_seeds:
                    # A space must name a parameter: fix one at the estimator's own value.
                    space = {"units": estimator.get_params()["units"]}
                    score, objective, n_folds, seconds = _fold_score(
                        estimator, space, fit_args, seed, f"{tmp}/{name}{seed}")
                    print(f"{name} seed {seed}: defaults CV {objective} {score:.4f} over {n_folds} "
                          f"folds ({seconds:.0f} s); the pick's CV {row['best_cv_score']:.4f}; "
                          f"{test}", flush=True)
                    continue
                scores = []
                for k in range(args.pick_seeds + 1):
                    weights_seed = seed + k * _SEED_OFFSET
                    score, objective, n_folds, seconds = _fold_score(
                        estimator.set_params(random_state=weights_seed),
                        {**row["best_params"], **overrides},
                        fit_args, seed, f"{tmp}/{name}{seed}_{k}")
                    scores.append(score)
                    print(f"{name} seed {seed}, weights seed {weights_seed}: the pick's CV "
                          f"{objective} {score:.4f} over {n_folds} folds ({seconds:.0f} s)",
                          flush=True)
                fresh = scores[1:]
                # A re-scored pick's recorded score is its mean over the search's seeds.
                print(f"{name} seed {seed}: the pick's CV {objective} in the search "
                      f"{row['best_cv_score']:.4f}, again with its seed {scores[0]:.4f}, with "
                      f"{len(fresh)} fresh seeds mean {statistics.fmean(fresh):.4f} (range "
                      f"{min(fresh):.4f}-{max(fresh):.4f}); {test}", flush=True)
    return 0


def _overrides(parser: argparse.ArgumentParser, pairs: list[str]) -> dict:
    """``["scaling=window", "log=true"]`` as ``{"scaling": "window", "log": True}``."""
    import yaml

    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            parser.error(f"--set {pair!r}: expected NAME=VALUE, such as scaling=window")
        out[name] = yaml.safe_load(value)
    return out


def _fold_score(estimator, space: dict, fit_args: tuple, seed: int,
                directory: str) -> tuple[float, str, int, float]:
    """The cross-validated score of one configuration: the only trial of a search."""
    from seqtune import SequenceSearch

    # intensify=0: the score of this one seed, not a mean over re-scoring seeds.
    search = SequenceSearch(estimator, space=space, tuner="random", max_trials=1, cv="auto",
                            directory=directory, overwrite=True, tracking=False, refit=False,
                            random_state=seed, verbose=0, intensify=0)
    started = time.perf_counter()
    search.fit(*fit_args)
    return (search.best_score_, search.objective_["name"], search.n_folds_,
            time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main())
