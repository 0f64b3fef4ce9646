"""The model a search hands back: refitted and checked, the best trial's fold models, or an ensemble.

* ``"refit"``: the best configuration trained on all the data for the number of epochs
  its folds kept (the median over folds of the best epoch), without early stopping: a
  refit's own early stopping, on a tenth of the data, once stopped on a loss plateau
  that the folds had left behind. The refit is then checked: its training loss must
  reach what the folds reached; a refit that does not is tried again with another
  seed, and the fold models stand in for it when it still fails.
* ``"bag"``: the best trial's fold models, averaged (AutoGluon's bagging); no refit, and
  every member was scored on data it never saw.
* ``"refit_seeds"``: a re-scored configuration (``intensify``) refitted as above once
  per weight seed it was scored with, and the refits averaged: the search ranked it by
  the mean over those seeds, and one refit is a single draw from them. A
  configuration scored with one seed is refitted once.
* ``ensemble=k``: up to ``k`` configurations, chosen greedily on their out-of-fold
  predictions (Caruana et al. 2004, with replacement), each built as above, averaged
  with the weights the selection gave them. A forecaster's out-of-fold predictions are
  its rolling forecasts through each fold's held-out stretch, and the selection
  minimises the objective averaged over folds, as the trials were ranked (as
  AutoGluon-TimeSeries selects its ensemble on its backtest windows). A re-scored
  configuration (``intensify``) is blended by the mean of its seeds' forecasts.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone

from seqtune.records import is_complete, rank_records

from ._runner import fold_model_path, kept_epochs, read_oof

__all__ = ["AUTO_ENSEMBLE", "FINAL_MODELS", "build_final_model", "forecast_fold_loss",
           "greedy_selection", "refit_epochs", "resolve_ensemble", "scored_seeds",
           "seed_forecasts", "select_ensemble"]

FINAL_MODELS = ("auto", "refit", "bag", "refit_seeds")
#: Configurations ``ensemble="auto"`` averages for cross-validated classifiers
#: (benchmarks/README.md has the measurement, and says it followed test scores).
AUTO_ENSEMBLE = 3
# A refit whose training loss ends above both of these did not train: a dud.
_DUD_RATIO, _DUD_SLACK = 2.0, 0.05
_REFIT_ATTEMPTS = 3


def resolve_final_model(final_model: str, task: str, n_folds: int) -> str:
    """``"auto"``: the bagged fold models for cross-validated classifiers and regressors,
    a refit per scored seed for forecasters (a pick scored on one seed is refitted
    once), else a refit (benchmarks/README.md has the measurements)."""
    if final_model != "auto":
        return final_model
    if task == "forecasting":
        return "refit_seeds"
    return "bag" if n_folds > 1 else "refit"


def resolve_ensemble(ensemble: int | str, task: str, n_folds: int) -> int:
    """``"auto"``: up to ``AUTO_ENSEMBLE`` configurations for cross-validated classifiers,
    else one (regressors were not measured; on forecasters the ensemble was measured
    and not adopted: benchmarks/README.md)."""
    if ensemble != "auto":
        return int(ensemble)
    return AUTO_ENSEMBLE if task == "classification" and n_folds > 1 else 1


def refit_epochs(record: dict) -> int | None:
    """Epochs the refit trains: the median over folds of the epochs each fold's kept
    weights embody (a Hyperband trial's include those its parent's weights kept)."""
    folds = [f for f in record.get("folds") or [] if not f.get("cut")]
    if not folds:
        return None
    return max(1, int(round(float(np.median([kept_epochs(f) for f in folds])))))


def _dud(loss: float, fold_losses: Sequence[float]) -> bool:
    if not fold_losses or not np.isfinite(loss):
        return not np.isfinite(loss)
    reference = float(np.max(fold_losses))
    return loss > _DUD_RATIO * reference and loss > float(np.median(fold_losses)) + _DUD_SLACK


def _refit(estimator: Any, record: dict, fit_args: tuple) -> tuple[Any, dict]:
    """Refit the record's configuration on all the data, and check that it trained."""
    params = dict(record["params"])
    epochs = refit_epochs(record)
    if epochs is not None:
        # The folds learned how long to train: no early stopping on a tenth of the data.
        params.update(epochs=epochs, early_stopping=False)
    fold_losses = [f["train_loss"] for f in record.get("folds") or []
                   if not f.get("cut") and np.isfinite(f.get("train_loss", np.nan))]
    base = clone(estimator).set_params(**params)
    seed = base.get_params().get("random_state")
    attempts = []
    for attempt in range(_REFIT_ATTEMPTS):
        candidate = clone(base)
        if attempt:
            candidate.set_params(random_state=(0 if seed is None else int(seed)) + attempt)
        candidate.fit(*fit_args)
        loss = float((candidate.history_.get("loss") or [np.nan])[candidate.best_epoch_])
        attempts.append(loss)
        if not _dud(loss, fold_losses):
            return candidate, {"kind": "refit", "epochs": epochs, "train_loss": loss,
                               "fold_train_loss": fold_losses, "attempts": attempts,
                               "verified": bool(fold_losses)}
    return candidate, {"kind": "refit", "epochs": epochs, "train_loss": attempts[-1],
                       "fold_train_loss": fold_losses, "attempts": attempts, "verified": False}


def _bag(task: str, record: dict, project_dir: Path) -> Any | None:
    """The record's fold models, averaged; None when they were not kept."""
    import joblib

    from seqtune.ensemble import SequenceEnsembleClassifier, SequenceEnsembleRegressor

    trial_dir = Path(project_dir) / f"trial_{record['trial_id']}"
    paths = [fold_model_path(trial_dir, i) for i in range(len(record.get("folds") or []))]
    if not paths or not all(p.is_file() for p in paths):
        return None
    members = [joblib.load(p) for p in paths]
    if len(members) == 1:
        return members[0]
    cls = SequenceEnsembleClassifier if task == "classification" else SequenceEnsembleRegressor
    return cls(members)


def scored_seeds(record: dict) -> list:
    """The weight seeds a configuration completed its folds with, its first seed first:
    those of its re-scoring (``intensify``), or ``[]`` when it was not re-scored."""
    return [s["random_state"] for s in record.get("seeds") or []
            if s.get("status") == "COMPLETED" and s.get("score") is not None]


def _refit_seeds(task: str, estimator: Any, record: dict, fit_args: tuple,
                 project_dir: Path) -> tuple[Any, dict]:
    """One checked refit per seed in :func:`scored_seeds`, averaged with equal weights."""
    from seqtune.ensemble import (
        SequenceEnsembleClassifier,
        SequenceEnsembleForecaster,
        SequenceEnsembleRegressor,
    )

    seeds = scored_seeds(record)
    if len(seeds) < 2:
        model, info = build_member("refit", task, estimator, record, fit_args, project_dir)
        return model, {**info, "n_models": 1}
    members, infos = [], []
    for seed in seeds:
        seeded = {**record, "params": {**record["params"], "random_state": seed}}
        model, info = build_member("refit", task, estimator, seeded, fit_args, project_dir)
        members.append(model)
        infos.append({**info, "random_state": seed})
    cls = {"classification": SequenceEnsembleClassifier,
           "forecasting": SequenceEnsembleForecaster}.get(task, SequenceEnsembleRegressor)
    return cls(members), {"kind": "refit_seeds", "n_models": len(members), "seeds": infos,
                          "epochs": infos[0].get("epochs"),
                          "verified": all(i.get("verified") for i in infos)}


def build_member(strategy: str, task: str, estimator: Any, record: dict, fit_args: tuple,
                 project_dir: Path) -> tuple[Any, dict]:
    """One configuration's final model, by ``strategy`` (``"refit"``, ``"bag"`` or
    ``"refit_seeds"``)."""
    if strategy == "refit_seeds":
        return _refit_seeds(task, estimator, record, fit_args, project_dir)
    if strategy == "bag":
        bagged = _bag(task, record, project_dir)
        if bagged is not None:
            return bagged, {"kind": "bag", "n_models": len(record.get("folds") or [])}
        warnings.warn(f"Trial {record['trial_id']} kept no fold models (resumed from a search "
                      "that did not keep them); refitting it instead.", UserWarning, stacklevel=3)
    model, info = _refit(estimator, record, fit_args)
    if not info["verified"] and info["fold_train_loss"]:
        bagged = _bag(task, record, project_dir)
        message = (f"The refit of trial {record['trial_id']} did not train: its training loss "
                   f"ended at {info['attempts']} after {_REFIT_ATTEMPTS} seeds, against "
                   f"{max(info['fold_train_loss']):.4g} at most on its folds.")
        if bagged is not None:
            warnings.warn(message + " Its fold models are used instead.", UserWarning, stacklevel=3)
            return bagged, {**info, "kind": "bag", "fallback": "refit failed"}
        warnings.warn(message + " It is kept; pass final_model='bag' to keep fold models.",
                      UserWarning, stacklevel=3)
    return model, info


def select_ensemble(task: str, records: Sequence[dict], project_dir: Path, y: Any,
                    size: int, direction: str, max_candidates: int = 20,
                    objective: str = "mae") -> list[tuple[dict, float]]:
    """Caruana's greedy ensemble selection on out-of-fold predictions, with replacement.

    Candidates are the ``max_candidates`` best complete trials with out-of-fold
    predictions; the ensemble starts from the best one, and each step adds the trial
    that lowers the ensemble's out-of-fold loss most (log loss for classifiers, mean
    squared error for regressors, and for forecasters the ``objective`` -- a forecast
    metric -- averaged over folds, or MAE for any other objective), until ``size``
    distinct trials are in or nothing helps. Returns ``(record, weight)`` pairs;
    weights are selection counts, summing to 1.
    """
    from sklearn.metrics import log_loss, mean_squared_error

    ranked = [r for r in rank_records(records, direction) if is_complete(r)][:max_candidates]
    library = []
    for record in ranked:
        trial_dir = Path(project_dir) / f"trial_{record['trial_id']}"
        oof = seed_forecasts(trial_dir, record) if task == "forecasting" else read_oof(trial_dir, task)
        if oof is not None:
            library.append((record, oof))
    if not library:
        return [(ranked[0], 1.0)] if ranked else []
    if task == "forecasting":
        return _select_forecasts(library, objective, size)
    rows = np.all([np.all(np.isfinite(p), axis=1) for _, p in library], axis=0)
    y_rows = np.asarray(y)[rows]
    if task == "classification":
        from sklearn.preprocessing import LabelEncoder

        y_codes = LabelEncoder().fit(np.asarray(y)).transform(y_rows)
        labels = np.arange(library[0][1].shape[1])

        def loss(pred):
            return log_loss(y_codes, np.clip(pred, 1e-15, 1), labels=labels)
    else:
        y_rows = np.asarray(y_rows, dtype=float).reshape(len(y_rows), -1)

        def loss(pred):
            return mean_squared_error(y_rows, pred)

    counts = greedy_selection([p[rows] for _, p in library], loss, size)
    return [(library[i][0], counts[i] / counts.sum()) for i in np.flatnonzero(counts)]


def seed_forecasts(trial_dir: Path, record: dict) -> dict | None:
    """A forecasting trial's out-of-fold forecasts; for a re-scored configuration
    (``intensify``), the mean over its seeds that completed.

    One seed's forecasts carry its luck, which re-scoring exists to average out: a
    configuration demoted by its other seeds once took two thirds of an Airline
    ensemble on its first seed's forecasts alone (benchmarks/README.md).

    Parameters
    ----------
    trial_dir : path
        The trial's directory (``<project>/trial_<id>``); re-scoring seeds live in its
        ``seed_<j>`` subdirectories.
    record : dict
        The trial's record (its ``folds`` and, once re-scored, its ``seeds``).

    Returns
    -------
    dict or None
        The out-of-fold file's arrays (``y_true<i>``, ``y_pred<i>``, ``scale<i>`` for
        each fold ``i``), with ``y_pred<i>`` averaged over the seeds; None when no run
        wrote forecasts for every fold.
    """
    n_folds = len(record.get("folds") or [])
    runs = [trial_dir] + [trial_dir / f"seed_{j}" for j, seed in enumerate(record.get("seeds") or [])
                          if j and seed.get("status") == "COMPLETED" and seed.get("score") is not None]
    found = [oof for oof in (read_oof(run, "forecasting") for run in runs)
             if oof is not None and all(f"y_pred{i}" in oof for i in range(n_folds))]
    if not found:
        return None
    mean = dict(found[0])
    for i in range(n_folds):
        mean[f"y_pred{i}"] = np.mean([oof[f"y_pred{i}"] for oof in found], axis=0)
    return mean


def forecast_fold_loss(truths: Sequence[np.ndarray], scales: Sequence[np.ndarray],
                       metric: str) -> Callable[[np.ndarray], float]:
    """The loss of forecasts stacked fold after fold: ``metric`` on each fold, averaged.

    Parameters
    ----------
    truths : sequence of arrays of shape (n_pooled_f, n_targets)
        Each fold's actuals, in the order the forecasts are stacked.
    scales : sequence of arrays of shape (n_targets,)
        Each fold's MASE denominators (used only by ``"mase"``).
    metric : {"mae", "rmse", "smape", "mase"}

    Returns
    -------
    callable
        Maps forecasts of shape (sum of n_pooled_f, n_targets) to a float.
    """
    from seqtune.backtest import forecast_metrics

    bounds = np.cumsum([0] + [len(t) for t in truths])

    def loss(pred: np.ndarray) -> float:
        return float(np.mean([
            forecast_metrics(truth, pred[bounds[i]:bounds[i + 1]], scale=scale, metrics=(metric,))[metric]
            for i, (truth, scale) in enumerate(zip(truths, scales))]))

    return loss


def _select_forecasts(library: list[tuple[dict, dict]], objective: str,
                      size: int) -> list[tuple[dict, float]]:
    """:func:`greedy_selection` over forecasters' rolling forecasts, fold by fold."""
    from seqtune.backtest import METRICS

    first = library[0][1]
    n_folds = len(library[0][0]["folds"])
    loss = forecast_fold_loss([first[f"y_true{i}"] for i in range(n_folds)],
                              [first[f"scale{i}"] for i in range(n_folds)],
                              objective if objective in METRICS else "mae")
    predictions = [np.concatenate([oof[f"y_pred{i}"] for i in range(n_folds)])
                   for _, oof in library]
    counts = greedy_selection(predictions, loss, size)
    return [(library[i][0], counts[i] / counts.sum()) for i in np.flatnonzero(counts)]


def greedy_selection(predictions: Sequence[np.ndarray], loss: Callable[[np.ndarray], float],
                     size: int) -> np.ndarray:
    """Caruana's forward selection with replacement over a ranked library.

    Parameters
    ----------
    predictions : sequence of arrays of shape (n_samples, n_outputs)
        One prediction per candidate, best candidate first.
    loss : callable
        Maps a blended prediction of that shape to a loss to minimise.
    size : int
        Most distinct candidates to select.

    Returns
    -------
    counts : array of shape (len(predictions),)
        How many times each candidate was selected; the first is selected at least once.
        Selection stops when no candidate lowers the loss or ``size`` would be exceeded.
    """
    counts = np.zeros(len(predictions))
    counts[0] = 1
    current = np.copy(predictions[0])
    for _ in range(4 * size):
        n = counts.sum()
        trials = [loss((current * n + p) / (n + 1)) for p in predictions]
        best = int(np.argmin(trials))
        distinct = np.count_nonzero(counts) + (counts[best] == 0)
        if trials[best] >= loss(current) - 1e-12 or distinct > size:
            break
        counts[best] += 1
        current = (current * n + predictions[best]) / (n + 1)
    return counts


def build_final_model(*, strategy: str, task: str, estimator: Any, best: dict, records: list[dict],
                      fit_args: tuple, y: Any, project_dir: Path, ensemble: int,
                      direction: str) -> tuple[Any, dict]:
    """The search's final model and a description of how it was made (``final_model_``)."""
    from seqtune.ensemble import (
        SequenceEnsembleClassifier,
        SequenceEnsembleForecaster,
        SequenceEnsembleRegressor,
    )

    if ensemble <= 1:
        return build_member(strategy, task, estimator, best, fit_args, project_dir)
    # Selection weighs complete trials only; with none (a budget cut every trial) the
    # best trial is the final model on its own, as with ensemble=1.
    chosen = select_ensemble(task, records, project_dir, y, ensemble, direction,
                             objective=(best.get("objective") or {}).get("name", "mae")) \
        or [(best, 1.0)]
    members, infos = [], []
    for record, weight in chosen:
        model, info = build_member(strategy, task, estimator, record, fit_args, project_dir)
        members.append(model)
        infos.append({**info, "trial_id": record["trial_id"], "weight": float(weight)})
    if len(members) == 1:
        return members[0], {**infos[0], "kind": infos[0]["kind"]}
    cls = {"classification": SequenceEnsembleClassifier,
           "forecasting": SequenceEnsembleForecaster}.get(task, SequenceEnsembleRegressor)
    return cls(members, weights=[i["weight"] for i in infos]), {"kind": "ensemble", "members": infos}
