"""GPU behaviour of the search, tested on CPU through the logic that decides.

* ``seqtune.device.fused_kernel_eligible`` decides whether Keras runs the fused cuDNN
  kernel; every trial records its answer and its seconds per epoch.
* A search that can pick ``recurrent_dropout > 0`` on a GPU warns once, pointing at
  ``dropout``, which keeps the fused kernel.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import seqtune.device
from seqtune.classifier import SequenceClassifier
from seqtune.device import fused_kernel_eligible
from seqtune.search import SequenceSearch


@pytest.mark.parametrize(
    ("cell", "recurrent_dropout", "masked", "backend", "gpu", "expected"),
    [
        ("lstm", 0.0, False, "tensorflow", True, True),
        ("gru", 0.0, False, "jax", True, True),
        ("lstm", 0.0, True, "tensorflow", True, True),   # TF: right-padded masks allowed
        ("lstm", 0.0, True, "jax", True, False),         # JAX/torch: any mask disables it
        ("gru", 0.0, True, "torch", True, False),
        ("lstm", 0.1, False, "tensorflow", True, False),  # recurrent dropout disables it
        ("rnn", 0.0, False, "tensorflow", True, False),   # SimpleRNN has no fused kernel
        ("lstm", 0.0, False, "tensorflow", False, False),  # no GPU, no cuDNN
    ],
)
def test_fused_kernel_rules(cell, recurrent_dropout, masked, backend, gpu, expected):
    assert fused_kernel_eligible(
        cell, recurrent_dropout=recurrent_dropout, masked=masked, backend=backend, gpu=gpu
    ) is expected


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 8, 1)).astype("float32")
    return X, np.arange(30) % 2


def _fit(tmp_path, data, space):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = SequenceSearch(
            SequenceClassifier(), space=space, tuner="random", max_trials=2,
            directory=tmp_path, tracking=False, refit=False, random_state=0, verbose=0, cv=None,
        ).fit(*data)
    rd = [w for w in caught if "recurrent_dropout" in str(w.message)]
    return search, rd


def test_recurrent_dropout_on_a_gpu_warns_once_and_points_at_dropout(tmp_path, data, monkeypatch):
    monkeypatch.setattr(seqtune.device, "has_gpu", lambda: True)
    space = {"units": 4, "epochs": 1, "cell": ["lstm", "gru"], "recurrent_dropout": [0.0, 0.2]}
    _, warned = _fit(tmp_path, data, space)
    assert len(warned) == 1
    message = str(warned[0].message)
    assert "fused cuDNN kernel" in message and "`dropout`" in message and "0.2" in message


def test_conditional_recurrent_dropout_counts_too(tmp_path, data, monkeypatch):
    monkeypatch.setattr(seqtune.device, "has_gpu", lambda: True)
    space = {"units": 4, "epochs": 1, "cell": ["rnn", "gru"],
             "recurrent_dropout": {"type": "choice", "values": [0.0, 0.1], "when": {"cell": ["gru"]}}}
    _, warned = _fit(tmp_path, data, space)
    assert len(warned) == 1


@pytest.mark.parametrize("gpu", [True, False])
def test_no_warning_without_recurrent_dropout_or_without_gpu(tmp_path, data, monkeypatch, gpu):
    monkeypatch.setattr(seqtune.device, "has_gpu", lambda: gpu)
    space = {"units": 4, "epochs": 1, "cell": ["lstm", "gru"],
             "recurrent_dropout": [0.0, 0.2] if not gpu else 0.0, "dropout": [0.0, 0.2]}
    _, warned = _fit(tmp_path, data, space)
    assert warned == []


def test_every_trial_records_fused_kernel_and_seconds_per_epoch(tmp_path, data):
    space = {"units": 4, "epochs": 2, "patience": 5, "cell": ["lstm", "rnn"]}
    search, _ = _fit(tmp_path, data, space)
    expected = fused_kernel_eligible("lstm", recurrent_dropout=0.0, masked=False)
    for record in search.records_:
        assert record["fused_kernel"] is (expected and record["params"]["cell"] != "rnn")
        # Seconds per epoch of the fit alone: positive, and within the trial's wall time.
        assert 0 < record["seconds_per_epoch"] * record["epochs_run"] <= record["duration_s"]
    assert search.results_["fused_kernel"].tolist() == [r["fused_kernel"] for r in search.records_]
