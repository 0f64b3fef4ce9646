"""Keras callbacks for seqtune estimators, passed through ``fit(..., callbacks=[...])``.

* :class:`LoadWeights` starts training from saved weights and optimizer state (how a
  promoted Hyperband trial goes on from its parent).
* :class:`StopAtDeadline` ends training at the first epoch boundary past a deadline
  (how a search keeps its time budget).

Only ``keras.callbacks.Callback`` is used, so every backend works.
"""

from __future__ import annotations

import os
import time
import warnings

import keras

__all__ = ["LoadWeights", "StopAtDeadline"]


class LoadWeights(keras.callbacks.Callback):
    """Load weights (and the optimizer's state) saved with ``model.save_weights`` at train begin.

    The estimator builds and compiles a fresh model as usual; this callback then
    replaces its initial weights before the first epoch, so training continues where
    the saved model stopped. The file must come from a model of the same architecture.

    Parameters
    ----------
    path : str or path
        A ``.weights.h5`` file.

    Attributes
    ----------
    loaded : bool
        Whether the last ``fit`` started from the file. When it does not load
        (missing, unreadable, another architecture), training starts from the fresh
        initialisation and a ``UserWarning`` names the file and the reason.

    Examples
    --------
    >>> clf.model_.save_weights("clf.weights.h5")  # doctest: +SKIP
    >>> more = clone(clf).set_params(epochs=20)  # doctest: +SKIP
    >>> more.fit(X, y, callbacks=[LoadWeights("clf.weights.h5")])  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.loaded = False

    def on_train_begin(self, logs=None):
        model = self.model
        self.loaded = False
        try:
            # Built first, the optimizer takes back its saved state (Adam's moments) too.
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(self.path)
        except Exception as exc:  # noqa: BLE001 - any missing, unreadable or mismatched file
            warnings.warn(
                f"Could not start from the saved weights {self.path} ({type(exc).__name__}: "
                f"{exc}); training from a fresh initialisation instead.",
                UserWarning, stacklevel=2,
            )
            return
        self.loaded = True


class StopAtDeadline(keras.callbacks.Callback):
    """Stop training at the first epoch boundary at or past ``deadline``.

    Parameters
    ----------
    deadline : float or None
        A ``time.monotonic()`` value; None never stops.

    Attributes
    ----------
    stopped : bool
        Whether the last ``fit`` was cut by the deadline.
    """

    def __init__(self, deadline: float | None) -> None:
        super().__init__()
        self.deadline = deadline
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.stopped = False

    def on_epoch_end(self, epoch, logs=None):
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.stopped = True
            self.model.stop_training = True
