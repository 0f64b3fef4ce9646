"""Intensification: score the best configuration again with fresh weight seeds before picking it.

A trial is one fit per fold with one weight seed (the estimator's ``random_state``).
Over a few dozen trials the best fold score is partly the luck of that seed (the
winner's curse; benchmarks/README.md measured it on Airline). So, after the trials,
the incumbent (the best complete trial) is trained and scored again on the same folds
with ``n_seeds`` other seeds, and its score becomes the mean over all its seeds. When
that mean drops below another trial's score, that one is the incumbent and is
re-scored in turn, up to ``n_configs`` configurations (racing, as SMAC's
intensification does). A configuration whose seeds all score alike keeps its place.
Past ``n_configs`` the ranking by score stands: a trial not re-scored can then be the
pick on its one seed (SMAC would keep the incumbent; here the limit is the budget's).

Each re-run is a trial record of its own, ``<trial_id>.seed<j>``, kept in
``trial_<trial_id>/seed_<j>/`` (so it is not one of the search's trials) and tracked
as a child run like any trial. It resumes as a trial does: a finished re-run is not
trained again, a killed one goes on from its last finished fold. The re-scored trial's
record gets ``seeds`` (one entry per seed: ``random_state``, ``score``, ``status``)
and its ``score`` is their mean; ``score_std`` stays the spread over its first
seed's folds. Re-runs are not pruned, keep no fold models (a bagged final model is
the first seed's folds), count against the time budget, and stop at its end; a
re-run the budget cut short, or that failed, is listed but not averaged.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from seqtune.records import (
    RECORD_FILENAME,
    TrialStatus,
    best_record,
    is_complete,
    rank_records,
    read_record,
    write_record,
)

from ._runner import TrialContext, TrialRunner

__all__ = ["AUTO_INTENSIFY", "Intensifier", "rescore_seed", "resolve_intensify"]

#: Configurations ``intensify="auto"`` re-scores for cross-validated forecasters
#: (benchmarks/README.md has the measurement, and says it followed test scores).
AUTO_INTENSIFY = 3

#: Seed ``j`` of a re-run is the first seed plus this many times ``j``.
SEED_STRIDE = 1000

#: The most of ``time_budget`` kept back for the re-runs. Uncapped, the reserve grows
#: with the trials' durations: a TensorFlow search on Airline (150 s trials) kept back
#: 612 s of 900 after its second trial and ran no third.
MAX_RESERVE_SHARE = 0.25


def resolve_intensify(intensify: int | str, task: str, n_folds: int) -> int:
    """``"auto"``: :data:`AUTO_INTENSIFY` configurations for cross-validated forecasters,
    else none.

    A forecaster's trials are cheap and their fold scores noisy across weight seeds (on
    Airline a pick's score moved by up to 17 MAE with the seed); a classifier's trials
    can take minutes each, so the re-runs' reserve would cost trials (not measured).
    """
    if intensify != "auto":
        return int(intensify)
    return AUTO_INTENSIFY if task == "forecasting" and n_folds > 1 else 0


def rescore_seed(first: Any, j: int) -> int | None:
    """The weight seed of re-run ``j`` (1, 2, ...) of a trial whose own seed is ``first``.

    None stays None (every fit draws its own seed).
    """
    if first is None or isinstance(first, bool) or not isinstance(first, (int, np.integer)):
        return None
    return int(first) + SEED_STRIDE * int(j)


class Intensifier:
    """Re-score the incumbent with fresh weight seeds, and say how much budget that needs.

    Parameters
    ----------
    context : TrialContext
        The search's; re-runs use it without pruning and without keeping fold models.
    project_dir : path
        ``<directory>/<project_name>``: re-runs go into ``trial_<id>/seed_<j>/``.
    n_configs : int
        At most this many configurations are re-scored (0: none).
    n_seeds : int
        Fresh seeds per re-scored configuration.
    on_end : callable, optional
        Called with each re-run's finished record (the search tracks it).
    time_budget : float, optional
        The search's, in seconds: the reserve is at most :data:`MAX_RESERVE_SHARE` of it.
    """

    def __init__(self, context: TrialContext, project_dir: Path, *, n_configs: int, n_seeds: int,
                 on_end: Callable[[dict], None] | None = None,
                 time_budget: float | None = None) -> None:
        self.context = dataclasses.replace(context, pruning=False, keep_fold_models=False)
        self.project_dir = Path(project_dir)
        self.n_configs, self.n_seeds = int(n_configs), int(n_seeds)
        self.time_budget = time_budget
        self.runner = TrialRunner(self.context, on_end=on_end)
        self._reserve = 0.0

    @property
    def active(self) -> bool:
        return self.n_configs > 0 and self.n_seeds > 0

    # -- the budget ------------------------------------------------------------------
    def observe(self, records: list[dict]) -> None:
        """Update the time the re-runs will need from the trials so far (see :meth:`reserve`)."""
        if not self.active:
            return
        ranked = [r for r in rank_records(records, self.context.objective.direction)
                  if is_complete(r)][: self.n_configs]
        needed = self.n_seeds * sum(float(r.get("duration_s") or 0.0) for r in ranked)
        cap = math.inf if self.time_budget is None else MAX_RESERVE_SHARE * float(self.time_budget)
        self._reserve = min(needed, cap)

    def reserve(self) -> float:
        """Seconds kept back from the time budget: no trial starts within them of its end.

        ``n_seeds`` times the summed durations of the ``n_configs`` best complete trials
        so far (what re-scoring each of them would take), at most
        :data:`MAX_RESERVE_SHARE` of ``time_budget``, so that slow trials do not hand
        the search to re-scoring. Past the cap the re-runs use what is left and stop at
        the deadline.
        """
        return self._reserve

    # -- the re-runs -----------------------------------------------------------------
    def run(self, records: list[dict]) -> list[dict]:
        """Re-score incumbents until one keeps its place; returns the updated records."""
        if not self.active:
            return records
        direction = self.context.objective.direction
        by_id = {r["trial_id"]: r for r in records}
        while True:
            best = best_record(by_id.values(), direction)
            if best is None or not is_complete(best) or self._out_of_time():
                break
            if _rescored(best, self.n_seeds):
                break  # re-scored (now or by an earlier attempt) and still the best
            started = {t for t, r in by_id.items() if r.get("seeds")}
            if best["trial_id"] not in started and len(started) >= self.n_configs:
                break
            by_id[best["trial_id"]] = self.rescore(best)
        return [by_id[r["trial_id"]] for r in records]

    def rescore(self, record: dict) -> dict:
        """Train ``record``'s configuration again with each fresh seed; its updated record."""
        import keras_tuner as kt

        trial_id = str(record["trial_id"])
        params = dict(record["params"])
        first = params.get("random_state", self.context.estimator.get_params().get("random_state"))
        first_score = (record.get("seeds") or [{"score": record["score"]}])[0]["score"]
        seeds = [{"trial_id": trial_id, "random_state": first, "score": first_score,
                  "status": TrialStatus.COMPLETED.value}]
        for j in range(1, self.n_seeds + 1):
            seed = rescore_seed(first, j)
            if self._out_of_time():
                break  # a resumed search runs the seeds still missing
            entry = {"trial_id": f"{trial_id}.seed{j}", "random_state": seed, "score": None,
                     "status": TrialStatus.RUNNING.value}
            seeds.append(entry)
            run_dir = self.project_dir / f"trial_{trial_id}" / f"seed_{j}"
            previous = read_record(run_dir / RECORD_FILENAME)
            if previous is not None and previous.get("stopped_by") == "budget":
                # Cut by an earlier attempt's budget: go on from its cut fold.
                write_record(run_dir, {**previous, "status": TrialStatus.RUNNING.value})
            try:
                outcome = self.runner.run_params(
                    entry["trial_id"], {**params, "random_state": seed}, run_dir,
                    tags={"rescore_of": trial_id, "random_state": seed})
            except kt.errors.FailedTrialError as exc:
                entry.update(status=TrialStatus.FAILED.value, error=str(exc))
                continue
            entry.update(status=outcome.record["status"], score=outcome.record["score"])
        scored = [s["score"] for s in seeds if s["status"] == TrialStatus.COMPLETED.value
                  and s["score"] is not None and math.isfinite(float(s["score"]))]
        updated = {**record, "seeds": seeds, "score": float(np.mean(scored)),
                   "seed_std": float(np.std(scored)) if len(scored) > 1 else None}
        write_record(self.project_dir / f"trial_{trial_id}", updated)
        return updated

    def _out_of_time(self) -> bool:
        deadline = self.context.deadline
        return deadline is not None and time.monotonic() >= deadline


def _rescored(record: dict, n_seeds: int) -> bool:
    """Whether every fresh seed of ``record`` finished (scored or failed, not cut short)."""
    seeds = record.get("seeds") or []
    finished = (TrialStatus.COMPLETED.value, TrialStatus.FAILED.value)
    return len(seeds) == n_seeds + 1 and all(s["status"] in finished for s in seeds[1:])
