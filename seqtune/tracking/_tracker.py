"""MlflowTracker: a search's parent run, its child runs, resume state and sync."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._common import (
    _EXPERIMENT_TAGS,
    _MAX_TAG_LEN,
    _OFFLINE_BACKOFF_S,
    _TERMINAL_RUN_STATUSES,
    DEFAULT_EXPERIMENT_NAME,
    STATE_FILE,
    TrackingWarning,
    _backend_and_device,
    _default_artifact_location,
    _finite_float,
    _key,
    _ms,
    _short_http_timeouts,
    _sqlite_path,
    _value,
    _write_json_atomic,
    resolve_tracking_uri,
)
from ._model import _log_pyfunc_model
from ._records import _log_record_run, _read_records
from ._report import _leaderboard_csv, _render_plots, _warm_plotting

class MlflowTracker:
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
        Log trial records from a worker thread, so a slow or distant store never
        delays the search; :meth:`flush`, :meth:`end_search` and :meth:`sync`
        wait for it. With False, :meth:`log_trial` logs before returning.

    Notes
    -----
    No method raises because of the tracking store: the first failure emits one
    :class:`TrackingWarning`, the tracker skips the store for a short while, keeps
    the records it could not log, and logs them when the store answers again
    (the worker retries after the back-off), or on :meth:`sync`. State that lets a resumed search reattach lives in
    ``<state_dir>/mlflow_state.json``.

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
        self._wakeup = threading.Condition(self._queue_lock)
        self._worker: threading.Thread | None = None
        self._closed = False
        self._uri: str | None = None
        self._client: Any = None
        self._state_dir: Path | None = None
        self._experiment_id: str | None = None
        self._parent_run_id: str | None = None
        self._logged: dict[str, str] = {}
        self._pending: dict[str, Mapping[str, Any]] = {}
        self._uncertain: set[str] = set()
        self._start_kwargs: dict[str, Any] | None = None
        self._parent_ok = False
        self._parent_created_by_sync = False
        self._warned = False
        self._offline_until = 0.0
        self._offline_backoff_s = _OFFLINE_BACKOFF_S
        self.last_error: BaseException | None = None

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
            Extra tags for the parent run.
        space_yaml : str or path, optional
            The search space, as YAML text or a path to the YAML file; logged as
            the artifact ``search_space.yaml``.
        fingerprint : mapping, optional
            Dataset fingerprint, e.g. from :func:`dataset_fingerprint`; logged as
            ``data.*`` params.

        Returns
        -------
        str or None
            The parent run id, or None when the store could not be reached.
        """
        with self._lock:
            self._state_dir = Path(state_dir)
            self._start_kwargs = {
                "run_name": run_name, "params": dict(params or {}), "tags": dict(tags or {}),
                "space_yaml": space_yaml, "fingerprint": dict(fingerprint or {}),
            }
            self._parent_ok = False
            self._load_state()
            self._guarded(lambda: self._ensure_parent(mark_running=True), force=True)
        _warm_plotting()
        return self._parent_run_id

    def log_trial(self, record: Mapping[str, Any]) -> str | None:
        """Log one trial record as a child run of the parent; idempotent by ``trial_id``.

        With ``background=True`` (the default) the record is queued and a worker
        thread logs it, so the search never waits for the store; :meth:`flush`,
        :meth:`end_search` and :meth:`sync` wait for the queue. Records still
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
        if trial_id in self._logged:
            return self._logged[trial_id]
        with self._wakeup:
            self._pending[trial_id] = dict(record)
            if self.background:
                if self._worker is None or not self._worker.is_alive():
                    self._closed = False
                    self._worker = threading.Thread(target=self._work, daemon=True,
                                                    name=f"seqtune-mlflow-{id(self):x}")
                    self._worker.start()
                self._wakeup.notify()
                return None
        if self.offline:
            return None
        with self._lock:
            self._guarded(self._flush_pending)
        return self._logged.get(trial_id)

    def flush(self) -> int:
        """Log every queued record now, ignoring the offline back-off.

        Returns
        -------
        int
            How many records are still waiting (0 when the store took them all).
        """
        with self._lock:
            self._guarded(self._flush_pending, force=True)
        return len(self.pending_trials)

    def _work(self) -> None:
        """Worker thread: log queued records; after a failure, retry once the back-off ends."""
        while True:
            with self._wakeup:
                while not self._closed and (not self._pending or self.offline):
                    wait = self._offline_until - time.monotonic() if self._pending else None
                    self._wakeup.wait(None if wait is None else max(wait, 0.05))
                if self._closed:
                    return
            with self._lock:
                self._guarded(self._flush_pending)

    def end_search(
        self,
        *,
        best_score: float | None = None,
        best_params: Mapping[str, Any] | None = None,
        leaderboard: Any = None,
        records: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Close the parent run: best score and params, leaderboard CSV and plots.

        ``records`` (every trial record of the search) are also logged when still
        missing, and feed the plots; ``leaderboard`` may be a DataFrame or a list
        of row dicts, and is built from ``records`` when omitted.
        """
        records = list(records or [])
        with self._lock:
            self._queue(records)

            def _end() -> None:
                self._ensure_parent(mark_running=False)
                self._flush_pending()
                self._log_summary(best_score, best_params, leaderboard, records)
                self._client.set_terminated(self._parent_run_id, status="FINISHED")

            self._guarded(_end, force=True)
            with self._wakeup:  # the worker has nothing left to do
                self._closed = True
                self._wakeup.notify_all()

    def log_best_model(self, estimator: Any, X_example: Any) -> str | None:
        """Log a fitted estimator as an MLflow ``pyfunc`` model on the parent run.

        Parameters
        ----------
        estimator : fitted estimator
            Anything picklable with a ``predict`` method (the search's best).
        X_example : ndarray of shape (n_samples, n_timesteps, n_features)
            A few input rows: the signature (tensor based, 3-D) is inferred from
            them and ``estimator.predict(X_example)``, and up to 5 are stored as
            the input example.

        Returns
        -------
        str or None
            ``models:/<model_id>``, loadable with ``mlflow.pyfunc.load_model`` and
            registrable with ``mlflow.register_model(uri, name)``; None when the
            store could not be reached.
        """
        with self._lock:
            result: list[str] = []

            def _log() -> None:
                self._ensure_parent(mark_running=False)
                result.append(
                    _log_pyfunc_model(self._client, self._experiment_id, self._parent_run_id,
                                      estimator, X_example, name="best_model")
                )

            self._guarded(_log, force=True)
            return result[0] if result else None

    def sync(self, state_dir: str | os.PathLike, records: Iterable[Mapping[str, Any]]) -> int:
        """Log every finished record the store does not have yet; return how many.

        Ignores the offline back-off (it is an explicit request). Reattaches to
        the parent recorded in ``state_dir``, or opens a new parent run when the
        search never reached the store.
        """
        with self._lock:
            if self._state_dir is None or Path(state_dir) != self._state_dir:
                self._state_dir = Path(state_dir)
                self._parent_ok = False
                self._load_state()
            self._queue(records)
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

    # ------------------------------------------------------------------- internals

    def _queue(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Add finished records the store does not have yet to the queue."""
        for record in records:
            if str(record.get("status", "")).upper() == "RUNNING":
                continue
            tid = self._trial_id(record)
            if tid not in self._logged:
                with self._queue_lock:
                    self._pending.setdefault(tid, dict(record))

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

    def _resolved_uri(self) -> str:
        if self._uri is None:
            self._uri = resolve_tracking_uri(self.tracking_uri)
        return self._uri

    def _state_path(self) -> Path | None:
        return None if self._state_dir is None else self._state_dir / STATE_FILE

    def _load_state(self) -> None:
        """Read ``mlflow_state.json``; state from another store is ignored."""
        path = self._state_path()
        if path is None or not path.is_file():
            return
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            warnings.warn(f"Ignoring unreadable MLflow state file {path}: {exc}", TrackingWarning,
                          stacklevel=3)
            return
        if state.get("tracking_uri") not in (None, self._resolved_uri()):
            return  # a different store: start a fresh parent there
        self._experiment_id = state.get("experiment_id") or self._experiment_id
        self._parent_run_id = state.get("parent_run_id") or self._parent_run_id
        self._logged.update({str(k): v for k, v in (state.get("logged") or {}).items()})

    def _save_state(self) -> None:
        path = self._state_path()
        if path is None:
            return
        _write_json_atomic(path, {
            "tracking_uri": self._resolved_uri(),
            "experiment_id": self._experiment_id,
            "parent_run_id": self._parent_run_id,
            "logged": self._logged,
        })

    def _ensure_experiment(self) -> str:
        if self._experiment_id is not None:
            return self._experiment_id
        client = self._client
        name = self.experiment_name or DEFAULT_EXPERIMENT_NAME
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            try:
                self._experiment_id = client.create_experiment(
                    name, artifact_location=_default_artifact_location(self._resolved_uri()),
                    tags=_EXPERIMENT_TAGS)
                return self._experiment_id
            except Exception:
                # Another process or thread created it in between.
                experiment = client.get_experiment_by_name(name)
                if experiment is None:
                    raise
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        self._experiment_id = experiment.experiment_id
        return self._experiment_id

    def _ensure_parent(self, *, mark_running: bool) -> None:
        """Create the parent run, or reattach to the one from the state file.

        The check runs once per tracker; later calls cost no round trip. When
        reattaching, children already in the store are adopted, and with
        ``mark_running`` (a resumed search) the parent is set RUNNING again.
        """
        if self._parent_ok:
            return
        client = self._client
        if self._parent_run_id is not None:
            try:
                run = client.get_run(self._parent_run_id)
            except Exception as exc:
                if "RESOURCE_DOES_NOT_EXIST" not in str(getattr(exc, "error_code", "")):
                    raise
                run = None  # deleted from the store: start over there
            if run is not None and run.info.lifecycle_stage != "deleted":
                self._experiment_id = run.info.experiment_id
                if mark_running:
                    if run.info.status != "RUNNING":
                        client.update_run(self._parent_run_id, status="RUNNING")
                    resumed = int(run.data.tags.get("seqtune.resumed", "0")) + 1
                    client.set_tag(self._parent_run_id, "seqtune.resumed", str(resumed))
                self._adopt_existing_children()
                self._parent_ok = True
                return
            self._parent_run_id = None
            self._logged.clear()
        experiment_id = self._ensure_experiment()
        self._parent_run_id = self._create_parent(experiment_id)
        self._parent_created_by_sync = self._start_kwargs is None
        self._parent_ok = True
        self._save_state()

    def _create_parent(self, experiment_id: str) -> str:
        from mlflow.entities import Param

        kwargs = self._start_kwargs or {
            "run_name": self._state_dir.name if self._state_dir else None,
            "params": {}, "tags": {"seqtune.created_by": "sync"},
            "space_yaml": None, "fingerprint": {},
        }
        client = self._client
        tags = {"seqtune.kind": "search", **_backend_and_device()}
        if self._state_dir is not None:
            tags["seqtune.directory"] = str(Path(self._state_dir).resolve())
        tags.update(kwargs["tags"])
        tags = {_key(k): _value(v, _MAX_TAG_LEN) for k, v in tags.items()}
        run = client.create_run(experiment_id, tags=tags, run_name=kwargs["run_name"])
        run_id = run.info.run_id
        params = dict(kwargs["params"])
        params.update({f"data.{k}": v for k, v in kwargs["fingerprint"].items()})
        client.log_batch(run_id, params=[Param(_key(k), _value(v)) for k, v in params.items()])
        space_yaml = kwargs["space_yaml"]
        if space_yaml is not None:
            if isinstance(space_yaml, os.PathLike) or (
                isinstance(space_yaml, str) and "\n" not in space_yaml
                and len(space_yaml) < 4096 and os.path.isfile(space_yaml)
            ):
                space_yaml = Path(space_yaml).read_text(encoding="utf-8")
            client.log_text(run_id, str(space_yaml), "search_space.yaml")
        return run_id

    def _adopt_existing_children(self) -> None:
        """Record child runs already in the store, so that no trial is logged twice.

        Covers a crash between logging a run and writing the state file. Runs
        left unfinished by an interrupted ``log_trial`` are deleted and re-logged.
        """
        client = self._client
        found: dict[str, str] = {}
        stale: list[str] = []
        token = None
        while True:
            page = client.search_runs(
                [self._experiment_id],
                filter_string=f"tags.mlflow.parentRunId = '{self._parent_run_id}'",
                max_results=1000, page_token=token,
            )
            for run in page:
                tid = run.data.tags.get("trial_id")
                if tid is None:
                    continue
                if run.info.status in _TERMINAL_RUN_STATUSES:
                    found.setdefault(tid, run.info.run_id)
                else:
                    stale.append(run.info.run_id)
            token = page.token
            if not token:
                break
        for run_id in stale:
            client.delete_run(run_id)
        changed = any(self._logged.get(t) != r for t, r in found.items())
        # Ids in the state file whose run vanished from the store must be re-logged.
        gone = [t for t in self._logged if t not in found]
        for tid in gone:
            del self._logged[tid]
        self._logged.update(found)
        with self._queue_lock:
            for tid in found:
                self._pending.pop(tid, None)
        self._uncertain.clear()
        if changed or gone:
            self._save_state()

    def _flush_pending(self) -> None:
        """Log the queued records, oldest first (caller holds ``_lock``)."""
        with self._queue_lock:
            if not self._pending:
                return
        self._ensure_parent(mark_running=False)
        if self._uncertain:
            self._adopt_existing_children()
        with self._queue_lock:
            order = sorted(self._pending.items(), key=lambda kv: (
                kv[1].get("number") is None, kv[1].get("number") or 0, kv[0]))
        for trial_id, record in order:
            if trial_id not in self._logged:
                self._uncertain.add(trial_id)  # a failure from here on may leave a partial run
                run_id = _log_record_run(self._client, self._experiment_id, record,
                                         parent_run_id=self._parent_run_id)
                self._logged[trial_id] = run_id
                self._uncertain.discard(trial_id)
                self._save_state()
            with self._queue_lock:
                self._pending.pop(trial_id, None)

    def _log_summary(self, best_score: Any, best_params: Mapping[str, Any] | None,
                     leaderboard: Any, records: Sequence[Mapping[str, Any]]) -> None:
        from mlflow.entities import Metric, RunTag

        client = self._client
        run_id = self._parent_run_id
        metrics = []
        score = _finite_float(best_score)
        if score is not None:
            metrics.append(Metric("best_score", score, _ms(None), len(records)))
        metrics.append(Metric("n_trials", float(len(records)), _ms(None), 0))
        counts: dict[str, int] = {}
        for record in records:
            status = str(record.get("status") or "COMPLETED").upper()
            counts[status] = counts.get(status, 0) + 1
        for status, count in counts.items():
            metrics.append(Metric(f"n_trials_{status.lower()}", float(count), _ms(None), 0))
        # Tags, not params: a resumed search may end with a different best.
        tags = [RunTag(_key(f"best.{k}"), _value(v, _MAX_TAG_LEN))
                for k, v in (best_params or {}).items()]
        client.log_batch(run_id, metrics=metrics, tags=tags)
        if best_params is not None:
            client.log_dict(run_id, {"best_score": best_score, "best_params": dict(best_params)},
                            "best_params.json")
        if records or leaderboard is not None:
            client.log_text(run_id, _leaderboard_csv(leaderboard, records), "leaderboard.csv")
        with tempfile.TemporaryDirectory() as tmp:
            for path in _render_plots(records, tmp):
                client.log_artifact(run_id, path, "plots")


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
    return tracker.sync(project_dir, _read_records(project_dir))
