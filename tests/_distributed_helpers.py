"""Real chief and worker processes on 127.0.0.1 for the distributed tests, cleaned up after."""

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

HERE = Path(__file__).parent
SPACE = {"units": [2, 3, 4, 5], "epochs": 1, "batch_size": 8,
         "learning_rate": [0.01, 0.005, 0.002, 0.001]}  # 16 distinct trials


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 10, 1)).astype("float32")
    return X, np.arange(40) % 2


def chief_script(directory: Path, **search) -> str:
    """A chief: ``SequenceSearch(**search).fit`` in its own process, printing RESULT json."""
    return textwrap.dedent(
        f"""
        import json, sys, warnings
        sys.path.insert(0, {str(HERE)!r})
        from _distributed_helpers import data
        from seqtune import SequenceClassifier, SequenceSearch
        X, y = data()
        options = {search!r}
        space = options.pop("space")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                s = SequenceSearch(SequenceClassifier(), space=space, directory={str(directory)!r},
                                   project_name="dist", random_state=0, verbose=1, **options).fit(X, y)
                result = {{"trials": s.results_["trial_id"].tolist(),
                           "status": s.results_["status"].tolist(),
                           "columns": s.results_.columns.tolist(),
                           "workers": s.workers_, "refitted": s.best_estimator_ is not None}}
            except RuntimeError as exc:
                result = {{"error": str(exc)}}
        result["warnings"] = [str(w.message) for w in caught]
        print("RESULT " + json.dumps(result, default=str), flush=True)
        """
    )


def _env(env: dict | None) -> dict:
    full = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    for key in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        if env is None or key not in env:
            full.pop(key, None)
    return full


def start(script: str, env: dict | None = None, **popen) -> subprocess.Popen:
    """A Python script in its own session (so ``kill_all`` ends what it starts too)."""
    return subprocess.Popen([sys.executable, "-c", script], env=_env(env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **popen)


def start_worker(*args: str) -> subprocess.Popen:
    """``seqtune worker ARGS`` in its own session, output discarded."""
    return subprocess.Popen([sys.executable, "-m", "seqtune", "worker", *args], env=_env(None),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def result(proc: subprocess.Popen, timeout: float = 300) -> dict:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, f"exit {proc.returncode}\n{out[-3000:]}\n{err[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def worker_pids(directory: Path) -> dict[str, int]:
    """``{tuner_id: pid}`` of the live ``seqtune worker`` processes of a search directory."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            state = (proc / "stat").read_text().split(") ", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z" or "worker" not in argv or str(directory) not in " ".join(argv):
            continue
        if "--tuner-id" in argv:
            found[argv[argv.index("--tuner-id") + 1]] = int(proc.name)
    return found


def records(project: Path) -> list[dict]:
    out = []
    for path in sorted(project.glob("trial_*/seqtune_record.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            pass
    return out


def wait_for(predicate, timeout: float, what: str, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def kill_all(directory: Path, *procs: subprocess.Popen | None) -> None:
    """End the given processes (their whole session) and any worker of ``directory``."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # not a session leader: the process alone
                proc.kill()
            proc.wait(timeout=30)
    for pid in worker_pids(directory).values():
        try:
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
