"""MLflow tracking: one parent run per search, one child run per trial.

The search talks to an :class:`MlflowTracker` through five calls
(``start_search``, ``log_trial``, ``end_search``, ``log_best_model``, ``sync``).
Everything the tracker logs comes from *trial records* (see DESIGN.md), which the
search also writes to disk, so nothing is lost when the tracking store is down:
the tracker warns once, keeps going, and ``sync`` later logs whatever is missing.

Design rules:

* MLflow is imported lazily, inside methods, and only ever through an explicit
  ``MlflowClient(tracking_uri)``; the fluent "active run" API is never used, so two
  searches can track concurrently in one process.
* A trial costs a handful of round trips (create, one ``log_batch`` with every
  param, tag and per-epoch metric, terminate), none of them during training.
* Resume reattaches to the parent recorded in ``<state_dir>/mlflow_state.json`` and
  never logs a trial id twice.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import math
import os
import re
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_TRACKING_URI",
    "MlflowTracker",
    "TrackingWarning",
    "dataset_fingerprint",
    "resolve_tracking_uri",
    "sync_directory",
    "track_fit",
]

#: Store used when neither an URI nor ``MLFLOW_TRACKING_URI`` is given. MLflow 3
#: refuses a bare ``./mlruns`` file store, so the default is sqlite inside it.
DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
DEFAULT_EXPERIMENT_NAME = "seqtune"
STATE_FILE = "mlflow_state.json"
RECORD_FILE = "seqtune_record.json"

# MLflow's own limits (mlflow.utils.validation) on stored values.
_MAX_PARAM_LEN = 6000
_MAX_TAG_LEN = 8000
_ERROR_TAG_LEN = 4000
# After a failure, skip further calls for this long instead of paying a timeout
# per trial; records are kept and logged on the next successful call or sync.
_OFFLINE_BACKOFF_S = 30.0
# Short HTTP client settings for remote stores: a dead server must cost seconds,
# not MLflow's default of 7 retries with exponential backoff and a 120 s timeout.
_HTTP_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    # MlflowClient.set_terminated otherwise fetches the run again (one more round
    # trip per trial) just to print two "View run" lines to stdout.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
# Makes the MLflow 3 UI open a seqtune experiment in its "Model training" view
# (runs table, params, metric charts) instead of the GenAI overview.
_EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}

_RECORD_STATUS_TO_RUN = {"COMPLETED": "FINISHED", "FAILED": "FAILED", "PRUNED": "KILLED"}
_TERMINAL_RUN_STATUSES = {"FINISHED", "FAILED", "KILLED"}


class TrackingWarning(UserWarning):
    """MLflow tracking failed; the search goes on and ``sync`` can catch up later."""


# --------------------------------------------------------------------------- helpers


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """Return the tracking URI the tracker will use.

    Order: the explicit argument, then ``mlflow.set_tracking_uri`` /
    ``MLFLOW_TRACKING_URI``, then :data:`DEFAULT_TRACKING_URI`. A relative sqlite
    path is made absolute against the current directory, so a later ``chdir``
    does not move the store.
    """
    uri = tracking_uri
    if uri is None:
        uri = os.environ.get("MLFLOW_TRACKING_URI") or None
    if uri is None:
        try:
            from mlflow.tracking._tracking_service import utils as _mlflow_uri_utils

            if _mlflow_uri_utils.is_tracking_uri_set():
                uri = _mlflow_uri_utils.get_tracking_uri()
        except Exception:  # private helper moved: fall back to the default
            uri = None
    if uri is None:
        uri = DEFAULT_TRACKING_URI
    uri = str(uri)
    db_path = _sqlite_path(uri)
    if db_path is not None and not db_path.is_absolute():
        uri = "sqlite:///" + str(db_path.resolve())
    return uri


def _sqlite_path(uri: str) -> Path | None:
    """Database file of a ``sqlite:///`` URI, or None for other stores."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    if path in ("", ":memory:"):
        return None
    return Path(path)


def _default_artifact_location(uri: str) -> str | None:
    """Artifacts of a sqlite store go next to its database, in ``artifacts/``.

    MLflow would otherwise put them under ``./mlartifacts`` of whatever directory
    the process runs in. Other stores (servers) choose their own location.
    """
    db_path = _sqlite_path(uri)
    if db_path is None:
        return None
    return (db_path.parent / "artifacts").resolve().as_uri()


def _is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


_http_env_lock = threading.Lock()
_http_env_depth = 0
_http_env_saved: dict[str, str | None] = {}


@contextlib.contextmanager
def _short_http_timeouts(uri: str) -> Iterator[None]:
    """Shorten MLflow's HTTP retries and timeout while a tracker call runs.

    MLflow reads these settings from the environment at request time. Nested and
    concurrent tracker calls share one reference-counted change, which is undone
    when the last one leaves; values the user set are left alone.
    """
    global _http_env_depth
    if not _is_http(uri):
        yield
        return
    with _http_env_lock:
        if _http_env_depth == 0:
            _http_env_saved.clear()
            for key, value in _HTTP_ENV.items():
                if key not in os.environ:
                    _http_env_saved[key] = None
                    os.environ[key] = value
        _http_env_depth += 1
    try:
        yield
    finally:
        with _http_env_lock:
            _http_env_depth -= 1
            if _http_env_depth == 0:
                for key in _http_env_saved:
                    os.environ.pop(key, None)
                _http_env_saved.clear()


def _ms(seconds: float | None) -> int:
    """Unix seconds → MLflow's integer milliseconds (now when unknown)."""
    return int(round((time.time() if seconds is None else float(seconds)) * 1000))


_KEY_BAD_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")


def _key(name: Any) -> str:
    """A param/metric/tag key MLflow accepts (alphanumerics, ``_-. /``)."""
    key = _KEY_BAD_CHARS.sub("_", str(name)).strip("/") or "_"
    return key[:250]


def _value(value: Any, limit: int = _MAX_PARAM_LEN) -> str:
    """Stringify a param/tag value the way a user would read it, within MLflow's limit."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "None"
    elif isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, default=str)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _finite_float(value: Any) -> float | None:
    """Float value for a metric, or None when it is missing or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number  # NaN and inf are kept: MLflow stores them as such


def _write_json_atomic(path: Path, payload: Mapping[str, Any]) -> None:
    """Write JSON so that a crash leaves either the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def dataset_fingerprint(X: Any, y: Any = None) -> dict[str, Any]:
    """Shapes, dtypes and a SHA-256 hash identifying the data a search ran on.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps)
        Input sequences (a 1-D series for forecasters).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
        Targets.

    Returns
    -------
    dict
        ``{"X_shape", "X_dtype", "y_shape", "y_dtype", "sha256"}``; the ``y_*`` keys
        only when ``y`` is given. The hash covers shapes, dtypes and bytes of both.
    """
    import numpy as np

    digest = hashlib.sha256()
    out: dict[str, Any] = {}
    for name, arr in (("X", X), ("y", y)):
        if arr is None:
            continue
        arr = np.asarray(arr)
        if arr.dtype == object:  # ragged input: hash each sequence
            parts = [np.ascontiguousarray(np.asarray(a)) for a in arr]
            out[f"{name}_shape"] = [len(parts)]
            out[f"{name}_dtype"] = "object"
            for part in parts:
                digest.update(str((part.shape, part.dtype.str)).encode())
                digest.update(part.tobytes())
            continue
        arr = np.ascontiguousarray(arr)
        out[f"{name}_shape"] = list(arr.shape)
        out[f"{name}_dtype"] = str(arr.dtype)
        digest.update(str((name, arr.shape, arr.dtype.str)).encode())
        digest.update(arr.tobytes())
    out["sha256"] = digest.hexdigest()
    return out


def _backend_and_device() -> dict[str, str]:
    """Keras backend and the device it computes on, for the parent run's tags."""
    try:
        import keras

        backend = keras.backend.backend()
    except Exception:
        return {"keras_backend": "unavailable", "device": "unknown"}
    device = "cpu"
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            device = f"gpu:{len(gpus)}" if gpus else "cpu"
        elif backend == "jax":
            import jax

            device = jax.devices()[0].platform
        elif backend == "torch":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:
        device = "unknown"
    return {"keras_backend": backend, "device": device}


# --------------------------------------------------------------- logging one record


def _objective_name(record: Mapping[str, Any]) -> str:
    objective = record.get("objective") or {}
    return _key(objective.get("name") or "score")


def _record_tags(record: Mapping[str, Any]) -> dict[str, str]:
    """Tags of a child run: the record's own tags plus the contract's fixed set."""
    tags: dict[str, Any] = dict(record.get("tags") or {})
    for name in ("n_params", "seconds_per_epoch", "fused_kernel", "epochs_run", "number"):
        if record.get(name) is not None:
            tags[name] = record[name]
    if record.get("trial_id") is not None:
        tags["trial_id"] = record["trial_id"]
    tags["seqtune.status"] = record.get("status") or "COMPLETED"
    error = record.get("error")
    if error:
        tags["error"] = str(error)[-_ERROR_TAG_LEN:]  # the end of a traceback says most
    return {_key(k): _value(v, _MAX_TAG_LEN) for k, v in tags.items()}


def _record_times(record: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """``(started_at, ended_at)``; a missing start is derived from end and duration."""
    started, ended = record.get("started_at"), record.get("ended_at")
    if started is None and ended is not None and record.get("duration_s") is not None:
        started = float(ended) - float(record["duration_s"])
    return started, ended


def _record_metrics(record: Mapping[str, Any]) -> list[Any]:
    """Per-epoch history (step = 0-based epoch) plus the trial's summary metrics."""
    from mlflow.entities import Metric

    started, ended = _record_times(record)
    history: Mapping[str, Sequence[Any]] = record.get("history") or {}
    n_epochs = max((len(v) for v in history.values() if v is not None), default=0)
    # No per-epoch wall clock is recorded, so spread the epochs over the trial.
    if started is not None and ended is not None and n_epochs:
        per_epoch = max(float(ended) - float(started), 0.0) / n_epochs
    else:
        per_epoch = 0.0
    base = float(started) if started is not None else time.time()
    metrics = []
    for name, values in history.items():
        for step, raw in enumerate(values or ()):
            value = _finite_float(raw)
            if value is not None:
                metrics.append(Metric(_key(name), value, _ms(base + per_epoch * (step + 1)), step))
    end_ms = _ms(ended if ended is not None else None)
    summary = {
        _objective_name(record): record.get("score"),
        "duration_s": record.get("duration_s"),
        "epochs_run": record.get("epochs_run"),
        "seconds_per_epoch": record.get("seconds_per_epoch"),
        "n_params": record.get("n_params"),
    }
    for name, raw in summary.items():
        value = _finite_float(raw)
        if value is not None:
            metrics.append(Metric(name, value, end_ms, 0))
    return metrics


def _log_record_run(
    client: Any,
    experiment_id: str,
    record: Mapping[str, Any],
    *,
    parent_run_id: str | None = None,
    run_name: str | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> str:
    """Log one trial record as one run; return its run id.

    Round trips: ``create_run``, ``log_batch`` (MLflow splits it into requests of at
    most 1000 metrics / 100 params / 100 tags), an error artifact for failed trials,
    and ``set_terminated``.
    """
    from mlflow.entities import Param

    trial_id = record.get("trial_id")
    name = run_name or (f"trial_{trial_id}" if trial_id is not None else "fit")
    tags = _record_tags(record)
    if parent_run_id is not None:
        tags["mlflow.parentRunId"] = parent_run_id
    tags.update(extra_tags or {})
    started, ended = _record_times(record)
    run = client.create_run(
        experiment_id,
        start_time=_ms(started),
        tags={"mlflow.runName": name, **tags},
        run_name=name,
    )
    run_id = run.info.run_id
    params = [Param(_key(k), _value(v)) for k, v in (record.get("params") or {}).items()]
    client.log_batch(run_id, metrics=_record_metrics(record), params=params)
    error = record.get("error")
    if error:
        client.log_text(run_id, str(error), "error.txt")
    status = _RECORD_STATUS_TO_RUN.get(str(record.get("status") or "COMPLETED").upper(), "FINISHED")
    client.set_terminated(run_id, status=status, end_time=_ms(ended))
    return run_id


# ----------------------------------------------------------------------- plots


def _sort_by_score(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    scored = [r for r in records if _finite_float(r.get("score")) is not None]
    if not scored:
        return []
    direction = (scored[0].get("objective") or {}).get("direction", "max")
    return sorted(scored, key=lambda r: float(r["score"]), reverse=direction == "max")


def _learning_curves_figure(records: Sequence[Mapping[str, Any]], top: int = 5) -> Any | None:
    """Train/validation loss per epoch of the ``top`` best trials."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state

    best = [r for r in _sort_by_score(records) if (r.get("history") or {}).get("loss")][:top]
    if not best:
        return None
    fig = Figure(figsize=(7, 4.5), dpi=100)
    ax = fig.add_subplot()
    for i, record in enumerate(best):
        color = f"C{i}"
        history = record["history"]
        label = f"trial {record.get('trial_id')} ({_objective_name(record)}={float(record['score']):.4g})"
        ax.plot(range(1, len(history["loss"]) + 1), history["loss"], color=color, linestyle="--",
                alpha=0.7)
        if history.get("val_loss"):
            ax.plot(range(1, len(history["val_loss"]) + 1), history["val_loss"], color=color,
                    label=label)
        else:
            ax.lines[-1].set_label(label)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (dashed: train, solid: validation)")
    ax.set_title(f"Learning curves of the top {len(best)} trials")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _score_vs_params_figure(records: Sequence[Mapping[str, Any]]) -> Any | None:
    """One panel per searched parameter: objective against the parameter's value."""
    from matplotlib.figure import Figure

    scored = _sort_by_score(records)
    names = sorted({k for r in scored for k in (r.get("params") or {})})
    names = [n for n in names if len({_value(r["params"].get(n)) for r in scored}) > 1]
    if not scored or not names:
        return None
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(4 * cols, 3.2 * rows), dpi=100)
    objective = _objective_name(scored[0])
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        values = [r["params"].get(name) for r in scored]
        scores = [float(r["score"]) for r in scored]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric:
            ax.scatter(values, scores)
            if min(values) > 0 and max(values) / min(values) >= 100:
                ax.set_xscale("log")
        else:
            cats = sorted({_value(v) for v in values})
            ax.scatter([cats.index(_value(v)) for v in values], scores)
            ax.set_xticks(range(len(cats)), cats, rotation=30, fontsize="small")
        ax.set_xlabel(name)
        ax.set_ylabel(objective)
    fig.tight_layout()
    return fig


def _leaderboard_csv(leaderboard: Any, records: Sequence[Mapping[str, Any]]) -> str:
    """The leaderboard as CSV text; built from the records when none is given."""
    import pandas as pd

    if leaderboard is None:
        rows = []
        for record in _sort_by_score(records) + [
            r for r in records if _finite_float(r.get("score")) is None
        ]:
            row = {"trial_id": record.get("trial_id"), "status": record.get("status"),
                   _objective_name(record): record.get("score"),
                   "epochs_run": record.get("epochs_run"),
                   "duration_s": record.get("duration_s")}
            row.update(record.get("params") or {})
            rows.append(row)
        leaderboard = pd.DataFrame(rows)
    elif not isinstance(leaderboard, pd.DataFrame):
        leaderboard = pd.DataFrame(leaderboard)
    return leaderboard.to_csv(index=False)


# ---------------------------------------------------------------------- tracker


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
            self._offline_until = time.monotonic() + _OFFLINE_BACKOFF_S
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
        for name, make in (("learning_curves.png", _learning_curves_figure),
                           ("score_vs_params.png", _score_vs_params_figure)):
            fig = make(records)
            if fig is not None:
                client.log_figure(run_id, fig, f"plots/{name}")


# --------------------------------------------------------------- pyfunc model


def _pip_requirements() -> list[str]:
    """Pinned requirements for serving: seqtune's runtime deps that are installed."""
    from importlib import metadata

    names = ["mlflow", "numpy", "pandas", "scikit-learn", "joblib", "keras", "pyyaml"]
    backend = _backend_and_device()["keras_backend"]
    names += {"tensorflow": ["tensorflow"], "jax": ["jax"], "torch": ["torch"]}.get(backend, [])
    reqs = []
    for name in names:
        candidates = [name, "tensorflow-cpu"] if name == "tensorflow" else [name]
        for dist in candidates:
            try:
                reqs.append(f"{dist}=={metadata.version(dist)}")
                break
            except metadata.PackageNotFoundError:
                continue
    return reqs


def _log_pyfunc_model(client: Any, experiment_id: str, run_id: str | None, estimator: Any,
                      X_example: Any, *, name: str) -> str:
    """Save ``estimator`` as a pyfunc model and log it as an MLflow 3 logged model.

    Mirrors what ``mlflow.pyfunc.log_model`` does, but through an explicit client
    instead of the global active run.
    """
    import joblib
    import numpy as np
    import mlflow.pyfunc
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model, infer_signature

    import seqtune
    from seqtune._pyfunc import ESTIMATOR_ARTIFACT, MODEL_CODE

    X_example = np.asarray(X_example)
    example = X_example[:5]
    signature = infer_signature(example, np.asarray(estimator.predict(example)))
    model = client.create_logged_model(
        experiment_id, name=name, source_run_id=run_id,
        tags={"seqtune.estimator": type(estimator).__name__}, model_type="seqtune",
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            est_path = os.path.join(tmp, "estimator.joblib")
            joblib.dump(estimator, est_path)
            local = os.path.join(tmp, "model")
            mlflow_model = Model(artifact_path=model.artifact_location, model_uuid=model.model_id,
                                 run_id=run_id, model_id=model.model_id)
            seqtune_dir = Path(seqtune.__path__[0])
            code_file = os.path.join(tmp, "seqtune_model.py")
            Path(code_file).write_text(MODEL_CODE, encoding="utf-8")
            mlflow.pyfunc.save_model(
                local,
                python_model=code_file,
                artifacts={ESTIMATOR_ARTIFACT: est_path},
                signature=signature,
                input_example=example,
                pip_requirements=_pip_requirements(),
                # Ship seqtune's code with the model, so serving needs no seqtune install.
                code_paths=[str(seqtune_dir)],
                mlflow_model=mlflow_model,
            )
            for cache in Path(local).rglob("__pycache__"):
                import shutil

                shutil.rmtree(cache, ignore_errors=True)
            client.log_model_artifacts(model.model_id, local)
        if run_id is not None:
            client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
        client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    except Exception:
        with contextlib.suppress(Exception):
            client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        raise
    return f"models:/{model.model_id}"


# -------------------------------------------------------- estimators used alone


class _FitTracking:
    """What :func:`track_fit` hands back: where runs go and which were logged."""

    def __init__(self, tracking_uri: str | None, experiment_name: str | None,
                 run_name: str | None):
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.run_ids: list[str] = []
        self._tracker = MlflowTracker(tracking_uri, experiment_name)

    def _log(self, estimator: Any, record: Mapping[str, Any]) -> str | None:
        tracker = self._tracker
        result: list[str] = []

        def _do() -> None:
            experiment_id = tracker._ensure_experiment()
            result.append(_log_record_run(
                tracker._client, experiment_id, record,
                run_name=self.run_name or type(estimator).__name__,
                extra_tags={"seqtune.kind": "fit",
                            "estimator": type(estimator).__name__,
                            **_backend_and_device()},
            ))

        tracker._guarded(_do, force=True)
        if result:
            self.run_ids.append(result[0])
            return result[0]
        return None


_fit_tracking: contextvars.ContextVar[_FitTracking | None] = contextvars.ContextVar(
    "seqtune_fit_tracking", default=None)


@contextlib.contextmanager
def track_fit(tracking_uri: str | None = None, experiment_name: str | None = None,
              run_name: str | None = None) -> Iterator[_FitTracking]:
    """Log one MLflow run per estimator ``fit`` inside the ``with`` block.

    Each run has the same content as a search's child run: the estimator's
    params, per-epoch train/validation metrics, status and the tags cell,
    bidirectional, n_layers, n_params, seconds_per_epoch and fused_kernel.
    The setting is a context variable, so it is local to the thread or task.

    Parameters
    ----------
    tracking_uri : str, optional
        As for :class:`MlflowTracker`.
    experiment_name : str, optional
        Default ``"seqtune"``.
    run_name : str, optional
        Default: the estimator's class name.

    Yields
    ------
    handle
        ``handle.run_ids`` lists the runs logged so far.

    Examples
    --------
    >>> from seqtune.tracking import track_fit
    >>> with track_fit(experiment_name="quick-look") as tracked:  # doctest: +SKIP
    ...     SequenceClassifier(units=8).fit(X, y)
    >>> tracked.run_ids  # doctest: +SKIP
    ['3f2a...']
    """
    handle = _FitTracking(tracking_uri, experiment_name, run_name)
    token = _fit_tracking.set(handle)
    try:
        yield handle
    finally:
        _fit_tracking.reset(token)


def _notify_fit(estimator: Any, record: Mapping[str, Any] | None = None) -> str | None:
    """Hook called at the end of every seqtune ``fit``; logs a run inside :func:`track_fit`.

    Costs one context-variable lookup when no tracking was asked for. Never
    raises: tracking problems become a :class:`TrackingWarning`.
    """
    handle = _fit_tracking.get()
    if handle is None:
        return None
    if record is None:
        try:
            from seqtune._base import fit_record

            record = fit_record(estimator)
        except Exception as exc:
            warnings.warn(f"Could not build a trial record for {type(estimator).__name__}: "
                          f"{type(exc).__name__}: {exc}; the fit is not tracked.",
                          TrackingWarning, stacklevel=2)
            return None
    return handle._log(estimator, record)


# ------------------------------------------------------------------ seqtune sync


def _read_records(project_dir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(project_dir.glob(f"trial_*/{RECORD_FILE}")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            warnings.warn(f"Skipping unreadable trial record {path}: {exc}", TrackingWarning,
                          stacklevel=3)
    records.sort(key=lambda r: (r.get("number") is None, r.get("number") or 0,
                                str(r.get("trial_id"))))
    return records


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
