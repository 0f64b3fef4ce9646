"""Fit listeners: who wants to hear that a seqtune estimator finished ``fit``.

Every estimator calls :func:`notify_fit` at the end of ``fit``. Listeners subscribe for
the length of a ``with`` block with :func:`fit_listener`; the subscription is a context
variable, so it is local to the thread or asyncio task that made it. This is how
:func:`seqtune.track_fit` logs fits without the estimators knowing about MLflow.

Examples
--------
>>> from seqtune.listeners import fit_listener
>>> seen = []
>>> with fit_listener(lambda est: seen.append(type(est).__name__)):  # doctest: +SKIP
...     SequenceClassifier(units=4, epochs=1).fit(X, y)
>>> seen  # doctest: +SKIP
['SequenceClassifier']
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["fit_listener", "notify_fit"]

FitListener = Callable[[Any], None]

_listeners: contextvars.ContextVar[tuple[FitListener, ...]] = contextvars.ContextVar(
    "seqtune_fit_listeners", default=())


@contextlib.contextmanager
def fit_listener(callback: FitListener) -> Iterator[FitListener]:
    """Call ``callback(estimator)`` after every seqtune ``fit`` inside the ``with`` block.

    Parameters
    ----------
    callback : callable
        Receives the fitted estimator. It runs inside ``fit``: an exception it raises
        propagates to the caller of ``fit``, so a listener that must never cost a fit
        (tracking) catches its own errors.

    Yields
    ------
    callback
    """
    token = _listeners.set((*_listeners.get(), callback))
    try:
        yield callback
    finally:
        _listeners.reset(token)


def notify_fit(estimator: Any) -> None:
    """Tell every active listener that ``estimator`` was fitted (one context-variable read
    when nobody listens)."""
    for callback in _listeners.get():
        callback(estimator)
