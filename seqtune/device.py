"""Which device trains, and whether Keras can use its fused cuDNN recurrent kernel.

The decision is a pure function so that it can be tested on a CPU-only machine.
"""

from __future__ import annotations

import functools

import keras

__all__ = ["has_gpu", "device_name", "fused_kernel_eligible"]


@functools.cache
def has_gpu() -> bool:
    """True when the active Keras backend sees a GPU."""
    backend = keras.config.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return bool(tf.config.list_physical_devices("GPU"))
        if backend == "jax":
            import jax

            return any(d.platform == "gpu" for d in jax.devices())
        if backend == "torch":
            import torch

            return bool(torch.cuda.is_available())
    except Exception:  # a broken GPU runtime means: train on the CPU
        return False
    return False


def device_name() -> str:
    """"gpu" or "cpu", as the active backend would train."""
    return "gpu" if has_gpu() else "cpu"


def fused_kernel_eligible(
    cell: str,
    *,
    recurrent_dropout: float,
    masked: bool,
    backend: str | None = None,
    gpu: bool | None = None,
) -> bool:
    """Whether Keras 3 runs this recurrent layer on the fused cuDNN kernel.

    Keras takes the fused path only for LSTM and GRU with their default activations,
    no recurrent dropout, and on a GPU. On the JAX and torch backends any mask also
    disables it; TensorFlow accepts right-padded masks, which is how seqtune pads.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}
    recurrent_dropout : float
    masked : bool
        Whether the model carries a padding mask.
    backend : str, default=None
        Keras backend name; the active one when None.
    gpu : bool, default=None
        Whether a GPU is present; detected when None.

    Returns
    -------
    bool
    """
    backend = backend or keras.config.backend()
    gpu = has_gpu() if gpu is None else gpu
    if not gpu or cell not in ("lstm", "gru") or recurrent_dropout > 0:
        return False
    if masked and backend in ("jax", "torch"):
        return False
    return True
