"""Progress of a search: one line per trial, or events for a display of the caller's own.

With a ``trial_callback`` (the command line passes a rich progress bar), every trial's
start and end is reported to it as a dict; otherwise ``verbose=1`` prints one line per
finished trial and ``verbose=0`` is silent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from seqtune.records import TrialStatus, best_record

__all__ = ["Progress"]


class Progress:
    """Counts finished trials and the best score, and reports them.

    Parameters
    ----------
    objective : keras_tuner.Objective
    max_trials : int
    time_budget : float or None
    verbose : int
    callback : callable, optional
        Receives ``{"event": "trial_begin" | "trial_end" | "rescore_end", "trial_id", "n_done",
        "max_trials", "best_score", "elapsed_s", "time_budget"}`` (and ``"record"``
        at a trial's end, or at the end of a trial's re-run with another seed).
    """

    def __init__(self, *, objective: Any, max_trials: int, time_budget: float | None,
                 verbose: int, callback: Callable[[dict], None] | None = None) -> None:
        self.objective = objective
        self.max_trials = max_trials
        self.time_budget = time_budget
        self.verbose = verbose
        self.callback = callback
        self.records: dict[str, dict] = {}  # a resumed search adds its earlier trials
        self.started = time.monotonic()

    def trial_begin(self, trial_id: str) -> None:
        self._report("trial_begin", trial_id=trial_id)

    def trial_end(self, record: dict) -> None:
        self.records[record["trial_id"]] = record
        self._report("trial_end", trial_id=record["trial_id"], record=record)

    def rescore_end(self, record: dict) -> None:
        """A re-run of a trial with another weight seed ended (not a trial of its own)."""
        self._report("rescore_end", trial_id=record["trial_id"], record=record)

    def _report(self, event: str, **info: Any) -> None:
        if self.callback is None and self.verbose < 1:
            return
        done = [r for r in self.records.values()
                if TrialStatus(str(r["status"]).upper()).finished]
        best = best_record(self.records.values(), self.objective.direction)
        elapsed = time.monotonic() - self.started
        state = {
            "event": event,
            "n_done": len(done),
            "max_trials": self.max_trials,
            "best_score": None if best is None else best["score"],
            "elapsed_s": elapsed,
            "time_budget": self.time_budget,
            **info,
        }
        if self.callback is not None:
            self.callback(state)
        elif event in ("trial_end", "rescore_end"):
            record = info["record"]
            score = "-" if record["score"] is None else f"{record['score']:.4g}"
            best_s = "-" if state["best_score"] is None else f"{state['best_score']:.4g}"
            tail = f"best={best_s}" if event == "trial_end" else (
                f"(re-scoring trial {record['tags'].get('rescore_of')} with "
                f"random_state={record['tags'].get('random_state')})")
            print(
                f"[seqtune] trial {record['trial_id']} {record['status'].lower()} "
                f"{self.objective.name}={score} {tail} elapsed={elapsed:.1f}s",
                flush=True,
            )
