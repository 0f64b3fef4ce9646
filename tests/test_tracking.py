"""MlflowTracker against a real sqlite MLflow store in tmp_path."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import threading
import time
import warnings

import keras  # noqa: F401  (a search always has Keras loaded; the parent's backend tag needs it)
import numpy as np
import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import LoggedModelStatus  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from _tracking_helpers import free_port, make_record, write_records  # noqa: E402
from seqtune.tracking import (  # noqa: E402
    MlflowTracker,
    TrackingWarning,
    dataset_fingerprint,
    resolve_tracking_uri,
    sync_directory,
    track_fit,
)
from seqtune.tracking._common import _HTTP_ENV  # noqa: E402


@pytest.fixture(scope="module")
def _empty_store(tmp_path_factory):
    # Creating MLflow's schema takes seconds; each test gets a copy of one empty store.
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store(tmp_path, _empty_store):
    shutil.copyfile(_empty_store, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture(autouse=True)
def _tracking_warnings_are_errors():
    # A happy-path test that silently went offline would pass for the wrong reason.
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrackingWarning)
        yield


def _start(tracker, state_dir, **overrides):
    kwargs = dict(run_name="search-1", params={"tuner": "random", "budget": 3,
                                               "objective": "score", "estimator": "SequenceClassifier"},
                  tags={"team": "seq"}, space_yaml="units:\n  type: int\n  min: 4\n  max: 16\n",
                  fingerprint={"X_shape": [10, 6, 2], "X_dtype": "float32", "sha256": "ab12"})
    kwargs.update(overrides)
    return tracker.start_search(state_dir, **kwargs)


def _children(client, parent):
    runs = client.search_runs([parent.info.experiment_id],
                              filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    return {r.data.tags["trial_id"]: r for r in runs}


def _artifact_text(client, run_id, path, tmp_path):
    local = client.download_artifacts(run_id, path, str(tmp_path / f"dl-{run_id}-{path.replace('/', '_')}"))
    with open(local, encoding="utf-8") as handle:
        return handle.read()


def test_parent_and_child_runs_hold_the_record(store, tmp_path):
    records = [make_record(0), make_record(1), make_record(2, status="FAILED")]
    tracker = MlflowTracker(store, "exp")
    parent_id = _start(tracker, tmp_path / "proj")
    for record in records:
        assert tracker.log_trial(record) is None  # queued for the worker thread
    assert tracker.flush() == 0
    run_ids = [tracker.logged_runs[r["trial_id"]] for r in records]
    tracker.end_search(best_score=0.6, best_params=records[1]["params"], records=records)

    client = MlflowClient(store)
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "search-1"
    assert parent.data.params["tuner"] == "random"
    assert parent.data.params["budget"] == "3"
    assert parent.data.params["data.sha256"] == "ab12"
    assert parent.data.params["data.X_shape"] == "[10, 6, 2]"
    assert parent.data.tags["team"] == "seq"
    assert parent.data.tags["keras_backend"] in {"tensorflow", "jax", "torch"}
    assert parent.data.tags["device"]
    assert parent.data.metrics["best_score"] == pytest.approx(0.6)
    assert parent.data.metrics["n_trials_failed"] == 1
    assert parent.data.tags["best.units"] == "8"
    assert "max: 16" in _artifact_text(client, parent_id, "search_space.yaml", tmp_path)
    board = list(csv.DictReader(io.StringIO(_artifact_text(client, parent_id, "leaderboard.csv", tmp_path))))
    assert len(board) == 3  # one row per trial, best first: seqtune.records.leaderboard
    assert [row["trial_id"] for row in board] == ["0001", "0000", "0002"]
    assert (board[0]["status"], float(board[0]["score"]), board[0]["units"]) == ("completed", 0.6, "8")
    plots = {a.path for a in client.list_artifacts(parent_id, "plots")}
    assert plots == {"plots/learning_curves.png", "plots/score_vs_params.png"}
    # The experiment's artifacts sit next to the sqlite file, not in the cwd.
    assert client.get_experiment(parent.info.experiment_id).artifact_location == \
        (tmp_path / "artifacts").as_uri()

    children = _children(client, parent)
    assert sorted(children) == ["0000", "0001", "0002"]
    assert [children[r["trial_id"]].info.run_id for r in records] == run_ids
    ok, failed = children["0001"], children["0002"]
    assert ok.info.status == "FINISHED"
    assert ok.info.run_name == "trial_0001"
    assert ok.data.params == {"cell": "lstm", "units": "8", "learning_rate": "0.01",
                              "bidirectional": "false"}
    assert ok.data.metrics["score"] == pytest.approx(0.6)
    assert ok.info.start_time == int(records[1]["started_at"] * 1000)
    assert ok.info.end_time == int(records[1]["ended_at"] * 1000)
    history = client.get_metric_history(ok.info.run_id, "val_loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert [m.value for m in history] == pytest.approx(records[1]["history"]["val_loss"])
    assert len(client.get_metric_history(ok.info.run_id, "accuracy")) == 5
    for name, value in {"cell": "lstm", "bidirectional": "false", "n_layers": "2",
                        "n_params": "101", "seconds_per_epoch": "0.5", "fused_kernel": "false",
                        "trial_id": "0001"}.items():
        assert ok.data.tags[name] == value, name

    assert failed.info.status == "FAILED"
    assert "units must be > 0" in failed.data.tags["error"]
    assert _artifact_text(client, failed.info.run_id, "error.txt", tmp_path) == records[2]["error"]
    assert "score" not in failed.data.metrics


def test_a_continued_hyperband_trial_numbers_its_epochs_on_from_its_parent():
    from seqtune.tracking._records import _record_metrics

    record = {**make_record(1, epochs=2), "initial_epoch": 3}
    loss = [m for m in _record_metrics(record) if m.key == "loss"]
    assert [m.step for m in loss] == [3, 4]
    assert [m.value for m in loss] == pytest.approx(record["history"]["loss"])


@pytest.mark.parametrize("background", [True, False])
def test_log_trial_is_idempotent_and_skips_running_records(store, tmp_path, background):
    tracker = MlflowTracker(store, "exp", background=background)
    parent_id = _start(tracker, tmp_path / "proj")
    first = tracker.log_trial(make_record(0))
    if background:
        assert first is None
        tracker.flush()
        first = tracker.logged_runs["0000"]
    assert tracker.log_trial(make_record(0)) == first
    assert tracker.log_trial(make_record(1, status="RUNNING")) is None
    assert tracker.flush() == 0
    children = _children(MlflowClient(store), MlflowClient(store).get_run(parent_id))
    assert list(children) == ["0000"]


def _rescored(record, scores, statuses=None):
    statuses = statuses or ["COMPLETED"] * len(scores)
    seeds = [{"trial_id": record["trial_id"] + (f".seed{j}" if j else ""), "random_state": 7 + 1000 * j,
              "score": s, "status": st} for j, (s, st) in enumerate(zip(scores, statuses))]
    done = [s for s, st in zip(scores, statuses) if st == "COMPLETED"]
    return {**record, "seeds": seeds, "score": float(np.mean(done)), "seed_std": float(np.std(done))}


def test_a_rescored_trial_adds_its_mean_over_seeds_to_its_run(store, tmp_path):
    state_dir = tmp_path / "proj"
    tracker = MlflowTracker(store, "exp")
    _start(tracker, state_dir)
    record = make_record(2)  # score 0.7 on its own seed
    tracker.log_trial(record)
    # Re-scoring ran one more seed, then a resumed search a second one.
    tracker.log_trial(_rescored(record, [0.7, 0.5, 0.0], ["COMPLETED", "COMPLETED", "RUNNING"]))
    tracker.log_trial(_rescored(record, [0.7, 0.5, 0.0], ["COMPLETED", "COMPLETED", "RUNNING"]))
    tracker.flush()
    resumed = MlflowTracker(store, "exp")
    _start(resumed, state_dir)
    again = _rescored(record, [0.7, 0.5, 0.3])
    resumed.sync(state_dir, [again])
    resumed.log_trial(again)  # nothing new: not logged twice
    assert resumed.flush() == 0
    client = MlflowClient(store)
    run = client.get_run(resumed.logged_runs["0002"])
    assert run.info.run_id == tracker.logged_runs["0002"]  # the same run, not a new one
    assert run.data.metrics["score"] == pytest.approx(0.7)  # the trial as it ran
    assert run.data.metrics["score_seed_mean"] == pytest.approx(0.5)
    assert run.data.metrics["seed_std"] == pytest.approx(np.std([0.7, 0.5, 0.3]))
    assert run.data.tags["n_seeds"] == "3"
    history = client.get_metric_history(run.info.run_id, "score_seed_mean")
    assert [(m.step, round(m.value, 6)) for m in history] == [(2, 0.6), (3, 0.5)]
    state = json.loads((state_dir / "mlflow_state.json").read_text())
    assert state["seeds_logged"] == {"0002": 3}
    # A record first logged after its re-scoring keeps its first seed's score as its own.
    fresh = _rescored(make_record(3), [0.8, 0.4])
    other = MlflowTracker(store, "exp", background=False)
    _start(other, tmp_path / "other")
    run = client.get_run(other.log_trial(fresh))
    assert run.data.metrics["score"] == pytest.approx(0.8)
    assert run.data.metrics["score_seed_mean"] == pytest.approx(0.6)


def test_diverged_and_pruned_trials_keep_their_values(store, tmp_path):
    tracker = MlflowTracker(store, "exp", background=False)
    _start(tracker, tmp_path / "proj")
    diverged = make_record(0)
    diverged["history"] = {"loss": [1.0, float("nan"), float("inf")]}
    diverged["score"] = float("nan")
    pruned = make_record(1, status="PRUNED")
    client = MlflowClient(store)
    run = client.get_run(tracker.log_trial(diverged))
    values = [m.value for m in client.get_metric_history(run.info.run_id, "loss")]
    # MLflow keeps NaN and stores inf as the largest float.
    assert values[0] == 1.0 and np.isnan(values[1]) and values[2] >= np.finfo(float).max
    assert np.isnan(run.data.metrics["score"])
    run = client.get_run(tracker.log_trial(pruned))
    assert run.info.status == "KILLED"  # MLflow's word for stopped early
    assert run.data.tags["seqtune.status"] == "PRUNED"
    assert run.data.metrics["score"] == pytest.approx(0.6)


def test_log_trial_without_trial_id_names_the_problem(store, tmp_path):
    tracker = MlflowTracker(store, "exp")
    _start(tracker, tmp_path / "proj")
    record = make_record(0)
    del record["trial_id"]
    with pytest.raises(ValueError, match="trial record has no 'trial_id'"):
        tracker.log_trial(record)


class _CallCounter:
    """Wraps an MlflowClient: counts calls by method name, and records MLflow's HTTP
    settings as each call sees them (``seen``, one entry per call)."""

    def __init__(self, client):
        self._client = client
        self.calls: dict[str, int] = {}
        self.seen: list[dict] = []

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def wrapper(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            self.seen.append({key: os.environ.get(key) for key in _HTTP_ENV})
            return attr(*args, **kwargs)

        return wrapper


def test_trial_metrics_go_in_batches_not_one_call_per_value(store, tmp_path):
    tracker = MlflowTracker(store, "exp", background=False)
    parent_id = _start(tracker, tmp_path / "proj")
    counter = _CallCounter(tracker._client)
    tracker._client = counter
    record = make_record(0, epochs=400)  # 3 series x 400 epochs: over MLflow's 1000 per request
    run_id = tracker.log_trial(record)

    assert counter.calls == {"create_run": 1, "log_batch": 1, "set_terminated": 1}
    client = MlflowClient(store)
    loss = client.get_metric_history(run_id, "loss")
    assert len(loss) == 400
    assert [m.step for m in loss] == list(range(400))
    assert len(client.get_metric_history(run_id, "accuracy")) == 400
    assert client.get_run(run_id).data.tags["mlflow.parentRunId"] == parent_id


def test_second_tracker_reattaches_to_the_same_parent(store, tmp_path):
    state_dir = tmp_path / "proj"
    first = MlflowTracker(store, "exp")
    parent_id = _start(first, state_dir)
    first.log_trial(make_record(0))
    first.log_trial(make_record(1))
    first.end_search(best_score=0.6, best_params={}, records=[make_record(0), make_record(1)])
    state = json.loads((state_dir / "mlflow_state.json").read_text())
    assert state["parent_run_id"] == parent_id
    assert sorted(state["logged"]) == ["0000", "0001"]

    resumed = MlflowTracker(store, "exp")
    assert _start(resumed, state_dir) == parent_id
    client = MlflowClient(store)
    parent = client.get_run(parent_id)
    assert parent.info.status == "RUNNING"
    assert parent.data.tags["seqtune.resumed"] == "1"
    assert resumed.log_trial(make_record(1)) == state["logged"]["0001"]
    resumed.log_trial(make_record(2))
    resumed.end_search(best_score=0.7, best_params={}, records=[make_record(i) for i in range(3)])
    assert sorted(_children(client, client.get_run(parent_id))) == ["0000", "0001", "0002"]
    assert client.get_run(parent_id).info.status == "FINISHED"
    assert len(client.search_runs([parent.info.experiment_id])) == 4  # one parent, 3 children


def test_crash_between_logging_and_state_write_does_not_duplicate(store, tmp_path):
    state_dir = tmp_path / "proj"
    first = MlflowTracker(store, "exp")
    parent_id = _start(first, state_dir)
    first.log_trial(make_record(0))
    first.flush()
    run_id = first.logged_runs["0000"]
    # The process died before the state file learned about trial 0000.
    state_path = state_dir / "mlflow_state.json"
    state = json.loads(state_path.read_text())
    state["logged"] = {}
    state_path.write_text(json.dumps(state))
    # ... and another log_trial was cut off after create_run: a RUNNING child.
    client = MlflowClient(store)
    partial = client.create_run(client.get_run(parent_id).info.experiment_id,
                                tags={"mlflow.parentRunId": parent_id, "trial_id": "0001"})

    resumed = MlflowTracker(store, "exp")
    _start(resumed, state_dir)
    assert resumed.log_trial(make_record(0)) == run_id
    resumed.log_trial(make_record(1))
    assert resumed.flush() == 0
    relogged = resumed.logged_runs["0001"]
    assert relogged != partial.info.run_id
    assert client.get_run(partial.info.run_id).info.lifecycle_stage == "deleted"
    children = _children(client, client.get_run(parent_id))
    assert {t: r.info.run_id for t, r in children.items()} == {"0000": run_id, "0001": relogged}


class _Outage:
    """Makes every call of a client raise, as an unreachable server would."""

    def __init__(self, client):
        self._client = client
        self.down = True

    def __getattr__(self, name):
        attr = getattr(self._client, name)

        def wrapper(*args, **kwargs):
            if self.down:
                raise ConnectionError("simulated outage: connection refused")
            return attr(*args, **kwargs)

        return wrapper


def test_outage_warns_once_keeps_records_and_sync_logs_them(store, tmp_path):
    state_dir = tmp_path / "proj"
    tracker = MlflowTracker(store, "exp", background=False)
    parent_id = _start(tracker, state_dir)
    tracker.log_trial(make_record(0))
    outage = _Outage(tracker._client)
    tracker._client = outage

    with pytest.warns(TrackingWarning, match="failed .*ConnectionError.*sync") as caught:
        assert tracker.log_trial(make_record(1)) is None
        assert tracker.log_trial(make_record(2)) is None
        tracker.end_search(best_score=0.7, best_params={}, records=[make_record(i) for i in range(4)])
    assert len(caught) == 1
    assert tracker.offline
    assert tracker.pending_trials == ["0001", "0002", "0003"]

    outage.down = False
    records = [make_record(i) for i in range(4)]
    assert tracker.sync(state_dir, records) == 3
    assert tracker.sync(state_dir, records) == 0
    client = MlflowClient(store)
    children = _children(client, client.get_run(parent_id))
    assert sorted(children) == ["0000", "0001", "0002", "0003"]
    assert len(client.search_runs([client.get_run(parent_id).info.experiment_id])) == 5


def test_pending_records_are_logged_on_the_next_successful_call(store, tmp_path, monkeypatch):
    tracker = MlflowTracker(store, "exp", background=False)
    parent_id = _start(tracker, tmp_path / "proj")
    outage = _Outage(tracker._client)
    tracker._client = outage
    with pytest.warns(TrackingWarning):
        tracker.log_trial(make_record(0))
    outage.down = False
    tracker._offline_until = 0.0  # back-off over
    tracker.log_trial(make_record(1))
    client = MlflowClient(store)
    assert sorted(_children(client, client.get_run(parent_id))) == ["0000", "0001"]
    assert tracker.pending_trials == []


class _GatedStore:
    """Holds every client call until ``release`` is set, and records the calling thread,
    as a distant tracking server would hold a caller that waited on it."""

    def __init__(self, client):
        self._client = client
        self.release = threading.Event()
        self.callers: list[threading.Thread] = []

    def __getattr__(self, name):
        attr = getattr(self._client, name)

        def wrapper(*args, **kwargs):
            self.callers.append(threading.current_thread())
            self.release.wait(timeout=30)  # bounded: a synchronous caller fails, not hangs
            return attr(*args, **kwargs)

        return wrapper


def test_background_logging_keeps_store_latency_off_the_search(store, tmp_path):
    tracker = MlflowTracker(store, "exp")
    parent_id = _start(tracker, tmp_path / "proj")
    gated = _GatedStore(tracker._client)
    tracker._client = gated
    for i in range(4):
        assert tracker.log_trial(make_record(i)) is None
    client = MlflowClient(store)
    # The store has not answered yet, and the search's thread never waited on it.
    assert _children(client, client.get_run(parent_id)) == {}
    assert threading.main_thread() not in gated.callers
    gated.release.set()
    assert tracker.flush() == 0
    assert sorted(_children(client, client.get_run(parent_id))) == ["0000", "0001", "0002", "0003"]
    assert gated.callers and threading.main_thread() not in gated.callers


def test_worker_retries_by_itself_after_an_outage(store, tmp_path):
    tracker = MlflowTracker(store, "exp")
    tracker._offline_backoff_s = 0.3
    parent_id = _start(tracker, tmp_path / "proj")
    outage = _Outage(tracker._client)
    tracker._client = outage
    with pytest.warns(TrackingWarning, match="simulated outage"):
        tracker.log_trial(make_record(0))
        deadline = time.monotonic() + 10
        while tracker.last_error is None and time.monotonic() < deadline:
            time.sleep(0.02)  # the warning comes from the worker thread
    assert tracker.pending_trials == ["0000"]
    outage.down = False
    deadline = time.monotonic() + 10
    while tracker.pending_trials and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tracker.pending_trials == []
    client = MlflowClient(store)
    assert sorted(_children(client, client.get_run(parent_id))) == ["0000"]


def test_unreachable_server_is_asked_once_then_left_alone(tmp_path, monkeypatch):
    # A dead server must cost one short request, not MLflow's retries per trial.
    for key in _HTTP_ENV:
        monkeypatch.delenv(key, raising=False)
    port = free_port()
    with socket.socket() as sock:  # nothing listens there
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    uri = f"http://127.0.0.1:{port}"
    tracker = MlflowTracker(uri, "exp")
    probe = tracker._client = _CallCounter(MlflowClient(tracking_uri=uri))
    with pytest.warns(TrackingWarning, match=f"127.0.0.1:{port}") as caught:
        assert _start(tracker, tmp_path / "proj") is None
        assert tracker.offline
        asked = len(probe.seen)
        for i in range(5):
            assert tracker.log_trial(make_record(i)) is None
        tracker.end_search(best_score=None, best_params=None, records=[])
    assert len(caught) == 1
    # One call at the start, none per trial (backing off), one more at the end; the
    # queue is first in, first out, so the trials' turns all came before the end's.
    assert asked == 1
    assert probe.seen == [_HTTP_ENV, _HTTP_ENV]  # with short retries and timeout
    assert not [key for key in _HTTP_ENV if key in os.environ]  # and given back
    assert tracker.pending_trials == ["0000", "0001", "0002", "0003", "0004"]


def test_sync_directory_logs_missing_trials_once(store, tmp_path):
    records = [make_record(0), make_record(1), make_record(2, status="FAILED"),
               make_record(3, status="RUNNING")]
    write_records(tmp_path / "out" / "proj", records)
    assert sync_directory(tmp_path / "out", "proj", tracking_uri=store, experiment_name="exp") == 3
    assert sync_directory(tmp_path / "out", "proj", tracking_uri=store, experiment_name="exp") == 0
    state = json.loads((tmp_path / "out" / "proj" / "mlflow_state.json").read_text())
    client = MlflowClient(store)
    parent = client.get_run(state["parent_run_id"])
    assert parent.info.run_name == "proj"
    assert parent.info.status == "FINISHED"
    assert sorted(_children(client, parent)) == ["0000", "0001", "0002"]
    (tmp_path / "out" / "empty").mkdir()
    assert sync_directory(tmp_path / "out", "empty", tracking_uri=store, experiment_name="exp") == 0
    assert len(client.search_runs([parent.info.experiment_id])) == 4  # no empty parent
    with pytest.raises(FileNotFoundError, match="project_name='nope'"):
        sync_directory(tmp_path / "out", "nope", tracking_uri=store)


def test_default_store_is_sqlite_under_mlruns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    tracker = MlflowTracker()
    _start(tracker, tmp_path / "proj")
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    assert (tmp_path / "mlruns" / "artifacts").is_dir()  # search_space.yaml went there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://example.invalid:5000")
    assert resolve_tracking_uri() == "http://example.invalid:5000"
    assert resolve_tracking_uri("sqlite:////x/y.db") == "sqlite:////x/y.db"


def test_dataset_fingerprint_identifies_the_data():
    X = np.arange(24, dtype="float32").reshape(2, 4, 3)
    y = np.array([0, 1])
    fp = dataset_fingerprint(X, y)
    assert fp["X_shape"] == [2, 4, 3] and fp["X_dtype"] == "float32"
    assert fp["y_shape"] == [2]
    assert fp == dataset_fingerprint(X.copy(), y.copy())
    X2 = X.copy()
    X2[1, 3, 2] += 1
    assert dataset_fingerprint(X2, y)["sha256"] != fp["sha256"]
    assert dataset_fingerprint(X.reshape(2, 12), y)["sha256"] != fp["sha256"]


@pytest.fixture(scope="module")
def fitted_classifier():
    from seqtune import SequenceClassifier

    rng = np.random.RandomState(0)
    X = rng.rand(24, 6, 2).astype("float32")
    y = (X[:, :, 0].mean(axis=1) > 0.5).astype(int)
    return SequenceClassifier(units=4, epochs=1, random_state=0).fit(X, y), X


def test_best_model_is_a_pyfunc_with_identical_predictions(store, tmp_path, monkeypatch,
                                                          fitted_classifier):
    estimator, X = fitted_classifier
    tracker = MlflowTracker(store, "exp")
    parent_id = _start(tracker, tmp_path / "proj")
    uri = tracker.log_best_model(estimator, X[:5])
    assert uri.startswith("models:/")

    # pyfunc.load_model / register_model resolve the store from the environment.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    model = mlflow.pyfunc.load_model(uri)
    np.testing.assert_array_equal(model.predict(X), estimator.predict(X))
    inputs = model.metadata.get_input_schema().inputs
    assert len(inputs) == 1 and inputs[0].shape == (-1, 6, 2)
    assert model.metadata.saved_input_example_info is not None
    logged = MlflowClient(store).get_logged_model(uri.split("/", 1)[1])
    assert logged.source_run_id == parent_id and logged.status == LoggedModelStatus.READY
    requirements = (tmp_path / "artifacts").rglob("requirements.txt")
    text = next(requirements).read_text()
    assert "keras==" in text and "scikit-learn==" in text

    version = mlflow.register_model(uri, "seqtune-best")
    assert str(version.version) == "1"
    registered = mlflow.pyfunc.load_model("models:/seqtune-best/1")
    np.testing.assert_array_equal(registered.predict(X), estimator.predict(X))


def test_a_model_that_cannot_predict_its_example_is_not_blamed_on_the_store(store, tmp_path,
                                                                          fitted_classifier):
    estimator, X = fitted_classifier
    tracker = MlflowTracker(store, "exp")
    _start(tracker, tmp_path / "proj")
    with pytest.warns(TrackingWarning, match=r"best model was not logged.*predict failed on the "
                      r"input example of shape \(5, 6, 9\) \(ValueError: .*9") as caught:
        assert tracker.log_best_model(estimator, np.zeros((5, 6, 9), dtype="float32")) is None
    assert not any("MLflow tracking at" in str(w.message) for w in caught)
    assert not tracker.offline and tracker.last_error is None  # the store is not backed off
    assert tracker.log_best_model(estimator, X[:5]).startswith("models:/")


def test_track_fit_logs_one_run_per_fit(store, fitted_classifier):
    from seqtune import SequenceClassifier

    _, X = fitted_classifier
    y = np.array([0, 1] * 12)
    with track_fit(store, "fits", run_name="quick") as tracked:
        estimator = SequenceClassifier(units=4, epochs=2, random_state=0).fit(X, y)
    SequenceClassifier(units=4, epochs=1, random_state=0).fit(X, y)  # outside: not tracked

    assert len(tracked.run_ids) == 1
    client = MlflowClient(store)
    run = client.get_run(tracked.run_ids[0])
    assert run.info.run_name == "quick"
    assert run.info.status == "FINISHED"
    assert run.data.params["units"] == "4" and run.data.params["cell"] == "lstm"
    assert run.data.tags["n_params"] == str(estimator.n_params_)
    assert run.data.tags["seqtune.kind"] == "fit"
    assert "mlflow.parentRunId" not in run.data.tags
    losses = client.get_metric_history(run.info.run_id, "loss")
    assert [m.value for m in losses] == pytest.approx(estimator.history_["loss"])
    experiment = client.get_experiment_by_name("fits")
    assert len(client.search_runs([experiment.experiment_id])) == 1


def test_fits_outside_track_fit_build_no_record(monkeypatch, fitted_classifier):
    from seqtune import SequenceClassifier
    from seqtune.listeners import fit_listener

    def fail(*args, **kwargs):
        raise AssertionError("built a record outside track_fit")

    monkeypatch.setattr("seqtune.tracking._fit.fit_record", fail)
    _, X = fitted_classifier
    y = np.array([0, 1] * 12)
    SequenceClassifier(units=4, epochs=1, random_state=0).fit(X, y)  # nobody listens
    seen = []
    with fit_listener(seen.append):
        estimator = SequenceClassifier(units=4, epochs=1, random_state=0).fit(X, y)
    assert seen == [estimator]


def test_pack_history_puts_targets_before_features_and_checks_alignment():
    from seqtune.tracking import pack_history

    y, X = np.arange(4.0), np.arange(8.0).reshape(4, 2)
    np.testing.assert_array_equal(pack_history(y, X), [[0, 0, 1], [1, 2, 3], [2, 4, 5], [3, 6, 7]])
    np.testing.assert_array_equal(pack_history(y), y)
    with pytest.raises(ValueError, match="X has 3 steps but y_history has 4"):
        pack_history(y, X[:3])


def test_pack_sequences_nan_pads_different_lengths_and_keeps_one_length_as_is():
    from seqtune.tracking import pack_sequences

    packed = pack_sequences([np.ones((2, 1)), np.arange(3.0)])
    assert packed.shape == (2, 3, 1)
    np.testing.assert_array_equal(packed[:, :, 0], [[1, 1, np.nan], [0, 1, 2]])
    same = np.zeros((4, 5, 2))
    np.testing.assert_array_equal(pack_sequences(same), same)
