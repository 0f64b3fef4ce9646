"""Build the Keras model: a pure function of data shape and hyperparameters.

Only ``keras.layers`` and ``keras.ops`` are used, so TensorFlow, JAX and PyTorch
backends all work.
"""

from __future__ import annotations


import keras
import numpy as np

from ._tensorflow import quiet_keras_retracing_warnings
from .layers import (
    AttentionPooling,
    MaskedAveragePooling,
    MemberLoss,
    PaddingMask,
    SeriesNormalization,
    SqueezeExcite,
    StepMask,
    ZeroPadding,
)

__all__ = [
    "CELLS",
    "FCN_BLOCKS",
    "POOLINGS",
    "MemberLoss",
    "PaddingMask",
    "build_recurrent_model",
    "conv_block",
    "predict_in_batches",
    "recurrent_layer",
    "recurrent_stack",
]

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}
#: How the recurrent outputs become one vector: the last state, their mean, or attention.
POOLINGS = ("last", "mean", "attention")
#: LSTM-FCN's convolutional branch (Karim et al. 2017): (filters, kernel size) per block.
FCN_BLOCKS = ((128, 8), (256, 5), (128, 3))
# A convolutional front end before the recurrent stack: filters and kernel size per block.
_FRONTEND_FILTERS, _FRONTEND_KERNEL = 64, 5


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
    mask=None,
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
    mask : KerasTensor of shape (batch, n_timesteps), optional
        A padding mask to apply when ``x`` carries none (it came through a convolution).

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
        x = layer(x) if mask is None or i > 0 else layer(x, mask=mask)
    return x


def conv_block(x, filters: int, kernel_size: int, *, name: str, mask=None,
               squeeze_excite: bool = False):
    """Conv1D (same padding) → batch normalisation → ReLU, then optionally squeeze-and-excite.

    Parameters
    ----------
    x : KerasTensor of shape (batch, n_timesteps, channels)
    filters, kernel_size : int
    name : str
        Prefix of the block's layer names.
    mask : KerasTensor of shape (batch, n_timesteps), optional
        Padding mask: batch normalisation's statistics skip padded steps, which are
        zeroed after the block, and squeeze-and-excite's channel means skip them too.
    squeeze_excite : bool

    Returns
    -------
    KerasTensor of shape (batch, n_timesteps, filters)
    """
    x = keras.layers.Conv1D(filters, kernel_size, padding="same", kernel_initializer="he_uniform",
                            name=f"{name}_conv")(x)
    if mask is None:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    else:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x, mask=mask)
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
        x = ZeroPadding(name=f"{name}_zero_padding")(x, mask=mask)
    if squeeze_excite:
        x = SqueezeExcite(name=f"{name}_se")(x, mask=mask)
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
    pooling: str = "last",
    conv_branch: bool = False,
    conv_frontend: int = 0,
    squeeze_excite: bool = False,
    normalize: bool = False,
) -> keras.Model:
    """Return a compiled recurrent model, optionally a recurrent-convolutional hybrid.

    The input goes, in order, through the padding mask (``masked``), per-series
    normalisation (``normalize``), a convolutional front end (``conv_frontend``), the
    recurrent stack and its pooling (``pooling``); with ``conv_branch`` LSTM-FCN's
    convolutional branch reads the same (normalised) input beside the recurrent one,
    and the two are concatenated before the dense head.

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
    pooling : {"last", "mean", "attention"}
        How the recurrent outputs become one vector: the last state (Keras's
        ``return_sequences=False``), the mean of the hidden states over the valid
        steps, or attention pooling over them (:class:`~seqtune.layers.AttentionPooling`).
    conv_branch : bool
        Add LSTM-FCN's convolutional branch (Karim et al. 2017) in parallel with the
        recurrent stack: Conv1D 128/k8, 256/k5, 128/k3 (each with batch norm and
        ReLU), then the mean over the valid steps (:data:`FCN_BLOCKS`).
    conv_frontend : int
        Convolutional blocks (64 filters, kernel 5) before the recurrent stack.
    squeeze_excite : bool
        Squeeze-and-excite after the first two blocks of the branch and after every
        front-end block (MLSTM-FCN). Needs ``conv_branch`` or ``conv_frontend``.
    normalize : bool
        Standardise each series by its own mean and std over time, per channel
        (:class:`~seqtune.layers.SeriesNormalization`).

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
    if pooling not in POOLINGS:
        raise ValueError(f"pooling={pooling!r} is not supported; expected one of {list(POOLINGS)}.")
    inputs = keras.Input(shape=(n_timesteps, n_features), name="sequences")
    hybrid = bool(conv_branch or conv_frontend or normalize)
    mask = None
    if masked and hybrid:
        # Convolutions cannot carry a Keras mask: the padding is zeroed, and the mask
        # goes explicitly to what needs it (normalisation, the recurrent stack, pooling).
        x = PaddingMask(carry_mask=False, name="padding_zeros")(inputs)
        mask = StepMask(name="step_mask")(inputs)
    elif masked:
        x = PaddingMask(name="padding_mask")(inputs)
    else:
        x = inputs
    if normalize:
        x = SeriesNormalization(name="series_norm")(x, mask=mask)
    outputs = []
    for m in range(n_members):
        # Member 0 keeps the single-model layer names, so one-member models are unchanged.
        tag = "" if m == 0 else f"_m{m}"
        h = x
        for i in range(conv_frontend):
            h = conv_block(h, _FRONTEND_FILTERS, _FRONTEND_KERNEL, name=f"frontend{tag}_{i}",
                           mask=mask, squeeze_excite=squeeze_excite)
        h = recurrent_stack(
            h, cell=cell, units=units, n_layers=n_layers, bidirectional=bidirectional,
            dropout=dropout, recurrent_dropout=recurrent_dropout, name=f"recurrent{tag}",
            return_sequences=pooling != "last", mask=mask,
        )
        if pooling == "mean":
            h = MaskedAveragePooling(name=f"mean_pool{tag}")(h)
        elif pooling == "attention":
            h = AttentionPooling(units=units, name=f"attention_pool{tag}")(h)
        if conv_branch:
            f = x
            for i, (filters, kernel) in enumerate(FCN_BLOCKS):
                f = conv_block(f, filters, kernel, name=f"fcn{tag}_{i}", mask=mask,
                               squeeze_excite=squeeze_excite and i < len(FCN_BLOCKS) - 1)
            f = MaskedAveragePooling(name=f"fcn_pool{tag}")(f, mask=mask)
            h = keras.layers.Concatenate(name=f"recurrent_and_fcn{tag}")([h, f])
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
    quiet_keras_retracing_warnings()  # each new model's first call traces; that is expected
    x = np.asarray(x, dtype=np.float32)
    return np.concatenate([
        np.asarray(model.predict_on_batch(x[i : i + batch_size]), dtype=np.float64)
        for i in range(0, len(x), batch_size)
    ])
