"""One trial: fit a clone of the estimator on each fold with the trial's values, score, record.

:class:`TrialRunner` gets everything it needs in a :class:`TrialContext` (the estimator,
the space, the objective, the folds, the deadline) and reports each finished record to a
sink; it holds no reference to the search or the tuner. The Keras Tuner adapter
(:mod:`seqtune.search._tuner`) calls :meth:`TrialRunner.run` for each trial.

A trial's folds run in order. After each one the record is written (still RUNNING, with
the folds so far), so a search killed mid-trial resumes at the next fold instead of
training the finished ones again. With ``pruning``, a trial whose first folds are
clearly worse than the best complete trial on the same folds stops there (PRUNED).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone

from seqtune.records import (
    RECORD_FILENAME,
    TrialStatus,
    as_json,
    fit_summary,
    new_record,
    rank_records,
    read_record,
    read_trial_records,
    write_record,
)

from ._objective import NonFiniteScore, score_fold
from ._task import longest_sequence

__all__ = ["FORECASTS_FILENAME", "OOF_FILENAME", "Continuation", "TrialAbandoned", "TrialContext",
           "TrialOutcome", "TrialRunner", "fold_model_path", "kept_epochs", "oof_path", "read_oof",
           "should_prune", "trial_context"]


class TrialAbandoned(Exception):
    """A distributed worker lost its lease on the trial: another worker runs it now."""

#: Out-of-fold predictions of a trial (classifiers and regressors), rows in data order.
OOF_FILENAME = "seqtune_oof.npy"
#: A forecasting trial's rolling forecasts per fold: ``y_true<i>``, ``y_pred<i>`` and
#: ``scale<i>`` (MASE denominators) for fold ``i`` (see ``score_fold``).
FORECASTS_FILENAME = "seqtune_oof_forecasts.npz"


def oof_path(trial_dir: Path, task: str) -> Path:
    """Where a trial keeps its out-of-fold predictions (forecasts, for a forecaster)."""
    return Path(trial_dir) / (FORECASTS_FILENAME if task == "forecasting" else OOF_FILENAME)


def read_oof(trial_dir: Path, task: str) -> np.ndarray | dict | None:
    """A trial's out-of-fold predictions: an array of shape (n_samples, n_outputs) with
    NaN rows for folds not run, or for a forecaster a dict of its folds' arrays; None
    when it kept none."""
    path = oof_path(trial_dir, task)
    if not path.is_file():
        return None
    if task != "forecasting":
        return np.load(path)
    with np.load(path) as stored:
        return {key: stored[key] for key in stored.files}


def fold_model_path(trial_dir: Path, fold: int) -> Path:
    """Where a trial keeps its fitted estimator of fold ``fold`` (when the final model needs it)."""
    return Path(trial_dir) / f"seqtune_fold{fold}.joblib"


@dataclass(frozen=True)
class TrialContext:
    """What every trial of one search shares.

    Attributes
    ----------
    estimator : seqtune estimator
        Cloned for each fit, then given the trial's values.
    task : {"classification", "regression", "forecasting"}
    space : SearchSpace
        The (narrowed) space; ``space.build(hp)`` gives a trial's values.
    objective : keras_tuner.Objective
    folds : list of Holdout
        What the trials train on and are scored on (one holdout, or k folds).
    n_samples : int
        Rows of the data (out-of-fold predictions have one per row).
    deadline : float or None
        ``time.monotonic()`` value at which the time budget ends.
    hyperband : bool
        Whether the oracle sets each trial's epochs (``tuner/epochs``).
    pruning : bool
        Stop a trial after a fold when it is clearly worse than the best (see
        :func:`should_prune`).
    keep_fold_models : bool
        Save each fold's fitted estimator next to the record (a bagged final model
        or an ensemble is built from them).
    """

    estimator: Any
    task: str
    space: Any
    objective: Any
    folds: list
    n_samples: int = 0
    deadline: float | None = None
    hyperband: bool = False
    pruning: bool = False
    keep_fold_models: bool = False


def trial_context(job: Mapping[str, Any], folds: list | None = None) -> TrialContext:
    """The :class:`TrialContext` of a search's job (the chief's, or a worker's copy).

    ``job`` holds the task, the estimator, the space, the objective's name and
    direction, the data and the folds' ``(train, test)`` indices, the time budget's end
    in Unix seconds, and the flags (see ``_job.make_job``). ``folds`` already cut from
    the data are used as they are; a worker cuts them from the indices.
    """
    import keras_tuner as kt

    from ._task import make_folds

    if folds is None:
        first, second = job["data"]
        folds = make_folds(job["task"], first, second, cv=job["cv_pairs"],
                           fraction=job["fraction"], random_state=job["random_state"],
                           horizon=job["horizon"])
    deadline = None
    if job["deadline_unix"] is not None:  # this machine's monotonic clock from wall time
        deadline = time.monotonic() + (job["deadline_unix"] - time.time())
    return TrialContext(
        estimator=job["estimator"], task=job["task"], space=job["space"],
        objective=kt.Objective(job["objective"]["name"], direction=job["objective"]["direction"]),
        folds=folds, n_samples=job["n_samples"], deadline=deadline, hyperband=job["hyperband"],
        pruning=job["pruning"], keep_fold_models=job["keep_fold_models"],
    )


@dataclass(frozen=True)
class Continuation:
    """A promoted Hyperband trial goes on from its parent's saved weights, fold by fold.

    ``initial_epoch`` is Keras Tuner's: the epoch budget the parent had, from which the
    child's epochs are numbered. ``kept`` holds, per fold, the epochs the parent's saved
    weights embody (fewer when its early stopping kept an earlier epoch).
    """

    parent_id: str
    weights: list
    initial_epoch: int
    kept: tuple = ()


def kept_epochs(fold: Mapping[str, Any]) -> int:
    """Epochs a fold's kept weights embody: its parent's, then its own up to its best epoch.

    Records before 2026-12-06 hold no ``kept_epochs``: their parent's epoch budget
    (``initial_epoch``) stands in for the parent's kept epochs.
    """
    if fold.get("kept_epochs") is not None:
        return int(fold["kept_epochs"])
    return int(fold.get("initial_epoch", 0)) + int(fold["best_epoch"]) + 1


@dataclass
class TrialOutcome:
    """A finished trial's record (trained now, or taken from an earlier attempt)."""

    record: dict


def should_prune(scores: list[float], best: list[float], direction: str, n_folds: int) -> bool:
    """Whether a trial whose first folds scored ``scores`` is clearly worse than the best.

    Clearly worse: its mean over those folds is worse than the best complete trial's
    mean over the same folds by more than the best trial's fold-to-fold standard
    deviation (so the rule adapts to how noisy the folds are). Never after the last
    fold, nor without a complete best trial.
    """
    j = len(scores)
    if not best or j == 0 or j >= n_folds or len(best) < j:
        return False
    margin = max(float(np.std(best)), 1e-9)
    gap = float(np.mean(scores)) - float(np.mean(best[:j]))
    return gap < -margin if direction == "max" else gap > margin


class TrialRunner:
    """Run trials in a :class:`TrialContext`.

    Parameters
    ----------
    context : TrialContext
    on_begin : callable, optional
        Called with the trial id when a trial starts.
    on_end : callable, optional
        Called with each finished record (the search logs it and shows progress).
    """

    def __init__(self, context: TrialContext, *, on_begin: Callable[[str], None] | None = None,
                 on_end: Callable[[dict], None] | None = None) -> None:
        self.context = context
        self._on_begin = on_begin
        self._on_end = on_end
        self._n_fitted = 0
        self._estimator = None  # the fit in progress
        #: A distributed worker's lease check: False once the chief gave the trial to
        #: another worker, which then writes its record (this one writes no more).
        self.may_write: Callable[[], bool] | None = None
        #: The Keras Tuner id of the worker running the trials, tagged on each record.
        self.worker_id: str | None = None
        if context.task != "forecasting":
            self._longest = max(longest_sequence(f.train[0]) for f in context.folds)

    # -- values of a trial ------------------------------------------------------------
    def params_for(self, hp: Any) -> dict:
        """The estimator parameters of the trial whose Keras Tuner values are ``hp``."""
        ctx = self.context
        values = dict(ctx.space.build(hp))
        if values.get("sequence_length") is not None and ctx.task != "forecasting":
            # sequence_length counts steps after stride; beyond the strided length it only
            # adds masked padding (and, on JAX/torch, leaves the fused kernel).
            stride = int(values.get("stride", ctx.estimator.get_params().get("stride", 1)))
            values["sequence_length"] = min(int(values["sequence_length"]),
                                            math.ceil(self._longest / stride))
        if ctx.hyperband and "tuner/epochs" in hp.values:
            values["epochs"] = int(hp.values["tuner/epochs"])
        return values

    def unrecorded(self, trial_id: str, hp: Any, *, status: str, score: float | None,
                   message: str | None) -> dict:
        """The record of a trial that Keras Tuner knows but that left no record."""
        record = self._new_record(trial_id, self.params_for(hp))
        record.update(status=status, score=score, error=message, started_at=None)
        return record

    # -- the trial itself ---------------------------------------------------------------
    def begin(self, trial_id: str) -> None:
        if self._on_begin is not None:
            self._on_begin(trial_id)

    def run(self, trial_id: str, hp: Any, trial_dir: Path, *,
            continuation: Continuation | None = None,
            on_fold_fitted: Callable[[int, Any], None] | None = None) -> TrialOutcome:
        """Fit, score and record one trial, fold by fold.

        Parameters
        ----------
        trial_id : str
        hp : keras_tuner.HyperParameters
        trial_dir : path
        continuation : Continuation, optional
            Start each fold's fit from these weights (Hyperband).
        on_fold_fitted : callable, optional
            Called with ``(fold, estimator)`` after each fold trained to its end (not
            cut by the time budget); the tuner saves Hyperband's weights there.

        Returns
        -------
        TrialOutcome

        Raises
        ------
        keras_tuner.errors.FailedTrialError
            The trial failed (its record says why); the search goes on.
        keras_tuner.errors.FatalError
            A problem every trial would have (a missing module, an objective the
            estimator does not record); the search stops.
        """
        return self.run_params(trial_id, self.params_for(hp), trial_dir,
                               continuation=continuation, on_fold_fitted=on_fold_fitted)

    def run_params(self, trial_id: str, params: Mapping[str, Any], trial_dir: Path, *,
                   continuation: Continuation | None = None,
                   on_fold_fitted: Callable[[int, Any], None] | None = None,
                   tags: Mapping[str, Any] | None = None) -> TrialOutcome:
        """:meth:`run` with the estimator parameters given as they are (a re-scored
        configuration, :mod:`._intensify`); ``tags`` go into the record's tags."""
        import keras_tuner as kt

        ctx = self.context
        params = dict(params)
        previous = read_record(Path(trial_dir) / RECORD_FILENAME)
        if self._finished_before(previous, params):
            # Killed after this trial finished but before Keras Tuner saved that fact:
            # reuse the result instead of training again.
            self._report(previous)
            return TrialOutcome(previous)

        record = self._new_record(trial_id, params)
        record["tags"].update(tags or {})
        record["folds"] = self._resumable_folds(previous, params, trial_dir)
        if record["folds"]:
            record["history"] = previous.get("history") or {}
        oof = read_oof(trial_dir, ctx.task) if record["folds"] else None
        self._write(trial_dir, record)
        started = time.time()
        self._estimator = None
        stopped_by = None
        try:
            for i in range(len(record["folds"]), len(ctx.folds)):
                estimator, cut, entry, predictions = self._fit_fold(i, params, continuation)
                if i == 0:  # the curves a plot or the MLflow UI shows are the first fold's
                    record["history"] = {k: list(v) for k, v in estimator.history_.items()}
                record["folds"].append(entry)
                oof = self._store_oof(trial_dir, oof, i, predictions)
                if ctx.keep_fold_models:
                    import joblib

                    self._check_lease()
                    joblib.dump(estimator, fold_model_path(trial_dir, i))
                if on_fold_fitted is not None and not cut:
                    self._check_lease()  # Hyperband's weights go into the shared trial dir
                    on_fold_fitted(i, estimator)
                self._summarise(record, estimator, continuation)
                if cut:
                    stopped_by = "budget"
                    break
                if i < len(ctx.folds) - 1:
                    self._write(trial_dir, record)  # a resumed search starts at the next fold
                    if ctx.pruning and self._prune(record, trial_dir):
                        stopped_by = "pruning"
                        break
            record.update(status=(TrialStatus.PRUNED if stopped_by else TrialStatus.COMPLETED).value,
                          stopped_by=stopped_by)
        except TrialAbandoned:
            raise  # the worker that holds the trial now writes its record
        except (kt.errors.FatalError, ImportError) as exc:
            # Configuration or environment problems fail every trial: stop at once.
            record.update(status=TrialStatus.FAILED.value, score=None, error=traceback.format_exc())
            self._finish(record, trial_dir, started)
            if isinstance(exc, kt.errors.FatalError):
                raise
            raise kt.errors.FatalError(
                f"Trial {trial_id} could not import a module it needs: {exc}. "
                "Install it (pip install seqtune pulls in every dependency) and rerun."
            ) from exc
        except Exception as exc:
            error = traceback.format_exc()
            estimator = self._estimator
            if estimator is not None and hasattr(estimator, "history_"):
                # It trained (then diverged, or failed to score): keep its curves.
                with contextlib.suppress(Exception):
                    record.update(fit_summary(estimator))
            record.update(status=TrialStatus.FAILED.value, score=None, error=error)
            self._finish(record, trial_dir, started)
            raise kt.errors.FailedTrialError(f"{type(exc).__name__}: {exc}") from exc
        self._finish(record, trial_dir, started)
        return TrialOutcome(record)

    def _fit_fold(self, i: int, params: Mapping[str, Any],
                  continuation: Continuation | None) -> tuple[Any, bool, dict, Any]:
        """Fit and score fold ``i``; returns the estimator, whether the budget cut it,
        the fold's entry for the record, and its held-out predictions."""
        import keras

        from seqtune.callbacks import LoadWeights, StopAtDeadline

        ctx = self.context
        fold = ctx.folds[i]
        deadline = StopAtDeadline(ctx.deadline)
        callbacks = [keras.callbacks.TerminateOnNaN(), deadline]
        fit_params = dict(params)
        warm = None
        if continuation is not None:
            warm = LoadWeights(continuation.weights[i])
            callbacks.append(warm)
            # Trains only the epochs its parent did not run, as in Keras Tuner's Hyperband.
            fit_params["epochs"] = max(1, int(params["epochs"]) - continuation.initial_epoch)
        # Reset Keras's global state so earlier fits' graphs can be freed. A full
        # garbage collection costs ~0.3 s with TensorFlow loaded, so only every tenth
        # fit pays for one; Python's own collector handles the rest.
        keras.backend.clear_session(free_memory=self._n_fitted % 10 == 9)
        self._n_fitted += 1
        estimator = self._estimator = clone(ctx.estimator).set_params(**fit_params)
        fit_started = time.perf_counter()
        # No validation data: early stopping uses the estimator's own inner split (or the
        # training loss), never the data that scores the fold.
        estimator.fit(*fold.train, callbacks=callbacks)
        losses = np.asarray(estimator.history_.get("loss", []), dtype=float)
        if losses.size and not np.all(np.isfinite(losses)):
            epoch = int(np.argmax(~np.isfinite(losses)))
            raise NonFiniteScore(
                f"training loss became {losses[epoch]} at epoch {epoch + 1}; "
                "try a smaller learning_rate or set clipnorm."
            )
        value, metrics, predictions = score_fold(estimator, ctx.task, ctx.objective.name, fold)
        losses = estimator.history_.get("loss") or [float("nan")]
        entry = {
            "score": value,
            "metrics": metrics,
            "epochs_run": int(estimator.n_epochs_),
            "best_epoch": int(estimator.best_epoch_),
            "train_loss": float(losses[min(estimator.best_epoch_, len(losses) - 1)]),
            "duration_s": round(time.perf_counter() - fit_started, 4),
            "n_train": len(fold.train_index),
            "n_test": len(fold.test_index),
            "initial_epoch": continuation.initial_epoch if warm is not None and warm.loaded else 0,
            "cut": bool(deadline.stopped),
        }
        # The parent's kept epochs; its epoch budget when its record did not say (older).
        parent = 0 if not entry["initial_epoch"] else (
            continuation.kept[i] if i < len(continuation.kept) else continuation.initial_epoch)
        entry["kept_epochs"] = parent + entry["best_epoch"] + 1
        return estimator, deadline.stopped, entry, predictions

    # -- records ----------------------------------------------------------------------
    def _new_record(self, trial_id: str, params: Mapping[str, Any]) -> dict:
        objective = self.context.objective
        number = int(trial_id) if str(trial_id).isdigit() else None
        record = new_record(str(trial_id), number=number, params=params,
                            objective={"name": objective.name, "direction": objective.direction})
        record["n_folds"] = len(self.context.folds)
        if self.worker_id is not None:
            record["tags"]["worker"] = self.worker_id
        return record

    def _summarise(self, record: dict, estimator: Any, continuation: Continuation | None) -> None:
        """The trial's score and summary fields from its folds so far."""
        folds = record["folds"]
        whole = [f for f in folds if not f["cut"]] or folds  # a cut fold counts only alone
        scores = [f["score"] for f in whole]
        history, own_tags = record["history"], dict(record["tags"])
        record.update(fit_summary(estimator))
        record["tags"].update(own_tags)  # the worker's id, a re-scored trial's origin
        record.update(
            history=history,
            score=float(np.mean(scores)),
            score_std=float(np.std(scores)) if len(scores) > 1 else None,
            metrics={k: float(np.mean([f["metrics"][k] for f in whole])) for k in whole[0]["metrics"]},
            epochs_run=int(sum(f["epochs_run"] for f in folds)),
            seconds_per_epoch=sum(f["duration_s"] for f in folds) / max(1, sum(f["epochs_run"] for f in folds)),
            initial_epoch=folds[0]["initial_epoch"],
        )
        if record["initial_epoch"] and continuation is not None:
            record["tags"]["continued_from"] = continuation.parent_id

    def _resumable_folds(self, previous: dict | None, params: Mapping[str, Any],
                         trial_dir: Path) -> list[dict]:
        """Finished folds of this trial from an attempt that was killed mid-trial."""
        ctx = self.context
        if (previous is None or previous.get("status") != TrialStatus.RUNNING.value
                or previous.get("params") != as_json(params)
                or previous.get("n_folds") != len(ctx.folds) or ctx.hyperband):
            return []
        folds = [f for f in previous.get("folds") or [] if not f.get("cut")]
        if folds and not oof_path(trial_dir, ctx.task).is_file():
            return []
        if ctx.keep_fold_models and not all(fold_model_path(trial_dir, i).is_file()
                                            for i in range(len(folds))):
            return []
        return folds

    def _prune(self, record: dict, trial_dir: Path) -> bool:
        """Whether the folds so far are clearly worse than the best complete trial's."""
        ctx = self.context
        done = [r for r in read_trial_records(Path(trial_dir).parent)
                if r.get("trial_id") != record["trial_id"]]
        ranked = rank_records(done, ctx.objective.direction)
        complete = [r for r in ranked if len(r.get("folds") or []) == len(ctx.folds)
                    and not any(f.get("cut") for f in r["folds"])]
        if not complete:
            return False
        best = [f["score"] for f in complete[0]["folds"]]
        return should_prune([f["score"] for f in record["folds"]], best, ctx.objective.direction,
                            len(ctx.folds))

    def _store_oof(self, trial_dir: Path, oof: Any, i: int, predictions: Any) -> Any:
        """Add fold ``i``'s held-out predictions to the trial's, written atomically."""
        if predictions is None:
            return oof
        self._check_lease()
        path = oof_path(trial_dir, self.context.task)
        # Its own temporary file: a worker that lost its lease may still be writing one.
        tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}{path.suffix}")
        if isinstance(predictions, dict):  # a forecaster's rolling forecasts
            oof = {**(oof or {}), **{f"{k}{i}": np.asarray(v, dtype=float)
                                     for k, v in predictions.items()}}
            np.savez(tmp, **oof)
        else:
            predictions = np.asarray(predictions, dtype=float)
            if oof is None:
                oof = np.full((self.context.n_samples, predictions.shape[1]), np.nan)
            oof[self.context.folds[i].test_index] = predictions
            np.save(tmp, oof)
        tmp.replace(path)
        return oof

    @staticmethod
    def _finished_before(previous: dict | None, params: Mapping[str, Any]) -> bool:
        if previous is None or previous.get("status") not in ("COMPLETED", "PRUNED"):
            return False
        same = previous.get("params") == as_json(params)
        try:
            return same and math.isfinite(float(previous.get("score")))
        except (TypeError, ValueError):
            return False

    def _finish(self, record: dict, trial_dir: Path, started: float) -> None:
        record["ended_at"] = time.time()
        record["duration_s"] = round(record["ended_at"] - started, 4)
        self._write(trial_dir, record)
        self._report(record)

    def _check_lease(self) -> None:
        if self.may_write is not None and not self.may_write():
            raise TrialAbandoned("the chief gave this trial to another worker")

    def _write(self, trial_dir: Path, record: dict) -> None:
        self._check_lease()
        write_record(trial_dir, record)

    def _report(self, record: dict) -> None:
        if self._on_end is not None:
            self._on_end(record)
