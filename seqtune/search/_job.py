"""The job a chief hands its workers: what it holds, where it lies, and whose it is.

The chief writes everything a worker needs (the data, the estimator, the folds, the
space, the deadline) once to ``<directory>/<project_name>/seqtune_job.joblib``, and
where it listens to ``seqtune_chief.json``. Both carry the chief's ``session``, so a
worker that starts early never runs the job a killed chief left behind.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from seqtune.records import read_record
from seqtune.splits import n_rows

__all__ = ["CHIEF_FILENAME", "JOB_FILENAME", "load_job", "make_job", "wait_for_chief",
           "write_job"]

#: Everything a worker needs, written once by the chief into the project directory.
JOB_FILENAME = "seqtune_job.joblib"
#: Where the chief listens, while it does (``seqtune worker`` reads it without --oracle).
CHIEF_FILENAME = "seqtune_chief.json"


def make_job(*, task: str, objective: Any, estimator: Any, space: Any, data: tuple, folds: list,
             horizon: int, fraction: float, random_state: Any, time_budget: float | None,
             tuner: str, pruning: bool, keep_fold_models: bool, final_model: str,
             seed: int | None, max_trials: int, max_consecutive_failures: int,
             lease: float) -> dict:
    """Everything a trial needs: this process's runner reads it, and workers read a copy."""
    # Hyperband's budget: the space's fixed ``epochs`` (e.g. 300), else the estimator's.
    fixed = space["epochs"] if "epochs" in space else None
    max_epochs = int(getattr(fixed, "value", None) or estimator.get_params().get("epochs", 10))
    return {
        "task": task, "estimator": estimator, "space": space,
        "objective": {"name": objective.name, "direction": objective.direction},
        "data": data, "n_samples": n_rows(data[0]),
        "cv_pairs": [(f.train_index, f.test_index) for f in folds],
        "fraction": fraction, "random_state": random_state, "horizon": horizon,
        "time_budget": time_budget,
        # Wall time, not monotonic: a worker on another machine has its own clock.
        "deadline_unix": None if time_budget is None else time.time() + float(time_budget),
        "hyperband": tuner == "hyperband", "pruning": pruning and len(folds) > 1,
        "keep_fold_models": keep_fold_models, "final_model": final_model, "tuner": tuner,
        "seed": seed, "max_trials": max_trials, "max_consecutive_failures": max_consecutive_failures,
        "max_epochs": max_epochs, "lease": lease,
        # The chief's file carries it too: a worker never runs an earlier attempt's job.
        "session": uuid.uuid4().hex,
    }


def write_job(project_dir: Path, job: dict) -> Path:
    """Write the workers' job (data included) atomically; return its path."""
    import joblib

    path = Path(project_dir) / JOB_FILENAME
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    joblib.dump(job, tmp)
    os.replace(tmp, path)
    return path


def load_job(project_dir: Path) -> dict:
    """Read the job a chief wrote; a clear error when there is none."""
    import joblib

    path = Path(project_dir) / JOB_FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"No search job at {path}: pass --directory <directory>/<project_name> of a "
            "search whose chief is running (it writes the job when it starts), on a disk "
            "this machine shares with the chief."
        )
    return joblib.load(path)


def wait_for_chief(project_dir: Path, *, wait: float, explicit: bool = False) -> tuple[str, dict]:
    """The chief's address and the job it wrote, once both belong to the running chief.

    A killed chief leaves its files behind; a worker that starts before the next chief
    would otherwise run the earlier job (its data, its spent deadline). The chief's
    file and its job carry the same ``session``.

    Raises
    ------
    FileNotFoundError
        After ``wait`` seconds: no job (``explicit``: an ``--oracle`` was given), no
        chief, or a job from another session than the chief's.
    """
    deadline, seen, job = time.monotonic() + wait, None, None
    while True:
        chief = read_record(project_dir / CHIEF_FILENAME)
        path = project_dir / JOB_FILENAME
        stamp = path.stat().st_mtime_ns if path.is_file() else None
        if chief is not None and stamp is not None:
            if stamp != seen:  # the job holds the data: read it again only when it changed
                job, seen = load_job(project_dir), stamp
            if job.get("session") == chief.get("session"):
                return chief["address"], job
        if time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    if explicit and stamp is None:
        load_job(project_dir)  # raises, naming the job it looked for
    if chief is None:
        raise FileNotFoundError(
            f"No chief listens for {project_dir} (no {CHIEF_FILENAME} there after "
            f"{wait:.0f} s): start the search first"
            + ("." if explicit else ", or pass --oracle HOST:PORT."))
    raise FileNotFoundError(
        f"The search job in {project_dir} is not the running chief's (session "
        f"{None if job is None else job.get('session')!r}, the chief's "
        f"{chief.get('session')!r}) after {wait:.0f} s: it is left from an earlier run. "
        "Start the worker once the search has started, or start the search again.")
