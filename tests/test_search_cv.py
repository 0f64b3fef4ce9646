"""Cross-validated trial scores, pruning, fold-level resume, and the search's final model."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import KFold

from seqtune import SequenceClassifier, SequenceForecaster, SequenceSearch
from seqtune.ensemble import SequenceEnsembleClassifier

TINY = {"units": 4, "epochs": 2, "batch_size": 16, "patience": 1}


def _search(tmp_path, estimator=None, **kwargs):
    kwargs.setdefault("space", {**TINY, "learning_rate": [0.01, 0.003]})
    kwargs.setdefault("max_trials", 2)
    kwargs.setdefault("cv", 3)
    return SequenceSearch(estimator if estimator is not None else SequenceClassifier(),
                          tuner="random", directory=tmp_path / "search", tracking=False,
                          random_state=0, verbose=0, **kwargs)


def test_k_fold_scores_are_recorded_per_fold_and_averaged(tmp_path, clf36):
    X, y = clf36
    search = _search(tmp_path, refit=False, pruning=False).fit(X, y)
    assert search.n_folds_ == 3
    results = search.results_
    assert {"std_score", "split0_score", "split1_score", "split2_score"} <= set(results.columns)
    for _, row in results.iterrows():
        splits = row[["split0_score", "split1_score", "split2_score"]].to_numpy(float)
        assert row["score"] == pytest.approx(splits.mean())
        assert row["std_score"] == pytest.approx(splits.std())
    for record in search.records_:
        folds = record["folds"]
        assert [f["n_train"] + f["n_test"] for f in folds] == [36, 36, 36]
        assert sum(f["n_test"] for f in folds) == 36  # every sample scored exactly once
        assert all(0 <= f["best_epoch"] < f["epochs_run"] for f in folds)
        oof = np.load(Path(search.project_dir_) / f"trial_{record['trial_id']}" / "seqtune_oof.npy")
        assert oof.shape == (36, 2) and np.isfinite(oof).all()
        np.testing.assert_allclose(oof.sum(axis=1), 1.0, rtol=1e-5)


def test_a_splitter_or_index_pairs_are_used_as_given(tmp_path, clf36):
    X, y = clf36
    pairs = [(np.arange(12, 36), np.arange(12)), (np.arange(24), np.arange(24, 36))]
    by_pairs = _search(tmp_path / "a", cv=pairs, max_trials=1, refit=False).fit(X, y)
    assert [f["n_test"] for f in by_pairs.records_[0]["folds"]] == [12, 12]
    by_splitter = _search(tmp_path / "b", cv=KFold(4), max_trials=1, refit=False).fit(X, y)
    assert by_splitter.n_folds_ == 4


def test_forecaster_folds_are_expanding_window_origins(tmp_path):
    y = np.sin(np.arange(120.0) / 4) + 0.01 * np.arange(120.0)
    space = {"units": 4, "epochs": 1, "lookback": [4, 8]}
    search = _search(tmp_path, SequenceForecaster(horizon=6), space=space, cv=3).fit(y)
    # The last 3 * ceil(0.2 * 120 / 3) = 24 forecast origins (91..114; 114 + 6 ends the
    # series), 8 per fold: each fold trains on everything before its first origin and is
    # scored on its 8 rolling 6-step forecasts, a span of 8 + 6 - 1 = 13 steps.
    folds = search.records_[0]["folds"]
    assert [(f["n_train"], f["n_test"]) for f in folds] == [(91, 13), (99, 13), (107, 13)]
    forecasts = np.load(Path(search.project_dir_) / f"trial_{search.records_[0]['trial_id']}"
                        / "seqtune_oof_forecasts.npz")
    for i, first in enumerate((91, 99, 107)):
        assert forecasts[f"y_pred{i}"].shape == (8 * 6, 1)
        np.testing.assert_allclose(forecasts[f"y_true{i}"][:, 0], np.concatenate(
            [y[o : o + 6] for o in range(first, first + 8)]))
    assert set(folds[0]["metrics"]) == {"mae", "rmse", "smape", "mase"}
    # Forecasters refit on the whole series, once per seed their pick was re-scored with.
    assert search.final_model_["kind"] == "refit_seeds" and search.final_model_["n_models"] == 3
    assert np.shape(search.predict()) == (6,)


def test_forecaster_folds_need_a_series_longer_than_their_origins():
    from seqtune.search._task import make_folds, resolve_cv

    y = np.arange(28.0)
    with pytest.raises(ValueError, match=r"cv=5 cannot split a series of 28 steps with "
                                         r"horizon=24: 5 folds need more than 28 steps"):
        make_folds("forecasting", y, None, cv=5, fraction=0.2, random_state=0, horizon=24)
    # "auto" keeps every fold's training part at least half the series, else one holdout.
    assert resolve_cv("auto", "forecasting", 120, horizon=24) == 3
    assert resolve_cv("auto", "forecasting", 40, horizon=24) is None


def test_forecasters_rank_by_mae_or_the_objective_asked_and_resume_only_under_it(tmp_path):
    t = np.arange(120.0)
    # Two series a hundred times apart in scale: MASE weighs them alike, MAE by the wide one.
    y = np.column_stack([np.sin(t / 4), 100 * np.cos(t / 5)])
    space = {"units": 4, "epochs": 1, "lookback": [4, 8]}
    default = _search(tmp_path / "mae", SequenceForecaster(horizon=2), space=space, cv=2,
                      intensify=0).fit(y)
    assert default.objective_ == {"name": "mae", "direction": "min"}
    search = _search(tmp_path / "mase", SequenceForecaster(horizon=2), space=space, cv=2,
                     intensify=0, objective="mase").fit(y)
    assert search.objective_ == {"name": "mase", "direction": "min"}
    for record in search.records_:
        assert record["score"] == pytest.approx(np.mean([f["metrics"]["mase"] for f in record["folds"]]))
    # A search ranked by another objective is not resumed under this one.
    with pytest.raises(ValueError, match=r"ranked by 'mase', not 'mae'.*objective='mase'"):
        _search(tmp_path / "mase", SequenceForecaster(horizon=2), space=space, cv=2,
                intensify=0).fit(y)


def test_auto_cross_validates_small_data_and_holds_out_on_large(tmp_path):
    rng = np.random.default_rng(1)
    small = _search(tmp_path / "small", cv="auto", max_trials=1, refit=False,
                    space={**TINY, "epochs": 1})
    X = rng.normal(size=(30, 4, 1)).astype("float32")
    assert small.fit(X, np.arange(30) % 2).n_folds_ == 5
    large = _search(tmp_path / "large", cv="auto", max_trials=1, refit=False,
                    space={**TINY, "epochs": 1, "batch_size": 256})
    X = rng.normal(size=(1000, 4, 1)).astype("float32")
    assert large.fit(X, np.arange(1000) % 2).n_folds_ == 1


@pytest.mark.parametrize(("estimator", "cv", "match"), [
    (SequenceClassifier(), 1, r"cv=1 is invalid: a number of folds must be >= 2"),
    (SequenceClassifier(), "atuo", r"cv='atuo' is invalid.*Did you mean 'auto'"),
    (SequenceClassifier(), True, r"cv=True is invalid"),
    (SequenceForecaster(horizon=2), KFold(3), r"does not train on the start of the series"),
])
def test_bad_cv_names_the_value_and_what_is_expected(tmp_path, clf36, estimator, cv, match):
    X, y = clf36
    args = (np.sin(np.arange(60.0)),) if isinstance(estimator, SequenceForecaster) else (X, y)
    with pytest.raises(ValueError, match=match):
        _search(tmp_path, estimator, cv=cv, space={"units": 4, "epochs": 1}).fit(*args)


def test_a_clearly_worse_trial_is_pruned_after_its_first_folds(tmp_path, clf36):
    X, y = clf36
    # random_state=3 draws the good learning rate first; 1e-9 then hardly learns.
    space = {**TINY, "epochs": 30, "patience": 30, "learning_rate": [0.05, 1e-9]}
    search = _search(tmp_path, space=space, cv=4, refit=False).set_params(random_state=3).fit(X, y)
    assert search.records_[0]["params"]["learning_rate"] == 0.05
    good, bad = sorted(search.records_, key=lambda r: -r["params"]["learning_rate"])
    assert good["status"] == "COMPLETED" and len(good["folds"]) == 4
    assert bad["status"] == "PRUNED" and bad["stopped_by"] == "pruning"
    assert 1 <= len(bad["folds"]) < 4
    assert search.best_trial_id_ == good["trial_id"]
    assert search.results_.set_index("trial_id").loc[bad["trial_id"], "split3_score"] != \
        search.results_.set_index("trial_id").loc[bad["trial_id"], "split3_score"]  # NaN


def test_a_trial_killed_mid_way_resumes_at_its_next_fold(tmp_path, clf36, monkeypatch):
    X, y = clf36
    calls = {"n": 0}
    real_fit = SequenceClassifier.fit

    def fit_then_interrupt(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the third fold of the first trial
            raise KeyboardInterrupt
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(SequenceClassifier, "fit", fit_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path, max_trials=1, pruning=False).fit(X, y)
    project = next((tmp_path / "search").iterdir())
    before = json.loads((project / "trial_0" / "seqtune_record.json").read_text())
    assert before["status"] == "RUNNING" and len(before["folds"]) == 2

    calls["n"] = -10**6  # no more interruptions; count the fits of the rerun
    search = _search(tmp_path, max_trials=1, pruning=False).fit(X, y)
    record = search.records_[0]
    assert record["status"] == "COMPLETED" and len(record["folds"]) == 3
    assert record["folds"][:2] == before["folds"]  # the finished folds were not trained again
    assert calls["n"] == -10**6 + 1  # one fold fit; the bagged final model needs no refit
    assert isinstance(search.best_estimator_, SequenceEnsembleClassifier)


def test_bagged_final_model_averages_the_fold_models_and_pickles(tmp_path, clf36):
    X, y = clf36
    search = _search(tmp_path, final_model="bag", ensemble=1).fit(X, y)
    assert search.final_model_ == {"kind": "bag", "n_models": 3}
    bag = search.best_estimator_
    assert isinstance(bag, SequenceEnsembleClassifier) and len(bag.estimators) == 3
    expected = np.mean([m.predict_proba(X) for m in bag.estimators], axis=0)
    np.testing.assert_allclose(search.predict_proba(X), expected, rtol=1e-6)
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_allclose(restored.predict_proba(X), expected, rtol=1e-6)
    assert search.score(X, y) == pytest.approx(np.mean(search.predict(X) == y))


def test_refit_trains_for_the_epochs_the_folds_kept(tmp_path, clf36):
    X, y = clf36
    space = {**TINY, "epochs": 8, "patience": 2, "learning_rate": [0.05]}
    search = _search(tmp_path, space=space, final_model="refit", max_trials=1).fit(X, y)
    folds = search.records_[0]["folds"]
    epochs = int(round(np.median([f["best_epoch"] + 1 for f in folds])))
    info = search.final_model_
    assert info["kind"] == "refit" and info["epochs"] == epochs and info["verified"]
    refit = search.best_estimator_
    assert isinstance(refit, SequenceClassifier)
    assert refit.n_epochs_ == epochs and refit.early_stopping is False


def test_a_refit_that_does_not_train_is_retried_then_replaced_by_the_fold_models(
        tmp_path, clf36, monkeypatch):
    X, y = clf36
    real_fit = SequenceClassifier.fit

    def stuck_when_refitted(self, X_fit, y_fit, *args, **kwargs):
        if len(X_fit) == len(X):  # only the refit sees all the data
            self.set_params(learning_rate=1e-12)
        return real_fit(self, X_fit, y_fit, *args, **kwargs)

    monkeypatch.setattr(SequenceClassifier, "fit", stuck_when_refitted)
    space = {**TINY, "epochs": 25, "patience": 25, "learning_rate": [0.05]}
    with pytest.warns(UserWarning, match=r"did not train.*after 3 seeds.*fold models are used"):
        search = _search(tmp_path, space=space, final_model="refit", max_trials=1).fit(X, y)
    info = search.final_model_
    assert info["kind"] == "bag" and info["fallback"] == "refit failed"
    assert len(info["attempts"]) == 3 and min(info["attempts"]) > 2 * max(info["fold_train_loss"])
    assert isinstance(search.best_estimator_, SequenceEnsembleClassifier)


def test_ensemble_of_configurations_is_a_weighted_average(tmp_path, clf36, monkeypatch):
    from seqtune.search import _final

    def best_twice_and_the_runner_up(predictions, loss, size):
        # The selection has its own test below; here its answer must become the model.
        assert len(predictions) == 3 and size == 3
        return np.array([2, 1, 0])

    monkeypatch.setattr(_final, "greedy_selection", best_twice_and_the_runner_up)
    X, y = clf36
    space = {**TINY, "units": [2, 4, 6], "learning_rate": [0.05, 0.01]}
    search = _search(tmp_path, space=space, max_trials=3, ensemble=3, pruning=False).fit(X, y)
    info = search.final_model_
    assert info["kind"] == "ensemble"
    weights = [m["weight"] for m in info["members"]]
    assert weights == pytest.approx([2 / 3, 1 / 3])
    ids = [m["trial_id"] for m in info["members"]]
    assert ids[0] == search.best_trial_id_ and len(set(ids)) == 2
    members = search.best_estimator_.estimators
    expected = sum(w * m.predict_proba(X) for w, m in zip(weights, members))
    np.testing.assert_allclose(search.predict_proba(X), expected, rtol=1e-6)


def test_greedy_selection_adds_a_candidate_only_while_it_lowers_the_loss():
    from seqtune.search._final import greedy_selection

    y = np.array([0.0, 1.0, 0.0, 1.0])
    # The first candidate errs high, the second as much low, the third is useless:
    # one of each of the first two blends to the truth; the third is never picked.
    library = [y[:, None] + 0.5, y[:, None] - 0.5, np.full((4, 1), 5.0)]

    def mse(pred):
        return float(np.mean((pred[:, 0] - y) ** 2))

    np.testing.assert_array_equal(greedy_selection(library, mse, size=3), [1, 1, 0])
    np.testing.assert_array_equal(greedy_selection(library, mse, size=1), [1, 0, 0])
    # A perfect first candidate stays alone; the library is not modified.
    perfect = [y[:, None], y[:, None] + 1.0]
    np.testing.assert_array_equal(greedy_selection(perfect, mse, size=3), [1, 0])
    np.testing.assert_array_equal(perfect[0][:, 0], y)


@pytest.mark.parametrize(("ensemble", "task", "n_folds", "expected"), [
    ("auto", "classification", 5, 3), ("auto", "classification", 1, 1),
    ("auto", "regression", 5, 1), ("auto", "forecasting", 3, 1),
    (2, "classification", 1, 2), (1, "classification", 5, 1),
])
def test_ensemble_auto_averages_three_configurations_for_cross_validated_classifiers(
        ensemble, task, n_folds, expected):
    from seqtune.search._final import resolve_ensemble

    assert resolve_ensemble(ensemble, task, n_folds) == expected


def test_the_default_final_model_is_the_ensemble_of_three(tmp_path, clf36, monkeypatch):
    from seqtune.search import _final

    sizes = []
    real = _final.greedy_selection

    def spy(predictions, loss, size):
        sizes.append(size)
        return real(predictions, loss, size)

    monkeypatch.setattr(_final, "greedy_selection", spy)
    X, y = clf36
    space = {**TINY, "units": [2, 4, 6], "learning_rate": [0.05, 0.01]}
    default = _search(tmp_path, space=space, max_trials=4, pruning=False).fit(X, y)
    assert default.get_params()["ensemble"] == "auto"
    # The same finished trials (a resumed search trains none) with the final model spelled out.
    explicit = _search(tmp_path, space=space, max_trials=4, pruning=False, ensemble=3).fit(X, y)
    single = _search(tmp_path, space=space, max_trials=4, pruning=False, ensemble=1).fit(X, y)
    assert default.final_model_ == explicit.final_model_
    np.testing.assert_allclose(default.predict_proba(X), explicit.predict_proba(X), rtol=1e-6)
    assert single.final_model_ == {"kind": "bag", "n_models": 3}
    assert sizes[:2] == [3, 3]  # the default chose among up to 3 configurations, as ensemble=3


def test_forecasters_refuse_bagging(tmp_path):
    with pytest.raises(ValueError, match=r"not available for forecasters.*final_model='refit'"):
        _search(tmp_path, SequenceForecaster(), final_model="bag").fit(np.arange(50.0))


def test_fold_scores_reach_each_mlflow_child_run(tmp_path, clf36):
    from mlflow.tracking import MlflowClient

    X, y = clf36
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    search = _search(tmp_path, max_trials=1, refit=False).set_params(
        tracking=True, tracking_uri=uri, experiment_name="folds")
    search.fit(X, y)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("folds")
    child = next(r for r in client.search_runs([experiment.experiment_id])
                 if "mlflow.parentRunId" in r.data.tags)
    folds = client.get_metric_history(child.info.run_id, "fold_score")
    assert [m.step for m in sorted(folds, key=lambda m: m.step)] == [0, 1, 2]
    expected = [f["score"] for f in search.records_[0]["folds"]]
    assert [m.value for m in sorted(folds, key=lambda m: m.step)] == pytest.approx(expected)
    assert child.data.metrics["score_std"] == pytest.approx(np.std(expected))
    assert child.data.tags["n_folds"] == "3"


def test_the_budget_stops_a_trial_between_or_within_folds_and_complete_trials_rank_first(
        tmp_path, clf36):
    X, y = clf36
    space = {**TINY, "epochs": 400, "patience": 400, "learning_rate": [0.01, 0.005, 0.002]}
    search = _search(tmp_path, space=space, cv=3, max_trials=3, time_budget=4.0,
                     refit=False).fit(X, y)
    stopped = [r for r in search.records_ if r["stopped_by"] == "budget"]
    assert len(stopped) == 1 and stopped[0]["status"] == "PRUNED"
    assert stopped[0]["folds"][-1]["cut"] and len(stopped[0]["folds"]) <= 3
    row = search.results_.set_index("trial_id").loc[stopped[0]["trial_id"]]
    assert row["status"] == "pruned" and row["stopped_by"] == "budget"
    folds = stopped[0]["folds"]
    if len(folds) > 1:  # the cut fold is not in the score, so results_ does not show it
        cut = len(folds) - 1
        assert np.isnan(row[f"split{cut}_score"])
        assert row["score"] == pytest.approx(np.mean([f["score"] for f in folds[:-1]]))
    complete = [r for r in search.records_ if r["status"] == "COMPLETED"]
    if complete:
        assert search.best_trial_id_ in {r["trial_id"] for r in complete}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(search.best_score_)


def test_with_no_complete_trial_the_ensemble_falls_back_to_the_best_trial(tmp_path, clf36):
    from seqtune.search._final import build_final_model

    X, y = clf36
    search = _search(tmp_path, max_trials=1, pruning=False).fit(X, y)  # keeps fold models
    record = dict(search.records_[0])  # as the budget leaves it: its third fold was cut
    record["folds"] = [dict(f) for f in record["folds"]]
    record["folds"][-1]["cut"] = True
    model, info = build_final_model(
        strategy="bag", task="classification", estimator=SequenceClassifier(), best=record,
        records=[record], fit_args=(X, y), y=y, project_dir=Path(search.project_dir_),
        ensemble=3, direction="max")
    assert info["kind"] == "bag" and info["n_models"] == 3
    assert isinstance(model, SequenceEnsembleClassifier) and len(model.estimators) == 3
    assert model.predict(X[:5]).shape == (5,)


def test_a_bagged_final_model_is_logged_as_a_pyfunc_model_with_identical_predictions(
        tmp_path, clf36, monkeypatch):
    import mlflow

    X, y = clf36
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    search = _search(tmp_path, max_trials=1).set_params(
        tracking=True, tracking_uri=uri, experiment_name="bagged")
    search.fit(X, y)
    assert isinstance(search.best_estimator_, SequenceEnsembleClassifier)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    model = mlflow.pyfunc.load_model(search.best_model_uri_)
    np.testing.assert_array_equal(np.asarray(model.predict(X[:6])), search.predict(X[:6]))
