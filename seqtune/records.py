"""Trial records: one JSON file per trial, what the search remembers and the tracker logs.

A record describes one trial (schema in DESIGN.md): its identity, its searched values,
its status (:class:`TrialStatus`), its score and per-epoch history, and how long it
took. The search writes it next to Keras Tuner's ``trial.json``
(``<directory>/<project_name>/trial_<id>/seqtune_record.json``), so a resumed search,
``seqtune sync`` or a person can rebuild the whole search from the directory alone.

This module is the only place that builds, writes, reads and ranks records; the search,
the tracking and the command line all go through it. It imports neither Keras nor
MLflow.
"""

from __future__ import annotations

import contextlib
import enum
import json
import math
import os
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "RECORD_FILENAME",
    "TrialStatus",
    "as_json",
    "best_record",
    "fit_record",
    "fit_summary",
    "is_complete",
    "leaderboard",
    "new_record",
    "rank_records",
    "read_record",
    "read_trial_records",
    "results_frame",
    "write_json_atomic",
    "write_record",
]

#: Name of the per-trial record file, next to Keras Tuner's ``trial.json``.
RECORD_FILENAME = "seqtune_record.json"

# Columns of ``results_`` after the searched parameters, in this order.
_RESULT_COLUMNS = ("score", "status", "stopped_by", "duration_s", "epochs_run", "n_params",
                   "seconds_per_epoch", "fused_kernel", "error")


class TrialStatus(str, enum.Enum):
    """What became of a trial. The values are the strings stored in the records."""

    #: Started, not finished: still training, or its process died.
    RUNNING = "RUNNING"
    #: Trained and scored.
    COMPLETED = "COMPLETED"
    #: Stopped early (the time budget ran out mid-trial); its score still counts.
    PRUNED = "PRUNED"
    #: Raised, or its loss diverged; no score. The record keeps the error.
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        """Whether the trial reached a final status."""
        return self is not TrialStatus.RUNNING

    @property
    def scored(self) -> bool:
        """Whether the trial's score may be the best (completed or pruned)."""
        return self in (TrialStatus.COMPLETED, TrialStatus.PRUNED)

    def __str__(self) -> str:  # "COMPLETED", not "TrialStatus.COMPLETED"
        return self.value


def _status(record: Mapping[str, Any]) -> TrialStatus | None:
    try:
        return TrialStatus(str(record.get("status")).upper())
    except ValueError:
        return None


# ------------------------------------------------------------------------ building


def new_record(
    trial_id: str | None,
    *,
    number: int | None,
    params: Mapping[str, Any],
    objective: Mapping[str, str] | None = None,
    started_at: float | None = None,
) -> dict[str, Any]:
    """A record for a trial that starts now: status RUNNING, nothing measured yet.

    Parameters
    ----------
    trial_id : str or None
        Keras Tuner's trial id (None for a fit outside a search).
    number : int or None
        0-based order of creation.
    params : mapping
        The trial's values, by estimator parameter name.
    objective : mapping, optional
        ``{"name": ..., "direction": "min" | "max"}``.
    started_at : float, optional
        Unix seconds; now when None.

    Returns
    -------
    dict
        Every key of the schema in DESIGN.md, JSON-serialisable.
    """
    params = dict(params)
    return {
        "trial_id": trial_id,
        "number": number,
        "status": TrialStatus.RUNNING.value,
        "params": params,
        "score": None,
        "score_std": None,  # over the folds, when cross-validated
        "objective": None if objective is None else dict(objective),
        "metrics": {},
        "n_folds": 1,
        "folds": [],  # per fold: score, metrics, epochs_run, best_epoch, train_loss, ...
        "stopped_by": None,  # PRUNED trials: "budget" (time ran out) or "pruning"
        "history": {},
        "epochs_run": 0,
        "initial_epoch": 0,  # > 0: a Hyperband trial that went on from its parent's weights
        "duration_s": None,
        "seconds_per_epoch": None,
        "n_params": None,
        "fused_kernel": None,
        "error": None,
        "tags": {k: params[k] for k in ("cell", "bidirectional", "n_layers") if k in params},
        "started_at": time.time() if started_at is None else float(started_at),
        "ended_at": None,
    }


def fit_summary(estimator: Any) -> dict[str, Any]:
    """The record fields a fitted seqtune estimator provides.

    Reads only the documented fitted attributes (``history_``, ``n_epochs_``,
    ``fit_time_``, ``n_params_``, ``fused_kernel_``) and parameters.

    Returns
    -------
    dict
        ``history``, ``epochs_run``, ``seconds_per_epoch``, ``n_params``,
        ``fused_kernel`` and ``tags`` (cell, bidirectional, n_layers, estimator, backend).
    """
    import keras  # already loaded: the estimator was fitted with it

    n_epochs = int(estimator.n_epochs_)
    return {
        "history": {k: [float(v) for v in vals] for k, vals in estimator.history_.items()},
        "epochs_run": n_epochs,
        "seconds_per_epoch": float(estimator.fit_time_) / max(n_epochs, 1),
        "n_params": int(estimator.n_params_),
        "fused_kernel": bool(estimator.fused_kernel_),
        "tags": {
            "cell": estimator.cell,
            "bidirectional": bool(estimator.bidirectional),
            "n_layers": int(estimator.n_layers),
            "estimator": type(estimator).__name__,
            "backend": keras.config.backend(),
        },
    }


def fit_record(estimator: Any) -> dict[str, Any]:
    """A COMPLETED record for one fit outside a search (what :func:`seqtune.track_fit` logs).

    Parameters
    ----------
    estimator : fitted seqtune estimator

    Returns
    -------
    dict
        ``trial_id`` and ``number`` are None; ``params`` are every constructor
        parameter (non-scalar values as their ``repr``).
    """
    params = {
        k: (v if isinstance(v, (str, int, float, bool, type(None))) else repr(v))
        for k, v in estimator.get_params(deep=False).items()
    }
    ended = time.time()
    record = new_record(None, number=None, params=params,
                        started_at=ended - float(estimator.fit_time_))
    record.update(fit_summary(estimator), status=TrialStatus.COMPLETED.value,
                  duration_s=float(estimator.fit_time_), ended_at=ended)
    return record


# --------------------------------------------------------------------------- files


def _json_default(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):  # numpy arrays
        return value.tolist()
    return str(value)


def as_json(value: Any) -> Any:
    """``value`` as it reads back from a record file (tuples become lists, numpy Python)."""
    return json.loads(json.dumps(value, default=_json_default))


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """Write JSON so that a crash leaves the old file or the new one, never half of one.

    The text goes to a temporary file in the same directory, is flushed to disk
    (``fsync``), then replaces ``path`` in one rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1, default=_json_default)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_record(trial_dir: str | os.PathLike, record: Mapping[str, Any]) -> Path:
    """Write ``record`` to ``trial_dir/seqtune_record.json`` atomically; return the path."""
    path = Path(trial_dir) / RECORD_FILENAME
    write_json_atomic(path, dict(record))
    return path


def read_record(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_trial_records(project_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Read every trial record of a search directory, in trial order.

    Parameters
    ----------
    project_dir : path
        ``<directory>/<project_name>`` of a search.

    Returns
    -------
    list of dict
        The records (schema in DESIGN.md), sorted by ``number``, then ``trial_id``.
        Unreadable files are skipped with a warning that names them.
    """
    records = []
    for path in sorted(Path(project_dir).glob(f"trial_*/{RECORD_FILENAME}")):
        record = read_record(path)
        if record is None:
            warnings.warn(f"Skipping unreadable trial record {path}: it is not a JSON object "
                          "(the process was probably killed while writing it).", UserWarning,
                          stacklevel=2)
            continue
        records.append(record)
    records.sort(key=_trial_order)
    return records


def _trial_order(record: Mapping[str, Any]) -> tuple:
    number = record.get("number")
    return (number is None, number or 0, str(record.get("trial_id")))


# ------------------------------------------------------------------------- ranking


def _finite_score(record: Mapping[str, Any]) -> float | None:
    try:
        score = float(record.get("score"))
    except (TypeError, ValueError):
        return None
    return score if math.isfinite(score) else None


def _direction(records: Sequence[Mapping[str, Any]], direction: str | None) -> str:
    if direction is not None:
        return direction
    for record in records:
        found = (record.get("objective") or {}).get("direction")
        if found:
            return found
    return "max"


def is_complete(record: Mapping[str, Any]) -> bool:
    """Whether every fold of a trial trained to its end (none pruned, none cut by the budget)."""
    folds = record.get("folds")
    if not folds:  # written before folds existed: one holdout, complete unless PRUNED
        return str(record.get("status", "")).upper() != TrialStatus.PRUNED.value
    return len(folds) == int(record.get("n_folds") or 1) and not any(f.get("cut") for f in folds)


def rank_records(records: Iterable[Mapping[str, Any]], direction: str | None = None) -> list[dict]:
    """The completed or pruned records with a finite score, best first.

    Trials whose every fold finished rank before the others (a trial stopped after
    some folds has a noisier score); ties go to the lower held-out loss
    (``metrics["val_loss"]``, when measured), then to the earlier trial. Accuracy on
    a few dozen samples ties often.

    Parameters
    ----------
    records : iterable of dict
    direction : {"min", "max"}, optional
        Read from the records' ``objective`` when None.
    """
    records = sorted(records, key=_trial_order)
    scored = [r for r in records if (s := _status(r)) is not None and s.scored
              and _finite_score(r) is not None]
    sign = -1.0 if _direction(records, direction) == "max" else 1.0

    def key(r: Mapping[str, Any]) -> tuple:
        tie = (r.get("metrics") or {}).get("val_loss")
        tie = float(tie) if isinstance(tie, (int, float)) and math.isfinite(tie) else math.inf
        return (not is_complete(r), sign * float(r["score"]), tie)

    return sorted(scored, key=key)


def best_record(records: Iterable[Mapping[str, Any]], direction: str | None = None) -> dict | None:
    """The best completed or pruned record (see :func:`rank_records`), or None when no
    trial has a finite score."""
    ranked = rank_records(records, direction)
    return ranked[0] if ranked else None


def results_frame(records: Sequence[Mapping[str, Any]]):
    """One row per trial, in trial order: what ``SequenceSearch.results_`` holds.

    Columns: ``trial_id``, every searched parameter (NaN where a trial did not have
    it), then ``score`` (the mean over folds), ``status`` (lower case), ``stopped_by``
    (``"pruning"`` or ``"budget"`` for a trial stopped before its last fold), ``duration_s``,
    ``epochs_run``, ``n_params``, ``seconds_per_epoch``, ``fused_kernel`` and ``error``;
    with cross-validation also ``std_score`` and ``split0_score``, ``split1_score``, ...
    (scikit-learn's ``cv_results_`` names; NaN for folds a trial did not reach or that the
    time budget cut short). When some trial was re-scored with other weight seeds
    (``SequenceSearch(intensify=...)``), also ``n_seeds`` (seeds in its score, 1 for the
    others) and ``seed_std`` (their spread).

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    param_names: list[str] = []
    for record in records:
        for name in record.get("params") or {}:
            if name not in param_names:
                param_names.append(name)
    n_folds = max((int(r.get("n_folds") or 1) for r in records), default=1)
    fold_columns = ["std_score", *(f"split{i}_score" for i in range(n_folds))] if n_folds > 1 else []
    seed_columns = ["n_seeds", "seed_std"] if any(r.get("seeds") for r in records) else []
    rows = []
    for r in sorted(records, key=_trial_order):
        row = {"trial_id": r.get("trial_id")}
        row.update({name: (r.get("params") or {}).get(name, float("nan")) for name in param_names})
        row.update({name: r.get(name) for name in _RESULT_COLUMNS})
        row["status"] = str(r.get("status", "")).lower()
        if fold_columns:
            folds = r.get("folds") or []
            # A fold cut by the budget is not in the trial's score unless it is all there is.
            whole = [f for f in folds if not f.get("cut")] or folds[:1]
            row["std_score"] = r.get("score_std")
            row.update({f"split{i}_score": folds[i]["score"] if i < len(folds) and folds[i] in whole
                        else float("nan") for i in range(n_folds)})
        if seed_columns:
            scored = [e for e in r.get("seeds") or [] if e.get("status") == TrialStatus.COMPLETED.value]
            row["n_seeds"] = len(scored) or 1
            row["seed_std"] = r.get("seed_std")
        rows.append(row)
    columns = ["trial_id", *param_names, _RESULT_COLUMNS[0], *fold_columns, *seed_columns,
               *_RESULT_COLUMNS[1:]]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("score", *fold_columns, *seed_columns):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def leaderboard(records: Sequence[Mapping[str, Any]], direction: str | None = None):
    """:func:`results_frame` in :func:`rank_records` order (the best first, as
    :func:`best_record` picks it); unscored trials last, in trial order.

    Returns
    -------
    pandas.DataFrame
    """
    frame = results_frame(records)
    ranked = [str(r.get("trial_id")) for r in rank_records(records, direction)]
    position = {trial_id: i for i, trial_id in enumerate(ranked)}
    key = frame["trial_id"].astype(str).map(lambda t: position.get(t, len(ranked)))
    return frame.iloc[key.argsort(kind="stable")].reset_index(drop=True)
