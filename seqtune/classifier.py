"""SequenceClassifier: a scikit-learn classifier over a Keras recurrent stack."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d

from ._base import BaseSequenceEstimator
from .model import POOLINGS

__all__ = ["SequenceClassifier"]

#: Parameters of the sequence classifier and regressor beyond the shared recurrent ones.
SEQUENCE_MODEL_CONSTRAINTS: dict = {
    "sequence_length": [Interval(Integral, 1, None, closed="left"), None],
    "stride": [Interval(Integral, 1, None, closed="left")],
    "pooling": [StrOptions(set(POOLINGS))],
    "conv_branch": ["boolean"],
    "conv_frontend": [Interval(Integral, 0, None, closed="left")],
    "squeeze_excite": ["boolean"],
    "normalize": ["boolean"],
}


class SequenceClassifier(ClassifierMixin, BaseSequenceEstimator):
    """Classify sequences with a Keras LSTM, GRU or SimpleRNN stack.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        Recurrent cell; "rnn" is Keras's SimpleRNN.
    units : int, default=64
        Units per recurrent layer (per direction when bidirectional).
    n_layers : int, default=1
        Number of stacked recurrent layers.
    bidirectional : bool, default=False
        Wrap each layer in ``keras.layers.Bidirectional``.
    dropout : float, default=0.0
        Dropout on each layer's inputs and on the stack's output. Keeps the fused
        cuDNN kernel on a GPU.
    recurrent_dropout : float, default=0.0
        Dropout on the recurrent state. Any value > 0 disables the fused cuDNN kernel
        (7-25x slower training on a GPU).
    sequence_length : int or None, default=None
        Steps the model sees, counted after ``stride``: the last ``sequence_length``
        steps are kept and shorter sequences are padded (and masked). None keeps the
        longest training length.
    stride : int, default=1
        Keep every ``stride``-th step (the last step is always kept).
    learning_rate : float, default=1e-3
        Adam learning rate.
    clipnorm : float or None, default=1.0
        Clip each gradient to this norm; None disables clipping.
    batch_size : int, default=32
    epochs : int, default=200
        Maximum epochs; early stopping usually ends training sooner.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training data (stratified) and stop when
        its loss has not improved for ``patience`` epochs, restoring the best weights.
    validation_fraction : float, default=0.1
        With 0, nothing is held out: early stopping (and ``reduce_lr_patience``) watch
        the training loss, as LSTM-FCN trains. Small training sets (tens of series)
        leave a holdout of a handful, too few to stop on reliably.
    patience : int, default=50
        Long on purpose: unidirectional LSTM and GRU models often sit at chance for
        tens of epochs before they start to learn (seen on GunPoint).
    random_state : int, RandomState instance or None, default=None
        Seeds Keras (weights, dropout, shuffling) and the validation split. The same
        value gives identical predictions on CPU.
    verbose : int, default=0
        Keras's fit verbosity.
    pooling : {"last", "mean", "attention"}, default="last"
        How the recurrent outputs become one vector: the last state, the mean of the
        hidden states over the valid steps, or attention pooling over them.
    conv_branch : bool, default=False
        LSTM-FCN's convolutional branch beside the recurrent stack (Conv1D 128/k8,
        256/k5, 128/k3, each with batch norm and ReLU, then the mean over time),
        concatenated before the head. Only ``keras.layers``: the fused cuDNN kernel of
        the recurrent branch stays usable.
    conv_frontend : int, default=0
        Convolutional blocks (Conv1D 64/k5, batch norm, ReLU) before the recurrent stack.
    squeeze_excite : bool, default=False
        Squeeze-and-excite blocks in the convolutions (MLSTM-FCN); needs ``conv_branch``
        or ``conv_frontend``.
    normalize : bool, default=False
        Standardise each series by its own mean and std over time, per channel.
    reduce_lr_patience : int or None, default=None
        Halve the learning rate when the monitored loss has not improved for this many
        epochs (Keras's ``ReduceLROnPlateau``, down to ``learning_rate / 64``); None
        keeps it constant.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : keras.Model
        Input ``(batch, sequence_length_, n_step_features_)``.
    history_ : dict of str to list of float
        Per-epoch metrics: ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``.
    n_features_in_ : int
        As scikit-learn defines it: columns of a 2-D X ``(n_samples, n_timesteps)``;
        features per step for 3-D or variable-length X.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame.
    n_step_features_ : int
        Features per time step.
    sequence_length_ : int
        Steps the model sees.
    masked_ : bool
        Whether the model carries a padding mask.
    n_epochs_, n_params_, fit_time_, fused_kernel_
        Epochs run, trainable parameter count, fit seconds, and whether Keras can use
        the fused cuDNN kernel for this configuration on this device.
    best_epoch_ : int
        0-based index into ``history_`` of the epoch whose weights the model holds: the
        best ``val_loss`` epoch with early stopping (Keras restores it), else the last.

    Examples
    --------
    >>> import numpy as np
    >>> from seqtune import SequenceClassifier
    >>> X = np.random.RandomState(0).normal(size=(40, 12, 2))
    >>> y = (X[:, -1, 0] > 0).astype(int)
    >>> clf = SequenceClassifier(units=8, epochs=2, random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape
    (40, 2)
    """

    _parameter_constraints: dict = {
        **BaseSequenceEstimator._parameter_constraints,
        **SEQUENCE_MODEL_CONSTRAINTS,
    }

    def __init__(
        self,
        cell: str = "lstm",
        units: int = 64,
        n_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        sequence_length: int | None = None,
        stride: int = 1,
        learning_rate: float = 1e-3,
        clipnorm: float | None = 1.0,
        batch_size: int = 32,
        epochs: int = 200,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 50,
        random_state: Any = None,
        verbose: int = 0,
        pooling: str = "last",
        conv_branch: bool = False,
        conv_frontend: int = 0,
        squeeze_excite: bool = False,
        normalize: bool = False,
        reduce_lr_patience: int | None = None,
    ) -> None:
        self.cell = cell
        self.units = units
        self.n_layers = n_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.sequence_length = sequence_length
        self.stride = stride
        self.learning_rate = learning_rate
        self.clipnorm = clipnorm
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose
        self.pooling = pooling
        self.conv_branch = conv_branch
        self.conv_frontend = conv_frontend
        self.squeeze_excite = squeeze_excite
        self.normalize = normalize
        self.reduce_lr_patience = reduce_lr_patience

    def _architecture(self) -> dict:
        return {"pooling": self.pooling, "conv_branch": self.conv_branch,
                "conv_frontend": self.conv_frontend, "squeeze_excite": self.squeeze_excite,
                "normalize": self.normalize}

    def fit(self, X: Any, y: Any, sample_weight: Any = None, *, validation_data=None,
            callbacks=None) -> "SequenceClassifier":
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or (n_samples, n_timesteps, \
                n_features), DataFrame, or list of arrays (t_i,) / (t_i, n_features)
        y : array-like of shape (n_samples,)
            Labels of any type (strings, ints, ...).
        sample_weight : array-like of shape (n_samples,), default=None
        validation_data : tuple (X_val, y_val), default=None
            Monitored by early stopping instead of an internal split.
        callbacks : list of keras.callbacks.Callback, default=None
            Extra Keras callbacks.

        Returns
        -------
        self
        """
        X, y = self._validate_fit_data(X, y)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self._label_encoder = LabelEncoder().fit(y)
        self.classes_ = self._label_encoder.classes_
        y_enc = self._label_encoder.transform(y).astype(np.int32)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class: "
                f"{self.classes_.tolist()}."
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, y_enc, dtype=np.float32)
            weighted = np.unique(y_enc[sample_weight > 0])
            if len(weighted) < 2:
                raise ValueError(
                    "Only 1 class has a positive sample_weight "
                    f"({self.classes_[weighted].tolist()}); {type(self).__name__} needs at "
                    "least 2 classes with positive weight."
                )
        x = self._to_model_input(X, reset=True)
        if validation_data is not None:
            X_val, y_val = validation_data
            validation_data = (self._prepare_X(X_val, reset=False),
                               self._encode(y_val))
        return self._fit_keras(
            x, y_enc, sample_weight=sample_weight, validation_data=validation_data,
            callbacks=callbacks, stratify=y_enc, n_outputs=len(self.classes_),
            head_activation="softmax", loss="sparse_categorical_crossentropy",
            metrics=["accuracy"], masked=self.masked_,
        )

    def _encode(self, y: Any) -> np.ndarray:
        y = column_or_1d(y)
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(
                f"y contains labels {unknown.tolist()[:5]} that were not in the training "
                f"classes {self.classes_.tolist()}."
            )
        return self._label_encoder.transform(y).astype(np.int32)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like, see :meth:`fit`

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        proba = self._predict_raw(X)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class.

        Parameters
        ----------
        X : array-like, see :meth:`fit`

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels of the same type as the training y.
        """
        check_is_fitted(self, "model_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags
