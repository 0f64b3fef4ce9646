"""The Keras Tuner adapter: seqtune's trials inside Keras Tuner's search loop.

Keras Tuner is the engine: its oracles (random, Bayesian, Hyperband) choose the values
and own the trial lifecycle. This module plugs seqtune in:

* :class:`SeqTuner`, a ``keras_tuner.Tuner`` whose ``run_trial`` hands the trial to a
  :class:`~seqtune.search._runner.TrialRunner`, and which continues a promoted
  Hyperband trial from its parent's weights, as Keras Tuner's own ``Hyperband`` does;
* oracles that write their state files atomically (a kill mid-write must not leave an
  unreadable ``oracle.json``), start from the space's defaults, stop cleanly after too
  many failures in a row, and a repair of the state a killed process leaves.

The chief and the workers of a distributed search are :mod:`._chief`. Both are imported
lazily (``import seqtune`` does not load Keras Tuner), and they are the only seqtune
modules that touch Keras Tuner's private API (``keras_tuner.src``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras_tuner as kt
from keras_tuner.src.engine import trial as trial_module

from seqtune.records import RECORD_FILENAME, read_record, write_json_atomic

from ._runner import Continuation, TrialRunner, kept_epochs
from ._state import unreadable_state

__all__ = ["TUNERS", "WEIGHTS_FILENAME", "BudgetExhausted", "SeqTuner", "make_tuner"]

#: Hyperband only: a trial's weights (of its first fold), which the trial that continues it
#: loads; further folds' are ``seqtune_trial.fold<i>.weights.h5``.
WEIGHTS_FILENAME = "seqtune_trial.weights.h5"


TUNERS = ("bayesian", "random", "hyperband")


def _weights_path(trial_dir: Path, fold: int) -> Path:
    return trial_dir / (WEIGHTS_FILENAME if fold == 0 else f"seqtune_trial.fold{fold}.weights.h5")


class BudgetExhausted(Exception):
    """Raised between trials when the time budget is spent; ends the search loop."""


class _SpaceHyperModel(kt.HyperModel):
    """Registers the search space; ``build`` returns the estimator's parameter values."""

    def __init__(self, space: Any) -> None:
        super().__init__(name="seqtune_space")
        self.space = space

    def build(self, hp):
        return self.space.build(hp)


# ------------------------------------------------------------------------- oracles


class _AtomicState:
    """Oracle mixin: ``oracle.json`` and each ``trial.json`` are written atomically.

    Keras Tuner writes them in place; a process killed mid-write leaves a truncated
    file and the search cannot resume.
    """

    def save(self):
        write_json_atomic(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        write_json_atomic(Path(self._get_trial_dir(trial.trial_id)) / "trial.json", trial.get_state())


class _DefaultsFirst:
    """Oracle mixin: the first trial of a fresh search is the space's defaults.

    A space's defaults are a configuration known to work (the shipped spaces say why
    in their comments), so the search starts from it instead of a random draw and its
    best can only be as good or better on the folds.
    """

    def populate_space(self, trial_id):
        if self.trials:
            return super().populate_space(trial_id)
        hps = self.hyperparameters.copy()
        values = {hp.name: hps.values[hp.name] for hp in hps.space if hps.is_active(hp)}
        return {"status": trial_module.TrialStatus.RUNNING, "values": values}


class _StopsAfterFailures:
    """Oracle mixin: ``max_consecutive_failures`` stops the search instead of breaking it.

    Keras Tuner raises inside ``end_trial`` before the trial leaves ``ongoing_trials``
    and before saving, so a chief waits forever and the reporting worker dies. Here the
    trial is ended and saved, every later request gets STOPPED, and ``stopped_reason``
    says why.
    """

    stopped_reason: str | None = None

    @kt.synchronized
    def end_trial(self, trial):
        try:
            super().end_trial(trial)
        except RuntimeError as exc:
            if "consecutive failures" not in str(exc):
                raise
            self.stopped_reason = str(exc)
            self.max_trials = len(self.trials)
            for tuner_id, ongoing in list(self.ongoing_trials.items()):
                if ongoing.trial_id == trial.trial_id:
                    del self.ongoing_trials[tuner_id]
            self._save_trial(self.trials[trial.trial_id])
            self.save()


class _RandomOracle(_AtomicState, _StopsAfterFailures, _DefaultsFirst, kt.oracles.RandomSearchOracle):
    pass


class _BayesianOracle(_AtomicState, _StopsAfterFailures, _DefaultsFirst,
                      kt.oracles.BayesianOptimizationOracle):
    pass


class _HyperbandOracle(_AtomicState, _StopsAfterFailures, kt.oracles.HyperbandOracle):
    pass


def _make_oracle(tuner: str, *, objective: Any, seed: int | None, max_trials: int,
                 max_consecutive_failures: int, max_epochs: int) -> Any:
    common = {
        "objective": objective,
        "seed": seed,
        "max_retries_per_trial": 0,
        "max_consecutive_failed_trials": int(max_consecutive_failures),
    }
    if tuner == "random":
        return _RandomOracle(max_trials=max_trials, **common)
    if tuner == "bayesian":
        return _BayesianOracle(max_trials=max_trials, **common)
    if max_epochs < 2:
        raise ValueError(
            f"tuner='hyperband' needs the estimator's epochs >= 2 (it trains trials "
            f"for 1..epochs epochs); got epochs={max_epochs}."
        )
    oracle = _HyperbandOracle(max_epochs=max_epochs, factor=3, **common)
    # Hyperband has no trial cap of its own; create_trial honours this one.
    oracle.max_trials = max_trials
    return oracle


def _repair_oracle_state(oracle: Any) -> None:
    """Make a reloaded oracle consistent after a process was killed.

    Keras Tuner saves a trial's ``trial.json`` and ``oracle.json`` in two steps. A kill
    between them leaves either a finished trial still listed as running (it would run
    again) or a started trial listed nowhere (it would never run and never finish).
    """
    finished = (trial_module.TrialStatus.COMPLETED, trial_module.TrialStatus.FAILED)
    queue = []
    for trial_id in oracle._retry_queue:
        trial = oracle.trials.get(trial_id)
        if trial is not None and trial.status in finished:
            if trial_id not in oracle.end_order:
                oracle.end_order.append(trial_id)
            continue
        if trial_id not in queue:
            queue.append(trial_id)
    ongoing = {t.trial_id for t in oracle.ongoing_trials.values()}
    for trial_id, trial in oracle.trials.items():
        if (
            trial.status in (trial_module.TrialStatus.RUNNING, trial_module.TrialStatus.IDLE)
            and trial_id not in queue
            and trial_id not in ongoing
            and trial_id not in oracle.end_order
        ):
            queue.append(trial_id)
    oracle._retry_queue = queue
    oracle.save()


# --------------------------------------------------------------------------- tuner


class SeqTuner(kt.Tuner):
    """A Keras Tuner whose trials are run by a seqtune :class:`TrialRunner`.

    It overrides ``run_trial`` (no checkpoints, no TensorBoard callback), the hook
    between trials (the time budget), ``save`` (atomic) and ``reload`` (repair).

    Parameters
    ----------
    runner : TrialRunner
    deadline : float or None
        ``time.monotonic()`` value after which no trial starts.
    reserve : callable, optional
        Seconds kept back before ``deadline`` for what runs after the trials (the
        re-scoring of :mod:`._intensify`); called before each trial.
    **kwargs
        ``oracle``, ``directory``, ``project_name``, ``overwrite``: as for
        ``keras_tuner.Tuner``.
    """

    def __init__(self, runner: TrialRunner, *, deadline: float | None,
                 reserve: Callable[[], float] | None = None, **kwargs: Any) -> None:
        self.runner = runner
        self.deadline = deadline
        self.reserve = reserve
        super().__init__(hypermodel=_SpaceHyperModel(runner.context.space), **kwargs)

    @property
    def is_worker(self) -> bool:
        """Whether this process is a worker of a distributed search (it reports to a chief)."""
        return self._is_worker()

    # -- between trials ----------------------------------------------------------
    def pre_create_trial(self):
        # A distributed worker must keep asking the chief until it answers STOPPED,
        # or the chief waits for it forever; the chief enforces the budget instead.
        if self.is_worker or self.deadline is None:
            return
        if time.monotonic() >= self.deadline - (self.reserve() if self.reserve else 0.0):
            raise BudgetExhausted

    def on_trial_begin(self, trial):
        self.runner.begin(trial.trial_id)

    # -- one trial ---------------------------------------------------------------
    def run_trial(self, trial, *args, **kwargs):
        trial_dir = Path(self.get_trial_dir(trial.trial_id))
        save = None
        if self.runner.context.hyperband:
            def save(fold: int, estimator: Any) -> None:
                estimator.model_.save_weights(_weights_path(trial_dir, fold))
        outcome = self.runner.run(trial.trial_id, trial.hyperparameters, trial_dir,
                                  continuation=self._continuation(trial), on_fold_fitted=save)
        return {self.oracle.objective.name: float(outcome.record["score"])}

    def _continuation(self, trial: Any) -> Continuation | None:
        """Hyperband: let a promoted trial train on from its parent's weights, fold by fold.

        Keras Tuner's Hyperband gives a promoted configuration the parent's id
        (``tuner/trial_id``) and the epoch it reached (``tuner/initial_epoch``). Without
        the parent's saved weights for every fold (a parent from before an upgrade, or
        whose files are gone) the trial trains from scratch for the whole budget.
        """
        values = trial.hyperparameters.values
        parent = values.get("tuner/trial_id")
        if not self.runner.context.hyperband or parent is None:
            return None
        parent_dir = Path(self.get_trial_dir(parent))
        paths = [_weights_path(parent_dir, i) for i in range(len(self.runner.context.folds))]
        if not all(path.is_file() for path in paths):
            return None
        record = read_record(parent_dir / RECORD_FILENAME) or {}
        folds = record.get("folds") or []
        kept = tuple(kept_epochs(f) for f in folds) if len(folds) == len(paths) else ()
        return Continuation(str(parent), paths, int(values.get("tuner/initial_epoch", 0)), kept)

    def save_model(self, trial_id, model, step=0):  # models are not checkpointed
        return None

    def load_model(self, trial):
        raise NotImplementedError(
            "seqtune does not keep per-trial models; use SequenceSearch.best_estimator_, "
            "refitted on all the data with the best parameters."
        )

    # -- state -------------------------------------------------------------------
    def save(self):
        if not self.is_worker:
            self.oracle.save()
        write_json_atomic(self._get_tuner_fname(), self.get_state())

    def reload(self):
        super().reload()
        if not self.is_worker:
            _repair_oracle_state(self.oracle)


def make_tuner(runner: TrialRunner, *, tuner: str, deadline: float | None, directory: str,
               project_name: str, overwrite: bool, seed: int | None, max_trials: int,
               max_consecutive_failures: int, max_epochs: int,
               reserve: Callable[[], float] | None = None) -> SeqTuner:
    """Build the oracle and the tuner; a resumable search is reloaded from its directory.

    Raises
    ------
    RuntimeError
        When Keras Tuner's state files do not parse (see ``_state.unreadable_state``).
    """
    oracle = _make_oracle(tuner, objective=runner.context.objective, seed=seed,
                          max_trials=max_trials, max_consecutive_failures=max_consecutive_failures,
                          max_epochs=max_epochs)
    try:
        kt_tuner = SeqTuner(runner, deadline=deadline, reserve=reserve, oracle=oracle, directory=directory,
                            project_name=project_name, overwrite=overwrite)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        error = unreadable_state(Path(directory) / project_name)
        if error is None:
            raise
        raise error from exc
    kt_tuner.oracle.verbose = 0  # seqtune prints its own per-trial line
    return kt_tuner
