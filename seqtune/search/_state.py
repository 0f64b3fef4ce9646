"""Resume state: what a search started with, so that a rerun continues it or refuses clearly.

``<directory>/<project_name>/seqtune_search.json`` holds the tuner, the estimator, the
objective, the data's fingerprint and the space. A rerun with ``overwrite=False`` reads
it back: other data or another tuner is refused (mixing them would corrupt the results),
another space gives a warning (Keras Tuner keeps the space the search started with).
"""

from __future__ import annotations

import json
import warnings
from numbers import Integral
from pathlib import Path
from typing import Any

from sklearn.utils import check_random_state

from seqtune.records import read_record, write_json_atomic

__all__ = ["STATE_FILENAME", "check_resume", "resolve_split_seed", "unreadable_state",
           "unreadable_state_files", "write_state"]

#: The search's own metadata, in the project directory.
STATE_FILENAME = "seqtune_search.json"


def check_resume(project_dir: Path, *, overwrite: bool, fingerprint: dict, tuner: str,
                 space: Any, n_folds: int, objective: str, folds_sha256: str) -> None:
    """Refuse to resume a search made on other data, with another tuner, other folds or
    another objective.

    A search written before cross-validation existed scored its trials on one holdout
    (``n_folds`` 1). ``folds_sha256`` (:func:`~seqtune.search._task.folds_digest`) is
    compared where the directory recorded one (since 2026-12-05): the same number of
    folds can still hold other indices (another ``random_state``, ``validation_fraction``
    or horizon, or seqtune's new forecasting folds).

    Raises
    ------
    ValueError
        Naming the directory, what differs, and the two ways out (``overwrite=True``
        or another ``project_name``).
    """
    path = project_dir / STATE_FILENAME
    if overwrite or not path.exists():
        return
    state = read_record(path) or {}
    old = state.get("fingerprint", {}).get("sha256")
    if old is not None and old != fingerprint["sha256"]:
        raise ValueError(
            f"{project_dir} holds a search on different data (fingerprint {old}, now "
            f"{fingerprint['sha256']}). Resuming it would mix results. Pass "
            "overwrite=True to start afresh, or another project_name."
        )
    if state.get("tuner") not in (None, tuner):
        raise ValueError(
            f"{project_dir} holds a search made with tuner={state.get('tuner')!r}, not "
            f"{tuner!r}. Pass the same tuner to resume, overwrite=True to start "
            "afresh, or another project_name."
        )
    scored_on = int(state.get("n_folds", 1))
    if scored_on != n_folds:
        how = "one holdout" if scored_on == 1 else f"{scored_on} folds"
        raise ValueError(
            f"{project_dir} holds a search whose trials were scored on {how}, not "
            f"{'one holdout' if n_folds == 1 else f'{n_folds} folds'}: their scores would not "
            f"compare. Pass the same cv to resume ({'cv=None' if scored_on == 1 else f'cv={scored_on}'}), "
            "overwrite=True to start afresh, or another project_name."
        )
    if state.get("folds_sha256") is None and state.get("fingerprint"):
        warnings.warn(
            f"{project_dir} was written by a seqtune that kept no record of its folds "
            "(before 2026-12-05), so resuming it on these folds cannot be checked; a "
            "multi-step forecaster's folds changed then. Pass overwrite=True to start "
            "afresh if its trials were scored otherwise.",
            UserWarning,
            stacklevel=3,
        )
    elif state.get("folds_sha256") != folds_sha256:
        raise ValueError(
            f"{project_dir} holds a search whose trials were scored on other folds of this "
            "data (another random_state, validation_fraction or horizon, or a seqtune "
            "version that cut them differently): their scores would not compare. Pass the "
            "same settings to resume, overwrite=True to start afresh, or another project_name."
        )
    scored_by = (state.get("objective") or {}).get("name")
    if scored_by not in (None, objective):
        raise ValueError(
            f"{project_dir} holds a search whose trials were ranked by {scored_by!r}, not "
            f"{objective!r}: their scores would not compare. Pass objective={scored_by!r} "
            "to resume, overwrite=True to start afresh, or another project_name."
        )
    if state.get("space_yaml") not in (None, space.to_yaml()):
        warnings.warn(
            f"Resuming the search in {project_dir} with a different search space: Keras "
            "Tuner keeps the space the search started with (see seqtune_search.json "
            "there). Pass overwrite=True, or another project_name, to search the new space.",
            UserWarning,
            stacklevel=3,
        )


def resolve_split_seed(random_state: Any, project_dir: Path, *, fresh: bool,
                       worker: bool = False) -> int:
    """The seed that shuffles a search's folds (or holdout).

    ``random_state`` itself when it is an int. Otherwise the seed the search in
    ``project_dir`` recorded (``split_seed``), unless ``fresh`` (``overwrite=True``), else
    a new one drawn from ``random_state``, which the search then records: without it,
    ``random_state=None`` would cut other folds on every call and no search could resume.

    Raises
    ------
    ValueError
        For a worker started by hand (``worker``) that finds no recorded seed: drawing its
        own would score its trials on other folds than the chief's.
    """
    if isinstance(random_state, Integral):
        return int(random_state)
    path = project_dir / STATE_FILENAME
    recorded = None if fresh or not path.exists() else (read_record(path) or {}).get("split_seed")
    if recorded is not None:
        return int(recorded)
    if worker:
        raise ValueError(
            f"random_state={random_state!r}: this worker (started with Keras Tuner's "
            f"variables) found no recorded folds seed in {project_dir}; the chief records one "
            "when it starts. Start the chief first, or pass the same int random_state to the "
            "chief and every worker."
        )
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def write_state(project_dir: Path, *, overwrite: bool, **state: Any) -> None:
    """Record what the search started with; a resumed search keeps the first record.

    ``state`` holds ``tuner``, ``estimator``, ``objective``, ``fingerprint``,
    ``space_yaml``, ``max_trials``, ``n_folds``, ``folds_sha256`` and ``split_seed`` (the
    seed that shuffled the folds). A resumed search adds what an older seqtune did not
    record (``folds_sha256`` before 2026-12-05, ``split_seed`` before 2026-12-06), so
    later resumes are checked against it.
    """
    project_dir.mkdir(parents=True, exist_ok=True)
    path = project_dir / STATE_FILENAME
    if path.exists() and not overwrite:
        first = read_record(path)
        if first is None or not set(state) - set(first):
            return
        state = {**state, **first}
    write_json_atomic(path, state)


def unreadable_state_files(project_dir: Path) -> list[str]:
    """Keras Tuner JSON files of a project that do not parse (a kill mid-write)."""
    broken = []
    for path in [*project_dir.glob("*.json"), *project_dir.glob("trial_*/trial.json")]:
        try:
            json.loads(path.read_text())
        except (OSError, ValueError):
            broken.append(str(path.relative_to(project_dir)))
    return sorted(broken)


def unreadable_state(project_dir: Path) -> RuntimeError | None:
    """The error to raise when Keras Tuner's state in ``project_dir`` does not parse, or None.

    Names the broken files (a process killed while writing them, before they were
    written atomically) and the ways out.
    """
    broken = unreadable_state_files(project_dir)
    if not broken:
        return None
    return RuntimeError(
        f"Cannot resume the search in {project_dir}: Keras Tuner's state file(s) "
        f"{broken} are unreadable (the process was probably killed while writing them). "
        "Trial results are kept in each trial's seqtune_record.json. Pass "
        "overwrite=True to start afresh, or another project_name."
    )
