"""The seqtune command line: help, data loading, a tiny search, sync, errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from seqtune.cli import build_parser, load_data, main

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "seqtune", *map(str, args)],
        capture_output=True, text=True, timeout=600, env=ENV, cwd=cwd,
    )


def _load(*argv):
    return load_data(build_parser().parse_args(["search", *map(str, argv)]))


def _clf_npz(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 12, 2)).astype("float32")
    y = (X[:, :, 0].mean(axis=1) > 0).astype(int)
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=y)
    return path


def test_help_documents_commands_and_options(capsys):
    top = _run("--help")  # the installed entry point, end to end
    assert top.returncode == 0
    assert "search" in top.stdout and "sync" in top.stdout
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--help"])
    assert exit_info.value.code == 0
    search = capsys.readouterr().out
    for option in ("--dataset", "--task", "--space", "--tuner", "--max-trials", "--time-budget",
                   "--tracking-uri", "--experiment", "--directory", "--overwrite", "data formats",
                   "--id-column", "--series", "resumes"):
        assert option in search, option
    with pytest.raises(SystemExit):
        main(["sync", "--help"])
    assert "--project-name" in capsys.readouterr().out


def test_tiny_search_on_an_npz_file(tmp_path):
    data = _clf_npz(tmp_path)
    out = _run("search", data, "--space", "quick", "--tuner", "random", "--max-trials", "2",
               "--directory", tmp_path / "state", "--no-tracking", "--random-state", "0",
               "--leaderboard-csv", tmp_path / "lb.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "task=classification" in out.stdout
    assert "trial" in out.stdout and "2/2" in out.stdout
    assert "Leaderboard (score, max)" in out.stdout
    assert "best score:" in out.stdout
    board = pd.read_csv(tmp_path / "lb.csv")
    assert list(board["trial_id"]) == [0, 1]
    # Five folds by default (cv="auto"); a clearly worse second trial may be pruned.
    assert board.loc[0, "status"] == "completed" and set(board["status"]) <= {"completed", "pruned"}
    assert {"std_score", "split0_score", "split4_score"} <= set(board.columns)
    records = sorted((tmp_path / "state" / "sequenceclassifier_random").glob("trial_*/seqtune_record.json"))
    assert len(records) == 2
    # One warning says the quick space's sequence_length 16 was cut to the data's 12 steps.
    assert out.stderr.count("was narrowed") == 1


def test_cli_errors_exit_2_with_the_fix(tmp_path, capsys):
    assert main(["search", str(tmp_path / "nope.npz"), "--no-tracking"]) == 2
    assert "no such file" in capsys.readouterr().err
    data = _clf_npz(tmp_path)
    space = tmp_path / "space.yaml"
    space.write_text("unitz: [4, 8]\n")
    code = main(["search", str(data), "--space", str(space), "--no-tracking",
                 "--directory", str(tmp_path / "s")])
    assert code == 2
    err = capsys.readouterr().err
    assert "did you mean 'units'" in err and "space.yaml" in err
    assert main(["search", str(data), "--param", "unitz=4", "--no-tracking"]) == 2
    assert "Did you mean 'units'" in capsys.readouterr().err
    assert main([]) == 2


def test_npz_layouts(tmp_path):
    data = _clf_npz(tmp_path)
    loaded = _load(data)
    assert loaded["task"] == "classification"
    assert loaded["fit"][0].shape == (40, 12, 2)

    np.savez(tmp_path / "reg.npz", X=np.zeros((5, 3)), y=np.linspace(0, 1, 5))
    assert _load(tmp_path / "reg.npz")["task"] == "regression"
    # Whole numbers are classes when few (labels), a regression target when many (counts).
    np.savez(tmp_path / "counts.npz", X=np.zeros((30, 3)), y=np.arange(30) * 7)
    assert _load(tmp_path / "counts.npz")["task"] == "regression"
    np.savez(tmp_path / "labels.npz", X=np.zeros((30, 3)), y=np.arange(30.0) % 3)
    assert _load(tmp_path / "labels.npz")["task"] == "classification"

    np.savez(tmp_path / "series.npz", y=np.arange(50.0))
    series = _load(tmp_path / "series.npz")
    assert series["task"] == "forecasting"
    assert series["fit"][0].shape == (50,) and series["fit"][1] is None

    np.savez(tmp_path / "exog.npz", y=np.arange(50.0), X=np.ones((50, 2)))
    exog = _load(tmp_path / "exog.npz", "--task", "forecasting")
    assert exog["fit"][1].shape == (50, 2)


def test_csv_and_parquet_layouts(tmp_path):
    wide = pd.DataFrame(np.arange(20.0).reshape(4, 5), columns=[f"t{i}" for i in range(5)])
    wide["label"] = ["a", "b", "a", "b"]
    wide.to_csv(tmp_path / "wide.csv", index=False)
    loaded = _load(tmp_path / "wide.csv", "--target", "label")
    X, y = loaded["fit"]
    assert X.shape == (4, 5) and list(y) == ["a", "b", "a", "b"]
    assert loaded["task"] == "classification"

    long = pd.DataFrame({"id": [1, 1, 1, 2, 2], "f1": [1.0, 2, 3, 4, 5], "f2": [0.0, 0, 0, 1, 1],
                         "time": ["09:00", "09:01", "09:02", "09:00", "09:01"],  # not a feature
                         "target": [0.5, 0.5, 0.5, 1.5, 1.5]})
    long.to_parquet(tmp_path / "long.parquet")
    loaded = _load(tmp_path / "long.parquet", "--id-column", "id", "--task", "regression")
    X, y = loaded["fit"]
    assert [x.shape for x in X] == [(3, 2), (2, 2)]  # ragged: a list of sequences
    np.testing.assert_array_equal(y, [0.5, 1.5])

    series = pd.DataFrame({"sales": np.arange(30.0), "price": np.ones(30), "promo": np.zeros(30)})
    series.to_csv(tmp_path / "sales.csv", index=False)
    loaded = _load(tmp_path / "sales.csv", "--series", "sales", "--exog", "price,promo")
    assert loaded["task"] == "forecasting"
    y, exog = loaded["fit"]
    assert y.shape == (30,) and exog.shape == (30, 2)

    from seqtune._cli_data import CliError

    with pytest.raises(CliError, match=r"no target column 'target'; columns are \['sales', 'price', 'promo'\]"):
        _load(tmp_path / "sales.csv")
    # Without --series, the series is the first numeric column: a date column is not it.
    dated = series.assign(month=pd.period_range("2000-01", periods=30, freq="M").astype(str))
    dated[["month", "sales", "price"]].to_csv(tmp_path / "dated.csv", index=False)
    loaded = _load(tmp_path / "dated.csv", "--task", "forecasting", "--exog", "price")
    np.testing.assert_array_equal(loaded["fit"][0], np.arange(30.0))


def test_sync_logs_a_search_run_without_tracking(tmp_path, capsys):
    from seqtune.classifier import SequenceClassifier
    from seqtune.search import SequenceSearch

    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 6, 1)).astype("float32")
    y = np.arange(24) % 2
    SequenceSearch(SequenceClassifier(), space={"units": 4, "epochs": 1, "learning_rate": [0.01, 0.02]},
                   tuner="random", max_trials=2, directory=tmp_path / "state", project_name="p",
                   tracking=False, refit=False, verbose=0, cv=None).fit(X, y)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["sync", "--directory", str(tmp_path / "state"), "--tracking-uri", uri,
                 "--experiment", "cli-sync"]) == 0
    assert "p: logged 2 missing trial run(s)" in capsys.readouterr().out
    assert main(["sync", "--directory", str(tmp_path / "state"), "--project-name", "p",
                 "--tracking-uri", uri, "--experiment", "cli-sync"]) == 0
    assert "p: logged 0 missing trial run(s)" in capsys.readouterr().out

    import mlflow

    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("cli-sync")
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 2


def test_a_worker_without_a_chief_waits_then_says_what_to_start(tmp_path, capsys, monkeypatch):
    import time
    import types

    from seqtune.search import _job

    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(_job, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    assert main(["worker", "--directory", str(tmp_path / "proj"), "--wait", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "No chief listens for" in err and "after 2 s" in err and "start the search first" in err
    assert sleeps == [1.0, 1.0]  # it looked again each second until --wait ran out
    assert main(["worker", "--directory", str(tmp_path / "proj"), "--oracle", "10.0.0.5:8000",
                 "--wait", "0"]) == 2
    assert "No search job at" in capsys.readouterr().err


def test_a_worker_run_in_process_gives_keras_tuner_its_role_back(tmp_path, monkeypatch):
    # Keras Tuner reads a worker's role from the environment: a worker run in a notebook or
    # a test must leave that process's later searches local.
    from seqtune.search import _runner, _worker

    for key in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "users-own")
    seen = {}

    def trial_context(job):
        seen.update({k: v for k, v in os.environ.items() if k.startswith("KERASTUNER_")})
        raise RuntimeError("stop here")

    monkeypatch.setattr(_worker, "wait_for_chief", lambda *a, **k: ("127.0.0.1:1", {}))
    monkeypatch.setattr(_runner, "trial_context", trial_context)
    with pytest.raises(RuntimeError, match="stop here"):
        _worker.worker_main("127.0.0.1:8000", tmp_path / "proj", tuner_id="w1", wait=0)
    assert seen == {"KERASTUNER_TUNER_ID": "w1", "KERASTUNER_ORACLE_IP": "127.0.0.1",
                    "KERASTUNER_ORACLE_PORT": "8000"}
    after = {k: v for k, v in os.environ.items() if k.startswith("KERASTUNER_")}
    assert after == {"KERASTUNER_TUNER_ID": "users-own"}


def test_final_model_offers_every_choice_the_search_takes():
    from seqtune.search._final import FINAL_MODELS

    for choice in FINAL_MODELS:
        args = build_parser().parse_args(["search", "--final-model", choice, "data.csv"])
        assert args.final_model == choice
