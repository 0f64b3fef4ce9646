"""Tracking estimators used alone: ``track_fit`` logs one run per fit inside a ``with`` block.

It subscribes to :mod:`seqtune.listeners`, which every estimator notifies at the end of
``fit``; estimators know nothing of MLflow.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

from seqtune.device import backend_and_device
from seqtune.listeners import fit_listener
from seqtune.records import fit_record

from ._common import TrackingWarning
from ._tracker import MlflowTracker


class _FitTracking:
    """What :func:`track_fit` hands back: where runs go and which were logged."""

    def __init__(self, tracking_uri: str | None, experiment_name: str | None,
                 run_name: str | None):
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.run_ids: list[str] = []
        self._tracker = MlflowTracker(tracking_uri, experiment_name, background=False)

    def on_fit(self, estimator: Any) -> None:
        """Log the fitted ``estimator`` as one run; never raises (a warning instead)."""
        try:
            record = fit_record(estimator)
        except Exception as exc:  # an estimator without the fitted attributes
            warnings.warn(f"Could not build a trial record for {type(estimator).__name__}: "
                          f"{type(exc).__name__}: {exc}; the fit is not tracked.",
                          TrackingWarning, stacklevel=2)
            return
        name = type(estimator).__name__
        run_id = self._tracker.log_run(
            record, run_name=self.run_name or name,
            tags={"seqtune.kind": "fit", "estimator": name, **backend_and_device()},
        )
        if run_id is not None:
            self.run_ids.append(run_id)


@contextlib.contextmanager
def track_fit(tracking_uri: str | None = None, experiment_name: str | None = None,
              run_name: str | None = None) -> Iterator[_FitTracking]:
    """Log one MLflow run per estimator ``fit`` inside the ``with`` block.

    Each run has the same content as a search's child run: the estimator's
    params, per-epoch train/validation metrics, status and the tags cell,
    bidirectional, n_layers, n_params, seconds_per_epoch and fused_kernel.
    The subscription is a context variable (:func:`seqtune.listeners.fit_listener`),
    so it is local to the thread or task.

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
    with fit_listener(handle.on_fit):
        yield handle
