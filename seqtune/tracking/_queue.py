"""The tracker's one logging queue: store calls run in order on one worker thread.

A search never waits for the tracking store: it puts work on this queue and goes on
training. The queue runs each call in the order it was put, on a single daemon thread
named ``seqtune-mlflow-<id>``, started on the first call and stopped by :meth:`close`.
When the queue is idle, an optional ``idle`` hook runs after a delay it chooses (the
tracker uses it to retry records that an outage left unlogged).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["LoggingQueue"]

_STOP = object()


class LoggingQueue:
    """Run callables in order on one background thread.

    Parameters
    ----------
    name : str
        Thread name.
    idle : callable returning float or None, optional
        Called whenever the queue is empty; returns how many seconds to wait for new
        work before calling it again (None: wait for work). The tracker's retry hook.
    """

    def __init__(self, name: str, idle: Callable[[], float | None] | None = None) -> None:
        self.name = name
        self._idle = idle
        self._items: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def on_worker(self) -> bool:
        """Whether the caller is the worker thread itself."""
        return self._thread is threading.current_thread()

    def submit(self, fn: Callable[[], Any]) -> Future:
        """Queue ``fn``; the future holds its result or exception."""
        future: Future = Future()
        with self._start_lock:
            if not self.running:
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()
            self._items.put((fn, future))
        return future

    def close(self, timeout: float | None = None) -> None:
        """Run everything queued so far, then stop the thread; safe to call twice."""
        with self._start_lock:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return
            self._items.put(_STOP)
        if thread is not threading.current_thread():
            thread.join(timeout)

    def _work(self) -> None:
        wait: float | None = None
        while True:
            try:
                item = self._items.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            if item is not None:
                fn, future = item
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except BaseException as exc:  # handed to whoever waits for it
                        future.set_exception(exc)
            if self._items.empty():
                wait = self._idle() if self._idle is not None else None
            else:
                wait = 0
