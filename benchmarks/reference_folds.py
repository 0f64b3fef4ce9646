"""The published references' models, scored on the folds that rank the table's searches.

A search picks by its fold score; the table judges the pick on the test split. This
script asks, without the test split, whether the search could see what the reference
sees: each classical model is fitted on every ``cv="auto"`` fold's training part and
scored on its held-out stretch as a trial is (rolling forecasts from every origin of
the stretch, one step ahead for Macrodata, 24 for Airline; MASE scaled by the fold's
own training part), beside the picks' recorded fold scores::

    python -m benchmarks.reference_folds [macrodata] [airline]   # from the repository root

- Macrodata: VAR(p) for p = 1..4 by least squares with a constant (VAR(1) is the
  reference, 0.503 test MASE), by mean fold MASE, beside the picks of the searches
  ranked by MASE (``objective="mase"``; the default objective, MAE, does not compare).
- Airline: the seasonal naive forecast and Holt-Winters (additive trend, multiplicative
  season of 12), by mean fold MAE. Holt-Winters is refitted at every origin (a trial's
  network is fitted once per fold and only reads the longer history), which favours
  the reference.

It also prints the KPSS p-value the search's trend test reads (``difference=0`` leaves
the space below 0.05) on the whole training series, as the search computes it, and on
each fold's training part alone, which leaves the folds' scoring stretches out of the
decision.

Only picks scored on the same folds are listed (``fold_spans`` in runs.jsonl): since
2026-12-05 a multi-step forecaster's folds score several origins each (``make_folds``),
so the Airline rows from before then (two folds of one 24-month forecast) are left out.

If a reference beats the picks on the folds but not the other way round on test, the
search missed something it could see; if the picks beat it on the folds and lose on
test, the folds and the test years disagree.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings

import numpy as np


def _var_forecasts(train: np.ndarray, series: np.ndarray, start: int, stop: int, p: int) -> np.ndarray:
    """One-step forecasts of steps ``start..stop-1`` by a VAR(p) fitted on ``train``."""
    lags = [train[p - lag - 1:len(train) - lag - 1] for lag in range(p)]
    design = np.column_stack([np.ones(len(train) - p), *lags])
    coef, *_ = np.linalg.lstsq(design, train[p:], rcond=None)
    rows = [np.concatenate([[1.0], *(series[t - lag - 1] for lag in range(p))]) for t in range(start, stop)]
    return np.asarray(rows) @ coef


def _holt_winters(train: np.ndarray, steps: int) -> np.ndarray:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on 60-100 points
        fit = ExponentialSmoothing(train[:, 0], trend="add", seasonal="mul",
                                   seasonal_periods=12).fit()
    return fit.forecast(steps)[:, None]


def _training_folds(name: str) -> tuple[np.ndarray, list]:
    """``name``'s training series, shape (n_timesteps, n_channels), and its ``cv="auto"`` folds."""
    from benchmarks.protocol import DATASETS, load_split
    from seqtune.search._task import make_folds, resolve_cv

    ds = DATASETS[name]
    y, _ = load_split(name)  # the training part only
    y = y.reshape(len(y), -1)
    cv = resolve_cv("auto", "forecasting", len(y), horizon=ds.horizon)
    return y, make_folds("forecasting", y, None, cv=cv, fraction=0.2, random_state=0,
                         horizon=ds.horizon)


def fold_scores(name: str) -> dict[str, list[float]]:
    """Per-fold scores of the references on ``name``'s ``cv="auto"`` folds."""
    from benchmarks.protocol import DATASETS
    from seqtune.backtest import forecast_metrics

    ds = DATASETS[name]
    y, folds = _training_folds(name)
    scores: dict[str, list[float]] = {}
    h = ds.horizon
    for fold in folds:
        train = y[fold.train_index]
        start, stop = int(fold.test_index[0]), int(fold.test_index[-1]) + 1
        origins = range(start, max(start, stop - h) + 1)
        truth = np.concatenate([y[o:o + h] for o in origins])
        if name == "macrodata":  # one step ahead: the origins are the stretch's steps
            models = {f"VAR({p})": _var_forecasts(train, y, start, stop, p) for p in (1, 2, 3, 4)}
        else:
            models = {
                "seasonal naive": np.concatenate([y[o - 12:o][np.arange(h) % 12] for o in origins]),
                "Holt-Winters (mul. season)": np.concatenate(
                    [_holt_winters(y[:o], h) for o in origins]),
            }
        for label, forecast in models.items():
            metrics = forecast_metrics(truth, forecast, y_train=train)
            scores.setdefault(label, []).append(float(metrics[ds.metric]))
    return scores


def trend_pvalues(name: str) -> dict[str, float | None]:
    """The trend test's KPSS p-value on the training series and on each fold's training part."""
    from seqtune.preprocessing import level_stationarity_pvalue

    y, folds = _training_folds(name)
    pvalues = {f"whole training series ({len(y)} steps)": level_stationarity_pvalue(y)}
    for i, fold in enumerate(folds):
        part = y[fold.train_index]
        pvalues[f"fold {i}'s training part ({len(part)} steps)"] = level_stationarity_pvalue(part)
    return pvalues


def fold_spans(name: str) -> list[int]:
    """Steps each of ``name``'s ``cv="auto"`` folds scores (``n_test`` of a trial's folds)."""
    return [len(f.test_index) for f in _training_folds(name)[1]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["macrodata", "airline"])
    args = parser.parse_args(argv)

    from benchmarks.protocol import DATASETS, RESULTS

    rows = [json.loads(line) for line in RESULTS.open(encoding="utf-8") if line.strip()]
    for name in args.datasets:
        ds = DATASETS[name]
        unit = "MAE" if ds.metric == "mae" else "MASE"
        print(f"{name}: mean fold {unit} on the search's cv='auto' folds (no test split)")
        for label, values in fold_scores(name).items():
            print(f"  {label:28s} {statistics.mean(values):.3f}  folds {[round(v, 3) for v in values]}")
        for label, pvalue in trend_pvalues(name).items():
            shown = "n/a" if pvalue is None else f"{pvalue:.3g}"
            print(f"  KPSS p-value, {label}: {shown}")
        # Only picks ranked by the metric the references are scored with compare.
        spans = fold_spans(name)
        picks = [r for r in rows if r["dataset"] == name and not r["quick"]
                 and r.get("objective", ds.objective) == ds.metric
                 and r.get("fold_spans", spans if ds.horizon == 1 else None) == spans]
        for r in sorted(picks, key=lambda r: (r["backend"], int(r.get("intensify") or 0), r["seed"])):
            print(f"  pick, {r['backend']} intensify={int(r.get('intensify') or 0)} seed {r['seed']}: "
                  f"fold {unit} {r['best_cv_score']:.3f}, test {r['searched'][ds.metric]:.3f} "
                  f"(defaults {r['defaults'][ds.metric]:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
