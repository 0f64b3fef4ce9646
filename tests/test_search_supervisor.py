"""The chief's watchdog over its local workers (``_loop.Supervisor``), without processes.

Fake worker processes exit with chosen codes; a fake server holds the oracle's answers.
tests/test_search_distributed.py runs the same paths with real workers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from seqtune.search import _chief
from seqtune.search._loop import MAX_WORKER_DEATHS, Supervisor, TrialPlan, _Worker


class _Proc:
    def __init__(self, code):
        self.code = code

    def poll(self):
        return self.code


class _Server:
    def __init__(self, ongoing=None, retries=()):
        self._ongoing, self._retries = dict(ongoing or {}), list(retries)
        self.stopped = False

    def ongoing(self):
        return dict(self._ongoing)

    def retries(self):
        return list(self._retries)

    def over(self):
        return not self._ongoing and not self._retries and self.stopped

    def stop_new_trials(self):
        self.stopped = True


def _supervisor(tmp_path: Path, server: _Server, codes: list) -> tuple[Supervisor, list]:
    plan = TrialPlan("chief", n_workers=len(codes), address="", lease=60.0, backend="jax")
    supervisor = Supervisor(None, plan, project_dir=tmp_path, deadline=None,
                            on_trial_end=lambda record: None)
    supervisor.server = server
    started = []

    def start(worker):  # a restarted worker runs until the test says otherwise
        started.append(worker.tuner_id)
        worker.proc = _Proc(None)

    supervisor._start = start
    supervisor.workers = [_Worker(f"tuner{i}", {}, proc=_Proc(code)) for i, code in enumerate(codes)]
    return supervisor, started


def test_a_worker_answered_stopped_is_recorded_once_and_left_alone(tmp_path):
    server = _Server()
    server.stopped = True
    supervisor, started = _supervisor(tmp_path, server, [0])
    for _ in range(5):  # the chief polls every 0.2 s
        supervisor._watch_workers()
    assert supervisor.workers[0].exits == [0] and supervisor.workers[0].ended == "stopped"
    assert started == [] and supervisor.fatal is None


def test_a_stopped_worker_is_restarted_to_take_a_trial_taken_back_from_another(tmp_path):
    server = _Server(retries=["3"])
    server.stopped = True
    supervisor, started = _supervisor(tmp_path, server, [0])
    supervisor._watch_workers()
    assert started == ["tuner0"] and not supervisor.workers[0].done


def test_workers_stopped_together_restart_one_per_waiting_retry(tmp_path):
    server = _Server(retries=["3", "5"])
    server.stopped = True
    supervisor, started = _supervisor(tmp_path, server, [0, 0, 0, 0])
    supervisor._watch_workers()
    assert started == ["tuner0", "tuner1"]
    assert [w.done for w in supervisor.workers] == [False, False, True, True]
    supervisor._watch_workers()  # the two restarted ones are still starting up
    assert started == ["tuner0", "tuner1"]


def test_a_stopped_worker_is_not_restarted_while_a_live_idle_worker_can_take_the_retry(tmp_path):
    server = _Server(retries=["3"])
    server.stopped = True
    supervisor, started = _supervisor(tmp_path, server, [0, None])
    supervisor._watch_workers()
    assert started == [] and supervisor.workers[0].done
    supervisor.workers[1].proc = _Proc(0)  # it was answered STOPPED too, the retry still waits
    supervisor._watch_workers()
    assert started == ["tuner1"] and not supervisor.workers[1].done


def test_a_worker_that_dies_before_any_trial_stops_the_search_after_a_few_tries(tmp_path):
    supervisor, started = _supervisor(tmp_path, _Server(), [1])

    def start(worker):  # it fails at start-up every time (an import error, say)
        started.append(worker.tuner_id)
        worker.proc = _Proc(1)

    supervisor._start = start
    for _ in range(10):
        supervisor._watch_workers()
    assert len(started) == MAX_WORKER_DEATHS - 1
    assert supervisor.workers[0].exits == [1] * MAX_WORKER_DEATHS
    assert f"Worker tuner0 exited {MAX_WORKER_DEATHS} times before it took a trial" in supervisor.fatal
    assert "seqtune_workers/tuner0.log" in supervisor.fatal and supervisor.server.stopped
    assert supervisor.workers[0].ended == "fatal"


def test_a_worker_killed_for_its_lapsed_lease_is_restarted_without_counting_a_death(tmp_path):
    supervisor, started = _supervisor(tmp_path, _Server(retries=["2"]), [-9])
    supervisor.workers[0].killed = True  # as _watch_leases marks it
    supervisor._watch_workers()
    assert started == ["tuner0"] and supervisor.workers[0].idle_deaths == 0
    assert supervisor.fatal is None and not supervisor.deaths


def test_the_chief_module_exposes_the_calls_the_supervisor_uses():
    for name in ("ongoing", "retries", "over", "stop_new_trials", "fail", "fail_retries", "requeue"):
        assert callable(getattr(_chief.ChiefServer, name))


def test_a_retry_that_comes_after_every_local_worker_stopped_restarts_one_of_them(tmp_path):
    # A remote worker's lease lapses after both local workers were answered STOPPED.
    server = _Server()
    server.stopped = True
    supervisor, started = _supervisor(tmp_path, server, [0, 0])
    supervisor._watch_workers()
    assert started == [] and all(w.done for w in supervisor.workers)
    server._retries = ["7"]
    supervisor._watch_workers()
    assert started == ["tuner0"] and not supervisor.workers[0].done
    assert supervisor.workers[0].restarts == 1 and supervisor.workers[1].done
    supervisor._watch_workers()  # tuner0 is starting up: it is the retry's taker
    assert started == ["tuner0"]


def test_a_worker_ended_by_a_fatal_error_is_not_restarted_for_a_later_retry(tmp_path):
    from seqtune.search._loop import _fatal_exit

    server = _Server()
    supervisor, started = _supervisor(tmp_path, server, [_fatal_exit(), 0])
    supervisor._watch_workers()
    assert supervisor.fatal and [w.ended for w in supervisor.workers] == ["fatal", "stopped"]
    server._retries = ["7"]
    supervisor._watch_workers()
    assert started == []


def test_a_fatal_worker_error_is_raised_with_the_workers_account_kept(tmp_path, monkeypatch):
    import numpy as np

    from seqtune import SequenceClassifier, SequenceSearch
    from seqtune.search import _loop

    fatal = "ModuleNotFoundError: No module named 'a_users_layer'"
    account = {"fatal": fatal, "workers": [{"tuner_id": "tuner0", "restarts": 0}]}
    monkeypatch.setattr(_loop, "run_trials",
                        lambda plan, *a, **k: account if plan.mode == "chief" else None)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 16, 1)), np.array([0, 1] * 5)
    search = SequenceSearch(SequenceClassifier(epochs=1), space="quick", tuner="random",
                            max_trials=1, n_jobs=2, tracking=False, directory=tmp_path,
                            random_state=0, verbose=0)
    with pytest.raises(RuntimeError, match="A worker stopped the search in .*an error every "
                                           "trial would hit:\nModuleNotFoundError: No module"):
        search.fit(X, y)
    assert search.workers_ is account  # the restarts and exit codes stay to inspect


# ------------------------------------------------------------- where the trials run


_SETTINGS = {"trials_per_gpu": 1, "chief_address": None, "lease": 30.0, "trial_timeout": None,
             "backend": "jax"}


@pytest.fixture
def no_keras_tuner_env(monkeypatch):
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_one_job_runs_in_this_process_and_several_under_a_chief(no_keras_tuner_env):
    from seqtune.search._loop import plan_trials

    local = plan_trials(n_jobs=1, gpus=None, **_SETTINGS)
    assert (local.mode, local.n_workers, local.gpus, local.is_worker) == ("local", 0, None, False)
    chief = plan_trials(n_jobs=3, gpus=None, **{**_SETTINGS, "trial_timeout": 60.0})
    assert (chief.mode, chief.n_workers, chief.address) == ("chief", 3, "127.0.0.1:0")
    assert (chief.lease, chief.trial_timeout, chief.backend) == (30.0, 60.0, "jax")
    remote = plan_trials(n_jobs=0, gpus=None, **{**_SETTINGS, "chief_address": "0.0.0.0:8000"})
    assert (remote.mode, remote.n_workers, remote.address) == ("chief", 0, "0.0.0.0:8000")


def test_gpus_set_the_workers_and_a_mismatched_n_jobs_is_refused(no_keras_tuner_env):
    from seqtune.search._loop import plan_trials

    plan = plan_trials(n_jobs=1, gpus="0, 1", **{**_SETTINGS, "trials_per_gpu": 2})
    assert (plan.mode, plan.n_workers, plan.gpus) == ("chief", 4, ("0", "1"))
    with pytest.raises(ValueError, match=r"n_jobs=3 does not match gpus='0, 1' with "
                                         r"trials_per_gpu=2: that is 4 workers"):
        plan_trials(n_jobs=3, gpus="0, 1", **{**_SETTINGS, "trials_per_gpu": 2})
    with pytest.raises(ValueError, match=r"n_jobs=0 starts no local worker: pass chief_address"):
        plan_trials(n_jobs=0, gpus=None, **_SETTINGS)
    with pytest.raises(ValueError, match=r"gpus=',' names no GPU"):
        plan_trials(n_jobs=1, gpus=",", **_SETTINGS)


def test_a_chief_started_by_hand_listens_where_keras_tuner_variables_say(monkeypatch):
    from seqtune.search._loop import plan_trials

    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8765")
    plan = plan_trials(n_jobs=1, gpus=None, **{**_SETTINGS, "chief_address": "10.0.0.1:1"})
    assert (plan.mode, plan.n_workers, plan.address) == ("chief", 0, "127.0.0.1:8765")
    assert not plan.is_worker
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    worker = plan_trials(n_jobs=4, gpus=None, **_SETTINGS)
    assert (worker.mode, worker.is_worker) == ("worker", True)


def test_each_local_worker_gets_its_gpu_id_backend_and_share_of_threads(monkeypatch):
    from seqtune.search import _loop

    monkeypatch.delenv("SEQTUNE_THREADS_PER_WORKER", raising=False)
    monkeypatch.setattr(_loop.os, "cpu_count", lambda: 8)
    plan = TrialPlan("chief", n_workers=4, gpus=("0", "1"), trials_per_gpu=2, backend="jax")
    envs = [_loop.worker_env(i, plan, address="127.0.0.1:9000", tuner_id=f"tuner{i}")
            for i in range(4)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "0", "1", "1"]
    assert {e["OMP_NUM_THREADS"] for e in envs} == {"2"}
    assert {(e["KERASTUNER_ORACLE_IP"], e["KERASTUNER_ORACLE_PORT"]) for e in envs} == {
        ("127.0.0.1", "9000")}
    assert [e["KERASTUNER_TUNER_ID"] for e in envs] == ["tuner0", "tuner1", "tuner2", "tuner3"]
    assert {e["KERAS_BACKEND"] for e in envs} == {"jax"}
