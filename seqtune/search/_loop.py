"""How a search's trials get run: in this process, or by supervised worker processes.

* :func:`plan_trials`: where the trials run (a :class:`TrialPlan`), from the search's
  ``n_jobs``, ``gpus`` and ``chief_address`` and Keras Tuner's variables.
* :func:`run_trials`: the entry point. By the plan's mode, it runs the trials in this
  process, as a worker started by hand with Keras Tuner's variables, or as the chief.
* :func:`run_search`: Keras Tuner's own loop, in this process (``n_jobs=1``).
* :class:`Supervisor`: the chief's loop (``n_jobs > 1``, ``gpus``, or a
  ``chief_address``). It serves the oracle over Keras Tuner's protocol
  (:class:`~seqtune.search._chief.ChiefServer`), starts and watches the local workers,
  restarts a dead one under the same tuner id (its trial runs again), records FAILED a
  trial that killed its worker three times, hands the trial of a worker whose lease
  lapsed to another, stops at the time budget, and returns when the search is over,
  whatever became of the workers.

A worker process (``seqtune worker``) runs :func:`seqtune.search._worker.worker_main`.

The chief writes everything a worker needs once (:mod:`._job`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtune.records import (
    RECORD_FILENAME,
    TrialStatus,
    read_record,
    read_trial_records,
    write_json_atomic,
    write_record,
)

from ._job import CHIEF_FILENAME

__all__ = ["Supervisor", "TrialPlan", "collect_records", "known_trials", "parse_gpus",
           "plan_trials", "run_search", "run_trials", "warn_if_stopped_by_failures",
           "worker_env"]

#: A trial that kills its worker this many times is recorded FAILED.
MAX_WORKER_DEATHS = 3
_POLL_S = 0.2


# ------------------------------------------------------------------- the entry point


@dataclass(frozen=True)
class TrialPlan:
    """Where a search's trials run, and how the chief runs its workers (:func:`plan_trials`).

    Attributes
    ----------
    mode : {"local", "worker", "chief"}
        In this process; as a worker started by hand with Keras Tuner's variables; or as
        the chief, which serves the oracle to workers.
    n_workers : int
        Local worker processes the chief starts (0: remote ones only, ``seqtune worker``).
    gpus : tuple of str or None
        CUDA ids the local workers are spread over.
    trials_per_gpu : int
        Local workers per GPU.
    address : str
        ``host:port`` the chief listens on (port 0: any free port).
    lease : float
        Seconds without a heartbeat after which a worker's trial goes to another.
    trial_timeout : float or None
        Seconds after which a trial still open is recorded FAILED, heartbeat or not.
    backend : str
        The Keras backend the workers use (the chief's).
    """

    mode: str
    n_workers: int = 0
    gpus: tuple[str, ...] | None = None
    trials_per_gpu: int = 1
    address: str = "127.0.0.1:0"
    lease: float = 30.0
    trial_timeout: float | None = None
    backend: str = ""

    @property
    def is_worker(self) -> bool:
        """Whether this process is a worker started by hand for a chief elsewhere."""
        return self.mode == "worker"


def run_trials(plan: TrialPlan, kt_tuner: Any, *, job: dict, project_dir: Path,
               deadline: float | None, on_trial_end: Callable[..., None],
               reserve: Callable[[], float], verbose: int) -> dict | None:
    """Run the search's trials where ``plan`` says.

    "local": :func:`run_search` in this process. "worker": this process is a worker
    started by hand with Keras Tuner's variables; it runs trials for the chief.
    "chief": the job is written to ``project_dir`` once and a :class:`Supervisor` runs
    the workers until the search is over. The job (:func:`~._job.make_job`) gives the
    time budget and how many failed trials in a row end the search.

    Returns
    -------
    dict or None
        The chief's account of its workers (``SequenceSearch.workers_``); its ``fatal``
        holds the error every trial would hit when a worker stopped the search for it.
        None outside the chief.
    """
    max_failures = int(job["max_consecutive_failures"])
    if plan.mode == "local":
        run_search(kt_tuner, max_consecutive_failures=max_failures, verbose=verbose,
                   time_budget=job["time_budget"])
        return None
    if plan.is_worker:
        from ._chief import run_worker

        run_worker(kt_tuner, tuner_id=os.environ["KERASTUNER_TUNER_ID"], lease_s=plan.lease)
        return None
    from ._job import write_job

    write_job(project_dir, job)
    workers = Supervisor(kt_tuner, plan, project_dir=project_dir, deadline=deadline,
                         on_trial_end=on_trial_end, verbose=verbose, reserve=reserve,
                         session=job["session"]).run()
    warn_if_stopped_by_failures(kt_tuner, max_failures)
    return workers


# ------------------------------------------------------------------- in this process


def run_search(kt_tuner: Any, *, max_consecutive_failures: int, verbose: int,
               time_budget: float | None) -> None:
    """Run Keras Tuner's search loop in this process until it ends or the budget is spent.

    ``max_consecutive_failures`` failed trials in a row end the search with a
    ``RuntimeWarning`` (the best completed trial is kept). Ctrl-C propagates, after a
    line that says how to resume.
    """
    from ._tuner import BudgetExhausted

    try:
        with warnings.catch_warnings():
            # keras-tuner 1.4 calls threading APIs deprecated since Python 3.10.
            warnings.filterwarnings("ignore", message=r"(currentThread|getName)\(\) is deprecated")
            kt_tuner.search()
    except BudgetExhausted:
        if verbose:
            print(f"[seqtune] time budget of {time_budget}s spent; search stopped.", flush=True)
    except KeyboardInterrupt:
        if verbose:
            print(
                "\n[seqtune] interrupted; rerun the same search with overwrite=False to "
                "resume it (completed trials are kept).",
                flush=True,
            )
        raise
    warn_if_stopped_by_failures(kt_tuner, max_consecutive_failures)


def warn_if_stopped_by_failures(kt_tuner: Any, max_consecutive_failures: int) -> None:
    """The warning a search gives when too many trials in a row failed."""
    reason = getattr(kt_tuner.oracle, "stopped_reason", None)
    if reason:
        warnings.warn(
            f"The search stopped after {max_consecutive_failures} failed trials in a row "
            f"(max_consecutive_failures). Last error:\n{reason}",
            RuntimeWarning, stacklevel=4,
        )


def collect_records(project_dir: Path, known: list, runner: Any) -> list[dict]:
    """Records of every trial, this attempt's and earlier ones', from the directory.

    Trials Keras Tuner knows but that left no record (killed before starting, or
    failed by a distributed chief's watchdog) get one from the oracle's account.
    """
    by_id = {r["trial_id"]: r for r in read_trial_records(project_dir)}
    for trial_id, hp, status, score, message in known:
        record = by_id.get(trial_id)
        if record is None:
            by_id[trial_id] = runner.unrecorded(trial_id, hp, status=status, score=score,
                                                message=message)
        elif record["status"] == TrialStatus.RUNNING.value and status == TrialStatus.FAILED.value:
            # Ended by the chief's watchdog: its worker died mid-trial.
            record = {**record, "status": status, "error": message, "ended_at": time.time()}
            write_record(Path(project_dir) / f"trial_{trial_id}", record)
            by_id[trial_id] = record
    return sorted(by_id.values(), key=lambda r: (r.get("number") or 0, r["trial_id"]))


def known_trials(kt_tuner: Any) -> list[tuple[str, Any, str, float | None, str | None]]:
    """``(trial_id, hyperparameters, status, score, message)`` of every trial the oracle knows.

    Statuses are seqtune's: Keras Tuner's INVALID (a trial that crashed) reads FAILED.
    A worker's oracle is a client of the chief's and knows none.
    """
    trials = getattr(kt_tuner.oracle, "trials", None)
    if not isinstance(trials, dict):
        return []
    out = []
    for trial_id, trial in trials.items():
        status = str(trial.status)
        if status == "INVALID":  # Keras Tuner's word for a trial that raised
            status = TrialStatus.FAILED.value
        score = trial.score if status == TrialStatus.COMPLETED.value else None
        out.append((trial_id, trial.hyperparameters, status, score, trial.message))
    return out


# ------------------------------------------------------------------------ the mode


def plan_trials(*, n_jobs: int | None, gpus: Any, trials_per_gpu: int,
                chief_address: str | None, lease: float, trial_timeout: float | None,
                backend: str) -> TrialPlan:
    """Where a search's trials run, and how many local workers (on which GPUs).

    ``"local"``: in this process. ``"chief"``: this process serves the oracle to
    workers (``n_jobs`` local ones, ``len(gpus) * trials_per_gpu`` with GPUs, or only
    remote ones). ``"worker"``: this process was started by hand as a Keras Tuner
    worker (``KERASTUNER_TUNER_ID`` and the chief's address in the environment). A
    chief started by hand listens where Keras Tuner's variables say, else on
    ``chief_address``, else on 127.0.0.1 at any free port.

    Raises
    ------
    ValueError
        ``n_jobs`` does not match ``gpus`` and ``trials_per_gpu``, or ``n_jobs=0``
        without a ``chief_address``.
    """
    from ._chief import distributed_role

    settings = {"trials_per_gpu": int(trials_per_gpu), "lease": float(lease),
                "trial_timeout": trial_timeout, "backend": backend}
    role = distributed_role()
    if role == "worker":
        return TrialPlan("worker", **settings)
    address = chief_address or "127.0.0.1:0"
    if role == "chief":  # started by hand with Keras Tuner's variables
        address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    gpu_ids = parse_gpus(gpus)
    n = (os.cpu_count() or 1) if n_jobs == -1 else int(1 if n_jobs is None else n_jobs)
    if gpu_ids:
        per_gpu = len(gpu_ids) * int(trials_per_gpu)
        if n not in (1, per_gpu):
            raise ValueError(
                f"n_jobs={n_jobs!r} does not match gpus={gpus!r} with trials_per_gpu="
                f"{trials_per_gpu}: that is {per_gpu} workers. Leave n_jobs at 1, or set "
                "trials_per_gpu."
            )
        return TrialPlan("chief", per_gpu, tuple(gpu_ids), address=address, **settings)
    if n == 0 and chief_address is None and role != "chief":
        raise ValueError("n_jobs=0 starts no local worker: pass chief_address='host:port' and "
                         "join remote workers with `seqtune worker`.")
    if n > 1 or chief_address is not None or role == "chief":
        # Started by hand as Keras Tuner's chief: its workers are started by hand too.
        return TrialPlan("chief", 0 if role == "chief" and n == 1 else n, address=address,
                         **settings)
    return TrialPlan("local", **settings)


def parse_gpus(gpus: Any) -> list[str] | None:
    """``"0,1"``, ``[0, 1]`` or None as CUDA device ids."""
    if gpus is None:
        return None
    items = gpus.split(",") if isinstance(gpus, str) else list(gpus)
    ids = [str(g).strip() for g in items if str(g).strip()]
    if not ids:
        raise ValueError(f"gpus={gpus!r} names no GPU; expected ids such as '0,1' or [0, 1].")
    return ids


def worker_env(index: int, plan: TrialPlan, *, address: str, tuner_id: str) -> dict[str, str]:
    """The environment of local worker ``index`` of ``plan``: its tuner id, GPU, thread limits.

    ``address`` is where the chief listens (its port, once bound). With GPUs, worker
    ``i`` sees GPU ``gpus[i // trials_per_gpu]`` only, and neither
    backend grabs the whole card (JAX does not preallocate, TensorFlow grows its
    memory), so ``trials_per_gpu`` workers fit side by side. On the CPU each worker
    limits its math threads to ``max(1, cpu_count // n_workers)``, so ``n`` workers
    on ``n`` cores do not oversubscribe them; ``SEQTUNE_THREADS_PER_WORKER`` overrides it.
    """
    host, _, port = address.rpartition(":")
    threads = max(1, (os.cpu_count() or 1) // max(1, plan.n_workers))
    if os.environ.get("SEQTUNE_THREADS_PER_WORKER", "").isdigit():
        threads = max(1, int(os.environ["SEQTUNE_THREADS_PER_WORKER"]))
    env = dict(os.environ)
    env.update({
        "KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": host,
        "KERASTUNER_ORACLE_PORT": port, "SEQTUNE_PARENT_PID": str(os.getpid()),
        "KERAS_BACKEND": plan.backend, "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    })
    if threads == 1:  # JAX on the CPU: one thread for Eigen and the intra-op pool
        flags = env.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false "
                            "intra_op_parallelism_threads=1").strip()
    if plan.gpus:
        env["CUDA_VISIBLE_DEVICES"] = plan.gpus[(index // plan.trials_per_gpu) % len(plan.gpus)]
    return env


# --------------------------------------------------------------------- the workers


@dataclass
class _Worker:
    tuner_id: str
    env: dict
    proc: subprocess.Popen | None = None
    restarts: int = 0
    exits: list = field(default_factory=list)
    #: Why it exited for good: None while it runs or will be restarted; "stopped" when it
    #: was answered STOPPED (a later retry may start it again); "fatal"; or "over" when the
    #: search was over as it exited.
    ended: str | None = None
    killed: bool = False  # by the chief, its trial taken back (lease lapsed)
    idle_deaths: int = 0  # exits in a row before it took a trial

    @property
    def done(self) -> bool:
        """Whether the worker exited for good (see :attr:`ended`)."""
        return self.ended is not None


class Supervisor:
    """The chief's loop: serve the oracle, run the local workers, return when the search is over.

    Parameters
    ----------
    kt_tuner : SeqTuner
        The chief's tuner (its oracle hands out the trials).
    plan : TrialPlan
        The local workers, their GPUs and backend, where to listen, the lease and the
        trial timeout.
    project_dir : path
    deadline : float or None
        ``time.monotonic()`` at which no new trial starts.
    on_trial_end : callable
        Called with each trial's record once the oracle accepted its end.
    verbose : int
    reserve : callable, optional
        Seconds kept back before ``deadline`` for the re-scoring after the trials.
    session : str, optional
        The job's session id, written beside the chief's address.
    """

    def __init__(self, kt_tuner: Any, plan: TrialPlan, *, project_dir: Path,
                 deadline: float | None, on_trial_end: Callable[[dict], None], verbose: int = 0,
                 reserve: Callable[[], float] | None = None, session: str | None = None) -> None:
        self.kt_tuner, self.plan = kt_tuner, plan
        self.project_dir = Path(project_dir)
        self.deadline, self.on_trial_end, self.verbose = deadline, on_trial_end, verbose
        self.reserve = reserve or (lambda: 0.0)
        self.session = session
        self.deaths: Counter = Counter()  # trial id -> workers it killed
        self.fatal: str | None = None
        self.workers: list[_Worker] = []
        self.server = None

    def run(self) -> dict:
        """Serve until the search is over; returns what happened (``SequenceSearch.workers_``)."""
        with warnings.catch_warnings():
            # keras-tuner 1.4 calls threading APIs deprecated since Python 3.10.
            warnings.filterwarnings("ignore", message=r"(currentThread|getName)\(\) is deprecated")
            return self._serve()

    def _serve(self) -> dict:
        from ._chief import ChiefServer

        self.server = ChiefServer(self.kt_tuner, self.plan.address)
        chief_file = self.project_dir / CHIEF_FILENAME
        write_json_atomic(chief_file, {"address": self.server.address, "pid": os.getpid(),
                                       "session": self.session})
        if self.verbose or self.plan.n_workers == 0:
            print(f"[seqtune] chief listening on {self.server.address}; join with: seqtune worker "
                  f"--oracle {self.server.address} --directory {self.project_dir}", flush=True)
        try:
            for i in range(self.plan.n_workers):
                tuner_id = f"tuner{i}"
                env = worker_env(i, self.plan, address=self.server.address, tuner_id=tuner_id)
                self.workers.append(_Worker(tuner_id, env))
                self._start(self.workers[-1])
            first_seen: dict[str, float] = {}
            while True:
                self._drain()
                now = time.monotonic()
                if self.deadline is not None and now >= self.deadline - self.reserve():
                    self.server.stop_new_trials()
                self._watch_workers()
                self._watch_leases(now, first_seen)
                if self.server.over() or (self.fatal and not self.server.ongoing()):
                    break
                time.sleep(_POLL_S)
            if self.fatal:  # else none is left: over() waits for them; Ctrl-C keeps them queued
                message = ("Taken back from a silent worker; a fatal error ended the search "
                           "before another worker took it.")
                for trial_id in self.server.retries():
                    self._record_failure(trial_id, message)
                self.server.fail_retries(message)
        finally:
            self._stop_workers()
            self.server.close()
            chief_file.unlink(missing_ok=True)
            self._drain()
        return {"address": self.server.address, "calls": dict(self.server.calls),
                "workers": [{"tuner_id": w.tuner_id, "restarts": w.restarts, "exits": w.exits}
                            for w in self.workers],
                "worker_deaths": dict(self.deaths), "fatal": self.fatal}

    # -- workers ----------------------------------------------------------------------
    def _start(self, worker: _Worker) -> None:
        logs = self.project_dir / "seqtune_workers"
        logs.mkdir(exist_ok=True)
        worker.killed = False
        with open(logs / f"{worker.tuner_id}.log", "ab") as log:  # the child keeps its own handle
            worker.proc = subprocess.Popen(
                [sys.executable, "-m", "seqtune", "worker", "--oracle", self.server.address,
                 "--directory", str(self.project_dir), "--tuner-id", worker.tuner_id,
                 "--lease", str(self.plan.lease)],
                env=worker.env, stdin=subprocess.DEVNULL,
                stdout=None if self.verbose > 1 else log, stderr=subprocess.STDOUT,
            )

    def _watch_workers(self) -> None:
        ongoing = self.server.ongoing()
        for worker in self.workers:
            if worker.done:
                continue
            code = worker.proc.poll()
            if worker.tuner_id in ongoing:
                worker.idle_deaths = 0
            if code is None:
                continue
            worker.exits.append(code)
            trial_id = ongoing.get(worker.tuner_id)
            if code == 0 and trial_id is None and not self._retry_lacks_a_taker(ongoing):
                worker.ended = "stopped"  # no retry waits for it
                continue
            if code == _fatal_exit():
                self.fatal = self.fatal or self._error_of(trial_id) or f"worker {worker.tuner_id} stopped"
                self.server.stop_new_trials()
                worker.ended = "fatal"
                continue
            if trial_id is None and code != 0 and not worker.killed:
                worker.idle_deaths += 1
                if worker.idle_deaths >= MAX_WORKER_DEATHS:  # it dies before any trial starts
                    log = self.project_dir / "seqtune_workers" / f"{worker.tuner_id}.log"
                    self.fatal = self.fatal or (
                        f"Worker {worker.tuner_id} exited {worker.idle_deaths} times before it "
                        f"took a trial (exit codes {worker.exits[-worker.idle_deaths:]}); its "
                        f"output is in {log}.")
                    self.server.stop_new_trials()
                    worker.ended = "fatal"
                    continue
            if trial_id is not None:
                self.deaths[trial_id] += 1
                if self.deaths[trial_id] >= MAX_WORKER_DEATHS:
                    self._fail(worker.tuner_id, trial_id, (
                        f"Trial {trial_id} ended its worker {MAX_WORKER_DEATHS} times (exit codes "
                        f"{worker.exits[-MAX_WORKER_DEATHS:]}; negative: killed by that signal, "
                        "e.g. -9 for SIGKILL, as by the out-of-memory killer)."))
            if self.server.over():
                worker.ended = "over"
            else:
                worker.restarts += 1
                self._start(worker)  # same tuner id: Keras Tuner hands it its open trial again
        for worker in self.workers:
            if worker.ended == "stopped" and not self.fatal and self._retry_lacks_a_taker(ongoing):
                # A remote worker's lease lapsed after every local worker was answered
                # STOPPED: without this, its trial would wait for a remote worker forever.
                worker.ended = None
                worker.restarts += 1
                self._start(worker)

    def _retry_lacks_a_taker(self, ongoing: dict) -> bool:
        # One restarted worker per waiting retry: live workers without a trial ask the
        # oracle again and take a retry before they are answered STOPPED.
        takers = sum(1 for w in self.workers if not w.done and w.proc is not None
                     and w.proc.poll() is None and w.tuner_id not in ongoing)
        return len(self.server.retries()) > takers

    def _watch_leases(self, now: float, first_seen: dict[str, float]) -> None:
        for tuner_id, trial_id in self.server.ongoing().items():
            seen = first_seen.setdefault(trial_id, now)
            renewed = self.server.leases.get(trial_id, (tuner_id, seen))[1]
            timeout = self.plan.trial_timeout
            if timeout is not None and now - seen > timeout:
                self._fail(tuner_id, trial_id, (
                    f"Trial {trial_id} was still open after trial_timeout={timeout}s "
                    f"on worker {tuner_id}; recorded as failed."))
            elif now - renewed > self.plan.lease:
                # Silent (hung, stopped, or on a machine that went away): another worker runs it.
                self.server.requeue(tuner_id)
                first_seen.pop(trial_id, None)
                worker = next((w for w in self.workers if w.tuner_id == tuner_id), None)
                if worker is not None and worker.proc.poll() is None:
                    worker.killed = True
                    worker.proc.kill()  # a local worker that stopped answering; it is restarted

    def _stop_workers(self) -> None:
        running = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        limit = time.monotonic() + 10
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, limit - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    # -- trials -----------------------------------------------------------------------
    def _fail(self, tuner_id: str, trial_id: str, message: str) -> None:
        self._record_failure(trial_id, message)
        self.server.fail(tuner_id, message)

    def _record_failure(self, trial_id: str, message: str) -> None:
        trial_dir = self.project_dir / f"trial_{trial_id}"
        record = read_record(trial_dir / RECORD_FILENAME)
        if record is not None:  # the worker's record says RUNNING: the chief ends it
            record.update(status=TrialStatus.FAILED.value, error=message, ended_at=time.time())
            write_record(trial_dir, record)

    def _error_of(self, trial_id: str | None) -> str | None:
        record = read_record(self.project_dir / f"trial_{trial_id}" / RECORD_FILENAME) \
            if trial_id else None
        return None if record is None else record.get("error")

    def _drain(self) -> None:
        while not self.server.ended.empty():
            trial_id = self.server.ended.get()
            record = read_record(self.project_dir / f"trial_{trial_id}" / RECORD_FILENAME)
            if record is not None:
                self.on_trial_end(record)


def _fatal_exit() -> int:
    from ._chief import FATAL_EXIT

    return FATAL_EXIT
