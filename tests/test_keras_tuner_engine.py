"""Keras Tuner 1.4.8's distributed engine, reproduced on its own oracles, beside seqtune's answer.

Each test first shows the engine's behaviour (read in keras_tuner/src/engine/oracle.py,
tuners/hyperband.py and distribute/oracle_chief.py), then what seqtune does about it.
If a Keras Tuner release changes the behaviour, the first half fails and says so.
"""

from __future__ import annotations

import threading
import time
import types

import keras_tuner as kt
import pytest
from keras_tuner.src.distribute import oracle_chief
from keras_tuner.src.engine import trial as trial_module

from seqtune.search import _chief, _tuner


def _oracle(cls, tmp_path, **kwargs):
    oracle = cls(objective=kt.Objective("score", "max"), seed=1, **kwargs)
    hp = kt.HyperParameters()
    hp.Choice("units", [1, 2, 3, 4, 5, 6, 7, 8])
    oracle.update_space(hp)
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.verbose = 0
    return oracle


def _fail(oracle, tuner_id):
    trial = oracle.create_trial(tuner_id)
    trial.status = trial_module.TrialStatus.FAILED
    oracle.end_trial(trial)
    return trial


def test_consecutive_failures_leave_the_trial_open_and_the_lock_held_in_keras_tuner(tmp_path):
    oracle = _oracle(kt.oracles.RandomSearchOracle, tmp_path / "kt", max_trials=5,
                     max_consecutive_failed_trials=2)
    _fail(oracle, "tuner0")
    with pytest.raises(RuntimeError, match="consecutive failures"):
        _fail(oracle, "tuner0")
    assert "tuner0" in oracle.ongoing_trials  # the chief would wait for it forever
    # synchronized() does not release its lock on an exception: another thread hangs.
    other = threading.Thread(target=oracle.create_trial, args=("tuner1",), daemon=True)
    other.start()
    other.join(timeout=2)
    assert other.is_alive()


def test_seqtune_oracles_end_the_trial_and_stop_the_search_instead(tmp_path):
    oracle = _oracle(_tuner._RandomOracle, tmp_path / "st", max_trials=5,
                     max_consecutive_failed_trials=2)
    _fail(oracle, "tuner0")
    _fail(oracle, "tuner0")  # no exception
    assert oracle.ongoing_trials == {} and "consecutive failures" in oracle.stopped_reason
    answer = []
    other = threading.Thread(target=lambda: answer.append(oracle.create_trial("tuner1")))
    other.start()
    other.join(timeout=5)
    assert answer and answer[0].status == trial_module.TrialStatus.STOPPED


def test_a_dead_workers_id_keeps_keras_tuners_chief_waiting(tmp_path):
    oracle = _oracle(kt.oracles.RandomSearchOracle, tmp_path, max_trials=1)
    trial = oracle.create_trial("tuner0")
    oracle.create_trial("tuner1")  # tuner1 asks, gets STOPPED... and is removed
    trial.status = trial_module.TrialStatus.COMPLETED
    oracle.update_trial(trial.trial_id, {"score": 1.0})
    oracle.end_trial(trial)
    # tuner0 died before asking again: Keras Tuner's chief exits only once every tuner id
    # has been answered STOPPED.
    assert oracle.tuner_ids == {"tuner0"}
    assert not oracle_chief.exit_chief(oracle)


def test_seqtunes_chief_knows_the_search_is_over_whatever_the_workers(tmp_path):
    oracle = _oracle(_tuner._RandomOracle, tmp_path, max_trials=1)
    chief = _chief.ChiefServer.__new__(_chief.ChiefServer)  # the bookkeeping, no server
    chief.oracle, chief.stopped, chief.leases = oracle, False, {}
    trial = oracle.create_trial("tuner0")
    assert not chief.over()
    trial.status = trial_module.TrialStatus.COMPLETED
    oracle.update_trial(trial.trial_id, {"score": 1.0})
    oracle.end_trial(trial)
    assert oracle.tuner_ids == {"tuner0"} and chief.over()


def test_hyperband_answers_idle_while_a_trial_is_open(tmp_path):
    oracle = _oracle(kt.oracles.HyperbandOracle, tmp_path, max_epochs=3, factor=3)
    answers = [oracle.create_trial(f"tuner{i}").status for i in range(6)]
    # Bracket 1's three 1-epoch trials and bracket 0's two 3-epoch ones; then nothing can
    # start until a trial ends, and a worker that asks gets IDLE (and asks again at once).
    assert answers == ["RUNNING"] * 5 + ["IDLE"]


def test_a_seqtune_worker_backs_off_while_the_chief_answers_idle(monkeypatch):
    class Client:
        def __init__(self):
            self.asked = []

        def create_trial(self, tuner_id):
            self.asked.append(tuner_id)
            status = "IDLE" if len(self.asked) < 5 else "STOPPED"
            return trial_module.Trial(kt.HyperParameters(), trial_id=None, status=status)

    class Tuner:
        oracle = Client()
        runner = type("Runner", (), {})()

    sleeps = []
    clock = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time)
                                     if not name.startswith("_")})
    clock.sleep = sleeps.append  # the waits it asks for, without waiting them
    monkeypatch.setattr(_chief, "time", clock)
    monkeypatch.setattr(_chief._Lease, "start", lambda self: None)
    assert _chief.run_worker(Tuner(), tuner_id="tuner0", lease_s=6.0) == 0
    assert Tuner.oracle.asked == ["tuner0"] * 5
    assert sleeps == [0.2, 0.4, 0.8, 1.6]  # doubling after each IDLE, not a busy poll


def test_reload_queues_the_running_trials_again(tmp_path):
    oracle = _oracle(kt.oracles.RandomSearchOracle, tmp_path, max_trials=3)
    running = oracle.create_trial("tuner0")
    oracle.save()
    reloaded = _oracle(kt.oracles.RandomSearchOracle, tmp_path, max_trials=3)
    reloaded.reload()
    # A trial a killed chief's worker was running is handed out again: it runs twice if it
    # had in fact finished. seqtune's runner reuses a finished record instead of training
    # (tests/test_search_resume.py), and its repair drops finished trials from the queue.
    assert reloaded._retry_queue == [running.trial_id]


def test_a_trial_taken_back_after_a_stop_keeps_seqtunes_chief_open_until_it_ends(tmp_path):
    import queue

    oracle = _oracle(_tuner._RandomOracle, tmp_path, max_trials=2)
    chief = _chief.ChiefServer.__new__(_chief.ChiefServer)  # the bookkeeping, no server
    chief.oracle, chief.stopped, chief.leases, chief.ended = oracle, False, {}, queue.Queue()
    first, second = oracle.create_trial("tuner0"), oracle.create_trial("tuner1")
    first.status = trial_module.TrialStatus.COMPLETED
    oracle.update_trial(first.trial_id, {"score": 1.0})
    oracle.end_trial(first)
    assert oracle.create_trial("tuner0").status == "STOPPED"
    chief.stopped = True  # as the servicer records a STOPPED answer
    assert chief.requeue("tuner1") == second.trial_id  # tuner1 went silent
    assert chief.retries() == [second.trial_id] and not chief.over()
    # Keras Tuner hands a retry out before answering STOPPED, whoever asks.
    again = oracle.create_trial("tuner2")
    assert again.trial_id == second.trial_id and again.status == "RUNNING"
    assert chief.requeue("tuner2") == second.trial_id  # silent again, and the search ends
    assert chief.fail_retries("no worker left") == [second.trial_id]
    assert oracle.trials[second.trial_id].status == "FAILED"
    assert oracle.trials[second.trial_id].message == "no worker left"
    assert chief.over() and chief.ended.get_nowait() == second.trial_id
