"""A worker's side of the job: whose job it is, and what it may write once its trial is lost."""

from __future__ import annotations

import json
import threading
import time

import pytest

from seqtune.search._job import CHIEF_FILENAME, wait_for_chief, write_job


def _chief(directory, session, address="127.0.0.1:5000"):
    (directory / CHIEF_FILENAME).write_text(json.dumps({"address": address, "session": session}))


def test_a_worker_takes_the_job_only_once_the_running_chief_wrote_it(tmp_path):
    write_job(tmp_path, {"session": "old", "data": "a killed chief's"})
    _chief(tmp_path, "old", "127.0.0.1:4000")  # both left behind by a killed chief
    _chief(tmp_path, "new")  # the next chief listens before it rewrote the job

    def rewrite():
        time.sleep(1.5)
        write_job(tmp_path, {"session": "new", "data": "this search's"})

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        address, job = wait_for_chief(tmp_path, wait=30)
    finally:
        writer.join()
    assert (address, job["data"]) == ("127.0.0.1:5000", "this search's")


def test_a_job_from_another_session_is_refused_after_the_wait(tmp_path):
    write_job(tmp_path, {"session": "old"})
    _chief(tmp_path, "new")
    with pytest.raises(FileNotFoundError, match=r"The search job in .* is not the running "
                                                 r"chief's \(session 'old', the chief's 'new'\)"):
        wait_for_chief(tmp_path, wait=0)


def test_without_a_chief_or_a_job_the_worker_says_what_to_start(tmp_path):
    with pytest.raises(FileNotFoundError, match="No chief listens for .* or pass --oracle"):
        wait_for_chief(tmp_path, wait=0)
    with pytest.raises(FileNotFoundError, match="No search job at"):
        wait_for_chief(tmp_path, wait=0, explicit=True)
    write_job(tmp_path, {"session": "s"})
    with pytest.raises(FileNotFoundError, match=r"No chief listens for .* start the search first\.$"):
        wait_for_chief(tmp_path, wait=0, explicit=True)


def test_a_worker_that_lost_its_lease_writes_nothing_more_into_the_trial(tmp_path, clf36):
    import keras_tuner as kt

    from seqtune import SequenceClassifier
    from seqtune.search._runner import TrialAbandoned, TrialContext, TrialRunner, oof_path
    from seqtune.search._task import make_folds

    X, y = clf36
    folds = make_folds("classification", X, y, cv=2, fraction=0.2, random_state=0)
    context = TrialContext(estimator=SequenceClassifier(units=4, epochs=1, random_state=0),
                           task="classification", space=None,
                           objective=kt.Objective("score", "max"), folds=folds,
                           n_samples=len(X), keep_fold_models=True)
    runner, checks = TrialRunner(context), []

    def may_write():  # the chief took the trial back while fold 0 trained
        checks.append(len(checks))
        return len(checks) == 1  # the record's first write, before training

    runner.may_write = may_write
    trial_dir = tmp_path / "trial_0"
    with pytest.raises(TrialAbandoned):
        runner.run_params("0", {}, trial_dir)
    assert len(checks) == 2  # refused at the fold's first write: its predictions
    assert not oof_path(trial_dir, "classification").exists()
    assert not list(trial_dir.glob("*.tmp*")) and not list(trial_dir.glob("*fold*"))
