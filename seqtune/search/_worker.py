"""One worker process of a distributed search (``seqtune worker``), local or remote.

It reads the job the chief wrote (:mod:`._job`), builds the same tuner, and runs trials
for the chief (:func:`seqtune.search._chief.run_worker`) until it is answered STOPPED.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ._job import wait_for_chief

__all__ = ["worker_main"]


def worker_main(oracle: str | None, project_dir: str | os.PathLike, *,
                tuner_id: str | None = None, lease: float | None = None,
                wait: float = 600.0) -> int:
    """Run one worker of the search in ``project_dir``, reporting to the chief at ``oracle``.

    Parameters
    ----------
    oracle : str or None
        The chief's ``host:port``; None reads it from ``seqtune_chief.json`` in
        ``project_dir``, which the chief writes while it listens.
    project_dir : path
        ``<directory>/<project_name>`` of the search, on a disk shared with the chief.
    tuner_id : str, optional
        Keras Tuner's id of this worker; unique per worker (default: from the host
        name and process id). A restarted worker takes its old id back.
    lease : float, optional
        Seconds the chief waits for a heartbeat (default: the search's).
    wait : float, default=600
        Seconds to wait for the chief to start (a worker of a batch job may start first).

    Returns
    -------
    int
        The process exit code.
    """
    project_dir = Path(project_dir)
    if oracle is not None:
        host, _, port = oracle.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--oracle {oracle!r} is not host:port, e.g. 10.0.0.5:8000")
    address, job = wait_for_chief(project_dir, wait=wait, explicit=oracle is not None)
    host, _, port = (oracle or address).rpartition(":")
    tuner_id = tuner_id or f"tuner-{socket.gethostname()}-{os.getpid()}"
    from ._runner import TrialRunner, trial_context
    from ._chief import run_worker
    from ._tuner import make_tuner

    # Keras Tuner reads its role from the environment; restore it afterwards so that a
    # worker run in-process (a notebook, a test) leaves later searches local.
    kt_env = {"KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": host,
              "KERASTUNER_ORACLE_PORT": port}
    saved = {key: os.environ.get(key) for key in kt_env}
    os.environ.update(kt_env)
    try:
        context = trial_context(job)
        runner = TrialRunner(context)
        kt_tuner = make_tuner(runner, tuner=job["tuner"], deadline=context.deadline,
                              directory=str(project_dir.parent), project_name=project_dir.name,
                              overwrite=False, seed=job["seed"], max_trials=job["max_trials"],
                              max_consecutive_failures=job["max_consecutive_failures"],
                              max_epochs=job["max_epochs"])
        parent = os.environ.get("SEQTUNE_PARENT_PID")
        return run_worker(kt_tuner, tuner_id=tuner_id, lease_s=float(lease or job["lease"]),
                          parent_pid=int(parent) if parent else None)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
