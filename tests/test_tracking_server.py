"""MlflowTracker against a real ``mlflow server`` subprocess on loopback."""

from __future__ import annotations

import threading
import warnings

import pytest

pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

from _tracking_helpers import MlflowServer, make_record  # noqa: E402
from seqtune.tracking import MlflowTracker, TrackingWarning  # noqa: E402

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture
def server(tmp_path):
    srv = MlflowServer(tmp_path / "server")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _runs_by_parent(client, experiment_name):
    experiment = client.get_experiment_by_name(experiment_name)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = {r.info.run_id: r for r in runs if "mlflow.parentRunId" not in r.data.tags}
    children: dict[str, list] = {pid: [] for pid in parents}
    for run in runs:
        pid = run.data.tags.get("mlflow.parentRunId")
        if pid is not None:
            children.setdefault(pid, []).append(run)
    return parents, children


def _search(tracker, state_dir, name, records, errors):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", TrackingWarning)
            tracker.start_search(state_dir, run_name=name, params={"tuner": "random"}, tags={},
                                 space_yaml=None, fingerprint={"sha256": name})
            for record in records:
                tracker.log_trial(record)
            tracker.end_search(best_score=max(r["score"] for r in records), best_params={},
                               records=records)
    except BaseException as exc:  # surfaced by the main thread
        errors.append(exc)


def test_two_concurrent_searches_lose_and_duplicate_nothing(server, tmp_path):
    searches = {
        "search-a": [make_record(i) for i in range(5)],
        "search-b": [make_record(i, started_at=1_800_000_000.0) for i in range(5)],
    }
    errors: list[BaseException] = []
    trackers = {name: MlflowTracker(server.uri, "concurrent") for name in searches}
    threads = [threading.Thread(target=_search, args=(trackers[name], tmp_path / name, name,
                                                      records, errors))
               for name, records in searches.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads), "a search hung"
    assert errors == []

    parents, children = _runs_by_parent(MlflowClient(server.uri), "concurrent")
    assert sorted(p.info.run_name for p in parents.values()) == ["search-a", "search-b"]
    for name, tracker in trackers.items():
        parent = parents[tracker.parent_run_id]
        assert parent.info.run_name == name
        assert parent.data.params["data.sha256"] == name
        assert parent.info.status == "FINISHED"
        mine = children[tracker.parent_run_id]
        assert sorted(r.data.tags["trial_id"] for r in mine) == ["0000", "0001", "0002", "0003", "0004"]
        # Each child carries its own search's record (the start times differ per search).
        expected = {r["trial_id"]: int(r["started_at"] * 1000) for r in searches[name]}
        assert {r.data.tags["trial_id"]: r.info.start_time for r in mine} == expected
    assert sum(len(v) for v in children.values()) == 10


def test_server_stopped_mid_search_then_sync_logs_everything_once(server, tmp_path):
    records = [make_record(i) for i in range(6)]
    state_dir = tmp_path / "proj"
    tracker = MlflowTracker(server.uri, "outage")
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrackingWarning)
        tracker.start_search(state_dir, run_name="outage", params={}, tags={}, space_yaml=None,
                             fingerprint=None)
        for record in records[:2]:
            tracker.log_trial(record)
        assert tracker.flush() == 0

    server.stop()
    with pytest.warns(TrackingWarning, match="sync") as caught:
        for record in records[2:]:
            assert tracker.log_trial(record) is None  # the search goes on
        tracker.end_search(best_score=1.0, best_params={}, records=records)
    assert len(caught) == 1
    # end_search stopped the worker: what is missing waits for sync or resume.
    assert tracker.pending_trials == ["0002", "0003", "0004", "0005"]

    server.start()  # same port, same database
    assert tracker.sync(state_dir, records) == 4
    assert tracker.sync(state_dir, records) == 0
    # A resumed search (a new tracker on the same state_dir) finds nothing to add.
    resumed = MlflowTracker(server.uri, "outage")
    assert resumed.sync(state_dir, records) == 0

    parents, children = _runs_by_parent(MlflowClient(server.uri), "outage")
    assert list(parents) == [tracker.parent_run_id]
    ids = sorted(r.data.tags["trial_id"] for r in children[tracker.parent_run_id])
    assert ids == [r["trial_id"] for r in records]
