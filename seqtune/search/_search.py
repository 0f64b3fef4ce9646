"""``SequenceSearch``: a scikit-learn meta-estimator that tunes a seqtune estimator.

It orchestrates; the work happens elsewhere in this package. :mod:`._task` splits the
data, :mod:`._objective` scores a trial, :mod:`._runner` runs one, :mod:`._tuner` plugs
the runner into Keras Tuner, :mod:`._state` keeps what a resumed search needs, and
:mod:`._progress` reports. Records go through :mod:`seqtune.records`, tracking through
a tracker object (:class:`seqtune.tracking.MlflowTracker` by default).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from seqtune.fingerprint import dataset_fingerprint
from seqtune.records import (
    best_record,
    read_trial_records,
    results_frame,
)
from seqtune.splits import n_rows
from seqtune.validation import check_params

from ._final import FINAL_MODELS, build_final_model, resolve_ensemble, resolve_final_model
from ._job import make_job
from ._loop import TrialPlan, plan_trials
from ._objective import check_objective, resolve_objective
from ._progress import Progress
from ._runner import TrialRunner, trial_context
from ._state import check_resume, resolve_split_seed, write_state
from ._track import is_mlflow_tracker, log_final_model, make_tracker, start_tracking
from ._task import (estimator_task, folds_digest, make_folds, narrow_space, resolve_cv,
                    warn_recurrent_dropout)

__all__ = ["SequenceSearch"]

_TUNERS = ("bayesian", "random", "hyperband")
_TRACKER_METHODS = ["start_search", "log_trial", "end_search", "log_best_model", "sync"]


class SequenceSearch(BaseEstimator):
    """Search the hyperparameters of a seqtune estimator with Keras Tuner.

    Each trial is ``clone(estimator).set_params(**values)``, fitted and scored on every
    fold of ``cv`` (each fit early-stops on its own inner split, never on the data that
    scores it); its score is the mean over folds. The best configuration then becomes
    ``best_estimator_`` (``final_model``). Hyperparameter names are the estimator's own
    parameter names.

    Parameters
    ----------
    estimator : SequenceClassifier, SequenceRegressor or SequenceForecaster
        The estimator to tune. Parameters not in the space keep its values.
    space : str, path or dict, default="default"
        A search space: a name of a packaged space ("default", "quick"), a YAML file,
        or a dict (see ``seqtune.spaces``). Values the data cannot support
        (``sequence_length`` beyond the longest sequence, ``lookback`` beyond what the
        training series allows) are cut, with one warning that names them.
    tuner : {"bayesian", "random", "hyperband"}, default="bayesian"
        Keras Tuner oracle. With "hyperband" the trial's ``epochs`` come from the
        oracle's budget (up to the space's fixed ``epochs``, else the estimator's);
        a promoted configuration loads the weights its earlier trial ended with and
        trains only the remaining epochs, as in Keras Tuner's own Hyperband (its
        record has ``initial_epoch`` and the tag ``continued_from``).
    max_trials : int, default=10
        Total number of trials, counting those of earlier (resumed) runs.
    time_budget : float, default=None
        Wall-clock seconds for this call of ``fit``. No trial starts after it; the
        running trial stops at its next epoch boundary and still counts, over the folds
        it finished (its record has status "PRUNED" and ``stopped_by="budget"``). The
        final model is not counted.
    objective : str or keras_tuner.Objective, default=None
        Classifier/regressor: "score" (accuracy / R², maximised) by default, or
        "val_loss" (the held-out log loss / mean squared error), or a Keras history
        metric such as "loss" (at the epoch the fit kept). Forecaster: "mae"
        (minimised) by default, or "rmse", "smape", "mase" (which weighs several series
        of different scales alike; as the default it picked worse on Macrodata,
        benchmarks/README.md). Ties go to the lower held-out loss.
    directory : str or path, default="seqtune_search"
        Where Keras Tuner and seqtune keep the search state.
    project_name : str, default=None
        Sub-directory of ``directory``; ``"<estimator>_<tuner>"`` when None.
    overwrite : bool, default=False
        False resumes a search found in ``directory/project_name`` (after Ctrl-C or a
        killed process): completed trials are kept and not rerun. True deletes it.
    tracking : bool or tracker, default=True
        Log the search to MLflow (``seqtune.tracking.MlflowTracker``), or pass a
        tracker object with the same methods. False disables tracking.
    tracking_uri : str, default=None
        MLflow tracking URI; ``MLFLOW_TRACKING_URI`` or a local sqlite store when None.
    experiment_name : str, default=None
        MLflow experiment name.
    cv : "auto", None, int, splitter or iterable, default="auto"
        How trials are scored. None: one holdout of ``validation_fraction``
        (stratified for classifiers; the tail of the series, at least ``horizon``
        steps, for forecasters). An int ``k``: ``StratifiedKFold`` (classifiers) or
        ``KFold`` (regressors), shuffled with ``random_state``; for forecasters ``k``
        expanding-window folds over the last ``k * ceil(validation_fraction * n / k)``
        forecast origins, each training on everything before its first origin and
        scored on its rolling forecasts from its share of them. Any scikit-learn splitter
        or iterable of (train, test) index pairs is used as given. "auto": 5 folds below
        1000 samples, else one holdout; forecasters up to 3 folds that keep every fold's
        training part at least half the series.
    validation_fraction : float, default=0.2
        Share of the data held out with ``cv=None`` (and, for forecasters with an int
        ``cv``, the share of the series' steps that are scored forecast origins).
    pruning : bool, default=True
        Stop a trial after a fold when its folds so far are worse than the best
        complete trial's same folds by more than that trial's fold-to-fold standard
        deviation (status "PRUNED", ``stopped_by="pruning"``; it cannot be the best).
    final_model : {"auto", "refit", "bag", "refit_seeds"}, default="auto"
        What ``best_estimator_`` is. "refit": the best configuration trained on all
        the data for the median of the epochs its folds kept (no early stopping),
        then checked against the folds' training loss and tried again with another
        seed if it did not train. "bag": the best trial's fold models, averaged (no
        refit; classifiers and regressors). "refit_seeds": one such refit per weight
        seed a re-scored configuration (``intensify``) was ranked on, averaged; a
        configuration not re-scored is refitted once. "auto": "bag" for cross-validated
        classifiers and regressors, "refit_seeds" for forecasters, else "refit"
        (benchmarks/README.md has the measurements).
    ensemble : int or "auto", default="auto"
        Average up to this many configurations, chosen greedily on their
        out-of-fold predictions (Caruana ensemble selection; a forecaster's are its
        rolling forecasts through each fold's held-out stretch, and the blend
        minimises the objective over them), each built as ``final_model`` says; 1
        keeps the best one alone. "auto": 3 for cross-validated classifiers, else 1
        (benchmarks/README.md has the measurements, forecasters' included).
    intensify : int or "auto", default="auto"
        After the trials, train the best configuration again on the same folds with
        ``intensify_seeds`` other weight seeds (its ``random_state`` + 1000, + 2000...)
        and rank it by the mean over its seeds; when that mean falls below another
        trial's score, re-score that one too, up to ``intensify`` configurations; past
        that the ranking by score stands, whatever each trial's number of seeds (the
        best trial's score is otherwise partly one seed's luck). Re-runs are records
        ``<trial_id>.seed<j>``, tracked as child runs, resumed like trials, and count
        against ``time_budget``: no trial starts once the time left is what re-scoring
        the best ``intensify`` trials so far would take. They run in this process.
        "auto": 3 for cross-validated forecasters, else 0 (benchmarks/README.md has
        the measurement).
    intensify_seeds : int, default=2
        Fresh weight seeds per re-scored configuration.
    n_jobs : int, default=1
        Worker processes on this machine (-1: one per CPU core). Above 1, this process
        becomes Keras Tuner's chief on 127.0.0.1 (or ``chief_address``), writes the data
        once to the search directory, starts the workers (each limited to
        ``cpu_count // n_jobs`` math threads), restarts a dead one under the same
        tuner id (its trial runs again; a trial that kills its worker 3 times is
        recorded FAILED), and collects, refits and logs as a single process would.
    gpus : str or list, default=None
        GPU ids such as ``"0,1,2,3"``: ``trials_per_gpu`` workers per GPU, each seeing
        its own through ``CUDA_VISIBLE_DEVICES``, with JAX not preallocating and
        TensorFlow growing its memory so they fit side by side.
    trials_per_gpu : int, default=1
    lease : float, default=30.0
        Seconds without a heartbeat (workers renew every ``lease / 6`` s) after which
        the chief, by its own monotonic clock, hands a worker's trial to another; a
        late result from the silent worker is ignored.
    chief_address : str, default=None
        ``host:port`` the chief listens on for workers on other machines, which join
        with ``seqtune worker --oracle host:port --directory <directory>/<project_name>``
        (the directory on a shared disk). Port 0 picks a free one; with ``n_jobs=0``
        no local worker starts.
    max_consecutive_failures : int, default=10
        Stop the search after this many failed trials in a row (a warning says so,
        and the best completed trial is kept).
    trial_timeout : float, default=None
        Distributed search only: an upper bound on a trial's length. The chief records
        a trial still open after this many seconds as FAILED, even while its worker's
        heartbeat goes on. A dead worker is handled by ``lease`` instead.
    refit : bool, default=True
        Build ``best_estimator_`` (see ``final_model``); False leaves it None.
    random_state : int, RandomState instance or None, default=None
        Seeds the oracle, the folds (or holdout), and estimators whose own
        ``random_state`` is None. When it is not an int, the folds are shuffled with a
        seed drawn once and recorded in the search directory (``split_seed``), so that
        a rerun resumes on the same folds.
    verbose : int, default=1
        0 is silent; 1 prints one line per trial.

    Attributes
    ----------
    best_estimator_ : estimator
        The final model (see ``final_model``): a seqtune estimator, or a
        ``seqtune.ensemble.SequenceEnsembleClassifier`` / ``...Regressor`` /
        ``...Forecaster`` of fold models or configurations. None when ``refit=False``.
    final_model_ : dict
        How ``best_estimator_`` was made: ``kind`` ("refit", "bag", "refit_seeds" with
        one entry per seed in ``seeds``, or "ensemble"), and
        for a refit its ``epochs``, ``train_loss`` against the folds'
        ``fold_train_loss``, and ``attempts``.
    best_params_ : dict
        Searched values of the best trial.
    best_score_ : float
        Its objective value, the mean over its folds.
    n_folds_ : int
        Folds each trial was scored on (1: one holdout).
    results_ : pandas.DataFrame
        One row per trial: ``trial_id``, every searched parameter, ``score``, with
        cross-validation ``std_score`` and ``split0_score``, ..., then ``status``
        ("completed", "failed", "pruned", "running"), ``duration_s``, ``epochs_run``
        (over all folds), ``n_params``, ``seconds_per_epoch``, ``fused_kernel``,
        ``error``.
    records_ : list of dict
        The trial records (DESIGN.md schema).
    objective_ : dict
        ``{"name": ..., "direction": "min" | "max"}``.
    space_ : SearchSpace
        The space searched, after narrowing to the data.
    project_dir_ : str
        ``directory/project_name``.
    workers_ : dict or None
        With workers: the chief's address, its RPCs served by kind, each worker's
        restarts and exit codes, and the trials that ended a worker.
    best_model_uri_ : str or None
        MLflow URI of the logged best model.

    Examples
    --------
    >>> from seqtune import SequenceClassifier, SequenceSearch
    >>> search = SequenceSearch(SequenceClassifier(epochs=5), space="quick",
    ...                         tuner="random", max_trials=3, tracking=False)
    >>> search.fit(X, y)  # X: (n_samples, n_timesteps, n_features)  # doctest: +SKIP
    >>> search.results_[["trial_id", "cell", "units", "score"]]  # doctest: +SKIP
    """

    _parameter_constraints: dict = {
        "estimator": "no_validation",  # estimator_task says clearly what it must be
        "space": "no_validation",  # load_space names the file, the key and the problem
        "tuner": [StrOptions(set(_TUNERS))],
        "max_trials": [Interval(Integral, 1, None, closed="left")],
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "objective": "no_validation",  # resolve_objective, which knows the task
        "directory": [str, os.PathLike],
        "project_name": [str, None],
        "overwrite": ["boolean"],
        "tracking": ["boolean", None, HasMethods(_TRACKER_METHODS)],
        "tracking_uri": [str, None],
        "experiment_name": [str, None],
        "cv": "no_validation",  # resolve_cv / make_folds: "auto", None, k, splitter, pairs
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "pruning": ["boolean"],
        "final_model": [StrOptions(set(FINAL_MODELS))],
        "ensemble": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "intensify": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "intensify_seeds": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Interval(Integral, -1, None, closed="left"), None],
        "gpus": [str, "array-like", None],
        "trials_per_gpu": [Interval(Integral, 1, None, closed="left")],
        "lease": [Interval(Real, 0, None, closed="neither")],
        "chief_address": [str, None],
        "max_consecutive_failures": [Interval(Integral, 1, None, closed="left")],
        "trial_timeout": [Interval(Real, 0, None, closed="neither"), None],
        "refit": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator: Any,
        space: Any = "default",
        tuner: str = "bayesian",
        max_trials: int = 10,
        time_budget: float | None = None,
        objective: Any = None,
        directory: str | os.PathLike = "seqtune_search",
        project_name: str | None = None,
        overwrite: bool = False,
        tracking: Any = True,
        tracking_uri: str | None = None,
        experiment_name: str | None = None,
        validation_fraction: float = 0.2,
        max_consecutive_failures: int = 10,
        trial_timeout: float | None = None,
        refit: bool = True,
        random_state: int | None = None,
        verbose: int = 1,
        cv: Any = "auto",
        pruning: bool = True,
        final_model: str = "auto",
        ensemble: int | str = "auto",
        intensify: int | str = "auto",
        intensify_seeds: int = 2,
        n_jobs: int | None = 1,
        gpus: Any = None,
        trials_per_gpu: int = 1,
        lease: float = 30.0,
        chief_address: str | None = None,
    ) -> None:
        self.estimator = estimator
        self.space = space
        self.tuner = tuner
        self.max_trials = max_trials
        self.time_budget = time_budget
        self.objective = objective
        self.directory = directory
        self.project_name = project_name
        self.overwrite = overwrite
        self.tracking = tracking
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.validation_fraction = validation_fraction
        self.max_consecutive_failures = max_consecutive_failures
        self.trial_timeout = trial_timeout
        self.refit = refit
        self.random_state = random_state
        self.verbose = verbose
        self.cv = cv
        self.pruning = pruning
        self.final_model = final_model
        self.ensemble = ensemble
        self.intensify = intensify
        self.intensify_seeds = intensify_seeds
        self.n_jobs = n_jobs
        self.gpus = gpus
        self.trials_per_gpu = trials_per_gpu
        self.lease = lease
        self.chief_address = chief_address

    # --------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None, *, trial_callback: Callable[[dict], None] | None = None):
        """Run the search, then refit the best configuration on all the data.

        Parameters
        ----------
        X : array-like
            Classifier/regressor: sequences of shape (n_samples, n_timesteps,
            n_features), (n_samples, n_timesteps) or a list of (t_i, n_features)
            arrays. Forecaster: the target series y of shape (n_timesteps,) or
            (n_timesteps, n_targets) -- the forecaster's own ``fit(y, X=None)`` order.
        y : array-like, default=None
            Classifier/regressor: targets of shape (n_samples,). Forecaster:
            exogenous series of shape (n_timesteps, n_exog), or None.
        trial_callback : callable, default=None
            Called with a dict at each trial's start and end (keys ``event``,
            ``n_done``, ``max_trials``, ``best_score``, ``elapsed_s``, ``record``...),
            for progress displays.

        Returns
        -------
        self
        """
        check_params(self)
        task = estimator_task(self.estimator)
        objective = resolve_objective(self.objective, task)
        check_objective(objective.name, task)
        if task != "forecasting" and y is None:
            raise ValueError(f"{type(self.estimator).__name__} needs targets: call fit(X, y).")
        if task == "forecasting" and self.final_model == "bag":
            raise ValueError(
                "final_model='bag' is not available for forecasters (fold models train on "
                "shorter histories than the series); use final_model='refit' (or 'auto')."
            )
        plan = plan_trials(n_jobs=self.n_jobs, gpus=self.gpus,
                           trials_per_gpu=int(self.trials_per_gpu),
                           chief_address=self.chief_address, lease=float(self.lease),
                           trial_timeout=self.trial_timeout, backend=_backend())
        worker = plan.is_worker
        estimator = self._prepared_estimator()
        horizon = int(estimator.horizon) if task == "forecasting" else 1
        project_name = self.project_name or f"{type(self.estimator).__name__.lower()}_{self.tuner}"
        project_dir = Path(self.directory) / project_name
        split_seed = resolve_split_seed(self.random_state, project_dir, worker=worker,
                                        fresh=bool(self.overwrite) and not worker)
        cv = resolve_cv(self.cv, task, n_rows(X), horizon=horizon, fraction=self.validation_fraction)
        folds = make_folds(task, X, y, cv=cv, fraction=self.validation_fraction,
                           random_state=split_seed, horizon=horizon)
        from seqtune.spaces import load_space

        space = narrow_space(load_space(self.space, task=task, estimator=estimator), task,
                             estimator, X, folds)
        fingerprint = dataset_fingerprint(X, y)
        check_resume(project_dir, overwrite=bool(self.overwrite), fingerprint=fingerprint,
                     tuner=self.tuner, space=space, n_folds=len(folds), objective=objective.name,
                     folds_sha256=folds_digest(folds))

        job = make_job(
            task=task, objective=objective, estimator=estimator, space=space, data=(X, y),
            folds=folds, horizon=horizon, fraction=self.validation_fraction,
            random_state=split_seed, time_budget=self.time_budget, tuner=self.tuner,
            pruning=bool(self.pruning), keep_fold_models=bool(self.refit) and task != "forecasting",
            final_model=resolve_final_model(self.final_model, task, len(folds)),
            seed=self._oracle_seed(), max_trials=int(self.max_trials),
            max_consecutive_failures=int(self.max_consecutive_failures),
            lease=plan.lease,  # a worker started by hand reads it from the job
        )
        # A worker started by hand (Keras Tuner's variables) reports to the chief, which logs.
        tracker = None if worker else make_tracker(self.tracking, self.tracking_uri,
                                                   self.experiment_name)
        try:
            return self._search(X, y, job=job, folds=folds, project_dir=project_dir,
                                fingerprint=fingerprint, tracker=tracker,
                                trial_callback=trial_callback, plan=plan)
        finally:
            # Also after an error or Ctrl-C: whatever finished is logged.
            close = getattr(tracker, "close", None)
            if close is not None:
                close()

    def _search(self, X: Any, y: Any, *, job: dict, folds: list, project_dir: Path,
                fingerprint: dict, tracker: Any, trial_callback: Callable[[dict], None] | None,
                plan: TrialPlan) -> "SequenceSearch":
        from ._intensify import Intensifier, resolve_intensify
        from ._loop import collect_records, known_trials, run_trials
        from ._tuner import make_tuner

        task, estimator, space = job["task"], job["estimator"], job["space"]
        worker = plan.is_worker
        # An MlflowTracker takes every call on its logging queue, so training never waits.
        later = {"wait": False} if is_mlflow_tracker(tracker) else {}
        context = trial_context(job, folds=folds)
        objective = context.objective
        progress = Progress(objective=objective, max_trials=self.max_trials,
                            time_budget=self.time_budget, verbose=self.verbose,
                            callback=trial_callback)

        def trial_ended(record: dict, rescored: bool = False) -> None:
            if tracker is not None:
                tracker.log_trial(copy.deepcopy(record))
            if rescored:
                progress.rescore_end(record)
                return
            progress.trial_end(record)
            intensifier.observe(list(progress.records.values()))

        runner = TrialRunner(context, on_begin=progress.trial_begin, on_end=trial_ended)
        n_configs = resolve_intensify(self.intensify, task, len(context.folds))
        intensifier = Intensifier(context, project_dir, n_configs=n_configs,
                                  n_seeds=int(self.intensify_seeds), time_budget=self.time_budget,
                                  on_end=lambda record: trial_ended(record, rescored=True))
        kt_tuner = make_tuner(
            runner, tuner=self.tuner, deadline=context.deadline, directory=str(self.directory),
            # Keras Tuner deletes the directory on overwrite: a worker must never (it is shared).
            project_name=project_dir.name, overwrite=bool(self.overwrite) and not worker,
            seed=job["seed"],
            max_trials=int(self.max_trials), max_consecutive_failures=int(self.max_consecutive_failures),
            max_epochs=job["max_epochs"], reserve=intensifier.reserve,
        )
        write_state(project_dir, overwrite=bool(self.overwrite) and not worker, tuner=self.tuner,
                    estimator=type(self.estimator).__name__,
                    objective={"name": objective.name, "direction": objective.direction},
                    fingerprint=fingerprint, space_yaml=space.to_yaml(),
                    max_trials=int(self.max_trials), n_folds=len(context.folds),
                    folds_sha256=folds_digest(context.folds), split_seed=job["random_state"])
        warn_recurrent_dropout(space, estimator)
        earlier = read_trial_records(project_dir)  # a resumed search: its earlier trials count
        progress.records.update({r["trial_id"]: r for r in earlier})
        intensifier.observe(earlier)
        if tracker is not None:
            start_tracking(tracker, self, project_dir=project_dir, objective=objective, task=task,
                           n_folds=len(context.folds), n_workers=plan.n_workers, space=space,
                           resolved={"final_model": job["final_model"], "intensify": n_configs,
                                     "ensemble": resolve_ensemble(self.ensemble, task,
                                                                  len(context.folds))},
                           fingerprint=fingerprint, earlier=earlier, later=later)

        self.workers_ = run_trials(plan, kt_tuner, job=job, project_dir=project_dir,
                                   deadline=context.deadline, on_trial_end=trial_ended,
                                   reserve=intensifier.reserve, verbose=self.verbose)
        if self.workers_ is not None and self.workers_["fatal"]:  # workers_ stays to inspect
            raise RuntimeError(f"A worker stopped the search in {project_dir}: an error "
                               f"every trial would hit:\n{self.workers_['fatal']}")
        self.records_ = collect_records(project_dir, known_trials(kt_tuner), runner)
        if not worker:  # the chief re-scores, once every trial has ended
            self.records_ = intensifier.run(self.records_)
            for record in self.records_ if tracker is not None else ():
                if record.get("seeds"):  # its run gets the mean over seeds
                    tracker.log_trial(copy.deepcopy(record))
        self.results_ = results_frame(self.records_)
        self.objective_ = {"name": objective.name, "direction": objective.direction}
        self.space_ = space
        self.project_dir_ = str(project_dir)
        self.n_trials_ = len(self.records_)
        self.n_folds_ = len(context.folds)
        best = best_record(self.records_, objective.direction)
        if best is None:
            errors = [r["error"] for r in self.records_ if r.get("error")]
            detail = f" The first error was:\n{errors[0]}" if errors else ""
            raise RuntimeError(
                f"No trial of the search in {project_dir} completed "
                f"({len(self.records_)} trials recorded).{detail}"
            )
        self.best_trial_id_ = best["trial_id"]
        self.best_params_ = dict(best["params"])
        self.best_score_ = float(best["score"])
        self.best_estimator_ = None
        self.final_model_ = None
        self.best_model_uri_ = None
        if worker:
            return self  # the chief collects, refits and logs the search
        if tracker is not None:
            # Queued before the refit, so the summary, leaderboard and plots are logged
            # while the best configuration trains again.
            tracker.end_search(best_score=self.best_score_, best_params=self.best_params_,
                               records=copy.deepcopy(self.records_), **later)
        if self.refit:
            # fit(X, y) for classifiers and regressors, fit(y, X) for forecasters: the
            # arguments arrive in the estimator's own order.
            self.best_estimator_, self.final_model_ = build_final_model(
                strategy=job["final_model"], task=task, estimator=estimator, best=best,
                records=self.records_, fit_args=(X, y), y=y, project_dir=project_dir,
                ensemble=resolve_ensemble(self.ensemble, task, len(context.folds)),
                direction=objective.direction)
            if tracker is not None:
                self.best_model_uri_ = log_final_model(tracker, self.best_estimator_, task, X, y)
        return self

    # ------------------------------------------------------------ fit helpers
    def _prepared_estimator(self) -> Any:
        estimator = clone(self.estimator)
        if self.random_state is not None and estimator.get_params().get("random_state", 0) is None:
            estimator.set_params(random_state=self.random_state)
        return estimator

    def _oracle_seed(self) -> int | None:
        # Keras Tuner reads seed=0 as "no seed", so derive a non-zero one.
        if self.random_state is None:
            return None
        return int(check_random_state(self.random_state).randint(1, 2**31 - 1))

    # ------------------------------------------------------------- delegation
    def _check_refitted(self) -> Any:
        check_is_fitted(self, "best_params_")
        if self.best_estimator_ is None:
            raise AttributeError(
                "This SequenceSearch has no best_estimator_ (refit=False, or a distributed "
                "worker). Refit by hand: clone(search.estimator).set_params(**search.best_params_)."
            )
        return self.best_estimator_

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """Predict with ``best_estimator_``; same arguments as its ``predict``.

        ``predict(X)`` for classifiers and regressors, X of shape (n_samples,
        n_timesteps, n_features); ``predict(y_history=None, X=None)`` for forecasters.
        """
        return self._check_refitted().predict(*args, **kwargs)

    def evaluate(self, *args: Any, **kwargs: Any) -> dict:
        """Forecasters only: ``best_estimator_.evaluate`` (MAE, RMSE, sMAPE, MASE)."""
        estimator = self._check_refitted()
        if not hasattr(estimator, "evaluate"):
            raise AttributeError(f"{type(estimator).__name__} has no evaluate(); use score(X, y).")
        return estimator.evaluate(*args, **kwargs)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of ``best_estimator_``, shape (n_samples, n_classes)."""
        return self._check_refitted().predict_proba(X)

    def score(self, X: Any, y: Any = None) -> float:
        """``best_estimator_.score`` (accuracy for classifiers, R² for regressors)."""
        return self._check_refitted().score(X, y)

    @property
    def classes_(self) -> np.ndarray:
        return self._check_refitted().classes_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.non_deterministic = True
        return tags


def _backend() -> str:
    import keras

    return keras.config.backend()
