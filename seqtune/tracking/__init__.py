"""MLflow tracking: one parent run per search, one child run per trial.

The search talks to an :class:`MlflowTracker` through six calls
(``start_search``, ``log_trial``, ``end_search``, ``log_best_model``, ``sync``,
``close``); any object with the first five can stand in for it.
Everything the tracker logs comes from *trial records* (see DESIGN.md), which the
search also writes to disk, so nothing is lost when the tracking store is down:
the tracker warns once, keeps going, and logs whatever is missing when the store
answers again, on resume, or on ``seqtune sync`` (:func:`sync_directory`).

Design rules:

* MLflow is imported lazily, inside functions, and only ever through an explicit
  ``MlflowClient(tracking_uri)``; the fluent "active run" API is never used, so two
  searches can track concurrently in one process.
* A trial costs a handful of round trips (create, one ``log_batch`` with every
  param, tag and per-epoch metric, terminate), made by the tracker's one logging
  queue (a single worker thread), never during training.
* Resume reattaches to the parent recorded in ``<state_dir>/mlflow_state.json`` and
  never logs a trial id twice.

Modules: ``_common`` (URIs, HTTP settings, value coercion), ``_queue`` (the one
logging queue), ``_records`` (record → run), ``_store`` (parent run, children and
state file in the store), ``_report`` (summary, leaderboard and plots),
``_tracker`` (:class:`MlflowTracker`, :func:`sync_directory`), ``_serving``
(:func:`pack_sequences`, :func:`pack_history`: the one array a logged model takes;
:func:`input_example`), ``_model`` and
``_pyfunc`` (the best model as a pyfunc model; ``_pyfunc`` is imported by every
logged model and must not move), ``_fit`` (:func:`track_fit` for estimators used
alone). Trial records themselves live in :mod:`seqtune.records`.
"""

from seqtune.fingerprint import dataset_fingerprint

from ._common import DEFAULT_TRACKING_URI, TrackingWarning, resolve_tracking_uri
from ._fit import track_fit
from ._serving import input_example, pack_history, pack_sequences
from ._tracker import MlflowTracker, sync_directory

__all__ = [
    "DEFAULT_TRACKING_URI",
    "MlflowTracker",
    "TrackingWarning",
    "dataset_fingerprint",
    "input_example",
    "pack_history",
    "pack_sequences",
    "resolve_tracking_uri",
    "sync_directory",
    "track_fit",
]
