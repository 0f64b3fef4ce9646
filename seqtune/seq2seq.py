"""Encoder-decoder recurrent model for multi-step forecasts, trained with teacher forcing.

The encoder reads the ``lookback`` history; each decoder layer starts from the final
state of the matching encoder layer and reads, at step ``h``, the value one step
before target ``h``: the true value during training (teacher forcing), its own
previous forecast at prediction time (:func:`decode_autoregressive`). Only
``keras.layers`` and ``keras.ops`` are used, so every Keras backend works.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .model import recurrent_layer

__all__ = ["build_seq2seq_model", "decode_autoregressive"]


def _n_states(cell: str) -> int:
    return 2 if cell == "lstm" else 1


def build_seq2seq_model(
    *,
    lookback: int,
    n_features: int,
    n_targets: int,
    horizon: int,
    cell: str = "lstm",
    units: int = 64,
    n_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    learning_rate: float = 1e-3,
    clipnorm: float | None = 1.0,
    loss: str = "mse",
) -> keras.Model:
    """Return a compiled encoder-decoder model.

    Parameters
    ----------
    lookback : int
        Encoder input length.
    n_features : int
        Features per history step (targets + exogenous).
    n_targets : int
        Target channels (decoder input and output width).
    horizon : int
        Decoder length.
    cell, units, n_layers, bidirectional, dropout, recurrent_dropout
        As for :func:`seqtune.model.build_recurrent_model`. A bidirectional encoder
        concatenates its forward and backward states, so the (causal, unidirectional)
        decoder has ``2 * units`` units.
    learning_rate, clipnorm, loss
        Adam settings and loss.

    Returns
    -------
    keras.Model
        Inputs ``history`` ``(batch, lookback, n_features)`` and ``decoder_inputs``
        ``(batch, horizon, n_targets)``; output ``(batch, horizon, n_targets)``.
        Layers are named ``encoder_{i}``, ``decoder_{i}`` and ``decoder_head``.
    """
    history = keras.Input(shape=(lookback, n_features), name="history")
    decoder_inputs = keras.Input(shape=(horizon, n_targets), name="decoder_inputs")
    n_s = _n_states(cell)
    x = history
    encoder_states = []
    for i in range(n_layers):
        layer = recurrent_layer(
            cell, units, name=f"encoder_{i}", bidirectional=bidirectional,
            inner_name=f"encoder_{cell}_{i}", dropout=dropout,
            recurrent_dropout=recurrent_dropout, return_sequences=True, return_state=True,
        )
        out = layer(x)
        x, states = out[0], list(out[1:])
        if bidirectional:  # [fwd_h, (fwd_c), bwd_h, (bwd_c)] -> [h, (c)] of width 2 * units
            states = [
                keras.layers.Concatenate(name=f"encoder_{i}_state_{j}")([states[j], states[j + n_s]])
                for j in range(n_s)
            ]
        encoder_states.append(states)
    decoder_units = units * (2 if bidirectional else 1)
    y = decoder_inputs
    for i in range(n_layers):
        layer = recurrent_layer(
            cell, decoder_units, name=f"decoder_{i}", dropout=dropout,
            recurrent_dropout=recurrent_dropout, return_sequences=True, return_state=True,
        )
        y = layer(y, initial_state=encoder_states[i])[0]
    outputs = keras.layers.Dense(n_targets, name="decoder_head")(y)
    model = keras.Model([history, decoder_inputs], outputs, name=f"seqtune_seq2seq_{cell}")
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm)
    model.compile(optimizer=optimizer, loss=loss)
    return model


def decode_autoregressive(
    model: keras.Model, history: np.ndarray, last_value: np.ndarray, *, horizon: int, n_layers: int,
    bidirectional: bool, cell: str, batch_size: int = 1024,
) -> np.ndarray:
    """Forecast ``horizon`` steps with a trained :func:`build_seq2seq_model` model.

    The encoder runs once per batch; the decoder then runs one step at a time,
    feeding back its own forecast, carrying its states.

    Parameters
    ----------
    model : keras.Model
        Built by :func:`build_seq2seq_model`.
    history : ndarray of shape (n_origins, lookback, n_features)
    last_value : ndarray of shape (n_origins, n_targets)
        The last observed (transformed) target of each history: the first decoder input.
    horizon, n_layers, bidirectional, cell
        As the model was built with.

    Returns
    -------
    forecasts : ndarray of shape (n_origins, horizon, n_targets)
    """
    n_s = _n_states(cell)
    outputs = []
    for lo in range(0, len(history), batch_size):
        x = ops.convert_to_tensor(history[lo : lo + batch_size].astype(np.float32))
        states_per_layer = []
        for i in range(n_layers):
            out = model.get_layer(f"encoder_{i}")(x)
            x, states = out[0], list(out[1:])
            if bidirectional:
                states = [ops.concatenate([states[j], states[j + n_s]], axis=-1) for j in range(n_s)]
            states_per_layer.append(states)
        step_input = ops.convert_to_tensor(last_value[lo : lo + batch_size, None, :].astype(np.float32))
        steps = []
        for _ in range(horizon):
            y = step_input
            for i in range(n_layers):
                out = model.get_layer(f"decoder_{i}")(y, initial_state=states_per_layer[i])
                y, states_per_layer[i] = out[0], list(out[1:])
            step_input = model.get_layer("decoder_head")(y)
            steps.append(ops.convert_to_numpy(step_input))
        outputs.append(np.concatenate(steps, axis=1))
    return np.concatenate(outputs, axis=0).astype(np.float64)
