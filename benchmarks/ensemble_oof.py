"""Does averaging configurations beat the best one on data the choice never saw? The folds alone.

For each search that ``python -m benchmarks.run`` left under
``seqtune_search/benchmarks/`` (this backend), a nested check on the out-of-fold
predictions every trial stored (``seqtune_oof.npy``; one row per training series, each
predicted by the fold model that did not train on it). For each fold ``f`` of the
search's own folds, two choices are made on the other folds' rows only:

- the best trial (highest accuracy on those rows), as ``ensemble=1`` picks;
- Caruana's greedy ensemble of up to ``--size`` configurations (log loss on those
  rows, the selection ``ensemble=k`` runs);

and both are scored on fold ``f``'s rows, which neither choice saw. Every training
series is scored once, so each figure is an accuracy over the whole training set.
Forecasting searches get the same check on their rolling forecasts per fold
(``seqtune_oof_forecasts.npz``; a re-scored configuration's mean over its seeds, as the
search blends it): the best trial and the ensemble are chosen by MAE on the other
folds and scored on fold ``f`` (the figure is the mean MAE over folds). The test
split takes no part; the test scores printed beside them are read from
``benchmarks/results/runs.jsonl``::

    KERAS_BACKEND=jax python -m benchmarks.ensemble_oof [--size 3] [DATASET ...]

Caveats: an out-of-fold row is predicted by one fold model, while the final models
average k fold models, so this compares the two *choices*, not the final models'
accuracy; and only complete trials (not pruned ones) are candidates, as in the search.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def nested_choice(oof: list[np.ndarray], y_codes: np.ndarray, folds: list[np.ndarray],
                  size: int) -> tuple[float, float]:
    """Accuracy of the best-one choice and of the ensemble choice, each made without the
    fold it is scored on.

    Parameters
    ----------
    oof : list of arrays of shape (n_samples, n_classes)
        Out-of-fold class probabilities, one array per candidate trial.
    y_codes : array of shape (n_samples,)
        Class indices.
    folds : list of index arrays
        The scoring rows of each fold; together they cover every row once.
    size : int
        Most distinct configurations in the ensemble.

    Returns
    -------
    (best_one, ensemble) : accuracies over all rows.
    """
    from sklearn.metrics import log_loss

    from seqtune.search._final import greedy_selection

    labels = np.arange(oof[0].shape[1])
    correct_one = correct_ens = 0
    for rows_out in folds:
        rows_in = np.setdiff1d(np.arange(len(y_codes)), rows_out)
        inner = [float(np.mean(p[rows_in].argmax(axis=1) == y_codes[rows_in])) for p in oof]
        order = np.argsort(-np.asarray(inner), kind="stable")  # best first, ties by trial order
        library = [oof[i][rows_in] for i in order]

        def loss(pred: np.ndarray) -> float:
            return log_loss(y_codes[rows_in], np.clip(pred, 1e-15, 1), labels=labels)

        counts = greedy_selection(library, loss, size)
        weights = counts / counts.sum()
        blend = sum(w * oof[i][rows_out] for w, i in zip(weights, order) if w)
        correct_one += int(np.sum(oof[order[0]][rows_out].argmax(axis=1) == y_codes[rows_out]))
        correct_ens += int(np.sum(blend.argmax(axis=1) == y_codes[rows_out]))
    return correct_one / len(y_codes), correct_ens / len(y_codes)


def nested_forecast_choice(forecasts: list[list[np.ndarray]], truths: list[np.ndarray],
                           size: int) -> tuple[float, float]:
    """Mean MAE over folds of the best-one choice and of the ensemble choice, each made
    on the other folds only.

    Parameters
    ----------
    forecasts : list of lists of arrays of shape (n_pooled_f, n_targets)
        Per candidate trial, its rolling forecasts on each fold.
    truths : list of arrays of shape (n_pooled_f, n_targets)
        The actuals of each fold.
    size : int
        Most distinct configurations in the ensemble.

    Returns
    -------
    (best_one, ensemble) : MAE of each, averaged over the folds.
    """
    from seqtune.search._final import forecast_fold_loss, greedy_selection

    def mae(pred: np.ndarray, fold: int) -> float:
        return float(np.mean(np.abs(pred - truths[fold])))

    one, ens = [], []
    for out in range(len(truths)):
        inner = [f for f in range(len(truths)) if f != out]
        loss = forecast_fold_loss([truths[f] for f in inner], [None] * len(inner), "mae")
        library = [np.concatenate([c[f] for f in inner]) for c in forecasts]
        order = np.argsort([loss(p) for p in library], kind="stable")  # best first, ties by trial order
        library = [library[i] for i in order]
        weights = greedy_selection(library, loss, size)
        weights = weights / weights.sum()
        one.append(mae(forecasts[order[0]][out], out))
        ens.append(mae(sum(w * forecasts[i][out] for w, i in zip(weights, order) if w), out))
    return float(np.mean(one)), float(np.mean(ens))


def _forecasting(name: str, directory: Path, backend: str, rows: dict, size: int) -> list:
    """The nested check on each forecasting search of ``name``; (best one, ensemble) MAEs."""
    from benchmarks.protocol import DATASETS
    from seqtune.records import is_complete, read_trial_records
    from seqtune.search._final import seed_forecasts

    totals = []
    for project in sorted(directory.glob(f"{name}_seed*_{backend}")):
        seed = int(project.name[len(name) + len("_seed"):].split("_")[0])
        records = read_trial_records(project)
        found = [(seed_forecasts(project / f"trial_{r['trial_id']}", r), len(r["folds"]))
                 for r in records if is_complete(r)]
        found = [(oof, n) for oof, n in found if oof is not None]
        if not found:
            print(f"{name} seed {seed}: no complete trial with out-of-fold forecasts")
            continue
        row = rows.get((name, seed))
        spans = next(([f["n_test"] for f in r["folds"]] for r in records if is_complete(r)), None)
        if row is not None and (row.get("fold_spans") != spans
                                or row["n_trials"] != len(records)):
            # Another search of this data set and seed (another --max-trials, say) has
            # overwritten the one the row scored: its test figures would not be this one's.
            print(f"{name} seed {seed}: the trials on disk (folds {spans}) are not those of the "
                  f"latest default row ({row['n_trials']} trials, folds {row.get('fold_spans')})")
            row = None
        n_folds = found[0][1]
        truths = [found[0][0][f"y_true{f}"] for f in range(n_folds)]
        forecasts = [[oof[f"y_pred{f}"] for f in range(n_folds)] for oof, _ in found]
        one, ens = nested_forecast_choice(forecasts, truths, size)
        totals.append((-one, -ens))  # higher is better, as accuracies
        # The test figures in the table's metric (MASE for Macrodata), as the row has them.
        _report(name, seed, len(found), n_folds, "MAE", one, ens, row, DATASETS[name].metric)
    return totals


def _classification(name: str, directory: Path, backend: str, rows: dict, size: int) -> list:
    """The nested check on each classification search of ``name``; (best one, ensemble)."""
    from sklearn.preprocessing import LabelEncoder

    from benchmarks.protocol import load_split
    from seqtune.records import is_complete, read_trial_records
    from seqtune.search._runner import OOF_FILENAME
    from seqtune.search._task import make_folds, resolve_cv

    X, y, *_ = load_split(name)
    y_codes = LabelEncoder().fit_transform(np.asarray(y))
    totals = []
    for project in sorted(directory.glob(f"{name}_seed*_{backend}")):
        seed = int(project.name[len(name) + len("_seed"):].split("_")[0])
        folds = make_folds("classification", X, y, cv=resolve_cv("auto", "classification", len(y)),
                           fraction=0.2, random_state=seed)
        oof, sizes = [], set()
        for record in read_trial_records(project):
            path = project / f"trial_{record['trial_id']}" / OOF_FILENAME
            if is_complete(record) and path.is_file():
                predictions = np.load(path)
                if np.isfinite(predictions).all():
                    oof.append(predictions)
                    sizes.add(tuple(f["n_test"] for f in record["folds"]))
        if not oof:
            print(f"{name} seed {seed}: no complete trial with out-of-fold predictions")
            continue
        if sizes != {tuple(len(f.test_index) for f in folds)}:  # not the search's folds
            print(f"{name} seed {seed}: the trials' folds {sorted(sizes)} are not cv='auto' "
                  f"with random_state={seed}; skipped")
            continue
        one, ens = nested_choice(oof, y_codes, [f.test_index for f in folds], size)
        totals.append((one, ens))
        _report(name, seed, len(oof), len(folds), "accuracy", one, ens, rows.get((name, seed)),
                "accuracy")
    return totals


def _report(name: str, seed: int, n_trials: int, n_folds: int, what: str, one: float,
            ens: float, row: dict | None, metric: str) -> None:
    """One search's line: the nested figures, then the test scores of its row."""
    test = "no row in runs.jsonl" if row is None else (
        f"test {metric}: searched {row['searched'][metric]:.3f}, other final models "
        + ", ".join(f"{k} {v:.3f}" for k, v in (row.get("alternatives") or {}).items()))
    print(f"{name} seed {seed}: {n_trials} complete trials, {n_folds} folds; nested {what} "
          f"best one {one:.3f}, ensemble {ens:.3f} ({ens - one:+.3f}); {test}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["gunpoint", "basic_motions", "pickup_gesture"])
    parser.add_argument("--size", type=int, default=3, help="configurations in the ensemble (default: 3)")
    parser.add_argument("--directory", type=Path, help="the searches' directory "
                        "(default: seqtune_search/benchmarks in the repository)")
    args = parser.parse_args(argv)

    import keras

    from benchmarks.protocol import DATASETS, REPO, RESULTS
    from benchmarks.table import is_current_default

    backend = keras.config.backend()
    directory = args.directory or REPO / "seqtune_search" / "benchmarks"
    rows = {}
    for row in map(json.loads, RESULTS.open()):
        # The latest row per data set and seed, of the search whose trials are on disk.
        forecasting = DATASETS[row["dataset"]].task == "forecasting"
        if row["backend"] == backend and not row["quick"] and (
                is_current_default(row) if forecasting else not row.get("intensify")):
            rows[(row["dataset"], row["seed"])] = row
    print(f"backend {backend}; nested accuracy over the training series, or MAE over the "
          f"folds (best one / ensemble of up to {args.size}), then test from runs.jsonl")
    for name in args.datasets:
        if DATASETS[name].task == "forecasting":
            totals = _forecasting(name, directory, backend, rows, args.size)
        else:
            totals = _classification(name, directory, backend, rows, args.size)
        if totals:
            diffs = [e - o for o, e in totals]
            print(f"{name}, {len(totals)} searches: ensemble - best one "
                  f"({'minus MAE' if DATASETS[name].task == 'forecasting' else 'accuracy'}), "
                  f"mean {np.mean(diffs):+.3f}; better on {sum(d > 0 for d in diffs)}, "
                  f"tied on {sum(d == 0 for d in diffs)}, worse on {sum(d < 0 for d in diffs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
