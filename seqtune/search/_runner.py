"""One trial: fit a clone of the estimator with the trial's values, score it, record it.

:class:`TrialRunner` gets everything it needs in a :class:`TrialContext` (the estimator,
the space, the objective, the data split, the deadline) and reports each finished
record to a sink; it holds no reference to the search or the tuner. The Keras Tuner
adapter (:mod:`seqtune.search._tuner`) calls :meth:`TrialRunner.run` for each trial.
"""

from __future__ import annotations

import contextlib
import math
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
    read_record,
    write_record,
)

from ._objective import NonFiniteScore, score_trial
from ._task import Holdout, longest_sequence

__all__ = ["Continuation", "TrialContext", "TrialOutcome", "TrialRunner"]


@dataclass(frozen=True)
class TrialContext:
    """What every trial of one search shares.

    Attributes
    ----------
    estimator : seqtune estimator
        Cloned for each trial, then given the trial's values.
    task : {"classification", "regression", "forecasting"}
    space : SearchSpace
        The (narrowed) space; ``space.build(hp)`` gives a trial's values.
    objective : keras_tuner.Objective
    holdout : Holdout
        What the trials train on and are scored on.
    deadline : float or None
        ``time.monotonic()`` value at which the time budget ends.
    hyperband : bool
        Whether the oracle sets each trial's epochs (``tuner/epochs``).
    """

    estimator: Any
    task: str
    space: Any
    objective: Any
    holdout: Holdout
    deadline: float | None = None
    hyperband: bool = False


@dataclass(frozen=True)
class Continuation:
    """A promoted Hyperband trial goes on from its parent's saved weights."""

    parent_id: str
    weights: Path
    initial_epoch: int


@dataclass
class TrialOutcome:
    """A finished trial: its record, and the fitted estimator when one was trained."""

    record: dict
    estimator: Any = None
    reused: bool = False


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

    # -- values of a trial ------------------------------------------------------------
    def params_for(self, hp: Any) -> dict:
        """The estimator parameters of the trial whose Keras Tuner values are ``hp``."""
        ctx = self.context
        values = dict(ctx.space.build(hp))
        if values.get("sequence_length") is not None and ctx.task != "forecasting":
            # sequence_length counts steps after stride; beyond the strided length it only
            # adds masked padding (and, on JAX/torch, leaves the fused kernel).
            stride = int(values.get("stride", ctx.estimator.get_params().get("stride", 1)))
            longest = math.ceil(longest_sequence(ctx.holdout.train[0]) / stride)
            values["sequence_length"] = min(int(values["sequence_length"]), longest)
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
            continuation: Continuation | None = None) -> TrialOutcome:
        """Fit, score and record one trial.

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
        import keras
        import keras_tuner as kt

        from seqtune.callbacks import LoadWeights, StopAtDeadline

        ctx = self.context
        params = self.params_for(hp)
        previous = read_record(trial_dir / RECORD_FILENAME)
        if self._finished_before(previous, params):
            # Killed after this trial finished but before Keras Tuner saved that fact:
            # reuse the result instead of training again.
            self._report(previous)
            return TrialOutcome(previous, reused=True)

        record = self._new_record(trial_id, params)
        write_record(trial_dir, record)
        deadline = StopAtDeadline(ctx.deadline)
        callbacks = [keras.callbacks.TerminateOnNaN(), deadline]
        warm = None
        fit_params = dict(params)
        if continuation is not None:
            warm = LoadWeights(continuation.weights)
            callbacks.append(warm)
            # Trains only the epochs its parent did not run, as in Keras Tuner's Hyperband.
            fit_params["epochs"] = max(1, int(params["epochs"]) - continuation.initial_epoch)
        started = time.time()
        estimator = None
        try:
            # Reset Keras's global state so earlier trials' graphs can be freed. A full
            # garbage collection costs ~0.3 s with TensorFlow loaded, so only every
            # tenth trial pays for one; Python's own collector handles the rest.
            keras.backend.clear_session(free_memory=self._n_fitted % 10 == 9)
            self._n_fitted += 1
            estimator = clone(ctx.estimator).set_params(**fit_params)
            self._fit(estimator, callbacks)
            value, metrics = score_trial(estimator, ctx.task, ctx.objective.name,
                                         ctx.holdout.validation)
            record.update(fit_summary(estimator))
            record.update(
                status=(TrialStatus.PRUNED if deadline.stopped else TrialStatus.COMPLETED).value,
                score=value, metrics=metrics,
                initial_epoch=continuation.initial_epoch if warm is not None and warm.loaded else 0,
            )
            if record["initial_epoch"]:
                record["tags"]["continued_from"] = continuation.parent_id
        except (kt.errors.FatalError, ImportError) as exc:
            # Configuration or environment problems fail every trial: stop at once.
            record.update(status=TrialStatus.FAILED.value, error=traceback.format_exc())
            self._finish(record, trial_dir, started)
            if isinstance(exc, kt.errors.FatalError):
                raise
            raise kt.errors.FatalError(
                f"Trial {trial_id} could not import a module it needs: {exc}. "
                "Install it (pip install seqtune pulls in every dependency) and rerun."
            ) from exc
        except Exception as exc:
            error = traceback.format_exc()
            if estimator is not None and hasattr(estimator, "history_"):
                # It trained (then diverged, or failed to score): keep its curves.
                with contextlib.suppress(Exception):
                    record.update(fit_summary(estimator))
            record.update(status=TrialStatus.FAILED.value, score=None, error=error)
            self._finish(record, trial_dir, started)
            raise kt.errors.FailedTrialError(f"{type(exc).__name__}: {exc}") from exc
        self._finish(record, trial_dir, started)
        return TrialOutcome(record, estimator)

    def _fit(self, estimator: Any, callbacks: list) -> None:
        ctx = self.context
        if ctx.task == "forecasting":
            y_val, X_val = ctx.holdout.validation
            val = y_val if X_val is None else (y_val, X_val)
        else:
            val = ctx.holdout.validation
        estimator.fit(*ctx.holdout.train, validation_data=val, callbacks=callbacks)
        losses = np.asarray(estimator.history_.get("loss", []), dtype=float)
        if losses.size and not np.all(np.isfinite(losses)):
            epoch = int(np.argmax(~np.isfinite(losses)))
            raise NonFiniteScore(
                f"training loss became {losses[epoch]} at epoch {epoch + 1}; "
                "try a smaller learning_rate or set clipnorm."
            )

    # -- records ----------------------------------------------------------------------
    def _new_record(self, trial_id: str, params: Mapping[str, Any]) -> dict:
        objective = self.context.objective
        number = int(trial_id) if str(trial_id).isdigit() else None
        return new_record(str(trial_id), number=number, params=params,
                          objective={"name": objective.name, "direction": objective.direction})

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
        write_record(trial_dir, record)
        self._report(record)

    def _report(self, record: dict) -> None:
        if self._on_end is not None:
            self._on_end(record)

