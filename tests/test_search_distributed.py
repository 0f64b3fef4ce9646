"""A search over worker processes: real chief and workers on 127.0.0.1, bounded in time.

Each test starts a chief (``SequenceSearch(n_jobs=...)`` in its own process) and checks
what the issue promises: the same results as one process, no trial lost to a dead
worker, no trial logged twice, and a chief that exits whatever became of its workers.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from _distributed_helpers import (
    SPACE,
    chief_script,
    kill_all,
    records,
    result,
    start,
    start_worker,
    wait_for,
    worker_pids,
)

pytestmark = pytest.mark.slow


def _mlflow_children(uri: str, experiment: str) -> tuple[int, list[str]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return len(parents), sorted(r.data.tags["trial_id"] for r in runs
                                if "mlflow.parentRunId" in r.data.tags)


def test_two_workers_run_the_search_a_single_process_would(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    common = dict(space=SPACE, tuner="random", max_trials=8, cv=None, tracking_uri=uri,
                  experiment_name="dist")
    chief = start(chief_script(tmp_path / "two", n_jobs=2, **common))
    single = None
    try:
        out = result(chief)
        single = start(chief_script(tmp_path / "one", n_jobs=1, **{**common, "experiment_name": "one"}))
        alone = result(single)
    finally:
        kill_all(tmp_path / "two", chief, single)
    assert out["status"] == ["completed"] * 8 and out["refitted"]
    assert out["columns"] == alone["columns"]
    assert {w["tuner_id"] for w in out["workers"]["workers"]} == {"tuner0", "tuner1"}
    ran = {r["tags"]["worker"] for r in records(tmp_path / "two" / "dist")}
    assert ran == {"tuner0", "tuner1"}  # both workers ran trials
    assert _mlflow_children(uri, "dist") == (1, [f"{i}" for i in range(8)])
    assert not worker_pids(tmp_path / "two")


def test_a_worker_killed_mid_trial_is_restarted_and_its_trial_run_again(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    space = {**SPACE, "epochs": 40, "batch_size": 2}  # a few seconds per trial
    chief = start(chief_script(tmp_path, space=space, tuner="random", max_trials=4, cv=None,
                               n_jobs=2, tracking_uri=uri, experiment_name="kill"))
    project = tmp_path / "dist"
    try:
        victim = wait_for(lambda: next((r for r in records(project) if r["status"] == "RUNNING"
                                        and "worker" in r["tags"]), None), 240, "a running trial")
        os.kill(worker_pids(tmp_path)[victim["tags"]["worker"]], signal.SIGKILL)
        out = result(chief)
    finally:
        kill_all(tmp_path, chief)
    assert out["status"] == ["completed"] * 4
    restarted = {w["tuner_id"]: w for w in out["workers"]["workers"]}[victim["tags"]["worker"]]
    assert restarted["restarts"] >= 1 and -signal.SIGKILL in restarted["exits"]
    assert out["workers"]["worker_deaths"].get(victim["trial_id"]) == 1
    again = next(r for r in records(project) if r["trial_id"] == victim["trial_id"])
    assert again["status"] == "COMPLETED" and again["started_at"] > victim["started_at"]
    assert _mlflow_children(uri, "kill") == (1, ["0", "1", "2", "3"])  # none logged twice


def test_a_worker_killed_between_trials_does_not_keep_the_chief_waiting(tmp_path):
    chief = start(chief_script(tmp_path, space=SPACE, tuner="random", max_trials=3, cv=None,
                               n_jobs=2, tracking=False))
    try:
        pids = wait_for(lambda: len(worker_pids(tmp_path)) == 2 and worker_pids(tmp_path), 120,
                        "two workers")
        os.kill(pids["tuner1"], signal.SIGKILL)  # before or between its trials
        out = result(chief, timeout=240)
    finally:
        kill_all(tmp_path, chief)
    assert out["status"] == ["completed"] * 3
    assert chief.returncode == 0 and not worker_pids(tmp_path)


def test_consecutive_failures_stop_the_chief_and_the_workers_quickly(tmp_path):
    space = {**SPACE, "dropout": [1.5, 2.0, 3.0, 4.0]}  # every trial fails in fit
    chief = start(chief_script(tmp_path, space=space, tuner="random", max_trials=8, cv=None,
                               n_jobs=2, tracking=False, max_consecutive_failures=2))
    try:
        out = result(chief, timeout=180)
    finally:
        kill_all(tmp_path, chief)
    assert "No trial of the search" in out["error"]
    assert any("2 failed trials in a row" in w for w in out["warnings"])
    assert len(records(tmp_path / "dist")) <= 4  # at most one more trial per worker
    assert not worker_pids(tmp_path)


def test_a_killed_chief_leaves_no_worker_and_resumes_without_rerunning(tmp_path):
    script = chief_script(tmp_path, space={**SPACE, "epochs": 15, "batch_size": 4}, tuner="random",
                          max_trials=6, cv=None, n_jobs=2, tracking=False, lease=6.0)
    project = tmp_path / "dist"
    chief = start(script)
    rerun = None
    try:
        wait_for(lambda: sum(r["status"] == "COMPLETED" for r in records(project)) >= 2, 240,
                 "two completed trials")
        done = {r["trial_id"]: r["started_at"] for r in records(project) if r["status"] == "COMPLETED"}
        chief.send_signal(signal.SIGKILL)  # the chief only: its workers must notice
        chief.wait(timeout=30)
        wait_for(lambda: not worker_pids(tmp_path), 15, "the orphaned workers to exit")
        rerun = start(script)
        out = result(rerun)
    finally:
        kill_all(tmp_path, chief, rerun)
    assert out["status"] == ["completed"] * 6
    after = {r["trial_id"]: r for r in records(project)}
    for trial_id, started_at in done.items():
        assert after[trial_id]["started_at"] == started_at  # kept, not run again
    assert not worker_pids(tmp_path)


def test_a_remote_worker_whose_lease_lapses_loses_its_trial_to_another(tmp_path):
    space = {**SPACE, "epochs": 30, "batch_size": 2}
    chief = start(chief_script(tmp_path, space=space, tuner="random", max_trials=3, cv=None,
                               n_jobs=0, chief_address="127.0.0.1:0", lease=3.0, tracking=False))
    project = tmp_path / "dist"
    workers = []
    try:
        address = wait_for(lambda: _address(tmp_path), 120, "the chief's address")

        def join(tuner_id):
            return start_worker("--oracle", address, "--directory", str(project),
                                "--tuner-id", tuner_id)

        workers.append(join("remote-a"))
        stalled = wait_for(lambda: next((r for r in records(project) if r["status"] == "RUNNING"
                                         and r["tags"].get("worker") == "remote-a"), None),
                           180, "remote-a to start a trial")
        workers[0].send_signal(signal.SIGSTOP)  # alive, but silent
        workers.append(join("remote-b"))
        taken = wait_for(lambda: next((r for r in records(project)
                                       if r["trial_id"] == stalled["trial_id"]
                                       and r["tags"].get("worker") == "remote-b"), None),
                         180, "remote-b to take the stalled trial over")
        workers[0].send_signal(signal.SIGCONT)  # it learns it lost the lease, and goes on
        out = result(chief)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGCONT)
        kill_all(tmp_path, chief, *workers)
    assert taken["trial_id"] == stalled["trial_id"]
    assert out["status"] == ["completed"] * 3
    final = next(r for r in records(project) if r["trial_id"] == stalled["trial_id"])
    assert final["status"] == "COMPLETED" and final["tags"]["worker"] == "remote-b"


def test_idle_hyperband_workers_do_not_poll_the_chief_without_pause(tmp_path):
    space = {"units": 4, "batch_size": 2, "epochs": 9, "patience": 20,
             "learning_rate": [0.01, 0.005, 0.002, 0.001, 0.0005]}
    chief = start(chief_script(tmp_path, space=space, tuner="hyperband", max_trials=6, cv=None,
                               n_jobs=2, tracking=False))
    try:
        out = result(chief)
    finally:
        kill_all(tmp_path, chief)
    calls = out["workers"]["calls"]
    # Keras Tuner's loop asks again at once after IDLE: thousands of calls a second.
    # With the backoff, a handful per trial, heartbeats aside.
    assert calls["CreateTrial"] < 20 * len(out["trials"]), calls
    assert set(out["status"]) == {"completed"}


def _address(directory) -> str | None:
    path = directory / "dist" / "seqtune_chief.json"
    try:
        return json.loads(path.read_text())["address"]
    except (OSError, ValueError, KeyError):
        return None
