"""Intensification: the best configurations scored again with fresh weight seeds before the pick."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seqtune import SequenceClassifier, SequenceForecaster, SequenceSearch
from seqtune.search._intensify import Intensifier, rescore_seed, resolve_intensify

TINY = {"units": 4, "epochs": 2, "batch_size": 16, "patience": 1}


def _search(tmp_path, estimator=None, **kwargs):
    kwargs.setdefault("space", {**TINY, "learning_rate": [0.01, 0.003, 0.03]})
    kwargs.setdefault("max_trials", 3)
    kwargs.setdefault("cv", 3)
    kwargs.setdefault("intensify", 2)
    kwargs.setdefault("tracking", False)
    return SequenceSearch(estimator if estimator is not None else SequenceClassifier(random_state=3),
                          tuner="random", directory=tmp_path / "search", random_state=0,
                          verbose=0, pruning=False, **kwargs)


def _fits(monkeypatch, cls=SequenceClassifier):
    calls = []
    fit = cls.fit

    def counting(self, *args, **kwargs):
        calls.append(self.get_params()["random_state"])
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(cls, "fit", counting)
    return calls


def test_the_best_is_rescored_with_fresh_seeds_and_ranked_by_the_mean(tmp_path, clf36):
    X, y = clf36
    search = _search(tmp_path, refit=False).fit(X, y)
    rescored = [r for r in search.records_ if r.get("seeds")]
    assert 1 <= len(rescored) <= 2
    for record in rescored:
        seeds = record["seeds"]
        assert [s["random_state"] for s in seeds] == [3, 1003, 2003]
        assert [s["trial_id"] for s in seeds] == [record["trial_id"], f"{record['trial_id']}.seed1",
                                                 f"{record['trial_id']}.seed2"]
        assert seeds[0]["score"] == pytest.approx(np.mean([f["score"] for f in record["folds"]]))
        assert record["score"] == pytest.approx(np.mean([s["score"] for s in seeds]))
        assert record["seed_std"] == pytest.approx(np.std([s["score"] for s in seeds]))
        for j in (1, 2):  # each re-run is a record of its own, below its trial
            path = Path(search.project_dir_) / f"trial_{record['trial_id']}" / f"seed_{j}" / "seqtune_record.json"
            run = json.loads(path.read_text())
            assert run["trial_id"] == f"{record['trial_id']}.seed{j}"
            assert run["params"]["random_state"] == 1000 * j + 3
            assert run["tags"]["rescore_of"] == record["trial_id"]
            assert run["status"] == "COMPLETED" and len(run["folds"]) == 3
            assert run["score"] == pytest.approx(seeds[j]["score"])
    # Only the trials are trials: the re-runs are not rows of results_.
    assert list(search.results_["trial_id"]) == ["0", "1", "2"]
    by_id = search.results_.set_index("trial_id")
    assert {r["trial_id"]: 3 for r in rescored} == {t: n for t, n in by_id["n_seeds"].items() if n > 1}
    # The pick's score (a mean when re-scored) beats every other trial's; it is re-scored
    # unless both re-scored configurations fell below a third.
    best = next(r for r in search.records_ if r["trial_id"] == search.best_trial_id_)
    assert best.get("seeds") or len(rescored) == 2
    assert search.best_score_ == pytest.approx(best["score"])
    assert search.best_score_ >= by_id["score"].max() - 1e-12


def test_a_rerun_scores_what_a_search_with_that_seed_scores(tmp_path, clf36):
    X, y = clf36
    search = _search(tmp_path / "a", refit=False, intensify=1, intensify_seeds=1).fit(X, y)
    best = next(r for r in search.records_ if r.get("seeds"))
    alone = SequenceSearch(SequenceClassifier(random_state=1003), space=dict(best["params"]),
                           tuner="random",
                           max_trials=1, cv=3, directory=tmp_path / "b", tracking=False,
                           random_state=0, verbose=0, refit=False).fit(X, y)
    assert alone.best_score_ == pytest.approx(best["seeds"][1]["score"])


def test_a_resumed_search_trains_no_finished_rerun_again(tmp_path, clf36, monkeypatch):
    X, y = clf36
    first = _search(tmp_path, refit=False).fit(X, y)
    calls = _fits(monkeypatch)
    again = _search(tmp_path, refit=False).fit(X, y)
    assert calls == []
    assert again.best_trial_id_ == first.best_trial_id_
    assert again.best_score_ == pytest.approx(first.best_score_)


def test_a_rerun_cut_by_the_budget_is_not_averaged_and_goes_on_from_its_cut_fold(
        tmp_path, clf36, monkeypatch):
    X, y = clf36
    search = _search(tmp_path, refit=False, intensify=1, intensify_seeds=1).fit(X, y)
    trial_id = next(r for r in search.records_ if r.get("seeds"))["trial_id"]
    trial_dir = Path(search.project_dir_) / f"trial_{trial_id}"
    # What a budget that ran out in the re-run's last fold leaves on disk.
    run = json.loads((trial_dir / "seed_1" / "seqtune_record.json").read_text())
    run["folds"][-1]["cut"] = True
    run.update(status="PRUNED", stopped_by="budget")
    (trial_dir / "seed_1" / "seqtune_record.json").write_text(json.dumps(run))
    record = json.loads((trial_dir / "seqtune_record.json").read_text())
    record["seeds"][1].update(status="PRUNED")
    record["score"] = record["seeds"][0]["score"]
    (trial_dir / "seqtune_record.json").write_text(json.dumps(record))

    calls = _fits(monkeypatch)
    resumed = _search(tmp_path, refit=False, intensify=1, intensify_seeds=1).fit(X, y)
    assert calls == [1003]  # only the cut fold trains again, with the re-run's seed
    best = next(r for r in resumed.records_ if r["trial_id"] == trial_id)
    assert best["seeds"][1]["status"] == "COMPLETED"
    assert best["score"] == pytest.approx(np.mean([s["score"] for s in best["seeds"]]))
    run = json.loads((trial_dir / "seed_1" / "seqtune_record.json").read_text())
    assert len(run["folds"]) == 3 and not any(f["cut"] for f in run["folds"])


def test_the_reserve_is_what_rescoring_the_best_complete_trials_takes_up_to_a_quarter_of_the_budget(clf36):
    from seqtune.search._task import make_folds
    from seqtune.search._runner import TrialContext
    import keras_tuner as kt

    X, y = clf36
    folds = make_folds("classification", X, y, cv=3, fraction=0.2, random_state=0, horizon=1)
    context = TrialContext(estimator=SequenceClassifier(), task="classification", space=None,
                           objective=kt.Objective("score", "max"), folds=folds, n_samples=36)
    intensifier = Intensifier(context, Path("unused"), n_configs=2, n_seeds=3)

    def record(trial_id, score, duration, n_folds=3):
        return {"trial_id": trial_id, "number": int(trial_id), "status": "COMPLETED",
                "score": score, "duration_s": duration, "n_folds": 3,
                "folds": [{"score": score, "cut": False}] * n_folds}

    assert intensifier.reserve() == 0.0  # nothing measured yet
    intensifier.observe([record("0", 0.5, 10.0), record("1", 0.9, 4.0), record("2", 0.7, 6.0),
                         record("3", 0.95, 100.0, n_folds=1)])  # 3 stopped after one fold
    assert intensifier.reserve() == pytest.approx(3 * (4.0 + 6.0))
    # With a time budget, at most a quarter of it is kept back, however slow the trials.
    budgeted = Intensifier(context, Path("unused"), n_configs=2, n_seeds=3, time_budget=100.0)
    budgeted.observe([record("0", 0.5, 10.0), record("1", 0.9, 4.0)])
    assert budgeted.reserve() == pytest.approx(25.0)  # not 3 * (10 + 4) = 42
    budgeted.observe([record("1", 0.9, 4.0), record("2", 0.7, 2.0)])
    assert budgeted.reserve() == pytest.approx(3 * (4.0 + 2.0))  # under the cap: all of it
    off = Intensifier(context, Path("unused"), n_configs=0, n_seeds=3)
    off.observe([record("0", 0.5, 10.0)])
    assert off.reserve() == 0.0


def test_no_trial_starts_once_the_time_left_is_the_reserve(tmp_path, clf36, monkeypatch):
    X, y = clf36
    budgets = []

    def reserve(self):
        budgets.append(self.time_budget)  # what the cap is a share of
        # As if re-scoring the best trial so far would take the whole budget.
        return 3600.0 if self._reserve else 0.0

    monkeypatch.setattr(Intensifier, "reserve", reserve)
    search = _search(tmp_path, refit=False, max_trials=3, time_budget=3600, intensify=1,
                     intensify_seeds=1).fit(X, y)
    assert budgets and set(budgets) == {3600}
    assert search.n_trials_ == 1
    assert [s["status"] for s in search.records_[0]["seeds"]] == ["COMPLETED", "COMPLETED"]


def test_reruns_are_tracked_as_child_runs_and_the_forecaster_refits_the_pick(tmp_path):
    class Recorder:
        def __init__(self):
            self.trials, self.end = [], None

        def start_search(self, state_dir, **kwargs):
            self.params = kwargs["params"]

        def log_trial(self, record):
            self.trials.append(record)

        def end_search(self, **kwargs):
            self.end = kwargs

        def log_best_model(self, estimator, X_example):
            return "models:/m-1"

        def sync(self, state_dir, records):
            return 0

    y = np.sin(np.arange(120.0) / 4) + 0.01 * np.arange(120.0)
    tracker = Recorder()
    search = _search(tmp_path, SequenceForecaster(horizon=6, random_state=5),
                     space={"units": 4, "epochs": 2, "lookback": [4, 8]}, max_trials=2,
                     intensify=2, intensify_seeds=1, ensemble="auto",
                     tracking=tracker).fit(y)
    best = next(r for r in search.records_ if r["trial_id"] == search.best_trial_id_)
    # With as many configurations allowed as there are trials, the pick is always re-scored.
    assert tracker.params["intensify"] == 2 and tracker.params["intensify_seeds"] == 1
    # "auto" is logged as what it resolved to (a forecaster keeps one configuration).
    assert tracker.params["ensemble"] == 1 and tracker.params["final_model"] == "refit_seeds"
    reruns = [r for r in tracker.trials if r["tags"].get("rescore_of")]
    assert [r["trial_id"] for r in reruns] == [f"{r['tags']['rescore_of']}.seed1" for r in reruns]
    assert all(r["params"]["random_state"] == 1005 for r in reruns)
    # Each re-scored trial is sent again with its seeds, so its run can show the mean.
    again = {r["trial_id"]: r for r in tracker.trials if r.get("seeds")}
    assert sorted(again) == sorted(r["tags"]["rescore_of"] for r in reruns)
    assert again[search.best_trial_id_]["score"] == pytest.approx(search.best_score_)
    assert tracker.end["best_score"] == pytest.approx(search.best_score_)
    assert best.get("seeds") and search.best_score_ == pytest.approx(best["score"])
    # One refit per seed the pick was ranked on: its own and the fresh one.
    assert search.final_model_["kind"] == "refit_seeds" and search.final_model_["n_models"] == 2
    assert np.shape(search.predict()) == (6,)


@pytest.mark.parametrize(("first", "j", "expected"),
                         [(0, 1, 1000), (7, 2, 2007), (None, 1, None), (np.int64(3), 1, 1003)])
def test_rescore_seeds_are_offsets_of_the_first(first, j, expected):
    assert rescore_seed(first, j) == expected


@pytest.mark.parametrize(("intensify", "task", "n_folds", "expected"), [
    ("auto", "forecasting", 2, 3), ("auto", "forecasting", 1, 0), ("auto", "classification", 5, 0),
    ("auto", "regression", 5, 0), (0, "forecasting", 3, 0), (2, "classification", 5, 2)])
def test_auto_intensify_rescores_three_configurations_of_cross_validated_forecasters(
        intensify, task, n_folds, expected):
    assert resolve_intensify(intensify, task, n_folds) == expected


def test_a_default_forecasting_search_rescores_its_pick(tmp_path):
    y = np.sin(np.arange(120.0) / 4) + 0.01 * np.arange(120.0)
    search = SequenceSearch(SequenceForecaster(horizon=6, random_state=5),
                            space={"units": 4, "epochs": 2, "lookback": [4, 8]}, tuner="random",
                            max_trials=2, cv=2, directory=tmp_path / "search", tracking=False,
                            random_state=0, verbose=0, pruning=False).fit(y)
    assert search.intensify == "auto"
    best = next(r for r in search.records_ if r["trial_id"] == search.best_trial_id_)
    # Two fresh seeds beside the trial's own, and the score is their mean.
    assert [s["random_state"] for s in best["seeds"]] == [5, 1005, 2005]
    assert search.best_score_ == pytest.approx(np.mean([s["score"] for s in best["seeds"]]))


def test_a_bad_intensify_names_the_value_and_the_choices(tmp_path, clf36):
    X, y = clf36
    with pytest.raises(ValueError, match=r"intensify.*'three'"):
        _search(tmp_path, intensify="three").fit(X, y)


def _forecasting_search(tmp_path, **kwargs):
    y = np.sin(np.arange(120.0) / 4) + 0.01 * np.arange(120.0)
    search = SequenceSearch(SequenceForecaster(horizon=6, random_state=5),
                            space={"units": 4, "epochs": 3, "lookback": [4, 8]}, tuner="random",
                            max_trials=2, cv=2, directory=tmp_path / "search", tracking=False,
                            random_state=0, verbose=0, pruning=False, **kwargs)
    return search, y


def test_refit_seeds_averages_one_checked_refit_per_seed_the_pick_was_ranked_on(tmp_path):
    import pickle

    from seqtune.ensemble import SequenceEnsembleForecaster

    search, y = _forecasting_search(tmp_path, final_model="refit_seeds")
    search.fit(y)
    final = search.best_estimator_
    assert isinstance(final, SequenceEnsembleForecaster)
    assert search.final_model_["kind"] == "refit_seeds" and search.final_model_["n_models"] == 3
    assert [s["random_state"] for s in search.final_model_["seeds"]] == [5, 1005, 2005]
    assert all(s["verified"] and s["kind"] == "refit" for s in search.final_model_["seeds"])
    members = final.estimators
    assert [m.random_state for m in members] == [5, 1005, 2005]
    # Each member trains for the epochs the folds kept, without early stopping.
    assert {m.epochs for m in members} == {search.final_model_["epochs"]}
    forecasts = np.array([m.predict() for m in members])
    np.testing.assert_allclose(final.predict(), forecasts.mean(axis=0), rtol=1e-5)
    assert not np.allclose(forecasts[0], forecasts[1])  # three seeds, three models
    # Its first member is the plain refit of the same trials (resumed: no trial reruns).
    plain = clone_search(search, final_model="refit").fit(y)
    assert plain.final_model_["kind"] == "refit"
    np.testing.assert_allclose(plain.best_estimator_.predict(), forecasts[0], rtol=1e-5)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(final)).predict(), final.predict())


def test_refit_seeds_refits_a_configuration_scored_on_one_seed_once(tmp_path):
    search, y = _forecasting_search(tmp_path, final_model="refit_seeds", intensify=0)
    search.fit(y)
    assert search.final_model_["kind"] == "refit" and search.final_model_["n_models"] == 1
    assert search.best_estimator_.random_state == 5


def clone_search(search, **params):
    from sklearn.base import clone

    return clone(search).set_params(overwrite=False, max_trials=len(search.records_), **params)
