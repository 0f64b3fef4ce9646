"""Trial records (DESIGN.md, :mod:`seqtune.records`) → MLflow runs."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from ._common import (
    _ERROR_TAG_LEN,
    _MAX_TAG_LEN,
    _RECORD_STATUS_TO_RUN,
    _finite_float,
    _key,
    _ms,
    _value,
)

def _objective_name(record: Mapping[str, Any]) -> str:
    objective = record.get("objective") or {}
    return _key(objective.get("name") or "score")


def _record_tags(record: Mapping[str, Any]) -> dict[str, str]:
    """Tags of a child run: the record's own tags plus the contract's fixed set."""
    tags: dict[str, Any] = dict(record.get("tags") or {})
    for name in ("n_params", "seconds_per_epoch", "fused_kernel", "epochs_run", "number",
                 "n_folds", "stopped_by"):
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
    """Per-epoch history (step = 0-based epoch), the trial's summary metrics, and its folds.

    A Hyperband trial that went on from its parent's weights starts at its
    ``initial_epoch``, so its curve continues the parent's in the MLflow UI. A
    cross-validated trial's folds are metrics with the fold as the step,
    ``fold_<metric>`` (``fold_score``, ``fold_val_loss``, ``fold_mae``...), plus
    ``score_std``; the per-epoch curves are the first fold's.
    """
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
    first = int(record.get("initial_epoch") or 0)
    metrics = []
    for name, values in history.items():
        for i, raw in enumerate(values or ()):
            value = _finite_float(raw)
            if value is not None:
                metrics.append(Metric(_key(name), value, _ms(base + per_epoch * (i + 1)), first + i))
    end_ms = _ms(ended if ended is not None else None)
    folds = record.get("folds") or []
    if len(folds) > 1:
        for i, fold in enumerate(folds):
            # The fold's metrics include the objective's own name.
            values = {f"fold_{k}": v for k, v in (fold.get("metrics") or {}).items()}
            for name, raw in values.items():
                value = _finite_float(raw)
                if value is not None:
                    metrics.append(Metric(_key(name), value, _ms(ended), i))
    seeds = record.get("seeds") or []
    summary = {
        # A re-scored trial's score is its mean over seeds (_seed_metrics); this is the run's.
        _objective_name(record): seeds[0].get("score") if seeds else record.get("score"),
        "score_std": record.get("score_std"),
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


def _scored_seeds(record: Mapping[str, Any]) -> int:
    """How many weight seeds a re-scored trial's ``score`` averages (0: not re-scored)."""
    seeds = record.get("seeds") or []
    scored = [s for s in seeds if str(s.get("status") or "").upper() == "COMPLETED"
              and _finite_float(s.get("score")) is not None]
    return len(scored) if len(scored) > 1 else 0


def _seed_metrics(record: Mapping[str, Any]) -> list[Any]:
    """A re-scored trial's mean over its seeds, ``<objective>_seed_mean``, and ``seed_std``.

    The step is the number of seeds averaged, so a re-scoring a resumed search
    finishes adds a point rather than overwriting one. The objective's own metric
    keeps the first seed's score (the trial as it ran).
    """
    from mlflow.entities import Metric

    step, end_ms = _scored_seeds(record), _ms(None)
    values = {f"{_objective_name(record)}_seed_mean": record.get("score"),
              "seed_std": record.get("seed_std")}
    return [Metric(name, value, end_ms, step) for name, raw in values.items()
            if (value := _finite_float(raw)) is not None]


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
