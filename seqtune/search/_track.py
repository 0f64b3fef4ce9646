"""The search's side of tracking: which tracker, and what the parent run is opened with.

The tracker itself (:class:`seqtune.tracking.MlflowTracker`, or any object with its
methods) lives in :mod:`seqtune.tracking`; the search calls it through the five
methods named there and never reaches into MLflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtune import device

__all__ = ["is_mlflow_tracker", "log_final_model", "make_tracker", "start_tracking"]

#: The search's parameters logged on the parent run, besides the computed ones.
_LOGGED = ("tuner", "max_trials", "time_budget", "validation_fraction", "pruning",
           "intensify_seeds")


def make_tracker(tracking: Any, tracking_uri: str | None, experiment_name: str | None) -> Any:
    """The tracker a search logs to: None (no tracking), an MlflowTracker, or the caller's."""
    if tracking is False or tracking is None:
        return None
    if tracking is True:
        from seqtune.tracking import MlflowTracker

        return MlflowTracker(tracking_uri=tracking_uri, experiment_name=experiment_name)
    return tracking


def is_mlflow_tracker(tracker: Any) -> bool:
    """Whether ``tracker`` is seqtune's own (its calls can be queued: ``wait=False``)."""
    if tracker is None:
        return False
    from seqtune.tracking import MlflowTracker

    return isinstance(tracker, MlflowTracker)


def log_final_model(tracker: Any, model: Any, task: str, X: Any, y: Any) -> str | None:
    """Log the search's final model, with an input example cut from its ``fit`` data;
    returns the model's URI (None when the store did not take it)."""
    from seqtune.tracking import input_example

    return tracker.log_best_model(model, input_example(task, X, y, model))


def start_tracking(tracker: Any, search: Any, *, project_dir: Path, objective: Any, task: str,
                   n_folds: int, n_workers: int, space: Any, resolved: dict,
                   fingerprint: dict, earlier: list[dict], later: dict) -> None:
    """Open (or reattach to) the search's parent run, and log what an earlier attempt left out.

    Parameters
    ----------
    tracker : tracker
    search : SequenceSearch
        Its parameters are logged on the parent run, with the estimator's.
    project_dir : path
    objective : keras_tuner.Objective
    task : str
    n_folds, n_workers :
        What the search resolved ``cv`` and ``n_jobs`` to.
    space : SearchSpace
    resolved : dict
        ``final_model``, ``ensemble`` and ``intensify`` as the search resolved them:
        logged in place of ``"auto"``, so a run says what it did.
    fingerprint : dict
    earlier : list of dict
        Records of a resumed search's earlier attempts.
    later : dict
        ``{"wait": False}`` to queue the calls (an MlflowTracker), else empty.
    """
    params = {name: getattr(search, name) for name in _LOGGED}
    params.update({
        "objective": objective.name, "objective_direction": objective.direction,
        "cv": repr(search.cv), "n_folds": n_folds, **resolved,
        "n_jobs": n_workers or 1, "estimator": type(search.estimator).__name__,
        **{f"estimator.{k}": v for k, v in search.estimator.get_params().items()},
    })
    tracker.start_search(
        str(project_dir), run_name=Path(project_dir).name, params=params,
        # The tracker adds keras_backend itself; device here is the readable name.
        tags={"device": device.device_name(), "task": task},
        space_yaml=space.to_yaml(), fingerprint=fingerprint, **later,
    )
    if earlier:  # log what an earlier attempt left out
        tracker.sync(str(project_dir), earlier, **later)
