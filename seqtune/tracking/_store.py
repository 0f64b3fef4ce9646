"""How a search lies in the MLflow store: its experiment, parent run, child runs and state file.

:class:`_RunStore` holds that state for :class:`~seqtune.tracking.MlflowTracker` and
makes the store calls; the tracker decides when they run (its logging queue) and
guards them (one warning, back-off). Every method here may raise a store error and
runs with the tracker's lock held.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from pathlib import Path
from typing import Any

from seqtune.device import backend_and_device
from seqtune.records import write_json_atomic

from ._common import (
    _EXPERIMENT_TAGS,
    _MAX_TAG_LEN,
    _TERMINAL_RUN_STATUSES,
    DEFAULT_EXPERIMENT_NAME,
    STATE_FILE,
    TrackingWarning,
    _default_artifact_location,
    _key,
    _value,
    resolve_tracking_uri,
)
from ._records import _log_record_run, _scored_seeds, _seed_metrics

__all__: list[str] = []


class _RunStore:
    """Store-side state of a tracked search (see the tracker for the attributes' meaning)."""

    tracking_uri: str | None
    experiment_name: str | None
    _uri: str | None
    _client: Any
    _state_dir: Path | None
    _experiment_id: str | None
    _parent_run_id: str | None
    _logged: dict[str, str]
    _seeds_logged: dict[str, int]  # trial id -> seeds its run's _seed_metrics average
    _pending: dict[str, Any]
    _uncertain: set[str]
    _start_kwargs: dict[str, Any] | None
    _parent_ok: bool
    _parent_created_by_sync: bool
    _queue_lock: threading.Lock

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
        self._seeds_logged.update({str(k): int(v) for k, v in (state.get("seeds_logged") or {}).items()})

    def _save_state(self) -> None:
        path = self._state_path()
        if path is None:
            return
        write_json_atomic(path, {
            "tracking_uri": self._resolved_uri(),
            "experiment_id": self._experiment_id,
            "parent_run_id": self._parent_run_id,
            "logged": self._logged,
            "seeds_logged": self._seeds_logged,
        })

    def _needs_logging(self, trial_id: str, record: Any) -> bool:
        """Not in the store yet, or re-scored with more seeds than its run shows."""
        return (trial_id not in self._logged
                or _scored_seeds(record) > self._seeds_logged.get(trial_id, 0))

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
            self._seeds_logged.clear()
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
        tags = {"seqtune.kind": "search", **backend_and_device()}
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
            self._seeds_logged.pop(tid, None)
        self._logged.update(found)
        with self._queue_lock:
            for tid in found:
                if not self._needs_logging(tid, self._pending.get(tid, {})):
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
            n_seeds = _scored_seeds(record)
            if n_seeds > self._seeds_logged.get(trial_id, 0):
                # Re-scored: the run gets the mean the search ranked it by.
                from mlflow.entities import RunTag

                self._client.log_batch(self._logged[trial_id], metrics=_seed_metrics(record),
                                       tags=[RunTag("n_seeds", str(n_seeds))])
                self._seeds_logged[trial_id] = n_seeds
                self._save_state()
            with self._queue_lock:
                self._pending.pop(trial_id, None)
