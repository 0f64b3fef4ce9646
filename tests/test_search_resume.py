"""Resume: a search killed mid-way continues where it stopped, losing nothing completed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from seqtune.classifier import SequenceClassifier
from seqtune.search import RECORD_FILENAME, SequenceSearch, read_trial_records

SPACE = {"units": 4, "epochs": 1, "batch_size": 8, "patience": 2,
         "cell": ["lstm", "gru", "rnn"], "learning_rate": [0.01, 0.003]}
PROJECT = "resume"


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 12, 2)).astype("float32")
    y = (X[:, :, 0].mean(axis=1) > 0).astype(int)
    return X, y


def _search(directory, max_trials, refit=False):
    return SequenceSearch(
        SequenceClassifier(), space=SPACE, tuner="random", max_trials=max_trials,
        directory=directory, project_name=PROJECT, overwrite=False, tracking=False,
        refit=refit, random_state=0, verbose=0, cv=None,
    )


def _completed(project_dir: Path) -> list[dict]:
    return [r for r in read_trial_records(project_dir) if r["status"] == "COMPLETED"]


@pytest.mark.slow
def test_search_killed_mid_way_resumes_without_losing_or_rerunning(tmp_path):
    directory = tmp_path / "search"
    project_dir = directory / PROJECT
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_search_resume import _data, _search
        X, y = _data()
        _search({str(directory)!r}, max_trials=5).fit(X, y)
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = tmp_path / "search.log"  # a file, not a pipe: a pipe nobody reads can fill and block
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", script], env=env,
                                stdout=subprocess.DEVNULL, stderr=out)
    try:
        deadline = time.monotonic() + 240
        while len(_completed(project_dir)) < 2:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the search did not finish 2 trials in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    before = {r["trial_id"]: r for r in read_trial_records(project_dir)}
    done_before = {tid: r for tid, r in before.items() if r["status"] == "COMPLETED"}
    assert len(done_before) >= 2

    X, y = _data()
    search = _search(directory, max_trials=5, refit=True).fit(X, y)

    assert list(search.results_["trial_id"]) == ["0", "1", "2", "3", "4"]
    assert set(search.results_["status"]) == {"completed"}
    after = {r["trial_id"]: r for r in search.records_}
    for trial_id, record in done_before.items():
        # Not trained again: the same record, with its original start time and score.
        assert after[trial_id]["started_at"] == record["started_at"]
        assert after[trial_id]["score"] == record["score"]
    for trial_id, record in before.items():
        if record["status"] == "RUNNING":  # killed mid-trial: run again under the same id
            assert after[trial_id]["started_at"] > record["started_at"]
    # keras-tuner's view agrees: five finished trials, none waiting for a retry.
    oracle = json.loads((project_dir / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2", "3", "4"]
    assert oracle["ongoing_trials"] == {} and oracle["retry_queue"] == []
    assert search.predict(X[:3]).shape == (3,)


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_trial_finished_but_still_listed_as_running_is_not_rerun(tmp_path):
    """Killed between keras-tuner writing trial.json and oracle.json at a trial's end."""
    X, y = _data()
    first = _search(tmp_path, max_trials=2).fit(X, y)
    project_dir = Path(first.project_dir_)

    def still_running(oracle):
        oracle["ongoing_trials"] = {"tuner0": "1"}
        oracle["end_order"].remove("1")

    _edit_json(project_dir / "oracle.json", still_running)
    second = _search(tmp_path, max_trials=2).fit(X, y)
    assert list(second.results_["trial_id"]) == ["0", "1"]
    assert second.records_[1]["started_at"] == first.records_[1]["started_at"]
    oracle = json.loads((project_dir / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1"] and oracle["retry_queue"] == []


def test_trial_started_but_unknown_to_the_oracle_is_run_again(tmp_path):
    """Killed between keras-tuner writing a new trial.json and oracle.json."""
    X, y = _data()
    first = _search(tmp_path, max_trials=2).fit(X, y)
    project_dir = Path(first.project_dir_)
    _edit_json(project_dir / "trial_1" / "trial.json", lambda t: t.update(status="RUNNING", score=None))
    _edit_json(project_dir / "trial_1" / RECORD_FILENAME, lambda r: r.update(status="RUNNING", score=None))

    def forget(oracle):
        oracle["end_order"].remove("1")

    _edit_json(project_dir / "oracle.json", forget)
    second = _search(tmp_path, max_trials=2).fit(X, y)
    assert list(second.results_["trial_id"]) == ["0", "1"]
    assert list(second.results_["status"]) == ["completed", "completed"]
    assert second.records_[0]["started_at"] == first.records_[0]["started_at"]
    assert second.records_[1]["started_at"] > first.records_[1]["started_at"]
    assert second.records_[1]["params"] == first.records_[1]["params"]


def test_interrupted_search_resumes_after_keyboard_interrupt(tmp_path, monkeypatch):
    X, y = _data()
    calls = {"n": 0}
    real_fit = SequenceClassifier.fit

    def fit_then_interrupt(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(SequenceClassifier, "fit", fit_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path, max_trials=3).fit(X, y)
    monkeypatch.setattr(SequenceClassifier, "fit", real_fit)
    records = read_trial_records(tmp_path / PROJECT)
    assert [r["status"] for r in records] == ["COMPLETED", "RUNNING"]

    search = _search(tmp_path, max_trials=3).fit(X, y)
    assert list(search.results_["trial_id"]) == ["0", "1", "2"]
    assert set(search.results_["status"]) == {"completed"}
    assert search.records_[0]["started_at"] == records[0]["started_at"]


def test_hyperband_resumes_after_interrupt(tmp_path, monkeypatch):
    """keras-tuner #835: Hyperband failed to resume (KeyError in its retry queue)."""
    X, y = _data()
    space = {**SPACE, "epochs": 3}
    calls = {"n": 0}
    real_fit = SequenceClassifier.fit

    def fit_then_interrupt(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_fit(self, *args, **kwargs)

    def hyperband():
        return SequenceSearch(SequenceClassifier(), space=space, tuner="hyperband", max_trials=4,
                              directory=tmp_path, project_name=PROJECT, tracking=False,
                              refit=False, random_state=0, verbose=0, cv=None)

    monkeypatch.setattr(SequenceClassifier, "fit", fit_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        hyperband().fit(X, y)
    monkeypatch.setattr(SequenceClassifier, "fit", real_fit)
    before = read_trial_records(tmp_path / PROJECT)
    assert [r["status"] for r in before] == ["COMPLETED", "COMPLETED", "RUNNING"]

    search = hyperband().fit(X, y)
    assert list(search.results_["trial_id"]) == ["0", "1", "2", "3"]
    assert set(search.results_["status"]) == {"completed"}
    assert [r["started_at"] for r in search.records_[:2]] == [r["started_at"] for r in before[:2]]
    assert search.records_[2]["params"] == before[2]["params"]  # the same trial, run again


def test_unreadable_keras_tuner_state_gives_a_clear_error(tmp_path):
    X, y = _data()
    first = _search(tmp_path, max_trials=1).fit(X, y)
    (Path(first.project_dir_) / "trial_0" / "trial.json").write_text("")  # killed mid-write
    with pytest.raises(RuntimeError, match=r"unreadable.*trial_0/trial.json.*overwrite=True"):
        _search(tmp_path, max_trials=2).fit(X, y)
