"""Keras Tuner's distributed engine, supervised: a chief with leases, and the worker loop.

Keras Tuner 1.4's chief serves its oracle over gRPC to worker processes, but it has no
heartbeat: a worker killed mid-trial leaves the trial RUNNING, and one killed between
trials keeps the chief waiting. This module adds what the supervisor
(:mod:`seqtune.search._loop`) needs:

* :class:`ChiefServer`, the chief's oracle served over Keras Tuner's protocol, with
  leases: each worker renews one on its open trial, so the chief can hand a silent
  worker's trial to another (:meth:`~ChiefServer.requeue`), end it as failed
  (:meth:`~ChiefServer.fail`), and ignore the late result of a worker it gave up on;
* :func:`run_worker`, a worker's loop (with the lease heartbeat, and a backoff when
  Hyperband answers IDLE instead of asking again at once).

It is imported lazily and, with :mod:`._tuner`, is the only seqtune module that touches
Keras Tuner's private API (``keras_tuner.src``).
"""

from __future__ import annotations

import collections
import contextlib
import copy
import math
import os
import queue
import threading
import time
from typing import Any

import keras_tuner as kt
from keras_tuner.src import protos
from keras_tuner.src.distribute import utils as dist_utils
from keras_tuner.src.engine import oracle as oracle_module
from keras_tuner.src.engine import trial as trial_module

from ._tuner import SeqTuner

__all__ = ["FATAL_EXIT", "ChiefServer", "distributed_role", "run_worker"]

# Metric names a worker sends beside Keras Tuner's own: a lease renewal, and who ends a trial.
_LEASE, _OWNER = "seqtune/lease/", "seqtune/owner/"
_IDLE_SLEEP = (0.2, 2.0)  # a worker's backoff while Hyperband answers IDLE
#: A worker that hit an error every trial would hit (a missing module) exits with this.
FATAL_EXIT = 3


def distributed_role() -> str | None:
    """``"chief"`` or ``"worker"`` when Keras Tuner's environment variables say so, else None."""
    if not dist_utils.has_chief_oracle():
        return None
    return "chief" if dist_utils.is_chief_oracle() else "worker"


# ---------------------------------------------------------------- chief and workers


@contextlib.contextmanager
def _locked(oracle: Any):
    """Hold the oracle's lock as ``keras_tuner.synchronized`` does (nested calls do not wait)."""
    name = threading.current_thread().name
    if oracle_module.THREADS[oracle] == name:
        yield
        return
    oracle_module.LOCKS[oracle].acquire()
    oracle_module.THREADS[oracle] = name
    try:
        yield
    finally:
        oracle_module.THREADS[oracle] = None
        oracle_module.LOCKS[oracle].release()


class _Servicer(protos.get_service_grpc().OracleServicer):
    """Keras Tuner's oracle service, with leases and with late results of revoked trials ignored."""

    def __init__(self, chief: ChiefServer) -> None:
        from keras_tuner.src.distribute.oracle_chief import OracleServicer

        self.chief = chief
        self.inner = OracleServicer(chief.oracle)
        for name in ("GetSpace", "UpdateSpace", "GetTrial", "GetBestTrials"):  # as they are
            setattr(self, name, getattr(self.inner, name))

    def CreateTrial(self, request, context):
        self.chief.calls["CreateTrial"] += 1
        response = self.inner.CreateTrial(request, context)
        if response.trial.status == trial_module.TrialStatus.to_proto(trial_module.TrialStatus.STOPPED):
            self.chief.stopped = True
        elif response.trial.trial_id:
            self.chief.leases[response.trial.trial_id] = (request.tuner_id, time.monotonic())
        return response

    def UpdateTrial(self, request, context):
        lease = [key for key in request.metrics if key.startswith(_LEASE)]
        if not lease:
            self.chief.calls["UpdateTrial"] += 1
            return self.inner.UpdateTrial(request, context)
        self.chief.calls["heartbeat"] += 1
        held = self.chief.renew(request.trial_id, lease[0][len(_LEASE):])
        status = trial_module.TrialStatus.RUNNING if held else trial_module.TrialStatus.STOPPED
        trial = trial_module.Trial(self.chief.oracle.get_space(), trial_id=request.trial_id,
                                   status=status)
        return protos.get_service().UpdateTrialResponse(trial=trial.to_proto())

    def EndTrial(self, request, context):
        self.chief.calls["EndTrial"] += 1
        owners = [name[len(_OWNER):] for name in request.trial.metrics.metrics
                  if name.startswith(_OWNER)]
        trial_id = request.trial.trial_id
        if not self.chief.holds(trial_id, owners[0] if owners else None):
            self.chief.calls["ignored_end"] += 1  # its lease went to another worker
            return protos.get_service().EndTrialResponse()
        response = self.inner.EndTrial(request, context)
        self.chief.leases.pop(trial_id, None)
        self.chief.ended.put(trial_id)
        return response


class ChiefServer:
    """A tuner's oracle, served to worker processes over Keras Tuner's gRPC protocol.

    Parameters
    ----------
    kt_tuner : SeqTuner
        The chief's own tuner (not a worker's); its oracle hands out the trials.
    address : str
        ``host:port`` to listen on; port 0 picks a free one (see ``address`` after).

    Attributes
    ----------
    address : str
    leases : dict
        ``{trial_id: (tuner_id, last renewal)}``, by this process's monotonic clock.
    ended : queue.Queue
        Ids of the trials whose end the oracle accepted, in order.
    calls : collections.Counter
        Requests served by kind (``heartbeat``, ``CreateTrial``, ``ignored_end``...).
    """

    def __init__(self, kt_tuner: SeqTuner, address: str) -> None:
        from concurrent import futures

        import grpc

        self.oracle = kt_tuner.oracle
        self.leases: dict[str, tuple[str, float]] = {}
        self.ended: queue.Queue = queue.Queue()
        self.calls: collections.Counter = collections.Counter()
        self.stopped = False
        host, _, port = address.rpartition(":")
        # One thread, as Keras Tuner's own chief: the oracle is not made for concurrency.
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=1,
                                                             thread_name_prefix="seqtune-chief"))
        protos.get_service_grpc().add_OracleServicer_to_server(_Servicer(self), self.server)
        bound = self.server.add_insecure_port(f"{host}:{port}")
        if not bound:
            raise RuntimeError(f"The search's chief cannot listen on {address}; pass a free "
                               "host:port (port 0 picks one).")
        self.address = f"{host}:{bound}"
        self.server.start()

    def renew(self, trial_id: str, tuner_id: str) -> bool:
        """A worker's heartbeat; True while it holds the trial (no trial id: just alive)."""
        if not trial_id:
            return True
        with _locked(self.oracle):
            held = self.oracle.ongoing_trials.get(tuner_id)
            if held is None or held.trial_id != trial_id:
                return False
            self.leases[trial_id] = (tuner_id, time.monotonic())
            return True

    def holds(self, trial_id: str, tuner_id: str | None) -> bool:
        """Whether ``tuner_id`` (None: whoever) still holds the open trial ``trial_id``."""
        with _locked(self.oracle):
            for owner, trial in self.oracle.ongoing_trials.items():
                if trial.trial_id == trial_id:
                    return tuner_id is None or owner == tuner_id
        return False

    def ongoing(self) -> dict[str, str]:
        """``{tuner_id: trial_id}`` of the trials handed out and not ended."""
        with _locked(self.oracle):
            return {tuner_id: t.trial_id for tuner_id, t in self.oracle.ongoing_trials.items()}

    def requeue(self, tuner_id: str) -> str | None:
        """Take a worker's open trial back; the next worker to ask runs it. Returns its id."""
        with _locked(self.oracle):
            trial = self.oracle.ongoing_trials.pop(tuner_id, None)
            self.oracle.tuner_ids.discard(tuner_id)
            if trial is None:
                return None
            self.leases.pop(trial.trial_id, None)
            # Keras Tuner pops retries from the end: this one goes next.
            self.oracle._retry_queue.append(trial.trial_id)
            self.oracle.save()
            return trial.trial_id

    def fail(self, tuner_id: str, message: str) -> str | None:
        """End a worker's open trial as FAILED (the record says why). Returns its id."""
        with _locked(self.oracle):
            trial = self.oracle.ongoing_trials.get(tuner_id)
            if trial is None:
                return None
            failed = copy.copy(trial)
            failed.status = trial_module.TrialStatus.FAILED
            failed.message = message
            self.oracle.end_trial(failed)
            self.oracle.tuner_ids.discard(tuner_id)
            self.leases.pop(trial.trial_id, None)
        self.ended.put(trial.trial_id)
        return trial.trial_id

    def retries(self) -> list[str]:
        """Ids of the trials taken back from silent workers and not yet handed out again."""
        with _locked(self.oracle):
            return list(self.oracle._retry_queue)

    def fail_retries(self, message: str) -> list[str]:
        """End every trial still waiting for another worker as FAILED; returns their ids.

        For a search that ends before a worker took them (a fatal error, Ctrl-C): left in
        the queue, they would stay RUNNING.
        """
        with _locked(self.oracle):
            ids, self.oracle._retry_queue = list(self.oracle._retry_queue), []
            for trial_id in ids:
                failed = copy.copy(self.oracle.trials[trial_id])
                failed.status = trial_module.TrialStatus.FAILED
                failed.message = message
                self.oracle.end_trial(failed)
        for trial_id in ids:
            self.ended.put(trial_id)
        return ids

    def stop_new_trials(self) -> None:
        """Answer STOPPED to every later request for a trial (the time budget is spent)."""
        with _locked(self.oracle):
            self.oracle.max_trials = min(self.oracle.max_trials or math.inf, len(self.oracle.trials))

    def over(self) -> bool:
        """No trial is open or waiting for a worker, and none will start: every worker
        that asks gets STOPPED.

        A trial taken back from a silent worker (:meth:`requeue`) keeps the search open
        even after a worker was answered STOPPED: Keras Tuner hands retries out first.
        """
        with _locked(self.oracle):
            oracle = self.oracle
            if oracle.ongoing_trials or oracle._retry_queue:
                return False
            capped = bool(oracle.max_trials) and len(oracle.trials) >= oracle.max_trials
            return self.stopped or bool(getattr(oracle, "stopped_reason", None)) or capped

    def close(self) -> None:
        self.server.stop(grace=1).wait(5)


class _Lease(threading.Thread):
    """A worker's heartbeat: renew the lease on its open trial, and notice a dead chief.

    The chief answers whether the lease holds; one it gave to another worker is marked
    lost. When the chief is silent for ``chief_timeout`` seconds, or the process that
    started this worker is gone, the worker exits: no worker outlives its chief.
    """

    def __init__(self, client: Any, tuner_id: str, interval: float, chief_timeout: float,
                 parent_pid: int | None) -> None:
        super().__init__(name="seqtune-lease", daemon=True)
        self.client, self.tuner_id = client, tuner_id
        self.interval, self.chief_timeout, self.parent_pid = interval, chief_timeout, parent_pid
        self.trial_id = ""
        self.lost: set[str] = set()
        self._stop_event = threading.Event()
        self._last_ok = time.monotonic()

    def renew(self) -> bool:
        """Renew now; False when the open trial's lease is lost (or the chief is silent)."""
        import grpc

        trial_id = self.trial_id
        request = protos.get_service().UpdateTrialRequest(
            trial_id=trial_id, metrics={_LEASE + self.tuner_id: time.time()}, step=0)
        try:
            response = self.client.stub.UpdateTrial(request, timeout=max(self.interval, 5.0))
        except grpc.RpcError:
            if time.monotonic() - self._last_ok > self.chief_timeout:
                os._exit(75)  # EX_TEMPFAIL: the chief is gone; a rerun of the search resumes
            return trial_id not in self.lost
        self._last_ok = time.monotonic()
        if trial_id and trial_module.TrialStatus.from_proto(response.trial.status) != \
                trial_module.TrialStatus.RUNNING:
            self.lost.add(trial_id)
        return trial_id not in self.lost

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                os._exit(75)
            self.renew()

    def stop(self) -> None:
        self._stop_event.set()


def run_worker(kt_tuner: SeqTuner, *, tuner_id: str, lease_s: float, parent_pid: int | None = None) -> int:
    """A worker's loop: ask the chief for trials until it answers STOPPED; return the exit code.

    Keras Tuner's loop with a lease heartbeat (every ``lease_s / 6`` s; a trial the
    chief gave to another worker meanwhile is not reported), a backoff while Hyperband
    answers IDLE (Keras Tuner asks again at once, keeping the chief busy), and a
    ``FatalError`` reported FAILED before the worker exits with :data:`FATAL_EXIT`.
    """
    client = kt_tuner.oracle
    lease = _Lease(client, tuner_id, interval=max(0.5, lease_s / 6),
                   chief_timeout=max(10.0, 2 * lease_s), parent_pid=parent_pid)
    lease.start()
    kt_tuner.runner.may_write, kt_tuner.runner.worker_id = lease.renew, tuner_id
    idle = _IDLE_SLEEP[0]
    try:
        while True:
            trial = client.create_trial(tuner_id)
            if trial.status == trial_module.TrialStatus.STOPPED:
                return 0
            if trial.status == trial_module.TrialStatus.IDLE:
                time.sleep(idle)
                idle = min(2 * idle, _IDLE_SLEEP[1])
                continue
            idle = _IDLE_SLEEP[0]
            lease.trial_id = trial.trial_id
            kt_tuner.on_trial_begin(trial)
            fatal = None
            try:
                kt_tuner._try_run_and_update_trial(trial)
            except kt.errors.FatalError as exc:
                fatal = exc
                trial.status = trial_module.TrialStatus.FAILED
            if trial.trial_id not in lease.lost:
                trial.metrics.register(_OWNER + tuner_id)
                trial.metrics.update(_OWNER + tuner_id, 1.0)
                kt_tuner.on_trial_end(trial)
            lease.trial_id = ""
            if fatal is not None:
                print(f"[seqtune] worker {tuner_id}: {fatal}", flush=True)
                return FATAL_EXIT
    finally:
        lease.stop()
