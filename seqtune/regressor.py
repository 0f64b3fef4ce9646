"""SequenceRegressor: a scikit-learn regressor over a Keras recurrent stack."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_array, check_is_fitted

from ._base import BaseSequenceEstimator
from .classifier import SEQUENCE_MODEL_CONSTRAINTS, SequenceClassifier

__all__ = ["SequenceRegressor"]


class SequenceRegressor(RegressorMixin, BaseSequenceEstimator):
    """Regress (single or multiple) targets on sequences with a Keras recurrent stack.

    Targets are standardised inside ``fit`` (mean 0, unit variance per output) and
    predictions mapped back, so the default learning rate works whatever y's units.

    Parameters
    ----------
    cell, units, n_layers, bidirectional, dropout, recurrent_dropout, sequence_length, \
stride, learning_rate, clipnorm, batch_size, epochs, early_stopping, \
validation_fraction, patience, random_state, verbose, pooling, conv_branch, conv_frontend, \
squeeze_excite, normalize, reduce_lr_patience
        As for :class:`~seqtune.SequenceClassifier`; the internal validation split is
        not stratified.

    Attributes
    ----------
    model_ : keras.Model
    history_ : dict of str to list of float
        Per-epoch ``loss`` (MSE on standardised y) and ``val_loss``.
    n_outputs_ : int
    n_features_in_, feature_names_in_, n_step_features_, sequence_length_, masked_, \
n_epochs_, n_params_, fit_time_, fused_kernel_, best_epoch_
        As for :class:`~seqtune.SequenceClassifier`.

    Examples
    --------
    >>> import numpy as np
    >>> from seqtune import SequenceRegressor
    >>> X = np.random.RandomState(0).normal(size=(40, 12))
    >>> y = X[:, -3:].sum(axis=1)
    >>> reg = SequenceRegressor(units=8, epochs=2, random_state=0).fit(X, y)
    >>> reg.predict(X).shape
    (40,)
    """

    _parameter_constraints: dict = {
        **BaseSequenceEstimator._parameter_constraints,
        **SEQUENCE_MODEL_CONSTRAINTS,
    }

    __init__ = SequenceClassifier.__init__
    _architecture = SequenceClassifier._architecture

    def fit(self, X: Any, y: Any, sample_weight: Any = None, *, validation_data=None,
            callbacks=None) -> "SequenceRegressor":
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or (n_samples, n_timesteps, \
                n_features), DataFrame, or list of arrays (t_i,) / (t_i, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
        validation_data : tuple (X_val, y_val), default=None
            Monitored by early stopping instead of an internal split.
        callbacks : list of keras.callbacks.Callback, default=None

        Returns
        -------
        self
        """
        X, y = self._validate_fit_data(X, y, y_numeric=True, multi_output=True)
        y = np.asarray(y, dtype=np.float64)
        self._y_ndim = y.ndim
        y2 = y.reshape(len(y), -1)
        self.n_outputs_ = y2.shape[1]
        self._y_mean = y2.mean(axis=0)
        scale = y2.std(axis=0)
        self._y_scale = np.where(scale > 0, scale, 1.0)
        x = self._to_model_input(X, reset=True)
        if validation_data is not None:
            X_val, y_val = validation_data
            validation_data = (self._prepare_X(X_val, reset=False), self._scale_y(y_val))
        return self._fit_keras(
            x, self._scale_y(y2), sample_weight=sample_weight,
            validation_data=validation_data, callbacks=callbacks, stratify=None,
            n_outputs=self.n_outputs_, head_activation=None, loss="mse", metrics=[],
            masked=self.masked_,
        )

    def _scale_y(self, y: Any) -> np.ndarray:
        y = check_array(y, ensure_2d=False, input_name="y", dtype=np.float64)
        y = y.reshape(len(y), -1)
        if y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y.shape[1]} outputs; this {type(self).__name__} was fitted with "
                f"{self.n_outputs_}."
            )
        return ((y - self._y_mean) / self._y_scale).astype(np.float32)

    def predict(self, X: Any) -> np.ndarray:
        """Predict targets.

        Parameters
        ----------
        X : array-like, see :meth:`fit`

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The shape of the training y.
        """
        check_is_fitted(self, "model_")
        out = self._predict_raw(X) * self._y_scale + self._y_mean
        return out.ravel() if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
