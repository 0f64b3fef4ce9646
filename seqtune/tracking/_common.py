"""Shared pieces of the tracker: store URIs, HTTP settings, value coercion."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
DEFAULT_EXPERIMENT_NAME = "seqtune"
STATE_FILE = "mlflow_state.json"

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
