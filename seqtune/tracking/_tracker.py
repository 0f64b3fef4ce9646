"""MlflowTracker: a search's parent run, its child runs, resume state and sync.

Every call that reaches the store runs on the tracker's one logging queue
(:class:`~seqtune.tracking._queue.LoggingQueue`) when ``background=True``, in the order
the calls were made, so the search never waits for a round trip.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from seqtune.records import read_trial_records

from ._common import (
    _OFFLINE_BACKOFF_S,
    TrackingWarning,
    _short_http_timeouts,
    _sqlite_path,
)
from ._model import _log_pyfunc_model
from ._queue import LoggingQueue
from ._records import _log_record_run, _scored_seeds
from ._report import _warm_plotting, log_summary
from ._serving import serve_predict
from ._store import _RunStore

__all__ = ["MlflowTracker", "sync_directory"]

class MlflowTracker(_RunStore):
    """Track a search in MLflow: a parent run, one child run per trial.

    Parameters
    ----------
    tracking_uri : str, optional
        Any MLflow tracking URI (``sqlite:///...``, ``http://host:port``, ...).
        Default: ``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///mlruns/mlflow.db``
        (relative to the working directory, artifacts under ``mlruns/artifacts``).
    experiment_name : str, optional
        Experiment the runs go to; created when missing. Default ``"seqtune"``.
    background : bool, default=True
        Make every store call on one worker thread (the tracker's logging queue), in
        the order of the calls, so a slow or distant store never delays the caller.
        :meth:`log_trial` only queues; the other methods wait for their turn and
        their result unless called with ``wait=False``. With False, every call
        talks to the store before returning.

    Notes
    -----
    No method raises because of the tracking store: the first failure emits one
    :class:`TrackingWarning`, the tracker skips the store for a short while, keeps
    the records it could not log, and logs them when the store answers again (the
    worker retries after the back-off), or on :meth:`sync`. State that lets a
    resumed search reattach lives in ``<state_dir>/mlflow_state.json``.

    Examples
    --------
    >>> tracker = MlflowTracker("sqlite:///mlruns/mlflow.db")  # doctest: +SKIP
    >>> tracker.start_search("out/proj", run_name="gru-search", params={}, tags={},
    ...                      space_yaml=None, fingerprint=None)  # doctest: +SKIP
    """

    def __init__(self, tracking_uri: str | None = None, experiment_name: str | None = None,
                 *, background: bool = True):
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.background = background
        # _lock serialises every call to the store; _queue_lock only guards _pending,
        # so log_trial never waits for a round trip in progress.
        self._lock = threading.RLock()
        self._queue_lock = threading.Lock()
        self._jobs = LoggingQueue(f"seqtune-mlflow-{id(self):x}", idle=self._retry_pending)
        self._uri: str | None = None
        self._client: Any = None
        self._state_dir: Path | None = None
        self._experiment_id: str | None = None
        self._parent_run_id: str | None = None
        self._logged: dict[str, str] = {}
        self._seeds_logged: dict[str, int] = {}
        self._pending: dict[str, Mapping[str, Any]] = {}
        self._uncertain: set[str] = set()
        self._start_kwargs: dict[str, Any] | None = None
        self._parent_ok = False
        self._parent_created_by_sync = False
        self._warned = False
        self._offline_until = 0.0
        self._offline_backoff_s = _OFFLINE_BACKOFF_S
        self.last_error: BaseException | None = None

    def __getstate__(self) -> dict:
        # A tracker may sit in a pickled search's params: keep the settings only.
        return {"tracking_uri": self.tracking_uri, "experiment_name": self.experiment_name,
                "background": self.background}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["tracking_uri"], state["experiment_name"],
                      background=state["background"])

    # ------------------------------------------------------------ public interface

    @property
    def parent_run_id(self) -> str | None:
        """Id of the search's parent run, once known."""
        return self._parent_run_id

    @property
    def experiment_id(self) -> str | None:
        """Id of the experiment holding the runs, once known."""
        return self._experiment_id

    @property
    def logged_runs(self) -> dict[str, str]:
        """``{trial_id: run_id}`` of every trial known to be in the store."""
        return dict(self._logged)

    @property
    def pending_trials(self) -> list[str]:
        """Trial ids this tracker could not log yet (store unreachable)."""
        with self._queue_lock:
            return sorted(self._pending)

    @property
    def offline(self) -> bool:
        """Whether the last call to the store failed and the tracker is backing off."""
        return time.monotonic() < self._offline_until

    def start_search(
        self,
        state_dir: str | os.PathLike,
        *,
        run_name: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        space_yaml: str | os.PathLike | None = None,
        fingerprint: Mapping[str, Any] | None = None,
        wait: bool = True,
    ) -> str | None:
        """Open the search's parent run, or reattach to the one in ``state_dir``.

        Parameters
        ----------
        state_dir : path
            Directory of the search (``<directory>/<project_name>``); the tracker
            keeps ``mlflow_state.json`` there.
        run_name : str, optional
            Name of the parent run.
        params : mapping, optional
            Search-level params: tuner, budget, objective, estimator class and its
            fixed params. Logged once; a reattached run keeps its first values.
        tags : mapping, optional
            Extra tags for the parent run; the Keras backend and device are added.
        space_yaml : str or path, optional
            The search space, as YAML text or a path to the YAML file; logged as
            the artifact ``search_space.yaml``.
        fingerprint : mapping, optional
            Dataset fingerprint, e.g. from :func:`dataset_fingerprint`; logged as
            ``data.*`` params.
        wait : bool, default=True
            False queues the call and returns at once (a search does this).

        Returns
        -------
        str or None
            The parent run id, or None when the store could not be reached (or
            ``wait=False``).
        """
        start_kwargs = {
            "run_name": run_name, "params": dict(params or {}), "tags": dict(tags or {}),
            "space_yaml": space_yaml, "fingerprint": dict(fingerprint or {}),
        }

        def _start() -> str | None:
            with self._lock:
                self._state_dir = Path(state_dir)
                self._start_kwargs = start_kwargs
                self._parent_ok = False
                self._load_state()
                self._guarded(lambda: self._ensure_parent(mark_running=True), force=True)
            _warm_plotting()
            return self._parent_run_id

        return self._run(_start, wait=wait)

    def log_trial(self, record: Mapping[str, Any]) -> str | None:
        """Log one trial record as a child run of the parent; idempotent by ``trial_id``.

        A re-scored trial's record, sent again with its ``seeds``, adds its mean over
        seeds (``<objective>_seed_mean``, the score the search ranks it by),
        ``seed_std`` and an ``n_seeds`` tag to the trial's run.

        With ``background=True`` (the default) the record is queued and the logging
        queue's worker logs it, so the search never waits for the store;
        :meth:`flush`, :meth:`end_search` and :meth:`sync` wait for it. Records still
        ``RUNNING`` are skipped (a crashed trial is logged once it has a final
        status).

        Returns
        -------
        str or None
            The child run id when it is already known (trial logged before, or
            ``background=False`` and the store answered); None otherwise.
        """
        trial_id = self._trial_id(record)
        if str(record.get("status", "")).upper() == "RUNNING":
            return None
        if not self._needs_logging(trial_id, record):
            return self._logged[trial_id]
        with self._queue_lock:
            self._pending[trial_id] = dict(record)
        if self.background:
            self._jobs.submit(self._flush_if_online)
            return None
        self._flush_if_online()
        return self._logged.get(trial_id)

    def flush(self) -> int:
        """Log every queued record now, ignoring the offline back-off.

        Returns
        -------
        int
            How many records are still waiting (0 when the store took them all).
        """
        def _flush() -> int:
            with self._lock:
                self._guarded(self._flush_pending, force=True)
            return len(self.pending_trials)

        return self._run(_flush, wait=True)

    def end_search(
        self,
        *,
        best_score: float | None = None,
        best_params: Mapping[str, Any] | None = None,
        leaderboard: Any = None,
        records: Iterable[Mapping[str, Any]] | None = None,
        wait: bool = True,
    ) -> None:
        """Close the parent run: best score and params, leaderboard CSV and plots.

        ``records`` (every trial record of the search) are also logged when still
        missing, and feed the plots and, when ``leaderboard`` is None, the
        leaderboard (:func:`seqtune.records.leaderboard`). With ``wait=True`` the
        call returns once everything queued is logged, and stops the worker thread;
        ``wait=False`` queues it (a search then calls :meth:`close`).
        """
        records = list(records or [])

        def _end() -> None:
            with self._lock:
                self._queue_records(records)

                def _end_parent() -> None:
                    self._ensure_parent(mark_running=False)
                    self._flush_pending()
                    log_summary(self._client, self._parent_run_id, best_score=best_score,
                                best_params=best_params, leaderboard=leaderboard,
                                records=records)
                    self._client.set_terminated(self._parent_run_id, status="FINISHED")

                self._guarded(_end_parent, force=True)

        self._run(_end, wait=wait)
        if wait:
            self.close()

    def log_best_model(self, estimator: Any, X_example: Any) -> str | None:
        """Log a fitted estimator as an MLflow ``pyfunc`` model on the parent run.

        Waits for everything queued before it.

        Parameters
        ----------
        estimator : fitted estimator
            Anything picklable with a ``predict`` method (the search's best).
        X_example : ndarray of shape (n_samples, n_timesteps, n_features) or (n_timesteps, n_columns)
            A valid model input, stored whole as the input example: a few
            sequences, or for a forecaster a ``y_history`` of at least its
            ``min_history`` steps, with exogenous columns after the targets when it
            was fitted with ``X`` (:func:`pack_history`). The signature (tensor
            based) is inferred from it and the predictions for it.

        Returns
        -------
        str or None
            ``models:/<model_id>``, loadable with ``mlflow.pyfunc.load_model`` and
            registrable with ``mlflow.register_model(uri, name)``; None when the
            store could not be reached, or when the model's predict fails on
            ``X_example`` (a :class:`TrackingWarning` says which).
        """
        # A model that cannot predict its own example is the model's fault, not the
        # store's: say so, and leave the store's back-off alone.
        try:
            X_example = np.asarray(X_example)
            predictions = np.asarray(serve_predict(estimator, X_example))
        except Exception as exc:  # tracking must never stop a search
            what = (f"of shape {X_example.shape}" if isinstance(X_example, np.ndarray)
                    else f"(a {type(X_example).__name__}, not one array)")
            warnings.warn(
                f"The best model was not logged to MLflow: its predict failed on the input "
                f"example {what} ({type(exc).__name__}: {str(exc)[:300]}). The search's "
                "results are unaffected.",
                TrackingWarning, stacklevel=2,
            )
            return None

        def _log_model() -> str | None:
            with self._lock:
                result: list[str] = []

                def _log() -> None:
                    self._ensure_parent(mark_running=False)
                    result.append(
                        _log_pyfunc_model(self._client, self._experiment_id, self._parent_run_id,
                                          estimator, X_example, predictions, name="best_model")
                    )

                self._guarded(_log, force=True)
                return result[0] if result else None

        return self._run(_log_model, wait=True)

    def log_run(self, record: Mapping[str, Any], *, run_name: str | None = None,
                tags: Mapping[str, str] | None = None) -> str | None:
        """Log one record as a run of its own (no parent), e.g. a fit outside a search.

        Parameters
        ----------
        record : mapping
            A trial record (DESIGN.md), such as :func:`seqtune.records.fit_record`'s.
        run_name : str, optional
        tags : mapping, optional
            Extra tags for the run.

        Returns
        -------
        str or None
            The run id; None when the store could not be reached (a
            :class:`TrackingWarning` says so, once).
        """
        def _log_one() -> str | None:
            with self._lock:
                result: list[str] = []

                def _log() -> None:
                    result.append(_log_record_run(self._client, self._ensure_experiment(), record,
                                                  run_name=run_name, extra_tags=dict(tags or {})))

                self._guarded(_log, force=True)
                return result[0] if result else None

        return self._run(_log_one, wait=True)

    def sync(self, state_dir: str | os.PathLike, records: Iterable[Mapping[str, Any]],
             *, wait: bool = True) -> int | None:
        """Log every finished record the store does not have yet; return how many.

        Ignores the offline back-off (it is an explicit request). Reattaches to
        the parent recorded in ``state_dir``, or opens a new parent run when the
        search never reached the store. With ``wait=False`` it is queued, and
        returns None.
        """
        records = list(records)

        def _sync_now() -> int:
            with self._lock:
                if self._state_dir is None or Path(state_dir) != self._state_dir:
                    self._state_dir = Path(state_dir)
                    self._parent_ok = False
                    self._load_state()
                self._queue_records(records)
                before = len(self._logged)

                def _sync() -> None:
                    if self._parent_run_id is None and not self.pending_trials:
                        return  # nothing to log: no empty parent run
                    if self._parent_ok:  # else _ensure_parent adopts them
                        self._adopt_existing_children()
                    self._ensure_parent(mark_running=False)
                    self._flush_pending()
                    if self._parent_created_by_sync:
                        self._client.set_terminated(self._parent_run_id, status="FINISHED")

                self._guarded(_sync, force=True)
                return len(self._logged) - before

        return self._run(_sync_now, wait=wait)

    def close(self) -> None:
        """Wait for every queued call, then stop the worker thread; safe to call twice.

        A later call starts a new worker. Records an outage left unlogged stay in
        :attr:`pending_trials` (and on disk) for :meth:`sync`.
        """
        self._jobs.close()

    # ------------------------------------------------------------------ the queue

    def _run(self, fn: Callable[[], Any], *, wait: bool) -> Any:
        """Run ``fn`` in call order: on the logging queue when in the background."""
        if self.background and not self._jobs.on_worker():
            future = self._jobs.submit(fn)
            return future.result() if wait else None
        return fn()

    def _flush_if_online(self) -> None:
        if self.offline:
            return
        with self._lock:
            self._guarded(self._flush_pending)

    def _retry_pending(self) -> float | None:
        """Idle hook of the queue: retry unlogged records once the back-off is over."""
        if not self.pending_trials:
            return None
        if self.offline:
            return max(self._offline_until - time.monotonic(), 0.05)
        self._flush_if_online()
        return max(self._offline_until - time.monotonic(), 0.05) if self.pending_trials else None

    # ------------------------------------------------------------------- internals

    def _queue_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Add finished records the store does not have yet to the queue."""
        for record in records:
            if str(record.get("status", "")).upper() == "RUNNING":
                continue
            tid = self._trial_id(record)
            if self._needs_logging(tid, record):
                with self._queue_lock:
                    queued = self._pending.get(tid)
                    if queued is None or _scored_seeds(record) > _scored_seeds(queued):
                        self._pending[tid] = dict(record)

    @staticmethod
    def _trial_id(record: Mapping[str, Any]) -> str:
        trial_id = record.get("trial_id")
        if trial_id is None:
            raise ValueError(
                f"trial record has no 'trial_id' (keys: {sorted(record)}); every record "
                "logged as a child run needs the keras-tuner trial id, see DESIGN.md."
            )
        return str(trial_id)

    def _guarded(self, action: Any, force: bool = False) -> bool:
        """Run ``action`` against the store; on any failure warn once and back off."""
        if not force and self.offline:
            return False
        uri = self._resolved_uri()
        try:
            with _short_http_timeouts(uri):
                if self._client is None:
                    from mlflow.tracking import MlflowClient

                    db_path = _sqlite_path(uri)
                    if db_path is not None:
                        db_path.parent.mkdir(parents=True, exist_ok=True)
                    self._client = MlflowClient(tracking_uri=uri)
                action()
        except Exception as exc:  # tracking must never stop a search
            self.last_error = exc
            self._offline_until = time.monotonic() + self._offline_backoff_s
            if not self._warned:
                self._warned = True
                where = f" Trial records stay in {self._state_dir}." if self._state_dir else ""
                warnings.warn(
                    f"MLflow tracking at {uri!r} failed ({type(exc).__name__}: "
                    f"{str(exc)[:300]}). The search goes on without tracking until the "
                    f"store answers again.{where} Missing runs are logged on resume or by "
                    "`seqtune sync`. This warning is shown once.",
                    TrackingWarning,
                    stacklevel=3,
                )
            return False
        self._offline_until = 0.0
        return True


def sync_directory(directory: str | os.PathLike, project_name: str,
                   tracking_uri: str | None = None,
                   experiment_name: str | None = None) -> int:
    """Log to MLflow every finished trial of a search directory that is missing there.

    Reads ``<directory>/<project_name>/trial_*/seqtune_record.json`` and reattaches
    to the parent run recorded in ``<directory>/<project_name>/mlflow_state.json``
    (or opens one named after the project). This is what ``seqtune sync`` runs.

    Returns
    -------
    int
        Number of child runs logged now.

    Raises
    ------
    FileNotFoundError
        If the project directory does not exist.
    """
    project_dir = Path(directory) / project_name
    if not project_dir.is_dir():
        raise FileNotFoundError(
            f"No search directory at {project_dir} (directory={str(directory)!r}, "
            f"project_name={project_name!r}); pass the same directory and project_name "
            "as the search."
        )
    tracker = MlflowTracker(tracking_uri, experiment_name)
    return tracker.sync(project_dir, read_trial_records(project_dir))
