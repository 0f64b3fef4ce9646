"""seqtune's own Keras layers and loss, built from ``keras.layers`` and ``keras.ops`` only.

Every backend (TensorFlow, JAX, PyTorch) runs them, none of them touches the recurrent
layers' internals (so the fused cuDNN kernel stays usable), and all are registered
for Keras serialization, so fitted estimators pickle and reload.

* :class:`PaddingMask`: NaN padding → a Keras mask and zeros.
* :class:`StepMask`: the same mask as a tensor, for layers that need it passed in.
* :class:`ZeroPadding`: padded steps back to zero between convolutions.
* :class:`SeriesNormalization`: per-series standardisation over time (mask-aware).
* :class:`MaskedAveragePooling`: the mean over the valid steps.
* :class:`AttentionPooling`: attention-weighted sum of hidden states (mask-aware).
* :class:`SqueezeExcite`: channel re-weighting of a convolutional block (MLSTM-FCN).
* :class:`MemberLoss`: the loss of several models trained side by side.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = [
    "AttentionPooling",
    "MaskedAveragePooling",
    "MemberLoss",
    "PaddingMask",
    "SeriesNormalization",
    "SqueezeExcite",
    "StepMask",
    "ZeroPadding",
]


def _padding_mask(inputs):
    return ops.logical_not(ops.all(ops.isnan(inputs), axis=-1))


@keras.saving.register_keras_serializable(package="seqtune")
class PaddingMask(keras.layers.Layer):
    """Turn NaN padding into a Keras mask and zeros.

    A step is padding when all its features are NaN; seqtune's validation rejects NaN in
    user data, so the sentinel cannot collide with real values (unlike ``Masking(0.0)``,
    which would mask genuine all-zero steps).

    Parameters
    ----------
    carry_mask : bool, default=True
        Attach the mask to the output (Keras propagates it to the recurrent layers).
        False only zeroes the padding: hybrid models, whose convolutions cannot carry
        a mask, pass :class:`StepMask`'s tensor explicitly instead.
    """

    def __init__(self, carry_mask: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.carry_mask = bool(carry_mask)
        self.supports_masking = True

    def call(self, inputs):
        return ops.where(ops.isnan(inputs), ops.zeros_like(inputs), inputs)

    def compute_mask(self, inputs, mask=None):
        return _padding_mask(inputs) if self.carry_mask else None

    def get_config(self) -> dict:
        return {**super().get_config(), "carry_mask": self.carry_mask}


@keras.saving.register_keras_serializable(package="seqtune")
class StepMask(keras.layers.Layer):
    """The padding mask of NaN-padded input as a boolean tensor ``(batch, n_timesteps)``.

    Convolutions do not carry Keras masks; layers after them that must ignore padding
    (pooling, the recurrent stack after a convolutional front end) get it explicitly.
    """

    def call(self, inputs):
        return _padding_mask(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1]


@keras.saving.register_keras_serializable(package="seqtune")
class ZeroPadding(keras.layers.Layer):
    """Set the padded steps of ``(batch, n_timesteps, channels)`` back to zero (``mask=``).

    Between convolutions of a model on padded sequences: each convolution sees zeros
    beyond a sequence's end, as it does at the input, whatever the layer before made
    of them.
    """

    def call(self, inputs, mask=None):
        if mask is None:
            return inputs
        return inputs * ops.expand_dims(ops.cast(mask, inputs.dtype), -1)

    def compute_mask(self, inputs, mask=None):
        return None


@keras.saving.register_keras_serializable(package="seqtune")
class SeriesNormalization(keras.layers.Layer):
    """Standardise each series, channel by channel, by its own mean and std over time.

    Instance normalisation for sequences: a model then sees shapes, not levels. Padded
    steps (``mask=``, a boolean ``(batch, n_timesteps)`` tensor) take no part in the
    statistics and stay zero. The output carries no Keras mask: the model passes the
    mask on explicitly.

    Parameters
    ----------
    epsilon : float, default=1e-6
        Added to the variance, so constant series do not divide by zero.
    """

    def __init__(self, epsilon: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mean = ops.mean(inputs, axis=1, keepdims=True)
            var = ops.var(inputs, axis=1, keepdims=True)
            return (inputs - mean) / ops.sqrt(var + self.epsilon)
        weight = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        count = ops.maximum(ops.sum(weight, axis=1, keepdims=True), 1.0)
        mean = ops.sum(inputs * weight, axis=1, keepdims=True) / count
        var = ops.sum(ops.square(inputs - mean) * weight, axis=1, keepdims=True) / count
        return (inputs - mean) / ops.sqrt(var + self.epsilon) * weight

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="seqtune")
class MaskedAveragePooling(keras.layers.Layer):
    """Mean over time of ``(batch, n_timesteps, channels)``, over the valid steps only.

    The mask comes from the Keras mask of the input, or is passed as ``mask=``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        weight = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        return ops.sum(inputs * weight, axis=1) / ops.maximum(ops.sum(weight, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="seqtune")
class AttentionPooling(keras.layers.Layer):
    """Attention pooling of hidden states: ``sum_t a_t h_t``, ``a = softmax_t(v . tanh(W h_t))``.

    Padded steps (the Keras mask) get no weight.

    Parameters
    ----------
    units : int, default=64
        Width of the scoring layer ``W``.
    """

    def __init__(self, units: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.supports_masking = True
        self.score_hidden = keras.layers.Dense(self.units, activation="tanh", name="score_hidden")
        self.score = keras.layers.Dense(1, use_bias=False, name="score")

    def build(self, input_shape):
        self.score_hidden.build(input_shape)
        self.score.build((*input_shape[:-1], self.units))

    def call(self, inputs, mask=None):
        scores = ops.squeeze(self.score(self.score_hidden(inputs)), axis=-1)
        if mask is not None:
            scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=1)
        return ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="seqtune")
class SqueezeExcite(keras.layers.Layer):
    """Squeeze-and-excite: re-weight the channels of ``(batch, n_timesteps, channels)``.

    The block of MLSTM-FCN (Karim et al. 2019): the channels' mean over time goes
    through a bottleneck (``channels // ratio``, ReLU) and a sigmoid, and scales each
    channel.

    Parameters
    ----------
    ratio : int, default=16
    """

    def __init__(self, ratio: int = 16, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ratio = int(ratio)
        self.supports_masking = True

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.squeeze = keras.layers.Dense(max(1, channels // self.ratio), activation="relu",
                                          kernel_initializer="he_normal", use_bias=False,
                                          name="squeeze")
        self.excite = keras.layers.Dense(channels, activation="sigmoid",
                                         kernel_initializer="he_normal", use_bias=False,
                                         name="excite")
        self.squeeze.build((input_shape[0], channels))
        self.excite.build((input_shape[0], max(1, channels // self.ratio)))

    def call(self, inputs, mask=None):
        if mask is None:
            pooled = ops.mean(inputs, axis=1)
        else:
            weight = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
            pooled = ops.sum(inputs * weight, axis=1) / ops.maximum(ops.sum(weight, axis=1), 1.0)
        return inputs * ops.expand_dims(self.excite(self.squeeze(pooled)), 1)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "ratio": self.ratio}


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
