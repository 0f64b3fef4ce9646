"""Average the configurations the folds cannot tell apart, and score that on test.

``benchmarks.selection`` measures how little Airline's folds agree on which
configuration is best. This asks what follows from it: instead of the best mean fold
score, take every complete trial within one standard error of it (the band) and average
their forecasts with equal weights, as forecast combination does when no forecaster can
be shown better than another.

For each forecasting row of ``benchmarks/results/runs.jsonl`` that is today's default
(this backend) and whose search ``python -m benchmarks.run`` left on disk, the finished
search is resumed (no trial runs again), each configuration of the band is refitted
once on the whole training series as the search refits its pick (the folds' epoch count,
checked against their training loss), and the average is scored on the test split. The
band is chosen on the folds alone; the test split only scores it. Beside it: the row's
own final model (a refit per seed of the pick), the pick's single refit, and each band
member's test score::

    KERAS_BACKEND=jax python -m benchmarks.band_average [--directory DIR] [airline] [macrodata]

The rule was written after the table's Airline and Macrodata test scores had been seen
(benchmarks/README.md says so beside its figures); it is a measurement, not a default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def band_forecaster(name: str, row: dict, directory: Path) -> tuple[object, list, dict] | None:
    """The equal-weight average of the band's refits for one row's search.

    Returns
    -------
    (ensemble, members, band) or None
        The fitted ``SequenceEnsembleForecaster``, ``(trial_id, refit)`` pairs, and
        :func:`benchmarks.selection.one_standard_error`'s answer; None when the search
        is not on disk or completed no trial.
    """
    from sklearn.base import clone

    from benchmarks.protocol import load_split, make_estimator
    from benchmarks.run import trial_table, table_search
    from benchmarks.selection import complete_trials, one_standard_error
    from seqtune.ensemble import SequenceEnsembleForecaster
    from seqtune.search._final import build_member

    y_train, _ = load_split(name)
    estimator = make_estimator(name, row["seed"], quick=row["quick"])
    search = table_search(name, row["seed"], estimator, budget=row["budget_s"],
                          max_trials=row["max_trials"], quick=row["quick"], directory=directory)
    project_dir = Path(search.directory) / search.project_name
    if not (project_dir / "oracle.json").is_file():
        return None
    # Resuming the finished search runs no trial; refit=False builds no final model.
    search.set_params(tracking=False, overwrite=False, max_trials=row["n_trials"], refit=False)
    search.fit(y_train)
    band = one_standard_error(*complete_trials(trial_table(search)), better="min")
    if band is None:
        return None
    records = {r["trial_id"]: r for r in search.records_}
    members = [(trial_id, build_member("refit", "forecasting", clone(estimator),
                                       records[trial_id], (y_train,), project_dir)[0])
               for trial_id in band["members"]]
    return SequenceEnsembleForecaster([model for _, model in members]), members, band


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["airline", "macrodata"],
                        metavar="DATASET", help="airline and/or macrodata (default: both)")
    parser.add_argument("--directory", type=Path, help="the searches' directory "
                        "(default: seqtune_search/benchmarks in the repository)")
    args = parser.parse_args(argv)

    import keras

    from benchmarks.protocol import DATASETS, REPO, RESULTS, load_split, score_on_test
    from benchmarks.table import is_current_default

    wrong = [d for d in args.datasets if DATASETS.get(d) is None
             or DATASETS[d].task != "forecasting"]
    if wrong:
        parser.error(f"not a forecasting data set: {wrong}; expected airline or macrodata")
    backend = keras.config.backend()
    directory = args.directory or REPO / "seqtune_search" / "benchmarks"
    rows = {}
    for row in map(json.loads, RESULTS.open()):
        if (row["backend"] == backend and not row["quick"] and row["dataset"] in args.datasets
                and is_current_default(row)):
            rows[(row["dataset"], row["seed"])] = row  # the latest one
    print(f"backend {backend}; test scores; the band is every complete trial within one "
          "standard error of the best mean fold MAE")
    for (name, seed), row in sorted(rows.items()):
        metric = DATASETS[name].metric
        found = band_forecaster(name, row, directory)
        if found is None:
            print(f"{name} seed {seed}: its search is not in {directory}")
            continue
        ensemble, members, band = found
        _, y_test = load_split(name)
        averaged = score_on_test(name, ensemble, y_test)[metric]
        each = ", ".join(f"{trial_id} {score_on_test(name, model, y_test)[metric]:.3f}"
                         for trial_id, model in members)
        single = (row.get("alternatives") or {}).get("single")
        print(f"{name} seed {seed} ({row['commit']}): band of {band['within']} -> {metric} "
              f"{averaged:.3f}; the row's final model {row['searched'][metric]:.3f}, its "
              f"pick's single refit {'-' if single is None else f'{single:.3f}'}; "
              f"each member: {each}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
