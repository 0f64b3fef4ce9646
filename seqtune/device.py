"""Which device trains, and whether Keras can use its fused cuDNN recurrent kernel.

The one place that asks a backend about its devices. Keras is imported only when a
question needs it, so that ``seqtune sync`` and ``seqtune --help`` never start a backend.
The fused-kernel decision is a pure function, testable on a CPU-only machine.
"""

from __future__ import annotations

import functools
import sys

__all__ = ["backend_and_device", "device_name", "fused_kernel_eligible", "has_gpu"]


@functools.cache
def has_gpu() -> bool:
    """True when the active Keras backend sees a GPU."""
    import keras

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


def backend_and_device() -> dict[str, str]:
    """``{"keras_backend": ..., "device": "cpu" | "gpu"}`` for run tags.

    Empty when Keras was never imported in this process (``seqtune sync`` logging
    records of a search that may have run elsewhere): nothing is started to answer.
    """
    if "keras" not in sys.modules:
        return {}
    import keras

    return {"keras_backend": keras.config.backend(), "device": device_name()}


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
    if backend is None:
        import keras

        backend = keras.config.backend()
    gpu = has_gpu() if gpu is None else gpu
    if not gpu or cell not in ("lstm", "gru") or recurrent_dropout > 0:
        return False
    if masked and backend in ("jax", "torch"):
        return False
    return True
