"""The parts every seqtune estimator shares: parameters, the Keras fit loop, pickling.

``BaseSequenceEstimator`` stores the recurrent hyperparameters and runs one fit loop,
:meth:`BaseSequenceEstimator._fit_keras`, that seeds Keras, builds the model with
:func:`seqtune.model.build_recurrent_model`, wires early stopping and extra callbacks,
sets the documented fitted attributes, and tells :mod:`seqtune.listeners` that a fit
ended. An estimator knows nothing of the search or the tracking that may use it.
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
import warnings
from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._tensorflow import releasing_custom_gradients
from .device import fused_kernel_eligible
from .listeners import notify_fit
from .model import CELLS, build_recurrent_model, predict_in_batches
from .sequences import apply_stride, max_length, pad_sequences
from .splits import holdout_split
from .validation import check_params, did_you_mean, validate_sequences

__all__ = ["BaseSequenceEstimator"]

_INT32_MAX = np.iinfo(np.int32).max


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Keras, Python's and NumPy's global generators for a fit, then give the caller's
    ``random`` and ``numpy.random`` states back: a fit must not reseed the user's data."""
    states = random.getstate(), np.random.get_state()
    _set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])


def _set_random_seed(seed: int) -> None:
    """``keras.utils.set_random_seed``, without importing TensorFlow for another backend.

    Keras's version also seeds TensorFlow whenever it is installed, which under JAX or
    torch imports it: seconds and hundreds of MiB more per process (each search worker
    included), for a seed nothing reads. Keras's initialisers and layers draw their
    seeds from ``random`` and its trainers shuffle with NumPy, so those two and torch's
    generator are what counts; a fit's results are the same as with Keras's version.
    """
    backend = keras.config.backend()
    if backend == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    random.seed(seed)
    np.random.seed(seed)
    if backend == "torch":
        import torch

        torch.manual_seed(seed)


class BaseSequenceEstimator(BaseEstimator):
    """Recurrent hyperparameters and the shared Keras fit loop.

    Not for direct use: see :class:`~seqtune.SequenceClassifier`,
    :class:`~seqtune.SequenceRegressor` and :class:`~seqtune.SequenceForecaster`.
    """

    _parameter_constraints: dict = {
        "cell": [StrOptions(set(CELLS))],
        "units": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "recurrent_dropout": [Interval(Real, 0, 1, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "clipnorm": [Interval(Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "patience": [Interval(Integral, 0, None, closed="left")],
        "reduce_lr_patience": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # -- parameters ---------------------------------------------------------------------

    def _validate_hyperparams(self) -> None:
        """Check every parameter against ``_parameter_constraints`` (see ``check_params``)."""
        check_params(self)

    def set_params(self, **params: Any):
        """Set parameters; an unknown name raises with a "did you mean" hint."""
        valid = self.get_params(deep=True)
        for key in params:
            name = key.split("__", 1)[0]
            if name not in valid:
                close = did_you_mean(name, valid)
                hint = f" Did you mean {close!r}?" if close else ""
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}.{hint}"
                    f" Valid parameters are: {sorted(valid)!r}."
                )
        return super().set_params(**params)

    def _validate_fit_data(self, X: Any, y: Any, **target_checks: Any) -> tuple[Any, Any]:
        """Check the parameters, then X and y together (``reset=True``)."""
        self._validate_hyperparams()
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, "
                "but the target y is None."
            )
        return validate_sequences(X, self, reset=True, y=y, **target_checks)

    def _architecture(self) -> dict:
        """Options of :func:`~seqtune.model.build_recurrent_model` beyond the recurrent stack."""
        return {}

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(_INT32_MAX))

    # -- sequences -> model input -------------------------------------------------------

    def _prepare_X(self, X: Any, *, reset: bool) -> np.ndarray:
        """Validate X, apply ``stride`` and ``sequence_length``; return (n, L, f) float32.

        In ``fit`` (``reset=True``) this fixes ``sequence_length_`` and whether the model
        needs a padding mask (``masked_``).
        """
        X, _ = validate_sequences(X, self, reset=reset)
        return self._to_model_input(X, reset=reset)

    def _to_model_input(self, X, *, reset: bool) -> np.ndarray:
        X = apply_stride(X, self.stride)
        if reset:
            self.sequence_length_ = (
                int(self.sequence_length) if self.sequence_length is not None else max_length(X)
            )
        x, padded = pad_sequences(X, self.sequence_length_)
        if reset:
            self.masked_ = padded
        elif padded and not self.masked_:
            raise ValueError(
                f"X holds sequences shorter than the {self.sequence_length_} steps (after "
                f"stride={self.stride}) that this {type(self).__name__} was fitted on. It was "
                "fitted on equal-length sequences, so it has no padding mask. Pass sequences "
                f"of at least {self.sequence_length_ * self.stride - self.stride + 1} steps, "
                "or refit with variable-length training data or a sequence_length longer "
                "than some training sequences."
            )
        return np.ascontiguousarray(x, dtype=np.float32)

    # -- fit / predict ------------------------------------------------------------------

    def _fit_keras(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        sample_weight: np.ndarray | None,
        validation_data: tuple | None,
        callbacks: list | None,
        stratify: np.ndarray | None,
        n_outputs: int,
        head_activation: str | None,
        loss: str,
        metrics: list[str],
        masked: bool,
    ):
        """Build, fit and keep the Keras model; set the fitted attributes.

        Parameters
        ----------
        x : ndarray of shape (n_samples, n_timesteps, n_features)
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : ndarray of shape (n_samples,) or None
        validation_data : tuple (x_val, y_val) or None
            Already transformed; early stopping monitors it when given.
        callbacks : list of keras.callbacks.Callback or None
        stratify : ndarray of shape (n_samples,) or None
            Labels for a stratified internal validation split.
        n_outputs, head_activation, loss, metrics, masked
            See :func:`seqtune.model.build_recurrent_model`.
        """
        architecture = self._architecture()
        if architecture.get("squeeze_excite") and not (architecture.get("conv_branch")
                                                       or architecture.get("conv_frontend")):
            warnings.warn(
                "squeeze_excite=True has no effect without convolutions: it acts on "
                "conv_branch's or conv_frontend's filters, and here conv_branch="
                f"{architecture.get('conv_branch')!r}, conv_frontend="
                f"{architecture.get('conv_frontend')!r}. Set conv_branch=True, or leave "
                "squeeze_excite at False.", UserWarning, stacklevel=3)
        seed = self._seed()
        with seeded(seed):
            if sample_weight is not None:
                sample_weight = _check_sample_weight(sample_weight, x, dtype=np.float32)

            if validation_data is None and self.early_stopping and self.validation_fraction > 0:
                x, y, sample_weight, validation_data = _split_validation(
                    x, y, sample_weight, self.validation_fraction, stratify, seed
                )

            model = build_recurrent_model(
                n_timesteps=x.shape[1], n_features=x.shape[2], n_outputs=n_outputs,
                cell=self.cell, units=self.units, n_layers=self.n_layers,
                bidirectional=self.bidirectional, dropout=self.dropout,
                recurrent_dropout=self.recurrent_dropout, masked=masked,
                head_activation=head_activation, loss=loss, metrics=metrics,
                learning_rate=self.learning_rate, clipnorm=self.clipnorm,
                **architecture,
            )
            return self._train(model, x, y, sample_weight=sample_weight,
                               validation_data=validation_data, callbacks=callbacks, masked=masked)

    def _train(
        self,
        model: keras.Model,
        x: Any,
        y: np.ndarray | None = None,
        *,
        sample_weight: np.ndarray | None = None,
        validation_data: Any = None,
        callbacks: list | None = None,
        masked: bool = False,
    ):
        """Fit a compiled model with early stopping; set the fitted attributes.

        Parameters
        ----------
        model : keras.Model
            Compiled, from :mod:`seqtune.model` or :mod:`seqtune.seq2seq`.
        x : ndarray of shape (n_samples, n_timesteps, n_features) or keras.utils.PyDataset
            A PyDataset yields its own targets and batches (the forecaster's windows).
        y : ndarray or None
            Targets for array ``x``.
        sample_weight, validation_data, callbacks, masked
            As for :meth:`_fit_keras`; ``validation_data`` may also be a PyDataset.
        """
        all_callbacks = list(callbacks or [])
        # Without validation data (validation_fraction=0) both rules watch the training loss.
        monitor = "val_loss" if validation_data is not None else "loss"
        early_stopping = None
        if self.early_stopping:
            early_stopping = keras.callbacks.EarlyStopping(
                monitor=monitor, patience=self.patience, restore_best_weights=True,
            )
            all_callbacks.append(early_stopping)
        if self.reduce_lr_patience is not None:
            all_callbacks.append(keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, factor=0.5, patience=self.reduce_lr_patience,
                min_lr=self.learning_rate / 64,
            ))
        # A PyDataset batches and shuffles itself; Keras rejects these arguments for it.
        batching = {} if isinstance(x, keras.utils.PyDataset) else dict(
            batch_size=self.batch_size, shuffle=True)
        start = time.perf_counter()
        # On TensorFlow, each fit would otherwise keep its traced graph for good.
        with releasing_custom_gradients():
            history = model.fit(
                x, y, sample_weight=sample_weight, validation_data=validation_data,
                epochs=self.epochs, callbacks=all_callbacks, verbose=self.verbose, **batching,
            )
        self.fit_time_ = time.perf_counter() - start
        self.model_ = model
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.n_epochs_ = len(history.epoch)
        # Keras restores the best epoch's weights whenever early stopping saw one.
        restored = early_stopping is not None and early_stopping.best_weights is not None
        self.best_epoch_ = int(early_stopping.best_epoch) if restored else self.n_epochs_ - 1
        self.n_params_ = int(model.count_params())
        self.fused_kernel_ = fused_kernel_eligible(
            self.cell, recurrent_dropout=self.recurrent_dropout, masked=masked
        )
        notify_fit(self)
        return self

    def _predict_raw(self, X: Any) -> np.ndarray:
        """Model output for X, as float64, shape (n_samples, n_outputs)."""
        check_is_fitted(self, "model_")
        x = self._prepare_X(X, reset=False)
        return predict_in_batches(self.model_, x, batch_size=max(self.batch_size, 256))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


def _split_validation(x, y, sample_weight, fraction, stratify, seed):
    """Hold out ``fraction`` of the rows for early stopping; stratified when possible.

    Returns the training part and ``validation_data`` (None when too few samples).
    """
    n = len(x)
    n_val = int(np.ceil(fraction * n))
    if n_val < 1 or n - n_val < 1:
        return x, y, sample_weight, None
    # A class too small to stratify falls back to a plain split: early stopping only.
    train, val, _ = holdout_split(n, fraction, stratify=stratify, random_state=seed)
    train, val = np.sort(train), np.sort(val)
    sw_train = None if sample_weight is None else sample_weight[train]
    val_data = (x[val], y[val]) if sample_weight is None else (x[val], y[val], sample_weight[val])
    return x[train], y[train], sw_train, val_data
