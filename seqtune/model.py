"""Build the Keras model: a pure function of data shape and hyperparameters.

Only ``keras.layers`` and ``keras.ops`` are used, so TensorFlow, JAX and PyTorch
backends all work.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

__all__ = [
    "CELLS",
    "MemberLoss",
    "PaddingMask",
    "build_recurrent_model",
    "predict_in_batches",
    "recurrent_layer",
    "recurrent_stack",
]

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}


@keras.saving.register_keras_serializable(package="seqtune")
class PaddingMask(keras.layers.Layer):
    """Turn NaN padding into a Keras mask and zeros.

    A step is padding when all its features are NaN; seqtune's validation rejects NaN in
    user data, so the sentinel cannot collide with real values (unlike ``Masking(0.0)``,
    which would mask genuine all-zero steps).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.where(ops.isnan(inputs), ops.zeros_like(inputs), inputs)

    def compute_mask(self, inputs, mask=None):
        return ops.logical_not(ops.all(ops.isnan(inputs), axis=-1))


@keras.saving.register_keras_serializable(package="seqtune")
class MemberLoss(keras.losses.Loss):
    """A loss for ``n_members`` models trained side by side in one Keras model.

    The model's output concatenates the members' outputs, ``(batch, n_members *
    n_outputs)``; the target ``(batch, n_outputs)`` is repeated for each member, so the
    loss is the mean of the members' own losses. Each member's gradient depends only
    on its own output: the members train independently (a deep ensemble), not as
    one wider network fitted through their average.
    """

    def __init__(self, base: str = "mse", n_members: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = base
        self.n_members = int(n_members)
        self._fn = keras.losses.get(base)

    def call(self, y_true, y_pred):
        return self._fn(ops.tile(y_true, [1, self.n_members]), y_pred)

    def get_config(self) -> dict:
        return {**super().get_config(), "base": self.base, "n_members": self.n_members}


def recurrent_layer(
    cell: str,
    units: int,
    *,
    name: str,
    bidirectional: bool = False,
    inner_name: str | None = None,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    return_sequences: bool = False,
    return_state: bool = False,
) -> keras.layers.Layer:
    """One recurrent layer, optionally wrapped in ``keras.layers.Bidirectional``.

    The one place seqtune creates a recurrent layer: :func:`recurrent_stack` and the
    encoder-decoder of :mod:`seqtune.seq2seq` both build theirs here.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}
    units : int
        Units of the cell (per direction when bidirectional).
    name : str
        Name of the returned layer (the wrapper when bidirectional).
    bidirectional : bool
    inner_name : str, optional
        Name of the wrapped cell layer when bidirectional; ``name`` otherwise unused.
    dropout, recurrent_dropout : float
        ``dropout`` is Keras's input dropout, which keeps the fused cuDNN kernel;
        ``recurrent_dropout`` does not.
    return_sequences, return_state : bool
        As for Keras's recurrent layers.

    Returns
    -------
    keras.layers.Layer
    """
    layer = CELLS[cell](
        units,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        return_sequences=return_sequences,
        return_state=return_state,
        name=(inner_name or f"{name}_{cell}") if bidirectional else name,
    )
    return keras.layers.Bidirectional(layer, name=name) if bidirectional else layer


def recurrent_stack(
    x,
    *,
    cell: str,
    units: int,
    n_layers: int,
    bidirectional: bool,
    dropout: float,
    recurrent_dropout: float,
    return_sequences: bool = False,
    return_state: bool = False,
    name: str = "recurrent",
):
    """Apply ``n_layers`` recurrent layers to the tensor ``x``.

    Parameters
    ----------
    x : KerasTensor of shape (batch, n_timesteps, n_features)
    cell : {"lstm", "gru", "rnn"}
    units, n_layers : int
    bidirectional : bool
    dropout, recurrent_dropout : float
        ``dropout`` is Keras's input dropout of each layer, which keeps the fused cuDNN
        kernel; ``recurrent_dropout`` does not.
    return_sequences : bool
        Whether the last layer returns the whole sequence.
    return_state : bool
        Whether the last layer also returns its final states (encoder use).

    Returns
    -------
    KerasTensor, or a list ``[output, *states]`` when ``return_state``.
    """
    for i in range(n_layers):
        last = i == n_layers - 1
        layer = recurrent_layer(
            cell, units,
            name=f"{name}_bi_{i}" if bidirectional else f"{name}_{cell}_{i}",
            bidirectional=bidirectional, inner_name=f"{name}_{cell}_{i}",
            dropout=dropout, recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences if last else True,
            return_state=return_state and last,
        )
        x = layer(x)
    return x


def build_recurrent_model(
    *,
    n_timesteps: int | None,
    n_features: int,
    n_outputs: int,
    cell: str = "lstm",
    units: int = 64,
    n_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    masked: bool = False,
    head_activation: str | None = None,
    loss: str = "mse",
    metrics: list[str] | None = None,
    learning_rate: float = 1e-3,
    clipnorm: float | None = 1.0,
    linear_skip: bool = False,
    n_members: int = 1,
) -> keras.Model:
    """Return a compiled recurrent model.

    Parameters
    ----------
    n_timesteps : int or None
        Input length; None accepts any length.
    n_features : int
        Features per step.
    n_outputs : int
        Width of the dense head (classes, or regression targets).
    cell, units, n_layers, bidirectional, dropout, recurrent_dropout
        The recurrent stack, see :func:`recurrent_stack`. ``dropout`` is also applied to
        the stack's output, before the head.
    masked : bool
        Add a :class:`PaddingMask` so that NaN-padded steps are skipped.
    head_activation : str or None
        Activation of the dense head ("softmax" for classifiers, None for regression).
    loss, metrics : str, list of str
        Passed to ``compile``.
    learning_rate : float
        Adam's learning rate.
    clipnorm : float or None
        Gradient clipping by norm; None disables it.
    linear_skip : bool
        Add a linear map from the whole (flattened) input window to the output, in
        parallel with the recurrent stack (LSTNet's autoregressive "highway"). The
        network then learns what a linear autoregression of the window misses, and
        the model can represent a VAR of order ``n_timesteps`` exactly, which helps
        on short, nearly linear series. Needs a fixed ``n_timesteps`` and no mask.
    n_members : int
        Independently initialised copies of the whole network, trained side by side
        with :class:`MemberLoss` (a deep ensemble). The output is their concatenation,
        ``(batch, n_members * n_outputs)``: average the members' blocks to predict.
        ``metrics`` are not supported with more than one member.

    Returns
    -------
    keras.Model
        Input ``(batch, n_timesteps, n_features)``, output ``(batch, n_outputs)``, or
        ``(batch, n_members * n_outputs)`` with several members.
    """
    if linear_skip and (masked or n_timesteps is None):
        raise ValueError("linear_skip needs a fixed-length, unmasked input window.")
    if n_members > 1 and metrics:
        raise ValueError(f"metrics={metrics!r} cannot be computed on a {n_members}-member ensemble's output.")
    inputs = keras.Input(shape=(n_timesteps, n_features), name="sequences")
    x = PaddingMask(name="padding_mask")(inputs) if masked else inputs
    outputs = []
    for m in range(n_members):
        # Member 0 keeps the single-model layer names, so one-member models are unchanged.
        tag = "" if m == 0 else f"_m{m}"
        h = recurrent_stack(
            x, cell=cell, units=units, n_layers=n_layers, bidirectional=bidirectional,
            dropout=dropout, recurrent_dropout=recurrent_dropout, name=f"recurrent{tag}",
        )
        if dropout > 0:
            h = keras.layers.Dropout(dropout, name=f"output_dropout{tag}")(h)
        out = keras.layers.Dense(n_outputs, activation=head_activation, name=f"head{tag}")(h)
        if linear_skip:
            flat = keras.layers.Flatten(name=f"window_flat{tag}")(inputs)
            out = keras.layers.Add(name=f"head_plus_linear{tag}")(
                [out, keras.layers.Dense(n_outputs, name=f"linear_skip{tag}")(flat)]
            )
        outputs.append(out)
    if n_members > 1:
        outputs = [keras.layers.Concatenate(name="members")(outputs)]
        loss = MemberLoss(loss, n_members)
    model = keras.Model(inputs, outputs[0], name=f"seqtune_{cell}")
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics or [])
    return model


def predict_in_batches(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Run a compiled model on ``x`` in batches, without ``model.predict``'s data pipeline.

    ``predict_on_batch`` calls the compiled predict step directly: about 1 ms for a
    handful of samples, where ``model.predict`` costs 40-60 ms of fixed overhead on
    TensorFlow. That matters for the forecaster's rolling evaluation and for any
    caller that predicts a few samples at a time.

    Parameters
    ----------
    model : keras.Model
    x : ndarray of shape (n_samples, n_timesteps, n_features)
    batch_size : int
        Samples per call; bounds the memory of one call.

    Returns
    -------
    ndarray of float64 of shape (n_samples, n_outputs)
    """
    x = np.asarray(x, dtype=np.float32)
    return np.concatenate([
        np.asarray(model.predict_on_batch(x[i : i + batch_size]), dtype=np.float64)
        for i in range(0, len(x), batch_size)
    ])
