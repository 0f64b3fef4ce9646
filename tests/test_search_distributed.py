"""Keras Tuner's chief/worker mode still works under SequenceSearch (real processes, loopback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from seqtune.search import read_trial_records

pytestmark = pytest.mark.slow

SPACE = {"units": 4, "epochs": 1, "batch_size": 8, "learning_rate": [0.01, 0.005, 0.002, 0.001]}


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 10, 1)).astype("float32")
    return X, np.arange(40) % 2


def run_role(directory: str, max_trials: int, trial_timeout: float | None, epochs: int) -> None:
    """Entry point of the chief and worker processes (same script, as Keras Tuner wants)."""
    from seqtune.classifier import SequenceClassifier
    from seqtune.search import SequenceSearch

    X, y = _data()
    search = SequenceSearch(
        SequenceClassifier(), space={**SPACE, "epochs": epochs}, tuner="random",
        max_trials=max_trials, directory=directory, project_name="dist", tracking=False,
        trial_timeout=trial_timeout, random_state=0, verbose=0, cv=None,
    ).fit(X, y)
    print("RESULT " + json.dumps({
        "role": os.environ["KERASTUNER_TUNER_ID"],
        "trials": search.results_["trial_id"].tolist(),
        "status": search.results_["status"].tolist(),
        "refitted": search.best_estimator_ is not None,
    }), flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(role: str, port: int, directory: Path, max_trials: int, trial_timeout=None, epochs=1):
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_search_distributed import run_role
        run_role({str(directory)!r}, {max_trials}, {trial_timeout!r}, {epochs})
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERASTUNER_TUNER_ID": role,
           "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port)}
    return subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(proc, timeout=300) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    line = [l for l in out.splitlines() if l.startswith("RESULT ")]
    assert line, out[-2000:] + err[-2000:]
    return json.loads(line[-1][len("RESULT "):])


def test_one_chief_one_worker(tmp_path):
    port = _free_port()
    chief = _start("chief", port, tmp_path, max_trials=3)
    worker = _start("tuner0", port, tmp_path, max_trials=3)
    try:
        worker_result = _result(worker)
        chief_result = _result(chief)
    finally:
        for proc in (chief, worker):
            if proc.poll() is None:
                proc.kill()
    # The worker ran every trial and does not refit; the chief sees them all and refits.
    assert worker_result["trials"] == ["0", "1", "2"]
    assert chief_result["trials"] == ["0", "1", "2"]
    assert chief_result["status"] == ["completed"] * 3
    assert chief_result["refitted"] and not worker_result["refitted"]
    assert (tmp_path / "dist" / "tuner0.json").exists()


def test_chief_does_not_hang_when_a_worker_is_killed(tmp_path):
    port = _free_port()
    project = tmp_path / "dist"
    chief = _start("chief", port, tmp_path, max_trials=2, trial_timeout=8.0)
    doomed = _start("tuner0", port, tmp_path, max_trials=2, epochs=200)
    survivor = None
    try:
        deadline = time.monotonic() + 240
        while not any(r["status"] == "RUNNING" for r in read_trial_records(project)):
            assert doomed.poll() is None, doomed.stderr.read()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.1)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
        survivor = _start("tuner1", port, tmp_path, max_trials=2)
        survivor_result = _result(survivor)
        chief_result = _result(chief, timeout=120)
    finally:
        for proc in (chief, doomed, survivor):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert chief_result["trials"] == ["0", "1"]
    statuses = dict(zip(chief_result["trials"], chief_result["status"]))
    assert statuses["1"] == "completed"
    assert statuses["0"] == "failed"  # by the chief's trial_timeout
    record = json.loads((project / "trial_0" / "seqtune_record.json").read_text())
    assert "did not report trial 0 within trial_timeout=8.0s" in record["error"]
    assert survivor_result["trials"] == ["0", "1"]
