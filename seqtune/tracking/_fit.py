"""Tracking estimators used alone: ``track_fit`` and the hook their ``fit`` calls."""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from ._common import TrackingWarning, _backend_and_device
from ._records import _log_record_run
from ._tracker import MlflowTracker

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
