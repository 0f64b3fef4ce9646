"""Shared helpers for the tracking tests: trial records and a real ``mlflow server``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any


def make_record(number: int, status: str = "COMPLETED", epochs: int = 5,
                started_at: float = 1_795_379_168.0) -> dict[str, Any]:
    """A trial record as DESIGN.md describes it, with distinct values per trial."""
    failed = status == "FAILED"
    loss = [round(1.0 / (e + 1) + 0.01 * number, 6) for e in range(epochs)]
    return {
        "trial_id": f"{number:04d}",
        "number": number,
        "status": status,
        "params": {"cell": ["gru", "lstm"][number % 2], "units": 4 * (number + 1),
                   "learning_rate": 10.0 ** -(number + 1), "bidirectional": number % 2 == 0},
        "score": None if failed else 0.5 + 0.1 * number,
        "objective": {"name": "score", "direction": "max"},
        "history": {} if failed else {"loss": loss, "val_loss": [v * 1.5 for v in loss],
                                      "accuracy": [0.5 + 0.01 * e for e in range(epochs)]},
        "epochs_run": 0 if failed else epochs,
        "duration_s": 2.5,
        "seconds_per_epoch": 0.5,
        "n_params": 100 + number,
        "fused_kernel": False,
        "error": "Traceback (most recent call last):\nValueError: units must be > 0" if failed else None,
        "tags": {"cell": ["gru", "lstm"][number % 2], "bidirectional": number % 2 == 0,
                 "n_layers": 1 + number % 2},
        "started_at": started_at + 10 * number,
        "ended_at": started_at + 10 * number + 2.5,
    }


def write_records(project_dir: Path, records: list[dict[str, Any]]) -> None:
    """Lay records out as the search does: ``trial_<id>/seqtune_record.json``."""
    for record in records:
        trial_dir = Path(project_dir) / f"trial_{record['trial_id']}"
        trial_dir.mkdir(parents=True, exist_ok=True)
        (trial_dir / "seqtune_record.json").write_text(json.dumps(record))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """A real ``mlflow server`` subprocess on loopback, with bounded start/stop."""

    def __init__(self, root: Path, port: int | None = None):
        self.root = Path(root)
        self.port = port or free_port()
        self.db_uri = f"sqlite:///{self.root / 'server.db'}"
        self.artifacts = self.root / "server-artifacts"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.root / "server.log"

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.pop("MLFLOW_TRACKING_URI", None)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server",
             "--backend-store-uri", self.db_uri,
             "--default-artifact-root", self.artifacts.as_uri(),
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer /health in {timeout} s:\n"
                           f"{self.log_path.read_text()[-3000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        """Terminate the server's process group (uvicorn workers included)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        import signal

        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=timeout)
        self.proc = None
        # The port must be free again before a restart on it.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.2)
