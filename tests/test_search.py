"""SequenceSearch: trials, records, failures, budget, narrowing, pickling."""

from __future__ import annotations

import json
import re
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import KFold

from seqtune.classifier import SequenceClassifier
from seqtune.regressor import SequenceRegressor
from seqtune.search import RECORD_FILENAME, SequenceSearch, read_trial_records

# Two fixed, cheap settings shared by most spaces below.
TINY = {"units": 4, "epochs": 1, "batch_size": 16, "patience": 1}


@pytest.fixture(scope="module")
def clf_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 12, 2)).astype("float32")
    y = (X[:, :, 0].mean(axis=1) > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def reg_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 12, 1)).astype("float32")
    y = X[:, -3:, 0].sum(axis=1)
    return X, y


def _search(tmp_path, estimator=None, **kwargs):
    kwargs.setdefault("space", {**TINY, "cell": ["lstm", "gru"], "learning_rate": [0.01, 0.003]})
    kwargs.setdefault("tuner", "random")
    kwargs.setdefault("max_trials", 2)
    # One holdout keeps these tests quick; tests/test_search_cv.py covers the folds.
    kwargs.setdefault("cv", None)
    kwargs.setdefault("random_state", 0)
    return SequenceSearch(
        estimator if estimator is not None else SequenceClassifier(),
        directory=tmp_path / "search",
        overwrite=False,
        tracking=False,
        verbose=0,
        **kwargs,
    )


def _user_warnings(record, text):
    return [w for w in record if issubclass(w.category, UserWarning) and text in str(w.message)]


def test_random_search_results_records_and_refit(tmp_path, clf_data):
    X, y = clf_data
    search = _search(tmp_path, max_trials=3, space={**TINY, "cell": ["lstm", "gru", "rnn"]})
    assert search.fit(X, y) is search

    results = search.results_
    assert list(results["trial_id"]) == ["0", "1", "2"]
    expected = {"trial_id", "cell", "units", "epochs", "score", "status", "duration_s",
                "epochs_run", "n_params", "seconds_per_epoch", "fused_kernel"}
    assert expected <= set(results.columns)
    assert set(results["status"]) == {"completed"}
    assert sorted(results["cell"]) == ["gru", "lstm", "rnn"]
    assert (results["epochs_run"] == 1).all()
    assert (results["n_params"] > 0).all()
    assert not results["fused_kernel"].any()  # no GPU here
    assert results["score"].between(0, 1).all()

    assert search.best_score_ == pytest.approx(results["score"].max())
    best_row = results.loc[results["score"].idxmax()]
    assert search.best_params_["cell"] == best_row["cell"]
    assert search.best_estimator_.get_params()["cell"] == best_row["cell"]
    assert search.best_estimator_.units == 4
    assert search.objective_ == {"name": "score", "direction": "max"}

    # One record per trial, next to keras-tuner's trial.json, with the DESIGN.md schema.
    project = Path(search.project_dir_)
    for trial_id in ("0", "1", "2"):
        assert (project / f"trial_{trial_id}" / "trial.json").exists()
        record = json.loads((project / f"trial_{trial_id}" / RECORD_FILENAME).read_text())
        assert record["trial_id"] == trial_id
        assert record["number"] == int(trial_id)
        assert record["status"] == "COMPLETED"
        assert record["objective"] == {"name": "score", "direction": "max"}
        assert set(record["history"]) >= {"loss", "val_loss"}
        assert record["tags"]["cell"] == record["params"]["cell"]
        assert record["ended_at"] >= record["started_at"]
        assert record["seconds_per_epoch"] > 0
    assert [r["trial_id"] for r in read_trial_records(project)] == ["0", "1", "2"]

    # Delegation to the refitted best estimator.
    assert search.predict(X[:5]).shape == (5,)
    assert search.predict_proba(X[:5]).shape == (5, 2)
    assert search.score(X, y) == pytest.approx(search.best_estimator_.score(X, y))
    assert list(search.classes_) == [0, 1]


def test_fitted_search_pickles(tmp_path, clf_data):
    X, y = clf_data
    search = _search(tmp_path).fit(X, y)
    clone = pickle.loads(pickle.dumps(search))
    np.testing.assert_allclose(clone.predict_proba(X), search.predict_proba(X), rtol=1e-6)
    assert clone.results_.equals(search.results_)
    assert clone.best_params_ == search.best_params_


def test_failed_trial_is_recorded_and_search_goes_on(tmp_path, clf_data):
    X, y = clf_data
    # dropout=1.5 is out of range: that trial fails inside the estimator's fit.
    search = _search(tmp_path, space={**TINY, "dropout": [0.0, 1.5]}, max_trials=2)
    search.fit(X, y)
    results = search.results_.set_index("dropout")
    assert results.loc[1.5, "status"] == "failed"
    assert np.isnan(results.loc[1.5, "score"])
    assert "dropout" in results.loc[1.5, "error"] and "Traceback" in results.loc[1.5, "error"]
    assert results.loc[0.0, "status"] == "completed"
    assert search.best_params_["dropout"] == 0.0
    failed = [r for r in search.records_ if r["status"] == "FAILED"]
    assert len(failed) == 1 and failed[0]["score"] is None


def test_nan_loss_fails_trials_and_no_completed_trial_raises(tmp_path, reg_data):
    X, y = reg_data
    # A learning rate of 1e30 without gradient clipping makes the loss NaN in the 1st epoch.
    search = _search(tmp_path, SequenceRegressor(clipnorm=None),
                     space={**TINY, "epochs": 3, "learning_rate": [1e30, 2e30]})
    with pytest.raises(RuntimeError, match="No trial .* completed"):
        search.fit(X, y)
    records = read_trial_records(tmp_path / "search" / "sequenceregressor_random")
    assert [r["status"] for r in records] == ["FAILED", "FAILED"]
    assert all(re.search("loss became (nan|inf) at epoch 1", r["error"]) for r in records)
    for record in records:  # the diverged curve is kept for inspection
        assert record["score"] is None and record["epochs_run"] >= 1
        assert not np.isfinite(record["history"]["loss"][0])


def test_time_budget_cuts_the_running_trial_and_starts_no_more(tmp_path, clf_data):
    X, y = clf_data
    space = {"units": 4, "batch_size": 8, "epochs": 200, "patience": 200,
             "learning_rate": [0.01, 0.005, 0.002, 0.001]}
    search = _search(tmp_path, space=space, max_trials=4, time_budget=1.0, refit=False)
    search.fit(X, y)
    assert len(search.results_) == 1
    row = search.results_.iloc[0]
    assert row["status"] == "pruned"
    assert 1 <= row["epochs_run"] < 200
    assert np.isfinite(row["score"])  # the cut trial's result still counts
    assert search.best_score_ == row["score"]
    assert search.best_estimator_ is None
    with pytest.raises(AttributeError, match="refit=False"):
        search.predict(X)


def test_space_narrowed_to_data_with_one_warning(tmp_path, clf_data):
    X, y = clf_data  # 12 steps
    space = {**TINY, "sequence_length": [4, 8, 16, 64]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = _search(tmp_path, space=space, max_trials=2).fit(X, y)
    narrowed = _user_warnings(caught, "narrowed")
    assert len(narrowed) == 1
    message = str(narrowed[0].message)
    assert "sequence_length" in message and "16, 64" in message and "12" in message
    assert set(search.results_["sequence_length"]) <= {4, 8, 12}
    assert search.space_["sequence_length"].possible_values == (4, 8, 12)


def test_no_warning_when_space_fits_the_data(tmp_path, clf_data):
    X, y = clf_data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _search(tmp_path, space={**TINY, "sequence_length": [4, 8]}).fit(X, y)
    assert _user_warnings(caught, "narrowed") == []


def test_val_loss_objective_is_the_held_out_loss_minimised(tmp_path, reg_data):
    from seqtune.splits import holdout_split

    X, y = reg_data
    search = _search(tmp_path, SequenceRegressor(), objective="val_loss", max_trials=2)
    search.fit(X, y)
    assert search.objective_ == {"name": "val_loss", "direction": "min"}
    assert search.best_score_ == pytest.approx(search.results_["score"].min())
    _, held_out, _ = holdout_split(len(y), 0.2, random_state=0)  # the search's own split
    for record in search.records_:
        metrics = record["metrics"]
        assert record["score"] == pytest.approx(metrics["val_loss"])
        # The held-out MSE and R² describe the same predictions: MSE = (1 - R²) Var(y_val).
        assert metrics["val_loss"] == pytest.approx((1 - metrics["score"]) * np.var(y[held_out]),
                                                    rel=1e-5)


def test_history_objective_counts_at_the_kept_epoch(tmp_path, reg_data):
    X, y = reg_data
    search = _search(tmp_path, SequenceRegressor(), objective="loss", max_trials=1)
    search.fit(X, y)
    assert search.objective_ == {"name": "loss", "direction": "min"}
    record = search.records_[0]
    assert record["score"] == pytest.approx(record["history"]["loss"][record["folds"][0]["best_epoch"]])


def test_default_regressor_objective_is_r2_with_the_bayesian_tuner(tmp_path, reg_data):
    X, y = reg_data
    search = _search(tmp_path, SequenceRegressor(), tuner="bayesian").fit(X, y)
    assert Path(search.project_dir_).name == "sequenceregressor_bayesian"
    assert len(search.results_) == 2
    assert search.objective_ == {"name": "score", "direction": "max"}
    assert search.best_score_ == pytest.approx(search.results_["score"].max())
    assert search.predict(X).shape == (40,)


@pytest.mark.slow
def test_hyperband_uses_its_epoch_budget(tmp_path, clf_data):
    X, y = clf_data
    space = {"units": 4, "batch_size": 16, "epochs": 3, "patience": 5, "cell": ["lstm", "gru"],
             "learning_rate": [0.01, 0.003]}
    search = _search(tmp_path, tuner="hyperband", space=space, max_trials=3).fit(X, y)
    assert len(search.results_) == 3
    assert set(search.results_["status"]) == {"completed"}
    for record in search.records_:
        assert 1 <= record["params"]["epochs"] <= 3
        assert record["epochs_run"] == record["params"]["epochs"] - record["initial_epoch"]


@pytest.mark.slow
def test_hyperband_promoted_trial_trains_on_from_its_parents_weights(tmp_path, clf_data):
    X, y = clf_data
    # max_epochs=3, factor 3: three 1-epoch trials, then the best goes on to 3 epochs.
    space = {"units": 4, "batch_size": 16, "epochs": 3, "patience": 5, "cell": ["lstm", "gru"],
             "learning_rate": [0.01, 0.003, 0.001]}
    search = _search(tmp_path, tuner="hyperband", space=space, max_trials=4).fit(X, y)
    records = {r["trial_id"]: r for r in search.records_}
    continued = [r for r in records.values() if "continued_from" in r["tags"]]
    assert len(continued) == 1
    child = continued[0]
    parent = records[child["tags"]["continued_from"]]
    assert parent["score"] == max(r["score"] for r in records.values() if r is not child)
    assert {**parent["params"], "epochs": 3} == child["params"]
    assert (parent["initial_epoch"], parent["epochs_run"]) == (0, 1)
    # Only the two remaining epochs run, numbered on from the parent's.
    assert (child["initial_epoch"], child["epochs_run"]) == (1, 2)
    # The epochs the child's weights embody: the parent's kept ones, then its own.
    parent_fold, child_fold = parent["folds"][0], child["folds"][0]
    assert parent_fold["kept_epochs"] == parent_fold["best_epoch"] + 1 == 1
    assert child_fold["kept_epochs"] == 1 + child_fold["best_epoch"] + 1
    # Same seed and configuration: a fresh start would repeat the parent's first loss.
    assert child["history"]["loss"][0] < parent["history"]["loss"][0]
    weights = list((tmp_path / "search").rglob(f"trial_{parent['trial_id']}/seqtune_trial.weights.h5"))
    assert len(weights) == 1


def test_the_refit_trains_as_long_as_the_folds_kept_weights_embody():
    from seqtune.search._final import refit_epochs

    # A Hyperband child whose parent had a budget of 10 epochs but kept its 4th: the
    # weights it went on from embody 4 epochs, not 10.
    folds = [{"initial_epoch": 10, "best_epoch": 5, "kept_epochs": 4 + 6},
             {"initial_epoch": 10, "best_epoch": 7, "kept_epochs": 5 + 8},
             {"initial_epoch": 10, "best_epoch": 1, "kept_epochs": 3 + 2, "cut": True}]
    assert refit_epochs({"folds": folds}) == 12  # the median of 10 and 13, the cut fold left out
    # A record from before kept_epochs: the parent's budget stands in.
    assert refit_epochs({"folds": [{"initial_epoch": 10, "best_epoch": 5}]}) == 16
    assert refit_epochs({"folds": []}) is None


def test_load_weights_continues_a_fit_and_warns_on_a_file_that_does_not_load(tmp_path, clf_data):
    """Hyperband's continuation goes through this public callback (seqtune.callbacks)."""
    from seqtune.callbacks import LoadWeights

    X, y = clf_data
    settings = dict(units=4, epochs=2, batch_size=16, early_stopping=False, random_state=0)
    first = SequenceClassifier(**settings).fit(X, y)
    first.model_.save_weights(tmp_path / "first.weights.h5")

    warm = LoadWeights(tmp_path / "first.weights.h5")
    more = SequenceClassifier(**settings).fit(X, y, callbacks=[warm])
    assert warm.loaded
    # Same seed: a fresh start would repeat the first fit's first loss.
    assert more.history_["loss"][0] < first.history_["loss"][0]

    missing = LoadWeights(tmp_path / "missing.weights.h5")
    with pytest.warns(UserWarning, match=r"missing\.weights\.h5.*fresh initialisation"):
        fresh = SequenceClassifier(**settings).fit(X, y, callbacks=[missing])
    assert not missing.loaded and fresh.n_epochs_ == 2
    assert fresh.history_["loss"][0] == pytest.approx(first.history_["loss"][0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tuner": "randon"}, "Did you mean 'random'"),
        ({"max_trials": 0}, "max_trials=0"),
        ({"time_budget": -1}, "time_budget=-1"),
        ({"validation_fraction": 1.5}, "validation_fraction=1.5"),
        ({"intensify": -1}, "intensify=-1"),
        ({"intensify_seeds": 0}, "intensify_seeds=0"),
        ({"ensemble": 0}, "ensemble=0"),
        ({"ensemble": "three"}, "ensemble='three'"),
        ({"objective": "banana"}, "Cannot tell whether objective='banana'"),
        ({"objective": "mase"}, "objective='mase' is not available for classification"),
        ({"objective": "r2"}, "objective='r2' is not available for classification"),
        ({"space": {**TINY, "unitz": [4, 8]}}, "did you mean 'units'"),
    ],
)
def test_configuration_errors_stop_before_any_trial(tmp_path, clf_data, kwargs, match):
    X, y = clf_data
    with pytest.raises(ValueError, match=match):
        _search(tmp_path, **kwargs).fit(X, y)
    assert not list((tmp_path / "search").glob("*/trial_*"))


def test_resume_on_other_data_is_refused(tmp_path, clf_data):
    X, y = clf_data
    _search(tmp_path, max_trials=1).fit(X, y)
    with pytest.raises(ValueError, match="different data"):
        _search(tmp_path, max_trials=2).fit(X[:30], y[:30])


def test_resume_on_other_folds_is_refused(tmp_path, clf_data):
    X, y = clf_data
    _search(tmp_path, max_trials=1, cv=3).fit(X, y)
    # Three folds again, but not shuffled: the trials' scores would not compare.
    with pytest.raises(ValueError, match="scored on other folds of this data"):
        _search(tmp_path, max_trials=2, cv=KFold(3)).fit(X, y)
    state = json.loads((tmp_path / "search" / "sequenceclassifier_random" / "seqtune_search.json")
                       .read_text())
    assert len(state["folds_sha256"]) == 16


def test_resuming_a_directory_without_a_folds_record_warns_once(tmp_path, clf_data):
    X, y = clf_data
    _search(tmp_path, max_trials=1, cv=3).fit(X, y)
    path = tmp_path / "search" / "sequenceclassifier_random" / "seqtune_search.json"
    state = json.loads(path.read_text())
    digest = state.pop("folds_sha256")
    path.write_text(json.dumps(state))  # as a seqtune before 2026-12-05 left it
    with pytest.warns(UserWarning, match="kept no record of its folds"):
        _search(tmp_path, max_trials=1, cv=3).fit(X, y)
    # The resumed search recorded them: the next resume is checked, without a warning.
    assert json.loads(path.read_text())["folds_sha256"] == digest
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*kept no record of its folds")
        _search(tmp_path, max_trials=1, cv=3).fit(X, y)


@pytest.mark.parametrize("cv", [None, 3])
def test_a_search_without_random_state_resumes_on_the_folds_it_drew(tmp_path, clf_data, cv):
    X, y = clf_data
    kwargs = {"cv": cv, "random_state": None}
    first = _search(tmp_path, max_trials=1, **kwargs).fit(X, y)
    state = json.loads((tmp_path / "search" / "sequenceclassifier_random" / "seqtune_search.json")
                       .read_text())
    assert isinstance(state["split_seed"], int)
    second = _search(tmp_path, max_trials=2, **kwargs).fit(X, y)
    assert list(second.results_["trial_id"]) == ["0", "1"]
    assert second.records_[0]["started_at"] == first.records_[0]["started_at"]
    # overwrite=True starts afresh, with a seed of its own.
    third = SequenceSearch(SequenceClassifier(), directory=tmp_path / "search", overwrite=True,
                           tracking=False, verbose=0, tuner="random",
                           space={**TINY, "cell": ["lstm", "gru"], "learning_rate": [0.01, 0.003]},
                           max_trials=1, **kwargs).fit(X, y)
    assert third.n_trials_ == 1
    again = json.loads((tmp_path / "search" / "sequenceclassifier_random" / "seqtune_search.json")
                       .read_text())
    assert again["split_seed"] != state["split_seed"]


def test_a_worker_without_random_state_needs_the_chiefs_recorded_seed(tmp_path):
    from seqtune.search._state import resolve_split_seed

    assert resolve_split_seed(7, tmp_path, fresh=False, worker=True) == 7
    with pytest.raises(ValueError, match=r"random_state=None: this worker .* found no recorded "
                                         r"folds seed .* pass the same int random_state"):
        resolve_split_seed(None, tmp_path, fresh=False, worker=True)
    (tmp_path / "seqtune_search.json").write_text(json.dumps({"split_seed": 123}))
    assert resolve_split_seed(None, tmp_path, fresh=False, worker=True) == 123
    assert resolve_split_seed(np.random.RandomState(0), tmp_path, fresh=False) == 123
    drawn = np.random.RandomState(5).randint(0, 2**31 - 1)
    assert resolve_split_seed(np.random.RandomState(5), tmp_path, fresh=True) == drawn


def test_completed_search_resumes_without_rerunning(tmp_path, clf_data):
    X, y = clf_data
    first = _search(tmp_path, max_trials=2).fit(X, y)
    started = {r["trial_id"]: r["started_at"] for r in first.records_}
    events = []
    second = _search(tmp_path, max_trials=3).fit(X, y, trial_callback=events.append)
    assert list(second.results_["trial_id"]) == ["0", "1", "2"]
    for record in second.records_[:2]:
        assert record["started_at"] == started[record["trial_id"]]
    # Progress counts the trials of the earlier attempt.
    assert [e["n_done"] for e in events if e["event"] == "trial_end"] == [3]


def test_resume_with_another_space_warns(tmp_path, clf_data):
    X, y = clf_data
    _search(tmp_path, max_trials=1).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _search(tmp_path, max_trials=1, space={**TINY, "cell": ["lstm", "rnn"]}).fit(X, y)
    assert len(_user_warnings(caught, "different search space")) == 1


def test_estimator_must_be_a_seqtune_estimator(tmp_path, clf_data):
    from sklearn.linear_model import LinearRegression

    X, y = clf_data
    with pytest.raises(TypeError, match="not a seqtune estimator"):
        SequenceSearch(LinearRegression(), tracking=False).fit(X, y)


def test_trial_callback_reports_progress(tmp_path, clf_data):
    X, y = clf_data
    events = []
    _search(tmp_path, max_trials=2).fit(X, y, trial_callback=events.append)
    ends = [e for e in events if e["event"] == "trial_end"]
    assert [e["n_done"] for e in ends] == [1, 2]
    assert all(e["max_trials"] == 2 for e in ends)
    assert ends[-1]["best_score"] == max(e["record"]["score"] for e in ends)
    assert [e["event"] for e in events].count("trial_begin") == 2


def test_tracker_receives_every_trial(tmp_path, clf_data):
    X, y = clf_data

    class Recorder:
        def __init__(self):
            self.calls = []

        def start_search(self, state_dir, **kwargs):
            self.calls.append(("start", state_dir, kwargs))

        def log_trial(self, record):
            self.calls.append(("trial", record["trial_id"], record["status"]))

        def end_search(self, **kwargs):
            self.calls.append(("end", kwargs["best_score"], len(kwargs["records"])))

        def log_best_model(self, estimator, X_example):
            self.calls.append(("model", type(estimator).__name__, np.shape(X_example)))
            return "models:/m-1"

        def sync(self, state_dir, records):
            self.calls.append(("sync", len(list(records))))
            return 0

    tracker = Recorder()
    search = _search(tmp_path, max_trials=2)
    search.set_params(tracking=tracker)
    search.fit(X, y)
    kinds = [c[0] for c in tracker.calls]
    assert kinds == ["start", "trial", "trial", "end", "model"]
    start = tracker.calls[0]
    assert start[1] == search.project_dir_
    assert start[2]["params"]["tuner"] == "random"
    assert start[2]["tags"]["device"] == "cpu"
    assert start[2]["fingerprint"]["X_shape"] == [40, 12, 2]
    assert "units" in start[2]["space_yaml"]
    assert tracker.calls[3] == ("end", search.best_score_, 2)
    assert tracker.calls[4] == ("model", "SequenceClassifier", (5, 12, 2))
    assert search.best_model_uri_ == "models:/m-1"


def test_trials_run_without_tensorboard(tmp_path):
    """keras-tuner imports tensorboard in its default run_trial; seqtune's does not."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["tensorboard"] = None  # any import of tensorboard now fails
        import numpy as np
        from seqtune.classifier import SequenceClassifier
        from seqtune.search import SequenceSearch
        rng = np.random.default_rng(0)
        X = rng.normal(size=(24, 6, 1)); y = np.arange(24) % 2
        s = SequenceSearch(SequenceClassifier(), space={TINY!r}, tuner="random", max_trials=1,
                           directory={str(tmp_path)!r}, tracking=False, verbose=0).fit(X, y)
        print("STATUS", list(s.results_["status"]))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "STATUS ['completed']" in out.stdout


def test_import_error_in_a_trial_stops_the_search(tmp_path, clf_data, monkeypatch):
    X, y = clf_data

    def broken_fit(self, *args, **kwargs):
        raise ModuleNotFoundError("No module named 'tensorboard'")

    monkeypatch.setattr(SequenceClassifier, "fit", broken_fit)
    import keras_tuner as kt

    with pytest.raises(kt.errors.FatalError, match="could not import a module.*tensorboard"):
        _search(tmp_path, max_trials=3).fit(X, y)
    records = read_trial_records(tmp_path / "search" / "sequenceclassifier_random")
    assert len(records) == 1 and records[0]["status"] == "FAILED"


def test_forecaster_search_holds_out_the_tail_and_narrows_lookback(tmp_path, monkeypatch):
    from seqtune.forecaster import SequenceForecaster

    t = np.arange(100.0)
    y = np.sin(t / 5) + 0.01 * t
    seen = []
    real_fit = SequenceForecaster.fit

    def spy(self, y_train, X=None, *, validation_data=None, callbacks=None):
        seen.append((np.asarray(y_train).copy(), validation_data))
        return real_fit(self, y_train, X, validation_data=validation_data, callbacks=callbacks)

    monkeypatch.setattr(SequenceForecaster, "fit", spy)
    space = {"units": 4, "epochs": 1, "lookback": [4, 500]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = _search(tmp_path, SequenceForecaster(horizon=3, difference=1), space=space).fit(y)
    narrowed = _user_warnings(caught, "narrowed")
    assert len(narrowed) == 1 and "lookback: cut 500" in str(narrowed[0].message)
    # 20% of 100 steps is held out as the tail, in order; of the 80 left, differencing
    # takes 1 and the horizon 3, so a lookback of 76 leaves exactly one training window.
    assert "at most 76" in str(narrowed[0].message)
    assert set(search.results_["lookback"]) <= {4, 76}
    for y_train, validation_data in seen[:2]:
        np.testing.assert_array_equal(y_train, y[:80])
        # Early stopping never sees the tail that scores the trial.
        assert validation_data is None
    for record in search.records_:
        assert (record["folds"][0]["n_train"], record["folds"][0]["n_test"]) == (80, 20)
    np.testing.assert_array_equal(seen[-1][0], y)  # the refit sees the whole series
    assert search.objective_ == {"name": "mae", "direction": "min"}
    assert search.best_score_ == pytest.approx(search.results_["score"].min())
    assert set(search.records_[0]["metrics"]) == {"mae", "rmse", "smape", "mase"}
    assert np.shape(search.predict()) == (3,)
    assert set(search.evaluate(y[-10:], y_history=y[:-10])) == {"mae", "rmse", "smape", "mase"}


def test_a_trending_series_is_searched_differenced_only():
    from seqtune import load_space
    from seqtune.forecaster import SequenceForecaster
    from seqtune.preprocessing import level_stationarity_pvalue
    from seqtune.search._task import make_folds, narrow_space

    rng = np.random.default_rng(0)
    trend = np.arange(120.0) + rng.normal(0, 3, 120)
    noise = rng.normal(0, 1, (120, 2))
    assert level_stationarity_pvalue(trend[:, None]) == pytest.approx(0.01)  # the table's end
    assert level_stationarity_pvalue(noise) >= 0.05
    # One trending channel among stationary ones is enough; too short a series is no test.
    assert level_stationarity_pvalue(np.column_stack([noise, trend])) == pytest.approx(0.01)
    assert level_stationarity_pvalue(trend[:8, None]) is None

    estimator = SequenceForecaster(horizon=2)
    space = load_space({"difference": [0, 1], "lookback": [4]}, task="forecasting")
    for y, kept in ((trend, (1,)), (noise[:, 0], (0, 1))):
        folds = make_folds("forecasting", y, None, cv=2, fraction=0.2, random_state=0, horizon=2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            narrowed = narrow_space(space, "forecasting", estimator, y, folds)
        assert narrowed["difference"].possible_values == kept
        messages = [str(w.message) for w in _user_warnings(caught, "narrowed")]
        assert messages == ([] if len(kept) == 2 else [
            "The search space asks for more than the data or the estimator allows and was "
            "narrowed: difference: dropped 0 (a KPSS test rejects a constant level, p = 0.01: "
            "the series trends or drifts)"])
    # A fixed seasonal difference already takes a trend out: the test is not asked.
    seasonal = SequenceForecaster(horizon=2, seasonal_difference=12)
    folds = make_folds("forecasting", trend, None, cv=2, fraction=0.2, random_state=0, horizon=2)
    assert narrow_space(space, "forecasting", seasonal, trend, folds) == space


def test_a_forecaster_search_refuses_objective_score_before_any_trial(tmp_path):
    from seqtune.forecaster import SequenceForecaster

    y = np.sin(np.arange(60) / 3.0)
    search = _search(tmp_path, SequenceForecaster(horizon=2), objective="score")
    with pytest.raises(ValueError, match=r"objective='score' is not available for forecasting; "
                                         r"expected one of \['mae', .*'mase'\]"):
        search.fit(y)
    assert not (tmp_path / "search").exists()


def test_seq2seq_forecaster_search_drops_linear_skip_instead_of_failing_trials(tmp_path):
    from seqtune.forecaster import SequenceForecaster

    y = np.sin(np.arange(80.0) / 5)
    space = {"units": 4, "epochs": 1, "lookback": [4], "linear_skip": [False, True]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = _search(tmp_path, SequenceForecaster(horizon=2, strategy="seq2seq"), space=space,
                         max_trials=2).fit(y)
    narrowed = _user_warnings(caught, "narrowed")
    assert len(narrowed) == 1
    assert "linear_skip: dropped (strategy='seq2seq' has no linear path)" in str(narrowed[0].message)
    assert "linear_skip" not in search.space_
    assert all(r["status"] == "COMPLETED" for r in search.records_)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_best_epoch_is_the_epoch_whose_weights_are_kept(clf_data, early_stopping):
    """The search scores a trial at best_epoch_: its validation accuracy there equals
    scoring the fitted model on the validation data again."""
    X, y = clf_data
    X_train, X_val, y_train, y_val = X[:28], X[28:], y[:28], y[28:]
    for patience in (0, 2):
        est = SequenceClassifier(units=4, epochs=6, patience=patience, learning_rate=0.05,
                                 early_stopping=early_stopping, random_state=patience)
        est.fit(X_train, y_train, validation_data=(X_val, y_val))
        val_loss = est.history_["val_loss"]
        expected = int(np.argmin(val_loss)) if early_stopping else len(val_loss) - 1
        assert est.best_epoch_ == expected
        assert est.history_["val_accuracy"][est.best_epoch_] == pytest.approx(est.score(X_val, y_val))


def test_search_logged_to_mlflow_and_resume_reattaches(tmp_path, clf_data):
    import mlflow

    X, y = clf_data
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    def tracked(max_trials):
        search = _search(tmp_path, max_trials=max_trials)
        return search.set_params(tracking=True, tracking_uri=uri, experiment_name="search-test")

    first = tracked(2).fit(X, y)
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("search-test")

    def runs():
        found = client.search_runs([experiment.experiment_id])
        parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
        children = [r for r in found if "mlflow.parentRunId" in r.data.tags]
        return parents, children

    parents, children = runs()
    assert len(parents) == 1 and len(children) == 2
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert parents[0].data.params["tuner"] == "random"
    assert float(parents[0].data.metrics["best_score"]) == pytest.approx(first.best_score_)
    # models:/ URIs resolve against the environment's store. Setting MLflow's global
    # tracking URI instead would leak into every later test of this process.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        model = mlflow.pyfunc.load_model(first.best_model_uri_)
    np.testing.assert_array_equal(np.asarray(model.predict(X[:5])).ravel(), first.predict(X[:5]))

    tracked(3).fit(X, y)  # resume: same parent run, one new child, none duplicated
    parents, children = runs()
    assert len(parents) == 1 and len(children) == 3


def _tracked_forecaster_search(tmp_path, *fit_args):
    """A tracked 1-trial forecasting search (lookback 9, differenced) and its logged model."""
    import mlflow
    from seqtune.forecaster import SequenceForecaster
    from seqtune.tracking import TrackingWarning

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    search = _search(tmp_path, SequenceForecaster(horizon=2, difference=1),
                     space={"units": 4, "epochs": 1, "lookback": 9}, max_trials=1)
    search.set_params(tracking=True, tracking_uri=uri, experiment_name="forecast")
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrackingWarning)
        search.fit(*fit_args)
    assert search.best_model_uri_ is not None
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        return search, mlflow.pyfunc.load_model(search.best_model_uri_)


def test_tracked_forecaster_search_logs_a_model_that_forecasts_from_its_example(tmp_path):
    # The input example was once the first 5 steps: too short a y_history for any
    # lookback over 5, so no forecasting search logged its best model.
    y = np.sin(np.arange(80.0) / 4)
    search, model = _tracked_forecaster_search(tmp_path, y)
    assert search.best_estimator_.min_history == 10  # lookback 9 + 1 lost to differencing
    example = model.input_example
    np.testing.assert_array_equal(np.ravel(example), y[-10:])
    np.testing.assert_allclose(np.ravel(model.predict(np.asarray(example))),
                               np.ravel(search.predict(y_history=y[-10:])), rtol=1e-6)


def test_tracked_exogenous_forecaster_search_logs_a_model_fed_targets_then_features(tmp_path):
    # Its example was once the target tail alone, which a forecaster fitted with X
    # refuses: logging failed and was reported as the MLflow store failing.
    import mlflow
    from seqtune.tracking import pack_history
    from seqtune.tracking._serving import serve_predict

    t = np.arange(80.0)
    y, X = np.sin(t / 4), np.column_stack([np.cos(t / 4), t / 80])
    search, model = _tracked_forecaster_search(tmp_path, y, X)
    example = np.asarray(model.input_example)
    np.testing.assert_array_equal(example, np.column_stack([y[-10:], X[-10:]]))
    np.testing.assert_array_equal(example, pack_history(y[-10:], X[-10:]))
    expected = search.predict(y_history=y[-10:], X=X[-10:])
    np.testing.assert_allclose(np.ravel(model.predict(example)), np.ravel(expected), rtol=1e-6)
    # The signature refuses the target column alone; so does the wrapper behind it.
    with pytest.raises(mlflow.exceptions.MlflowException, match=r"expected shape \(-1, 3\)"):
        model.predict(y[-10:, None])
    with pytest.raises(ValueError, match=r"shape \(n_timesteps, 3\).*Got shape \(10, 1\)"):
        serve_predict(search.best_estimator_, y[-10:, None])


def test_tracked_search_on_variable_length_sequences_logs_a_model_fed_nan_padded_input(tmp_path):
    # numpy cannot make one array of sequences of different lengths, so such a search's
    # best model was never logged (and the warning blamed the store).
    import mlflow
    from seqtune.tracking import TrackingWarning, pack_sequences

    rng = np.random.default_rng(0)
    X = [rng.normal(size=(int(n), 2)).astype("float32") for n in rng.integers(4, 12, size=30)]
    y = np.array([int(x[:, 0].mean() > 0) for x in X])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    search = _search(tmp_path, space=TINY, max_trials=1)
    search.set_params(tracking=True, tracking_uri=uri, experiment_name="ragged")
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrackingWarning)
        search.fit(X, y)
    assert search.best_model_uri_ is not None
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        model = mlflow.pyfunc.load_model(search.best_model_uri_)
    example = np.asarray(model.input_example)
    lengths = [len(x) for x in X[:5]]
    assert example.shape == (5, max(lengths), 2)
    assert [int((~np.isnan(e).all(axis=1)).sum()) for e in example] == lengths
    packed = pack_sequences(X[:8])
    np.testing.assert_array_equal(model.predict(packed), search.predict(X[:8]))


def test_search_is_a_plain_sklearn_meta_estimator(tmp_path):
    from sklearn.base import clone

    search = _search(tmp_path, SequenceClassifier(units=4), max_trials=5)
    params = search.get_params()
    assert params["max_trials"] == 5 and params["estimator__units"] == 4
    copy = clone(search)
    assert copy.get_params()["estimator__units"] == 4 and copy.estimator is not search.estimator
    copy.set_params(estimator__units=8, tuner="hyperband")
    assert copy.estimator.units == 8 and copy.tuner == "hyperband"
    assert not hasattr(copy, "results_")


def test_consecutive_failures_stop_the_search_with_a_warning(tmp_path, clf_data):
    X, y = clf_data
    space = {**TINY, "dropout": [1.5, 2.0, 3.0, 4.0]}  # every value is invalid
    search = _search(tmp_path, space=space, max_trials=4, max_consecutive_failures=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="No trial .* completed .*2 trials recorded"):
            search.fit(X, y)
    stopped = [w for w in caught if "2 failed trials in a row" in str(w.message)]
    assert len(stopped) == 1 and "dropout" in str(stopped[0].message)


def test_sequence_length_is_capped_at_the_strided_length(tmp_path):
    """stride=3 over 12 steps leaves 4: a searched sequence_length of 12 would be padding."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 12, 1))
    y = np.arange(30) % 2
    space = {"stride": 3, "sequence_length": 12, "units": 4, "epochs": 1}
    search = SequenceSearch(SequenceClassifier(random_state=0), space=space, tuner="random",
                            max_trials=1, directory=tmp_path, overwrite=True, tracking=False,
                            refit=False, verbose=0, random_state=0).fit(X, y)
    assert search.results_["sequence_length"].tolist() == [4]
    assert search.records_[0]["params"]["sequence_length"] == 4


def test_random_state_zero_makes_the_search_reproducible(tmp_path, clf_data):
    """Keras Tuner reads seed=0 as "no seed"; random_state=0 must still pin the trials."""
    X, y = clf_data
    space = {**TINY, "units": [2, 3, 4, 5, 6, 7, 8], "learning_rate": [0.01, 0.003, 0.001]}
    runs = [
        _search(tmp_path / str(i), space=space, max_trials=3, refit=False)  # random_state=0
        .fit(X, y).results_[["units", "learning_rate"]].to_dict("records")
        for i in range(2)
    ]
    assert runs[0] == runs[1]


def test_history_objective_scores_the_weights_the_trial_kept(tmp_path, clf_data):
    """Without early stopping the last epoch's weights are kept, so its loss counts."""
    X, y = clf_data
    space = {"units": 4, "epochs": 3, "batch_size": 16, "early_stopping": False,
             "learning_rate": 0.05}
    search = _search(tmp_path, space=space, max_trials=1, objective="loss",
                     refit=False).fit(X, y)
    record = search.records_[0]
    assert record["score"] == pytest.approx(record["history"]["loss"][-1])
    assert record["folds"][0]["best_epoch"] == 2


def test_bool_choices_reach_the_estimator_as_bools(tmp_path, clf_data):
    X, y = clf_data
    search = _search(tmp_path, space={**TINY, "bidirectional": [False, True]}, max_trials=2,
                     refit=False).fit(X, y)
    assert (search.results_["status"] == "completed").all()
    assert {type(v) for v in search.results_["bidirectional"]} <= {bool, np.bool_}


def test_search_accepts_a_list_of_variable_length_sequences(tmp_path):
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(rng.randint(5, 12), 1)) for _ in range(30)]
    y = np.arange(30) % 2
    search = _search(tmp_path, max_trials=1, refit=False).fit(X, y)
    assert search.results_["status"].tolist() == ["completed"]


def test_a_tracked_search_runs_one_logging_thread_and_leaves_none(tmp_path, clf_data):
    import threading

    X, y = clf_data
    seen = []
    # Another test's tracker may still be draining in this process: count only this search's.
    before = set(threading.enumerate())

    def ours():
        return sorted(t.name for t in threading.enumerate()
                      if t.name.startswith("seqtune") and t not in before)

    search = _search(tmp_path, max_trials=2).set_params(
        tracking=True, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment_name="threads")
    search.fit(X, y, trial_callback=lambda event: seen.append(ours()))
    assert len(seen) == 4  # two trials, begin and end
    for names in seen:
        assert len(names) == 1 and names[0].startswith("seqtune-mlflow-"), names
    assert not ours()


def test_a_dead_tracking_store_gives_one_warning_and_loses_no_trial(tmp_path, clf_data):
    from _tracking_helpers import free_port

    from seqtune.tracking import TrackingWarning

    X, y = clf_data
    port = free_port()  # nothing listens there
    search = _search(tmp_path, max_trials=2).set_params(
        tracking=True, tracking_uri=f"http://127.0.0.1:{port}", experiment_name="dead")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    tracking = [w for w in caught if issubclass(w.category, TrackingWarning)]
    assert len(tracking) == 1 and f"127.0.0.1:{port}" in str(tracking[0].message)
    assert search.best_model_uri_ is None
    assert list(search.results_["status"]) == ["completed", "completed"]
    assert len(read_trial_records(search.project_dir_)) == 2  # on disk for `seqtune sync`
