"""Forecaster ensembles: the weighted forecast, and a search that selects one on out-of-fold forecasts."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from seqtune import SequenceForecaster, SequenceSearch
from seqtune.ensemble import SequenceEnsembleForecaster
from seqtune.search._final import _select_forecasts
from seqtune.tracking._serving import serve_predict

SERIES = np.sin(np.arange(150.0) / 4) + 0.02 * np.arange(150.0)
TINY = {"units": 4, "epochs": 3, "batch_size": 16}


@pytest.fixture(scope="module")
def pair():
    a = SequenceForecaster(lookback=8, horizon=3, random_state=0, **TINY).fit(SERIES[:120])
    b = SequenceForecaster(lookback=12, horizon=3, cell="gru", random_state=1, **TINY).fit(SERIES[:120])
    return a, b


def test_rolling_forecasts_are_what_evaluate_scores(pair):
    a, _ = pair
    truth, pred, history = a.rolling_forecasts(SERIES[120:])
    # 30 held-out steps, horizon 3: origins 0..27, each forecasting 3 steps.
    assert truth.shape == pred.shape == (28 * 3, 1)
    np.testing.assert_allclose(truth[:4, 0], SERIES[[120, 121, 122, 121]])
    np.testing.assert_allclose(history[:, 0], SERIES[:120])
    np.testing.assert_allclose(pred[:3, 0], a.predict())
    assert a.evaluate(SERIES[120:])["mae"] == pytest.approx(np.mean(np.abs(pred - truth)))


def test_the_ensemble_forecast_is_the_weighted_mean_of_its_members(pair):
    a, b = pair
    ensemble = SequenceEnsembleForecaster([a, b], weights=[3, 1])
    np.testing.assert_allclose(ensemble.predict(), 0.75 * a.predict() + 0.25 * b.predict())
    history = SERIES[:110]
    np.testing.assert_allclose(ensemble.predict(history),
                               0.75 * a.predict(history) + 0.25 * b.predict(history))
    truth, pa, _ = a.rolling_forecasts(SERIES[120:])
    _, pb, _ = b.rolling_forecasts(SERIES[120:])
    expected = np.mean(np.abs(0.75 * pa + 0.25 * pb - truth))
    assert ensemble.evaluate(SERIES[120:])["mae"] == pytest.approx(expected)
    assert ensemble.score(SERIES[120:]) == pytest.approx(-expected)
    assert ensemble.min_history == 13  # the GRU's lookback 12 plus one difference
    assert (ensemble.horizon, ensemble.n_targets_, ensemble.n_exogenous_) == (3, 1, 0)
    np.testing.assert_allclose(serve_predict(ensemble, history), ensemble.predict(history))
    restored = pickle.loads(pickle.dumps(ensemble))
    np.testing.assert_allclose(restored.predict(), ensemble.predict())


def test_fit_refits_every_member_on_the_new_series(pair):
    ensemble = SequenceEnsembleForecaster(list(pair)).fit(SERIES[:100])
    assert [len(m.y_train_) for m in ensemble.estimators_] == [100, 100]
    assert [len(m.y_train_) for m in pair] == [120, 120]  # the members given stay as they were
    assert ensemble.predict().shape == (3,)


def test_members_must_share_the_horizon(pair):
    other = SequenceForecaster(lookback=8, horizon=2, random_state=0, **TINY).fit(SERIES[:120])
    with pytest.raises(ValueError, match=r"members' horizon differ \(\[3, 2\]\)"):
        SequenceEnsembleForecaster([pair[0], other]).predict()


def _library(preds, scale=1.0):
    """Candidates of two folds of 3 steps each, whose actuals are all 0."""
    library = []
    for name, value in preds.items():
        oof = {}
        for i in range(2):
            oof.update({f"y_true{i}": np.zeros((3, 1)), f"y_pred{i}": np.full((3, 1), value),
                        f"scale{i}": np.array([scale])})
        library.append(({"trial_id": name, "folds": [{}, {}]}, oof))
    return library


@pytest.mark.parametrize("objective", ["mae", "mase", "rmse", "val_loss"])
def test_forecast_selection_blends_candidates_whose_errors_cancel(objective):
    # "a" is the best alone (error 1). Adding "b" (-1.5) gives -0.25, a second "a" then
    # 1/6, and no third step lowers that; "c" (+2) only ever makes the blend worse.
    chosen = _select_forecasts(_library({"a": 1.0, "b": -1.5, "c": 2.0}, scale=2.0),
                               objective, size=3)
    weights = {record["trial_id"]: weight for record, weight in chosen}
    assert set(weights) == {"a", "b"}
    assert weights["a"] == pytest.approx(2 / 3) and weights["b"] == pytest.approx(1 / 3)


def test_forecast_selection_keeps_the_best_alone_when_nothing_helps():
    chosen = _select_forecasts(_library({"a": 1.0, "b": 2.0}), "mae", size=3)
    assert [(record["trial_id"], weight) for record, weight in chosen] == [("a", 1.0)]


def test_a_forecasting_search_averages_configurations_chosen_on_out_of_fold_forecasts(
        tmp_path, monkeypatch):
    import mlflow

    # Each lookback's fold forecasts are the actuals plus a fixed error, as in the selection
    # test above: lookback 4 is best alone, and blending in lookback 8 cancels its error.
    # Everything else (fit, storage, selection, the members' refit and predict) is real.
    offsets = {4: 1.0, 8: -1.5, 12: 2.0}

    def rolling_forecasts(self, y_val, X_val=None, *, y_history=None, X_history=None):
        truth, _, history = real(self, y_val, X_val, y_history=y_history, X_history=X_history)
        return truth, truth + offsets[self.lookback], history

    real = SequenceForecaster.rolling_forecasts
    monkeypatch.setattr(SequenceForecaster, "rolling_forecasts", rolling_forecasts)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    search = SequenceSearch(
        SequenceForecaster(horizon=3, random_state=0),
        space={**TINY, "lookback": [4, 8, 12]}, tuner="random", max_trials=3, cv=2,
        pruning=False, intensify=0, ensemble=3, directory=tmp_path / "search", tracking=True,
        tracking_uri=uri, experiment_name="forecast-ensemble", random_state=0, verbose=0,
    ).fit(SERIES[:120])
    project = Path(search.project_dir_)
    assert sorted(r["params"]["lookback"] for r in search.records_) == [4, 8, 12]
    for record in search.records_:
        with np.load(project / f"trial_{record['trial_id']}" / "seqtune_oof_forecasts.npz") as oof:
            assert sorted(oof.files) == ["scale0", "scale1", "y_pred0", "y_pred1", "y_true0", "y_true1"]
            for i, fold in enumerate(record["folds"]):
                # n_test - horizon + 1 origins of horizon steps each
                assert oof[f"y_pred{i}"].shape == ((fold["n_test"] - 2) * 3, 1)
                assert fold["metrics"]["mae"] == pytest.approx(abs(offsets[record["params"]["lookback"]]))
    info = search.final_model_
    by_lookback = {m["trial_id"]: m["weight"] for m in info.get("members", [])}
    lookback = {r["trial_id"]: r["params"]["lookback"] for r in search.records_}
    assert info["kind"] == "ensemble", info
    assert {lookback[t]: pytest.approx(w) for t, w in by_lookback.items()} == {4: 2 / 3, 8: 1 / 3}
    model = search.best_estimator_
    assert isinstance(model, SequenceEnsembleForecaster)
    assert [m.lookback for m in model.estimators] == [4, 8]
    assert all(len(m.y_train_) == 120 for m in model.estimators)  # refitted on the whole series
    np.testing.assert_allclose(search.predict(), (2 * model.estimators[0].predict()
                                                  + model.estimators[1].predict()) / 3, rtol=1e-6)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    logged = mlflow.pyfunc.load_model(search.best_model_uri_)
    history = SERIES[:120]
    np.testing.assert_allclose(np.asarray(logged.predict(history)).ravel(), model.predict(history),
                               rtol=1e-6)


def test_a_rescored_configuration_is_blended_by_the_mean_of_its_seeds_forecasts(tmp_path):
    from seqtune.search._final import select_ensemble

    def write(directory, value):
        directory.mkdir(parents=True)
        np.savez(directory / "seqtune_oof_forecasts.npz",
                 **{k: v for k, v in _library({"x": value})[0][1].items()})

    # Trial "a" scored 0.5 on its first seed (error +0.5) and 2.5 on its second (+2.5):
    # re-scored, its forecasts are their mean (+1.5), and "b" (-1.5) cancels them.
    # On its first seed's forecasts alone, "b" would have made the blend worse.
    write(tmp_path / "trial_a", 0.5)
    write(tmp_path / "trial_a" / "seed_1", 2.5)
    write(tmp_path / "trial_b", -1.5)
    seeds = [{"status": "COMPLETED", "score": 0.5}, {"status": "COMPLETED", "score": 2.5},
             {"status": "FAILED", "score": None}]
    records = [
        {"trial_id": "a", "status": "COMPLETED", "score": 1.5, "seeds": seeds, "n_folds": 2,
         "folds": [{}, {}]},
        {"trial_id": "b", "status": "COMPLETED", "score": 1.6, "n_folds": 2, "folds": [{}, {}]},
    ]
    chosen = select_ensemble("forecasting", records, tmp_path, None, 3, "min", objective="mae")
    assert [(r["trial_id"], w) for r, w in chosen] == [("a", 0.5), ("b", 0.5)]
