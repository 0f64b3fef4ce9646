"""Hyperparameter search over recurrent estimators, driven by Keras Tuner.

Keras Tuner is the engine: its oracles (random, Bayesian, Hyperband) choose the values
and own the trial lifecycle. This module adds what Keras Tuner lacks for sequence
models:

* a scikit-learn entry point, :class:`SequenceSearch`, whose trials are
  ``clone(estimator).set_params(**values)``, so anything searchable is settable by hand;
* search spaces that may name ``sequence_length``, ``stride`` or ``lookback``, narrowed
  to what the data allows before the first trial;
* a wall-clock budget, failed-trial recording, and crash-safe resume (a trial record is
  written atomically next to Keras Tuner's ``trial.json``).

A record per trial lives in ``<directory>/<project_name>/trial_<id>/seqtune_record.json``
(schema in DESIGN.md), so a resumed search, ``seqtune sync`` or a person can rebuild
the whole search from the directory alone.

Distributed search
------------------
Keras Tuner's own chief/worker mode (environment variables ``KERASTUNER_TUNER_ID``,
``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``) works unchanged: run the same
script on every machine. The chief only serves the oracle; when all trials are done it
reads the trial records (give every process the same ``directory`` on a shared file
system to see the workers' records), refits the best configuration and logs to MLflow.
Workers run trials and leave ``best_estimator_`` as None.

Keras Tuner's chief waits for every trial it handed out. A worker killed mid-trial
never reports back, so the chief would wait forever; pass ``trial_timeout`` (seconds)
to make the chief record such a trial as FAILED and release the dead worker.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

__all__ = ["SequenceSearch", "read_trial_records", "RECORD_FILENAME"]

#: Name of the per-trial record file, next to Keras Tuner's ``trial.json``.
RECORD_FILENAME = "seqtune_record.json"
# Hyperband only: a completed trial's weights, which the trial that continues it loads.
WEIGHTS_FILENAME = "seqtune_trial.weights.h5"
# The search's own metadata (fingerprint, space, tuner) in the project directory.
_STATE_FILENAME = "seqtune_search.json"

_TUNERS = ("bayesian", "random", "hyperband")
_FORECAST_METRICS = ("mae", "rmse", "smape", "mase")
# Substrings that tell an objective's direction when the user gives only its name.
_MIN_HINTS = ("loss", "mae", "mse", "rmse", "smape", "mase", "error")
_MAX_HINTS = ("score", "accuracy", "acc", "auc", "r2", "precision", "recall", "f1")
_TERMINAL = ("COMPLETED", "PRUNED", "FAILED")


# --------------------------------------------------------------------------- records


def _write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON so that a kill mid-write leaves the old file or the new one."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, default=_json_default))
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def read_trial_records(project_dir: str | os.PathLike) -> list[dict]:
    """Read every trial record of a search directory, in trial order.

    Parameters
    ----------
    project_dir : path
        ``<directory>/<project_name>`` of a search.

    Returns
    -------
    list of dict
        The records (schema in DESIGN.md), sorted by ``number``. Unreadable files are
        skipped with a warning.
    """
    records = []
    for path in sorted(Path(project_dir).glob(f"trial_*/{RECORD_FILENAME}")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            warnings.warn(f"Skipping unreadable trial record {path}: {exc}", stacklevel=2)
    records.sort(key=lambda r: (r.get("number", 0), str(r.get("trial_id"))))
    return records


# ------------------------------------------------------------------- small helpers


def _estimator_task(estimator: Any) -> str:
    from seqtune._base import BaseSequenceEstimator

    if not isinstance(estimator, BaseSequenceEstimator):
        raise TypeError(
            f"SequenceSearch got estimator={estimator!r}, which is not a seqtune estimator. "
            "Expected SequenceClassifier(), SequenceRegressor() or SequenceForecaster()."
        )
    params = estimator.get_params()
    # A forecaster may also call itself a regressor, so it is recognised first.
    if "horizon" in params and "lookback" in params and hasattr(estimator, "evaluate"):
        return "forecasting"
    if is_classifier(estimator):
        return "classification"
    if is_regressor(estimator):
        return "regression"
    raise TypeError(
        f"SequenceSearch got estimator={estimator!r}, which is neither a classifier, "
        "a regressor nor a forecaster. Expected a seqtune estimator such as "
        "SequenceClassifier(), SequenceRegressor() or SequenceForecaster()."
    )


def _resolve_objective(objective: Any, task: str):
    """Return a ``keras_tuner.Objective`` for the objective given by the user."""
    import keras_tuner as kt

    if objective is None:
        if task == "forecasting":
            return kt.Objective("mae", direction="min")
        return kt.Objective("score", direction="max")
    if isinstance(objective, kt.Objective):
        return objective
    if not isinstance(objective, str) or not objective:
        raise ValueError(
            f"objective={objective!r} is not valid; expected None, a metric name such as "
            "'score' or 'val_loss', or keras_tuner.Objective(name, direction)."
        )
    name = objective
    lowered = name.lower()
    if any(h in lowered for h in _MIN_HINTS):
        direction = "min"
    elif any(h in lowered for h in _MAX_HINTS):
        direction = "max"
    else:
        raise ValueError(
            f"Cannot tell whether objective={objective!r} should be minimised or "
            "maximised. Pass keras_tuner.Objective("
            f"{objective!r}, direction='min') or direction='max'."
        )
    return kt.Objective(name, direction=direction)


def _check_objective_for_task(name: str, task: str) -> None:
    if name == "score" or name.startswith("val_") or name == "loss":
        return
    if task == "forecasting" and name in _FORECAST_METRICS:
        return
    if (task, name) in (("classification", "accuracy"), ("regression", "r2")):
        return
    accepted = "'score', 'loss', or a validation metric such as 'val_loss'"
    if task == "forecasting":
        accepted = f"one of {list(_FORECAST_METRICS)}, 'loss' or 'val_loss'"
    raise ValueError(f"objective={name!r} is not available for {task}; expected {accepted}.")


def _n_rows(data: Any) -> int:
    return int(data.shape[0]) if hasattr(data, "shape") else len(data)


def _take_rows(data: Any, start: int, stop: int | None) -> Any:
    """Positional slice of rows for arrays, pandas objects and lists."""
    if data is None:
        return None
    if hasattr(data, "iloc"):
        return data.iloc[start:stop]
    return data[start:stop]


def _longest_sequence(X: Any) -> int:
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 2:
        return int(shape[1])
    return int(max(len(np.asarray(x)) for x in X))


def _space_max(hp: Any) -> float | None:
    """Largest value a registered Keras Tuner hyperparameter can take."""
    config = hp.get_config()
    if "max_value" in config:
        return config["max_value"]
    if "values" in config:
        numbers = [v for v in config["values"] if isinstance(v, (int, float))]
        return max(numbers) if numbers else None
    if "value" in config and isinstance(config["value"], (int, float)):
        return config["value"]
    return None


def _is_finite_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------- keras callbacks


def _make_callbacks(deadline: float | None) -> tuple[list, Any]:
    """Per-trial Keras callbacks: stop on a NaN loss, and at the budget's end."""
    import keras

    class _Deadline(keras.callbacks.Callback):
        """Stop training at the first epoch boundary past the search's deadline."""

        def __init__(self, deadline: float | None) -> None:
            super().__init__()
            self.deadline = deadline
            self.cut = False

        def on_epoch_end(self, epoch, logs=None):
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self.cut = True
                self.model.stop_training = True

    deadline_cb = _Deadline(deadline)
    return [keras.callbacks.TerminateOnNaN(), deadline_cb], deadline_cb


class _BudgetExhausted(Exception):
    """Raised between trials when the time budget is spent; ends the search loop."""


class _NonFiniteLoss(RuntimeError):
    """A trial's training loss became NaN or infinite."""


# ---------------------------------------------------------------- the tuner class


def _make_tuner_class():
    """Define the Keras Tuner subclasses lazily, so importing seqtune stays light."""
    import keras_tuner as kt

    class _SpaceHyperModel(kt.HyperModel):
        """Registers the search space; ``build`` returns the estimator's param values."""

        def __init__(self, space: Any) -> None:
            super().__init__(name="seqtune_space")
            self.space = space

        def build(self, hp):
            return self.space.build(hp)

    class SeqTuner(kt.Tuner):
        """A Keras Tuner whose trial fits a cloned seqtune estimator.

        The search loop, the oracle and the distributed plumbing are Keras Tuner's. This
        class only overrides ``run_trial`` (no checkpoints, no TensorBoard callback: the
        fitted estimator is refitted at the end instead), the hooks between trials (the
        time budget) and ``reload`` (repair of state left by a killed process).
        """

        def __init__(self, *, search: "SequenceSearch", runner: "_TrialRunner", **kwargs):
            self._search = search
            self._runner = runner
            self.deadline: float | None = None
            super().__init__(hypermodel=_SpaceHyperModel(runner.space), **kwargs)

        # -- between trials ------------------------------------------------------
        def pre_create_trial(self):
            # A distributed worker must keep asking the chief until it answers STOPPED,
            # or the chief waits for it forever; the chief enforces the budget instead.
            if self.deadline is not None and time.monotonic() >= self.deadline and not self._is_worker():
                raise _BudgetExhausted

        def on_trial_begin(self, trial):
            self._runner.on_trial_begin(trial)

        # -- one trial -----------------------------------------------------------
        def run_trial(self, trial, *args, **kwargs):
            return self._runner.run(trial, self)

        def save_model(self, trial_id, model, step=0):  # models are not checkpointed
            return None

        def load_model(self, trial):
            raise NotImplementedError(
                "seqtune does not keep per-trial models; use SequenceSearch.best_estimator_, "
                "refitted on all the data with the best parameters."
            )

        # -- resume ----------------------------------------------------------------
        def reload(self):
            super().reload()
            if not self._is_worker():
                _repair_oracle_state(self.oracle)

    return SeqTuner


def _repair_oracle_state(oracle: Any) -> None:
    """Make a reloaded oracle consistent after a process was killed.

    Keras Tuner saves a trial's ``trial.json`` and ``oracle.json`` in two steps. A kill
    between them leaves either a finished trial still listed as running (it would run
    again) or a started trial listed nowhere (it would never run and never finish).
    """
    from keras_tuner.src.engine import trial as trial_module

    finished = (
        trial_module.TrialStatus.COMPLETED,
        trial_module.TrialStatus.FAILED,
    )
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


class _BackgroundTracker:
    """Runs a tracker's calls on one background thread, in order, off the training path.

    Trials only enqueue their records; the search waits for the queue at its end (and
    before asking for the best model's URI). A tracker must never cost a trial, so an
    exception from it is turned into one warning.
    """

    def __init__(self, tracker: Any) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.tracker = tracker
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqtune-tracking")
        self._futures: list = []
        self._warned = False

    def _guard(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.tracker, method)(*args, **kwargs)
        except Exception as exc:  # tracking must never cost the search
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"Tracking failed in {method} ({type(exc).__name__}: {exc}); the search "
                    "goes on and trial records stay in the search directory (seqtune sync).",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return None

    def submit(self, method: str, *args: Any, **kwargs: Any) -> None:
        self._futures.append(self._pool.submit(self._guard, method, *args, **kwargs))

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run after everything queued so far, and return the result."""
        return self._pool.submit(self._guard, method, *args, **kwargs).result()

    def close(self) -> None:
        """Wait for every queued call; safe to call twice."""
        for future in self._futures:
            future.result()
        self._futures = []
        self._pool.shutdown(wait=True)


class _TrialRunner:
    """Runs one trial: fit a clone on the train split, score it on the validation split."""

    def __init__(
        self,
        *,
        search: "SequenceSearch",
        estimator: Any,
        task: str,
        space: Any,
        objective: Any,
        data: dict,
        hyperband: bool,
        tracker: Any,
        trial_callback: Callable[[dict], None] | None,
    ) -> None:
        self.search = search
        self.estimator = estimator
        self.task = task
        self.space = space
        self.objective = objective
        self.data = data
        self.hyperband = hyperband
        self.tracker = tracker
        self.trial_callback = trial_callback
        self.records: dict[str, dict] = {}
        self.started = time.monotonic()

    # -- values of a trial ------------------------------------------------------------
    def params_for(self, hp: Any) -> dict:
        values = dict(self.space.build(hp))
        if values.get("sequence_length") is not None and "X_train" in self.data:
            # sequence_length counts steps after stride; beyond the strided length it only
            # adds masked padding (and, on JAX/torch, leaves the fused kernel).
            stride = int(values.get("stride", self.estimator.get_params().get("stride", 1)))
            longest = math.ceil(_longest_sequence(self.data["X_train"]) / stride)
            values["sequence_length"] = min(int(values["sequence_length"]), longest)
        if self.hyperband and "tuner/epochs" in hp.values:
            values["epochs"] = int(hp.values["tuner/epochs"])
        return values

    def on_trial_begin(self, trial: Any) -> None:
        self._notify("trial_begin", trial_id=trial.trial_id)

    # -- the trial itself ---------------------------------------------------------------
    def run(self, trial: Any, tuner: Any) -> dict:
        import keras
        import keras_tuner as kt

        trial_dir = Path(tuner.get_trial_dir(trial.trial_id))
        record_path = trial_dir / RECORD_FILENAME
        params = self.params_for(trial.hyperparameters)
        previous = _load_record(record_path)
        if (
            previous is not None
            and previous.get("status") in ("COMPLETED", "PRUNED")
            and previous.get("params") == json.loads(json.dumps(params, default=_json_default))
            and _is_finite_number(previous.get("score"))
        ):
            # The process was killed after this trial finished but before Keras Tuner
            # saved that fact: reuse the result instead of training again.
            self._finish(previous, record_path, write=False)
            return {self.objective.name: float(previous["score"])}

        record = self._base_record(trial, params)
        _write_json_atomic(record_path, record)
        callbacks, deadline_cb = _make_callbacks(tuner.deadline)
        started = time.time()
        estimator = None
        try:
            # Reset Keras's global state so earlier trials' graphs can be freed. A full
            # garbage collection costs ~0.3 s with TensorFlow loaded, so only every
            # tenth trial pays for one; Python's own collector handles the rest.
            keras.backend.clear_session(free_memory=len(self.records) % 10 == 9)
            estimator = clone(self.estimator).set_params(**params)
            parent = self._continue_parent(trial, tuner, estimator)
            self._fit(estimator, callbacks)
            value, metrics = self._evaluate(estimator)
            record.update(self._fit_fields(estimator))
            record.update(
                initial_epoch=getattr(estimator, "_initial_epoch", 0),
                status="PRUNED" if deadline_cb.cut else "COMPLETED",
                score=value,
                metrics=metrics,
            )
            if record["initial_epoch"]:
                record["tags"]["continued_from"] = parent
            if self.hyperband and record["status"] == "COMPLETED":
                estimator.model_.save_weights(trial_dir / WEIGHTS_FILENAME)
        except (kt.errors.FatalError, ImportError) as exc:
            # Configuration or environment problems fail every trial: stop at once.
            record.update(status="FAILED", error=traceback.format_exc())
            self._finish(record, record_path, started=started)
            if isinstance(exc, kt.errors.FatalError):
                raise
            raise kt.errors.FatalError(
                f"Trial {trial.trial_id} could not import a module it needs: {exc}. "
                "Install it (pip install seqtune pulls in every dependency) and rerun."
            ) from exc
        except Exception as exc:
            error = traceback.format_exc()
            if estimator is not None and hasattr(estimator, "history_"):
                # It trained (then diverged, or failed to score): keep its curves.
                with contextlib.suppress(Exception):
                    record.update(self._fit_fields(estimator))
            record.update(status="FAILED", score=None, error=error)
            self._finish(record, record_path, started=started)
            raise kt.errors.FailedTrialError(f"{type(exc).__name__}: {exc}") from exc
        self._finish(record, record_path, started=started)
        return {self.objective.name: value}

    def _continue_parent(self, trial: Any, tuner: Any, estimator: Any) -> str | None:
        """Hyperband: let a promoted trial train on from its parent's weights.

        Keras Tuner's Hyperband gives a promoted configuration the parent's id
        (``tuner/trial_id``) and the epoch it reached (``tuner/initial_epoch``). The
        estimator then loads the parent's saved weights and runs only the remaining
        epochs; without them (a parent from before an upgrade, or whose file is gone)
        it trains from scratch for the whole budget. Returns the parent's trial id.
        """
        values = trial.hyperparameters.values
        parent = values.get("tuner/trial_id")
        if not self.hyperband or parent is None:
            return None
        path = Path(tuner.get_trial_dir(parent)) / WEIGHTS_FILENAME
        if not path.is_file():
            return None
        estimator._warm_start = (str(path), int(values.get("tuner/initial_epoch", 0)))
        return str(parent)

    def _fit(self, estimator: Any, callbacks: list) -> None:
        d = self.data
        if self.task == "forecasting":
            val = d["y_val"] if d["X_val"] is None else (d["y_val"], d["X_val"])
            estimator.fit(d["y_train"], d["X_train"], validation_data=val, callbacks=callbacks)
        else:
            estimator.fit(
                d["X_train"],
                d["y_train"],
                validation_data=(d["X_val"], d["y_val"]),
                callbacks=callbacks,
            )
        losses = np.asarray(estimator.history_.get("loss", []), dtype=float)
        if losses.size and not np.all(np.isfinite(losses)):
            epoch = int(np.argmax(~np.isfinite(losses)))
            raise _NonFiniteLoss(
                f"training loss became {losses[epoch]} at epoch {epoch + 1}; "
                "try a smaller learning_rate or set clipnorm."
            )

    def _evaluate(self, estimator: Any) -> tuple[float, dict]:
        import keras_tuner as kt

        name = self.objective.name
        d = self.data
        metrics: dict[str, float] = {}
        if self.task == "forecasting":
            metrics = {k: float(v) for k, v in estimator.evaluate(d["y_val"], d["X_val"]).items()}
        elif name in ("score", "accuracy", "r2"):
            fast = _validation_accuracy(estimator) if self.task == "classification" else None
            # Predicting again would cost a second pass (and on TensorFlow a new trace).
            metrics["score"] = fast if fast is not None else float(estimator.score(d["X_val"], d["y_val"]))
        if name in ("accuracy", "r2"):
            metrics[name] = metrics["score"]
        if name in metrics:
            value = metrics[name]
        else:
            history = estimator.history_
            if name not in history:
                raise kt.errors.FatalError(
                    f"objective={name!r} is not in the training history; the metrics "
                    f"recorded are {sorted(history)}. Choose one of them."
                )
            # The value of the weights the trial kept, not the best any epoch reached.
            epoch = _kept_epoch(estimator)
            value = float(history[name][epoch]) if epoch is not None else float("nan")
            metrics[name] = value
        if not _is_finite_number(value):
            raise _NonFiniteLoss(f"objective {name!r} is {value}")
        return float(value), metrics

    # -- records ----------------------------------------------------------------------
    def _base_record(self, trial: Any, params: dict) -> dict:
        trial_id = str(trial.trial_id)
        return {
            "trial_id": trial_id,
            "number": int(trial_id) if trial_id.isdigit() else len(self.records),
            "status": "RUNNING",
            "params": params,
            "score": None,
            "objective": {"name": self.objective.name, "direction": self.objective.direction},
            "history": {},
            "epochs_run": 0,
            "initial_epoch": 0,  # > 0: a Hyperband trial that went on from its parent's weights
            "duration_s": None,
            "seconds_per_epoch": None,
            "n_params": None,
            "fused_kernel": None,
            "error": None,
            "tags": {k: params[k] for k in ("cell", "bidirectional", "n_layers") if k in params},
            "started_at": time.time(),
            "ended_at": None,
        }

    @staticmethod
    def _fit_fields(estimator: Any) -> dict:
        """Fields of the record that come from the fitted estimator."""
        from seqtune._base import fit_record

        fields = dict(fit_record(estimator))
        # The search owns identity, status, params and timing of a trial.
        for key in ("trial_id", "number", "status", "params", "score", "objective", "error", "started_at", "ended_at"):
            fields.pop(key, None)
        return fields

    def _finish(self, record: dict, path: Path, *, started: float | None = None, write: bool = True) -> None:
        if write:
            record["ended_at"] = time.time()
            if started is not None:
                record["duration_s"] = round(record["ended_at"] - started, 4)
            _write_json_atomic(path, record)
        self.records[record["trial_id"]] = record
        if self.tracker is not None:
            self.tracker.submit("log_trial", copy.deepcopy(record))
        self._notify("trial_end", trial_id=record["trial_id"], record=record)

    def _notify(self, event: str, **info: Any) -> None:
        if self.trial_callback is None and self.search.verbose < 1:
            return
        done = [r for r in self.records.values() if r["status"] in _TERMINAL]
        best = _best_record(list(self.records.values()), self.objective.direction)
        elapsed = time.monotonic() - self.started
        state = {
            "event": event,
            "n_done": len(done),
            "max_trials": self.search.max_trials,
            "best_score": None if best is None else best["score"],
            "elapsed_s": elapsed,
            "time_budget": self.search.time_budget,
            **info,
        }
        if self.trial_callback is not None:
            self.trial_callback(state)
        elif event == "trial_end":
            rec = info["record"]
            score = "-" if rec["score"] is None else f"{rec['score']:.4g}"
            best_s = "-" if state["best_score"] is None else f"{state['best_score']:.4g}"
            print(
                f"[seqtune] trial {rec['trial_id']} {rec['status'].lower()} "
                f"{self.objective.name}={score} best={best_s} elapsed={elapsed:.1f}s",
                flush=True,
            )


def _validation_accuracy(estimator: Any) -> float | None:
    """Accuracy on ``validation_data`` of the weights the classifier kept, from its history.

    Keras evaluates the validation data after every epoch. With early stopping the
    estimator restores the weights of the first epoch with the lowest ``val_loss``
    (``EarlyStopping(restore_best_weights=True)``), otherwise it keeps the last epoch's,
    so that epoch's ``val_accuracy`` is exactly ``score(X_val, y_val)``.
    """
    accuracy = estimator.history_.get("val_accuracy")
    epoch = _kept_epoch(estimator)
    if not accuracy or epoch is None or epoch >= len(accuracy):
        return None
    return float(accuracy[epoch])


def _kept_epoch(estimator: Any) -> int | None:
    """Index of the epoch whose weights the fitted estimator kept.

    With early stopping that is the first epoch with the lowest ``val_loss`` (Keras's
    ``restore_best_weights``); otherwise the last one. None when it cannot be told
    (no validation history, or a non-finite loss).
    """
    losses = np.asarray(estimator.history_.get("val_loss") or [], dtype=float)
    if losses.size == 0:
        return None
    if not getattr(estimator, "early_stopping", False):
        return len(losses) - 1
    if not np.all(np.isfinite(losses)):
        return None
    return int(np.argmin(losses))


def _unreadable_state_files(project_dir: Path) -> list[str]:
    """Keras Tuner JSON files of a project that do not parse (a kill mid-write)."""
    broken = []
    for path in [*project_dir.glob("*.json"), *project_dir.glob("trial_*/trial.json")]:
        try:
            json.loads(path.read_text())
        except (OSError, ValueError):
            broken.append(str(path.relative_to(project_dir)))
    return sorted(broken)


def _load_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _best_record(records: Sequence[dict], direction: str) -> dict | None:
    scored = [
        r for r in records if r.get("status") in ("COMPLETED", "PRUNED") and _is_finite_number(r.get("score"))
    ]
    if not scored:
        return None
    pick = max if direction == "max" else min
    return pick(scored, key=lambda r: float(r["score"]))


# ------------------------------------------------------------------ the estimator


class SequenceSearch(BaseEstimator):
    """Search the hyperparameters of a seqtune estimator with Keras Tuner.

    Each trial is ``clone(estimator).set_params(**values)``, fitted on a training split
    and scored on a validation split; the best configuration is then refitted on all
    the data. Hyperparameter names are the estimator's own parameter names.

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
        running trial stops at its next epoch boundary and still counts (its record
        has status "PRUNED"). The refit is not counted.
    objective : str or keras_tuner.Objective, default=None
        Classifier/regressor: "score" (accuracy / R², maximised) by default, or a
        Keras history metric such as "val_loss" (its best epoch counts).
        Forecaster: "mae" (minimised) by default, or "rmse", "smape", "mase".
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
    validation_fraction : float, default=0.2
        Share of the data held out to score trials. Classifiers use a stratified
        split; forecasters hold out the tail of the series (never shuffled), at least
        ``horizon`` steps.
    max_consecutive_failures : int, default=10
        Stop the search after this many failed trials in a row (a warning says so,
        and the best completed trial is kept).
    trial_timeout : float, default=None
        Distributed search only: seconds after which the chief records a trial as
        FAILED when its worker has not reported (a killed worker), so the chief does
        not wait for it forever. Set it above the longest trial you expect.
    refit : bool, default=True
        Refit the best configuration on all the data as ``best_estimator_``.
    random_state : int, default=None
        Seeds the oracle, the validation split, and estimators whose own
        ``random_state`` is None.
    verbose : int, default=1
        0 is silent; 1 prints one line per trial.

    Attributes
    ----------
    best_estimator_ : estimator
        The best configuration refitted on all the data (None when ``refit=False``).
    best_params_ : dict
        Searched values of the best trial.
    best_score_ : float
        Its objective value on the validation split.
    results_ : pandas.DataFrame
        One row per trial: ``trial_id``, every searched parameter, ``score``,
        ``status`` ("completed", "failed", "pruned", "running"), ``duration_s``,
        ``epochs_run``, ``n_params``, ``seconds_per_epoch``, ``fused_kernel``, ``error``.
    records_ : list of dict
        The trial records (DESIGN.md schema).
    objective_ : dict
        ``{"name": ..., "direction": "min" | "max"}``.
    space_ : SearchSpace
        The space searched, after narrowing to the data.
    project_dir_ : str
        ``directory/project_name``.
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

    # ---------------------------------------------------------------- validation
    def _check_params(self) -> None:
        if self.tuner not in _TUNERS:
            import difflib

            close = difflib.get_close_matches(str(self.tuner), _TUNERS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"tuner={self.tuner!r} is not supported; expected one of {list(_TUNERS)}.{hint}")
        if not isinstance(self.max_trials, (int, np.integer)) or isinstance(self.max_trials, bool) or self.max_trials < 1:
            raise ValueError(f"max_trials={self.max_trials!r} is not valid; expected an int >= 1.")
        if self.time_budget is not None and not (
            isinstance(self.time_budget, (int, float)) and self.time_budget > 0
        ):
            raise ValueError(
                f"time_budget={self.time_budget!r} is not valid; expected None or seconds > 0."
            )
        if not (isinstance(self.validation_fraction, float) and 0.0 < self.validation_fraction < 1.0):
            raise ValueError(
                f"validation_fraction={self.validation_fraction!r} is not valid; expected a "
                "float strictly between 0 and 1, such as 0.2."
            )
        if not isinstance(self.max_consecutive_failures, (int, np.integer)) or self.max_consecutive_failures < 1:
            raise ValueError(
                f"max_consecutive_failures={self.max_consecutive_failures!r} is not valid; "
                "expected an int >= 1."
            )
        if self.trial_timeout is not None and not (
            isinstance(self.trial_timeout, (int, float)) and self.trial_timeout > 0
        ):
            raise ValueError(f"trial_timeout={self.trial_timeout!r} is not valid; expected None or seconds > 0.")

    # --------------------------------------------------------------------- split
    def _split(self, task: str, first: Any, second: Any) -> dict:
        """Training and validation parts. ``first, second`` are ``X, y`` or ``y, X``."""
        if task == "forecasting":
            y, X = first, second
            n = _n_rows(y)
            horizon = int(self.estimator.get_params().get("horizon", 1))
            n_val = max(horizon, int(math.ceil(self.validation_fraction * n)))
            if n - n_val < 2:
                raise ValueError(
                    f"The series has {n} steps; holding out {n_val} for validation "
                    f"(validation_fraction={self.validation_fraction}, horizon={horizon}) "
                    "leaves too few to train on. Use a longer series or a smaller "
                    "validation_fraction."
                )
            cut = n - n_val
            return {
                "y_train": _take_rows(y, 0, cut),
                "X_train": _take_rows(X, 0, cut),
                "y_val": _take_rows(y, cut, None),
                "X_val": _take_rows(X, cut, None),
                "horizon": horizon,
            }
        X, y = first, second
        if _n_rows(X) != _n_rows(y):
            raise ValueError(
                f"X has {_n_rows(X)} samples but y has {_n_rows(y)}; they must match."
            )
        stratify = y if task == "classification" else None
        try:
            parts = train_test_split(
                X, y, test_size=self.validation_fraction, stratify=stratify, random_state=self.random_state
            )
        except ValueError as exc:
            if stratify is None:
                raise
            warnings.warn(
                f"A stratified validation split is impossible ({exc}); using a random "
                "split instead. Some classes may be missing from validation.",
                UserWarning,
                stacklevel=3,
            )
            parts = train_test_split(X, y, test_size=self.validation_fraction, random_state=self.random_state)
        X_train, X_val, y_train, y_val = parts
        return {"X_train": X_train, "X_val": X_val, "y_train": y_train, "y_val": y_val}

    # --------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None, *, trial_callback: Callable[[dict], None] | None = None):
        """Run the search, then refit the best configuration on all the data.

        Parameters
        ----------
        X : array-like
            Classifier/regressor: sequences of shape (n_samples, n_timesteps,
            n_features), (n_samples, n_timesteps) or a list of (t_i, n_features)
            arrays. Forecaster: the target series y of shape (n_timesteps,) or
            (n_timesteps, n_targets) — the forecaster's own ``fit(y, X=None)`` order.
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
        self._check_params()
        task = _estimator_task(self.estimator)
        objective = _resolve_objective(self.objective, task)
        _check_objective_for_task(objective.name, task)
        if task != "forecasting" and y is None:
            raise ValueError(f"{type(self.estimator).__name__} needs targets: call fit(X, y).")

        data = self._split(task, X, y)
        estimator = self._prepared_estimator()
        space = self._load_space(task, estimator)
        if task == "forecasting":
            params = estimator.get_params()
            lost = int(params.get("difference") or 0) + int(params.get("seasonal_difference") or 0)
            # At least one training window: lookback + horizon steps after differencing.
            max_lookback = max(1, _n_rows(data["y_train"]) - lost - data["horizon"])
            drop = {}
            if params.get("strategy") == "seq2seq" and "strategy" not in space:
                # Every trial drawing linear_skip=True would fail: seq2seq has no linear path.
                drop["linear_skip"] = "strategy='seq2seq' has no linear path"
            space, messages = space.narrow(max_lookback=max_lookback, drop=drop)
        else:
            space, messages = space.narrow(max_sequence_length=_longest_sequence(X))
        if messages:
            warnings.warn(
                "The search space asks for more than the data or the estimator allows and was narrowed: "
                + "; ".join(messages),
                UserWarning,
                stacklevel=2,
            )

        project_name = self.project_name or f"{type(self.estimator).__name__.lower()}_{self.tuner}"
        project_dir = Path(self.directory) / project_name
        from seqtune.tracking import dataset_fingerprint

        fingerprint = dataset_fingerprint(X, y)
        self._check_resume_state(project_dir, fingerprint, space)

        user_tracker = self._make_tracker()
        runner = _TrialRunner(
            search=self,
            estimator=estimator,
            task=task,
            space=space,
            objective=objective,
            data=data,
            hyperband=self.tuner == "hyperband",
            tracker=None,
            trial_callback=trial_callback,
        )
        kt_tuner = self._make_tuner(runner, objective, estimator, project_name)
        self._write_state(project_dir, fingerprint, space, objective)
        self._warn_recurrent_dropout(kt_tuner, estimator)

        from seqtune.device import device_name

        # MLflow calls run on a background thread, so logging overlaps training.
        tracker = None if user_tracker is None else _BackgroundTracker(user_tracker)
        runner.tracker = tracker
        try:
            return self._search_and_refit(
                X, y, task=task, objective=objective, space=space, estimator=estimator,
                project_dir=project_dir, project_name=project_name, fingerprint=fingerprint,
                kt_tuner=kt_tuner, runner=runner, tracker=tracker, device=device_name(),
            )
        finally:
            if tracker is not None:
                tracker.close()  # also after an error or Ctrl-C: log what finished

    def _search_and_refit(
        self, X: Any, y: Any, *, task: str, objective: Any, space: Any, estimator: Any,
        project_dir: Path, project_name: str, fingerprint: dict, kt_tuner: Any,
        runner: _TrialRunner, tracker: _BackgroundTracker | None, device: str,
    ) -> "SequenceSearch":
        if tracker is not None:
            tracker.submit(
                "start_search",
                str(project_dir),
                run_name=project_name,
                params={
                    "tuner": self.tuner,
                    "max_trials": self.max_trials,
                    "time_budget": self.time_budget,
                    "objective": objective.name,
                    "objective_direction": objective.direction,
                    "validation_fraction": self.validation_fraction,
                    "estimator": type(self.estimator).__name__,
                    **{f"estimator.{k}": v for k, v in self.estimator.get_params().items()},
                },
                # The tracker adds keras_backend itself; device here is the readable name.
                tags={"device": device, "task": task},
                space_yaml=space.to_yaml(),
                fingerprint=fingerprint,
            )
            earlier = read_trial_records(project_dir)
            if earlier:  # a resumed search: log what an earlier attempt left out
                tracker.submit("sync", str(project_dir), earlier)

        # Trials of earlier (interrupted) attempts count towards progress and best score.
        runner.records.update({r["trial_id"]: r for r in read_trial_records(project_dir)})
        runner.started = time.monotonic()
        if self.time_budget is not None:
            kt_tuner.deadline = runner.started + float(self.time_budget)
        self._run_search(kt_tuner)

        self.records_ = self._collect_records(project_dir, kt_tuner, runner)
        self.results_ = self._results_frame(self.records_)
        self.objective_ = {"name": objective.name, "direction": objective.direction}
        self.space_ = space
        self.project_dir_ = str(project_dir)
        self.n_trials_ = len(self.records_)
        best = _best_record(self.records_, objective.direction)
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
        self.best_model_uri_ = None
        worker = kt_tuner._is_worker()
        if tracker is not None and not worker:
            # Queued before the refit, so the summary, leaderboard and plots are logged
            # while the best configuration trains again.
            tracker.submit(
                "end_search",
                best_score=self.best_score_,
                best_params=self.best_params_,
                leaderboard=self.results_.copy(),
                records=copy.deepcopy(self.records_),
            )
        if self.refit and not worker:
            # fit(X, y) for classifiers and regressors, fit(y, X) for forecasters: the
            # arguments arrive in the estimator's own order.
            self.best_estimator_ = clone(estimator).set_params(**self.best_params_).fit(X, y)
            if tracker is not None:
                example = _take_rows(X, 0, 5)
                self.best_model_uri_ = tracker.call("log_best_model", self.best_estimator_, example)
        return self

    # ------------------------------------------------------------ fit helpers
    def _prepared_estimator(self) -> Any:
        estimator = clone(self.estimator)
        params = estimator.get_params()
        if self.random_state is not None and params.get("random_state", 0) is None:
            estimator.set_params(random_state=self.random_state)
        return estimator

    def _load_space(self, task: str, estimator: Any) -> Any:
        from seqtune.spaces import load_space

        space = load_space(self.space, task=task, estimator=estimator)
        return space

    def _make_tracker(self) -> Any:
        if self.tracking is False or self.tracking is None:
            return None
        if self.tracking is True:
            from seqtune.tracking import MlflowTracker

            return MlflowTracker(tracking_uri=self.tracking_uri, experiment_name=self.experiment_name)
        required = ("start_search", "log_trial", "end_search", "log_best_model", "sync")
        missing = [m for m in required if not hasattr(self.tracking, m)]
        if missing:
            raise TypeError(
                f"tracking={self.tracking!r} lacks {missing}; expected True, False, or a "
                "tracker object such as seqtune.tracking.MlflowTracker()."
            )
        return self.tracking

    def _make_tuner(self, runner: _TrialRunner, objective: Any, estimator: Any, project_name: str):
        import keras_tuner as kt

        # Keras Tuner reads seed=0 as "no seed", so derive a non-zero one.
        seed = None if self.random_state is None else int(
            check_random_state(self.random_state).randint(1, 2**31 - 1))
        common = {
            "objective": objective,
            "seed": seed,
            "max_retries_per_trial": 0,
            "max_consecutive_failed_trials": int(self.max_consecutive_failures),
        }
        if self.tuner == "random":
            oracle = kt.oracles.RandomSearchOracle(max_trials=int(self.max_trials), **common)
        elif self.tuner == "bayesian":
            oracle = kt.oracles.BayesianOptimizationOracle(max_trials=int(self.max_trials), **common)
        else:
            # The space may fix epochs (e.g. 300 with long patience); that is the budget.
            fixed = runner.space["epochs"] if "epochs" in runner.space else None
            max_epochs = int(getattr(fixed, "value", None) or estimator.get_params().get("epochs", 10))
            if max_epochs < 2:
                raise ValueError(
                    f"tuner='hyperband' needs the estimator's epochs >= 2 (it trains trials "
                    f"for 1..epochs epochs); got epochs={max_epochs}."
                )
            oracle = kt.oracles.HyperbandOracle(max_epochs=max_epochs, factor=3, **common)
            # Hyperband has no trial cap of its own; create_trial honours this one.
            oracle.max_trials = int(self.max_trials)
        SeqTuner = _make_tuner_class()
        try:
            tuner = SeqTuner(
                search=self,
                runner=runner,
                oracle=oracle,
                directory=str(self.directory),
                project_name=project_name,
                overwrite=bool(self.overwrite),
            )
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            broken = _unreadable_state_files(Path(self.directory) / project_name)
            if not broken:
                raise
            raise RuntimeError(
                f"Cannot resume the search in {Path(self.directory) / project_name}: Keras "
                f"Tuner's state file(s) {broken} are unreadable (the process was probably "
                "killed while writing them). Trial results are kept in each trial's "
                f"{RECORD_FILENAME}. Pass overwrite=True to start afresh, or another "
                "project_name."
            ) from exc
        tuner.oracle.verbose = 0  # seqtune prints its own per-trial line
        return tuner

    def _check_resume_state(self, project_dir: Path, fingerprint: dict, space: Any) -> None:
        state_path = project_dir / _STATE_FILENAME
        if self.overwrite or not state_path.exists():
            return
        state = _load_record(state_path) or {}
        old = state.get("fingerprint", {}).get("sha256")
        if old is not None and old != fingerprint["sha256"]:
            raise ValueError(
                f"{project_dir} holds a search on different data (fingerprint {old}, now "
                f"{fingerprint['sha256']}). Resuming it would mix results. Pass "
                "overwrite=True to start afresh, or another project_name."
            )
        if state.get("tuner") not in (None, self.tuner):
            raise ValueError(
                f"{project_dir} holds a search made with tuner={state.get('tuner')!r}, not "
                f"{self.tuner!r}. Pass the same tuner to resume, overwrite=True to start "
                "afresh, or another project_name."
            )
        if state.get("space_yaml") not in (None, space.to_yaml()):
            warnings.warn(
                f"Resuming the search in {project_dir} with a different search space: Keras "
                "Tuner keeps the space the search started with (see seqtune_search.json "
                "there). Pass overwrite=True, or another project_name, to search the new space.",
                UserWarning,
                stacklevel=3,
            )

    def _write_state(self, project_dir: Path, fingerprint: dict, space: Any, objective: Any) -> None:
        """Record what the search started with; a resumed search keeps the first record."""
        project_dir.mkdir(parents=True, exist_ok=True)
        if (project_dir / _STATE_FILENAME).exists() and not self.overwrite:
            return
        _write_json_atomic(
            project_dir / _STATE_FILENAME,
            {
                "tuner": self.tuner,
                "estimator": type(self.estimator).__name__,
                "objective": {"name": objective.name, "direction": objective.direction},
                "fingerprint": fingerprint,
                "space_yaml": space.to_yaml(),
                "max_trials": int(self.max_trials),
            },
        )

    def _warn_recurrent_dropout(self, kt_tuner: Any, estimator: Any) -> None:
        from seqtune.device import has_gpu

        if not has_gpu():
            return
        largest = estimator.get_params().get("recurrent_dropout", 0.0) or 0.0
        for hp in kt_tuner.oracle.get_space().space:
            if hp.name == "recurrent_dropout":
                largest = max(largest, _space_max(hp) or 0.0)
        if largest > 0:
            warnings.warn(
                "This search can pick recurrent_dropout > 0 (up to "
                f"{largest}), which turns off Keras's fused cuDNN kernel on this GPU: such "
                "trials train slower per epoch (on an H100: 1.3-2x with JAX, 46x with torch; "
                "users report 7-25x with TensorFlow). Prefer `dropout` (dropout "
                "on each layer's inputs), which keeps the fused kernel, and set "
                "recurrent_dropout to 0 in the space.",
                UserWarning,
                stacklevel=3,
            )

    def _run_search(self, kt_tuner: Any) -> None:
        stop_watchdog = self._start_chief_watchdog(kt_tuner)
        try:
            with warnings.catch_warnings():
                # keras-tuner 1.4 calls threading APIs deprecated since Python 3.10.
                warnings.filterwarnings("ignore", message=r"(currentThread|getName)\(\) is deprecated")
                kt_tuner.search()
        except _BudgetExhausted:
            if self.verbose:
                print(f"[seqtune] time budget of {self.time_budget}s spent; search stopped.", flush=True)
        except RuntimeError as exc:
            if "consecutive failures" not in str(exc):
                raise
            warnings.warn(
                f"The search stopped after {self.max_consecutive_failures} failed trials in "
                f"a row (max_consecutive_failures). Last error:\n{exc}",
                RuntimeWarning,
                stacklevel=3,
            )
        except KeyboardInterrupt:
            if self.verbose:
                print(
                    "\n[seqtune] interrupted; rerun the same search with overwrite=False to "
                    "resume it (completed trials are kept).",
                    flush=True,
                )
            raise
        finally:
            stop_watchdog()

    def _start_chief_watchdog(self, kt_tuner: Any) -> Callable[[], None]:
        """In a distributed chief: enforce the time budget, fail trials of silent workers.

        Both act through Keras Tuner's own mechanisms: lowering ``oracle.max_trials`` to
        the trials created so far makes ``create_trial`` answer STOPPED to every worker,
        and ending a trial of a killed worker, then forgetting that worker, lets the
        chief's server exit.
        """
        from keras_tuner.src.distribute import utils as dist_utils

        deadline = kt_tuner.deadline
        if (self.trial_timeout is None and deadline is None) or not dist_utils.is_chief_oracle():
            return lambda: None
        oracle = kt_tuner.oracle
        stop = threading.Event()
        first_seen: dict[str, float] = {}
        timeout = float(self.trial_timeout) if self.trial_timeout is not None else math.inf

        def watch() -> None:
            from keras_tuner.src.engine import trial as trial_module

            while not stop.wait(1.0):
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    oracle.max_trials = min(oracle.max_trials or math.inf, len(oracle.trials))
                for tuner_id, trial in list(oracle.ongoing_trials.items()):
                    seen = first_seen.setdefault(trial.trial_id, now)
                    if now - seen < timeout:
                        continue
                    dead = copy.copy(trial)
                    dead.status = trial_module.TrialStatus.FAILED
                    dead.message = (
                        f"Worker {tuner_id} did not report trial {trial.trial_id} within "
                        f"trial_timeout={timeout}s; recorded as failed."
                    )
                    with contextlib.suppress(Exception):
                        oracle.end_trial(dead)
                        oracle.tuner_ids.discard(tuner_id)

        thread = threading.Thread(target=watch, name="seqtune-chief-watchdog", daemon=True)
        thread.start()

        def stop_watch() -> None:
            stop.set()
            thread.join(timeout=5)

        return stop_watch

    def _collect_records(self, project_dir: Path, kt_tuner: Any, runner: _TrialRunner) -> list[dict]:
        """Records of every trial, this attempt's and earlier ones', from the directory."""
        by_id = {r["trial_id"]: r for r in read_trial_records(project_dir)}
        by_id.update(runner.records)
        # Trials Keras Tuner knows but that left no record (e.g. killed before starting,
        # or failed by the chief's watchdog).
        oracle = kt_tuner.oracle
        trials = getattr(oracle, "trials", None)
        if isinstance(trials, dict):
            for trial_id, trial in trials.items():
                record = by_id.get(trial_id)
                if record is not None and record["status"] == "RUNNING" and trial.status == "FAILED":
                    # Ended by the chief's watchdog: its worker died mid-trial.
                    record = {**record, "status": "FAILED", "error": trial.message, "ended_at": time.time()}
                    by_id[trial_id] = record
                    _write_json_atomic(Path(kt_tuner.get_trial_dir(trial_id)) / RECORD_FILENAME, record)
                if record is not None:
                    continue
                by_id[trial_id] = {
                    **runner._base_record(trial, runner.params_for(trial.hyperparameters)),
                    "status": "FAILED" if trial.status in ("FAILED", "INVALID") else str(trial.status),
                    "score": trial.score if trial.status == "COMPLETED" else None,
                    "error": trial.message,
                    "started_at": None,
                }
        return sorted(by_id.values(), key=lambda r: (r.get("number", 0), r["trial_id"]))

    @staticmethod
    def _results_frame(records: list[dict]) -> pd.DataFrame:
        param_names: list[str] = []
        for record in records:
            for name in record.get("params", {}):
                if name not in param_names:
                    param_names.append(name)
        rows = []
        for r in records:
            row = {"trial_id": r["trial_id"]}
            row.update({name: r.get("params", {}).get(name, np.nan) for name in param_names})
            row.update(
                score=r.get("score"),
                status=str(r.get("status", "")).lower(),
                duration_s=r.get("duration_s"),
                epochs_run=r.get("epochs_run"),
                n_params=r.get("n_params"),
                seconds_per_epoch=r.get("seconds_per_epoch"),
                fused_kernel=r.get("fused_kernel"),
                error=r.get("error"),
            )
            rows.append(row)
        columns = ["trial_id", *param_names, "score", "status", "duration_s", "epochs_run",
                   "n_params", "seconds_per_epoch", "fused_kernel", "error"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["score"] = pd.to_numeric(frame["score"], errors="coerce")
        return frame

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
