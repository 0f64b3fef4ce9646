"""Workarounds for two TensorFlow nuisances that a search, fitting many models, meets.

**Every ``model.fit`` leaked its graph** (:func:`releasing_custom_gradients`).

On the TensorFlow backend, Keras's optimizer sums the gradients through the default
replica context's ``all_reduce``. In a traced function that wraps them in
``tf.custom_gradient``, which registers a gradient function under a fresh name
(``CustomGradient-<n>``) in TensorFlow's process-wide gradient registry and never
removes it. The function's closure holds the traced graph, so each training function
Keras traces stays in memory for good; ``keras.backend.clear_session`` does not help.
Upstream: tensorflow/tensorflow#97697 and keras-team/keras#17458.

``python -m benchmarks.fit_memory`` (TensorFlow 2.21, Keras 3.15): +66.6 MiB per fit of
a five-network GRU forecaster before this workaround, -1.1 MiB after. A search fits a
model per fold and trial; pytest-xdist workers had been seen at 4-5 GB.

A registry entry is only read while a gradient is being traced. Keras traces the
training step's gradients when it first calls the training function, inside ``fit``,
so once the outermost fit returns, the entries it added are no longer needed.

**A false retracing warning** (:func:`quiet_keras_retracing_warnings`). TensorFlow
counts traces per Python code object, and every Keras model's training and predict
functions share theirs. So a process that builds a model per fold soon logs "N out of
the last N calls to <function TensorFlowTrainer...> triggered tf.function retracing",
though each model traced once (Keras's functions use ``reduce_retracing=True``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator

__all__ = ["quiet_keras_retracing_warnings", "releasing_custom_gradients"]

_PREFIX = "CustomGradient-"
_lock = threading.Lock()
_active = 0
_baseline: set[str] = set()


class _KerasRetracingFilter(logging.Filter):
    """Drops TensorFlow's retracing warning about Keras's own trainer functions only."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message
                    and "TensorFlowTrainer" in message)


_retracing_filter = _KerasRetracingFilter()


def quiet_keras_retracing_warnings() -> None:
    """Filter the false retracing warning out of the ``tensorflow`` logger, once.

    It stays for the process: it matches only Keras's trainer functions, for which the
    warning counts models rather than retraces. A no-op until TensorFlow is loaded.
    """
    if "tensorflow" in sys.modules:
        logger = logging.getLogger("tensorflow")
        if _retracing_filter not in logger.filters:
            logger.addFilter(_retracing_filter)


def _gradient_registry() -> dict | None:
    """TensorFlow's name -> gradient function table, or None where it is not there.

    Private TensorFlow state: a version that renames it simply gets no workaround.
    """
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.framework import ops
    except ImportError:
        return None
    table = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return table if isinstance(table, dict) else None


@contextlib.contextmanager
def releasing_custom_gradients() -> Iterator[None]:
    """Drop the ``tf.custom_gradient`` registrations made while the block ran.

    A no-op on other backends. Blocks may nest, or run in several threads at once:
    the last one to leave removes everything added since the first one entered, so a
    fit still tracing in another thread keeps its entries. (Code outside any block that
    traces gradients in another thread at that moment could lose an entry; seqtune
    itself fits in one thread per process.)
    """
    import keras

    table = _gradient_registry() if keras.config.backend() == "tensorflow" else None
    if table is None:
        yield
        return
    quiet_keras_retracing_warnings()
    global _active, _baseline
    with _lock:
        if _active == 0:
            _baseline = set(table)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                # list(): a thread outside any block may register while we look.
                for name in list(table):
                    if name.startswith(_PREFIX) and name not in _baseline:
                        table.pop(name, None)
                _baseline = set()
