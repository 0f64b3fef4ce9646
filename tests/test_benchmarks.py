"""The benchmark commands: ``benchmarks.run --quick`` end to end on tiny budgets, and the scripts' helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_quick_run_writes_rows_and_renders_the_table(tmp_path):
    results, output = tmp_path / "runs.jsonl", tmp_path / "RESULTS.md"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/m.db"}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--results", str(results),
         "--output", str(output), "pickup_gesture", "airline"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["dataset"], r["seed"], r["quick"]) for r in rows] == [
        ("pickup_gesture", 0, True), ("airline", 0, True)]
    for row in rows:
        assert row["n_trials"] == 2 and row["n_folds"] == 2
        assert set(row["defaults"]) >= {row["metric"]} and set(row["searched"]) >= {row["metric"]}
        assert row["command"].startswith("python -m benchmarks.run --quick")
        backend_packages = {"jax": ["jax"], "tensorflow": ["tensorflow", "tensorflow-cpu"],
                            "torch": ["torch"]}[row["backend"]]
        assert any(row["versions"][p] for p in backend_packages)
        assert row["versions"]["numpy"] == np.__version__
        # every trial is kept, with its fold scores, so a selection can be replayed offline
        assert len(row["trials"]) == 2
        assert {"trial_id", "score", "status", "std_score", "split0_score", "split1_score"} \
            <= set(row["trials"][0])
        assert "error" not in row["trials"][0]
        assert any(t["score"] == row["best_cv_score"] for t in row["trials"])
    assert 0 <= rows[0]["searched"]["accuracy"] <= 1 and rows[1]["searched"]["mae"] > 0
    table = output.read_text()
    assert "Only `--quick` smoke runs are recorded: these are not results." in table
    assert "## PickupGestureWiimoteZ" in table and "## Airline" in table
    assert "InceptionTime 0.760" in table and "Target check:" in table

    rendered = subprocess.run([sys.executable, "-m", "benchmarks.run", "--render", "--results",
                               str(results), "--output", str(tmp_path / "again.md")],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    assert (tmp_path / "again.md").read_text() == table


def test_unknown_data_set_names_the_choices(tmp_path):
    out = subprocess.run([sys.executable, "-m", "benchmarks.run", "--render", "gunpiont",
                          "--results", str(tmp_path / "none.jsonl"), "--output", str(tmp_path / "x.md")],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "unknown data set(s) ['gunpiont']" in out.stderr


def test_a_row_is_dirty_only_when_code_differs_from_its_commit(tmp_path):
    from benchmarks.run import _commit

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                       check=True, capture_output=True, timeout=30)

    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "benchmarks" / "results" / "runs.jsonl").write_text("")
    (tmp_path / "benchmarks" / "RESULTS.md").write_text("")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "init")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tmp_path, text=True,
                          capture_output=True, timeout=30).stdout.strip()
    assert _commit(tmp_path) == head
    # The run's own rows and table are not code: writing them keeps the row clean.
    (tmp_path / "benchmarks" / "results" / "runs.jsonl").write_text("{}\n")
    (tmp_path / "benchmarks" / "RESULTS.md").write_text("table\n")
    assert _commit(tmp_path) == head
    (tmp_path / "new_module.py").write_text("y = 1\n")  # untracked, and code all the same
    assert _commit(tmp_path) == head + "+dirty"
    (tmp_path / "new_module.py").unlink()
    (tmp_path / "code.py").write_text("x = 2\n")
    assert _commit(tmp_path) == head + "+dirty"
    assert _commit(tmp_path / "missing") == "unknown"
    (tmp_path / "not_a_repo").mkdir()
    (tmp_path / "not_a_repo" / ".git").write_text("gitdir: /nonexistent\n")
    assert _commit(tmp_path / "not_a_repo") == "unknown"


def test_a_benchmark_refuses_to_run_uncommitted_code(tmp_path, monkeypatch, capsys):
    from benchmarks import run

    monkeypatch.setattr(run, "_commit", lambda repo=None: "abc1234+dirty")
    monkeypatch.setattr(run, "run_one", lambda *a, **k: pytest.fail("a search was started"))
    with pytest.raises(SystemExit) as exit_:
        run.main(["--seed-list", "0", "gunpoint", "--results", str(tmp_path / "r.jsonl")])
    assert exit_.value.code == 2
    assert "the code has uncommitted changes" in capsys.readouterr().err
    assert not (tmp_path / "r.jsonl").exists()


def _table_row(dataset, seed, commit, **extra):
    metric, defaults, searched = (("accuracy", 0.5, 0.75) if dataset == "pickup_gesture"
                                  else ("mae", 30.0, 12.0))
    return {"dataset": dataset, "seed": seed, "backend": "jax", "quick": False, "metric": metric,
            "defaults": {metric: defaults}, "searched": {metric: searched}, "n_trials": 9, "n_pruned": 1,
            "trials_s": 900.0, "budget_s": 900.0, "n_folds": 5, "final_model": {"kind": "bag"},
            "best_params": {}, "date": "2026-12-05", "commit": commit, "keras": "3", "cpus": 2,
            "command": f"python -m benchmarks.run {dataset}",
            # Today's default final model: a forecaster's refit per seed, else not recorded.
            **({"final_strategy": "refit_seeds"} if dataset == "airline" else {}), **extra}


def test_rows_that_ran_before_a_later_fix_are_marked_beside_their_figure(monkeypatch):
    from benchmarks import table as table_module

    before = {("old1234", "78abe70"), ("old1234", "6e749ff")}
    monkeypatch.setattr(table_module, "_lacks", lambda commit, fix: (commit, fix) in before)
    table = table_module.render([_table_row("pickup_gesture", 0, "old1234+dirty"),
                        _table_row("pickup_gesture", 1, "new5678"),
                        _table_row("airline", 0, "old1234", intensify=0),
                        _table_row("airline", 1, "old1234", intensify=3)])
    pickup, airline = table.split("## Airline")
    assert "| 0 | 0.500 | 0.750† |" in pickup and "| 1 | 0.500 | 0.750 |" in pickup
    assert "† Ran before 78abe70, which changed this: its first trial saw 64 strided steps" in pickup
    # The re-scoring fix touches only searches that re-score.
    plain, rescored = airline.split("### jax, intensify=3")
    assert "†" not in plain
    assert "| 1 | 30.0 | 12.0† |" in rescored and "† Ran before 6e749ff" in rescored


def test_rows_searched_over_a_changed_space_get_a_section_of_their_own(monkeypatch):
    from benchmarks import table as table_module

    monkeypatch.setattr(table_module, "SPACE_CHANGES", (("space01", None, ("airline",), "smaller space"),))
    monkeypatch.setattr(table_module, "_has", lambda commit, change: commit == "new5678")
    monkeypatch.setattr(table_module, "_lacks", lambda commit, fix: False)
    rows = [_table_row("airline", s, "old1234", intensify=3, n_folds=3, fold_spans=[8, 8, 8])
            for s in (0, 1)]
    rows.append(_table_row("airline", 0, "new5678", intensify=3, n_folds=3, fold_spans=[8, 8, 8]))
    assert [table_module.is_current_default(r) for r in rows] == [False, False, True]
    table = table_module.render(rows)
    assert "### jax, intensify=3, rolling-origin folds, a refit per seed\n" in table
    assert ("### jax, intensify=3, rolling-origin folds, a refit per seed, smaller space "
            "(today's default search)") in table
    # A data set the change does not touch keeps its section and stays the default.
    other = _table_row("pickup_gesture", 0, "old1234", ensemble=3)
    assert table_module._variant(other) == "jax, ensemble=3" and table_module.is_current_default(other)


def test_a_reverted_space_change_labels_only_the_rows_searched_while_it_was_in_force(monkeypatch):
    from benchmarks import table as table_module

    # space01 came in at mid5678 and was reverted at new9012.
    history = {"mid5678": {"space01"}, "new9012": {"space01", "revert1"}, "old1234": set()}
    monkeypatch.setattr(table_module, "SPACE_CHANGES",
                        (("space01", "revert1", ("airline",), "fixed ensemble size"),))
    monkeypatch.setattr(table_module, "_has", lambda commit, change: change in history[commit])
    monkeypatch.setattr(table_module, "_lacks", lambda commit, fix: False)
    rows = [_table_row("airline", 0, c, intensify=3, n_folds=3, fold_spans=[8, 8, 8])
            for c in ("old1234", "mid5678", "new9012")]
    assert [table_module._variant(r).endswith("fixed ensemble size") for r in rows] == [False, True, False]
    # The space is back to what it was before the change: the older rows are today's too.
    assert [table_module.is_current_default(r) for r in rows] == [True, False, True]
    headers = [line for line in table_module.render(rows).splitlines() if line.startswith("### ")]
    assert headers == [
        "### jax, intensify=3, rolling-origin folds, a refit per seed (today's default search)",
        "### jax, intensify=3, rolling-origin folds, a refit per seed, fixed ensemble size"]


def test_a_row_lacks_a_fix_when_its_commit_came_before_it():
    from benchmarks.table import _lacks

    known = subprocess.run(["git", "cat-file", "-e", "2581e95^{commit}"], cwd=REPO,
                           capture_output=True, timeout=30)
    if known.returncode:
        pytest.skip("needs the repository's history (a shallow clone or no checkout)")

    assert _lacks("2581e95", "78abe70") is True  # a Pickup row of 2026-12-05
    assert _lacks("98f5d08", "78abe70") is False  # the fix and a later commit
    assert _lacks("78abe70", "78abe70") is False
    assert _lacks("0000000", "78abe70") is False  # git cannot tell: no mark
    assert _lacks("unknown", "78abe70") is False


def test_a_row_has_a_space_change_when_its_commit_includes_it_and_not_its_revert():
    from benchmarks.table import SPACE_CHANGES, _has, _space_changes

    known = subprocess.run(["git", "cat-file", "-e", "4d13b0d^{commit}"], cwd=REPO,
                           capture_output=True, timeout=30)
    if known.returncode:
        pytest.skip("needs the repository's history (a shallow clone or no checkout)")

    assert ("aa4ed4e", "4d13b0d", ("airline", "macrodata"), "5-network trials") in SPACE_CHANGES
    assert _has("246575c", "aa4ed4e") is False
    assert _has("30ca07d", "aa4ed4e") is True and _has("30ca07d", "4d13b0d") is False
    assert _has("0000000", "aa4ed4e") is None  # git cannot tell
    airline = {"dataset": "airline"}
    assert _space_changes({**airline, "commit": "30ca07d"}) == [("aa4ed4e", "5-network trials")]
    assert _space_changes({**airline, "commit": "30ca07d+dirty"}) == [("aa4ed4e", "5-network trials")]
    assert _space_changes({**airline, "commit": "246575c"}) == []
    assert _space_changes({**airline, "commit": "4d13b0d"}) == []
    assert _space_changes({"dataset": "gunpoint", "commit": "30ca07d"}) == []


def test_fold_scores_scores_a_configuration_as_the_search_scored_it(tmp_path):
    # benchmarks.fold_scores --pick-seeds reads "again with its seed" as the trial's own
    # score: that holds only if one configuration, alone, is scored on the same folds.
    from benchmarks.fold_scores import _fold_score
    from seqtune import SequenceForecaster, SequenceSearch

    y = np.sin(np.arange(90.0) / 4) + np.arange(90.0) / 30
    estimator = SequenceForecaster(horizon=3, random_state=3)
    search = SequenceSearch(estimator, space={"units": [4, 8], "lookback": 6, "epochs": 3},
                            tuner="random", max_trials=2, cv="auto", directory=tmp_path / "s",
                            tracking=False, refit=False, random_state=0, verbose=0,
                            intensify=0)  # one seed's score, as _fold_score gives
    search.fit(y)
    score, objective, n_folds, seconds = _fold_score(
        estimator, search.best_params_, (y,), 0, str(tmp_path / "again"))
    assert (objective, n_folds) == ("mae", search.n_folds_) and n_folds >= 2 and seconds > 0
    assert score == pytest.approx(search.best_score_, rel=1e-4)
    reseeded, *_ = _fold_score(estimator.set_params(random_state=4), search.best_params_, (y,), 0,
                               str(tmp_path / "reseeded"))
    assert reseeded != pytest.approx(score, rel=1e-4)


def test_pick_seed_folds_scores_the_picks_first_seed_its_mean_and_its_seeds_averaged(tmp_path):
    # The folds-only evidence for final_model="refit_seeds": the first seed's score must be
    # the trial's own, the mean the search's ranking score, and the average is of forecasts.
    from benchmarks.run import _pick_seed_folds
    from seqtune import SequenceForecaster, SequenceSearch

    y = np.sin(np.arange(90.0) / 4) + np.arange(90.0) / 30
    search = SequenceSearch(SequenceForecaster(horizon=3, random_state=3),
                            space={"units": [4, 8], "lookback": 6, "epochs": 3}, tuner="random",
                            max_trials=2, cv="auto", directory=tmp_path / "s", tracking=False,
                            refit=False, random_state=0, verbose=0, intensify=2, pruning=False)
    search.fit(y)
    folds = _pick_seed_folds(search)
    best = next(r for r in search.records_ if r["trial_id"] == search.best_trial_id_)
    assert folds["n_seeds"] == 3
    assert folds["first"] == pytest.approx(best["seeds"][0]["score"], rel=1e-5)
    assert folds["mean"] == pytest.approx(search.best_score_)
    # MAE is convex: the averaged forecasts score no worse than the seeds' mean score.
    assert folds["averaged"] <= folds["mean"] + 1e-9
    assert folds["averaged"] not in (folds["first"], folds["mean"])
    unscored = SequenceSearch(SequenceForecaster(horizon=3, random_state=3),
                              space={"units": 4, "lookback": 6, "epochs": 2}, tuner="random",
                              max_trials=1, cv=2, directory=tmp_path / "u", tracking=False,
                              refit=False, random_state=0, verbose=0, intensify=0).fit(y)
    assert _pick_seed_folds(unscored) is None


def test_rows_of_another_search_option_get_a_section_of_their_own():
    from benchmarks.table import render

    def row(seed, intensify, mae):
        return {"dataset": "airline", "seed": seed, "backend": "jax", "quick": False,
                "intensify": intensify, "metric": "mae", "defaults": {"mae": 30.0},
                "searched": {"mae": mae}, "n_trials": 40, "n_pruned": 30, "trials_s": 800.0,
                "budget_s": 900.0, "n_folds": 3, "final_model": {"kind": "refit"},
                "best_params": {"lookback": 24}, "date": "2026-12-03", "commit": "abc1234",
                "keras": "3", "cpus": 2, "command": "python -m benchmarks.run airline"}

    table = render([row(0, 0, 20.0), row(0, 3, 12.0), row(1, 0, 25.0)])
    plain, intensified = table.split("### jax, intensify=3")
    assert "### jax\n" in plain and "| 0 | 30.0 | 20.0 |" in plain and "| 1 | 30.0 | 25.0 |" in plain
    assert "| 0 | 30.0 | 12.0 |" in intensified and "| 1 |" not in intensified
    assert "1 seed(s), not 5" in intensified


def _sections(table: str) -> dict[str, str]:
    """A rendered table's ``###`` sections, header -> body, in order (the glance above
    them names sections too, so splitting the text on a section's name is not enough)."""
    sections = {}
    for part in table.split("\n### ")[1:]:
        header, _, body = part.partition("\n")
        sections[header] = body.split("\n## ")[0]
    return sections


def test_airline_rows_scored_on_every_origin_are_todays_default_and_apart_from_older_ones(monkeypatch):
    from benchmarks import table as table_module
    from benchmarks.table import render

    def row(seed, mae, **extra):
        return {"dataset": "airline", "seed": seed, "backend": "jax", "quick": False,
                "intensify": 3, "ensemble": 1, "objective": "mae", "metric": "mae",
                "defaults": {"mae": 30.0}, "searched": {"mae": mae}, "n_trials": 40,
                "n_pruned": 30, "trials_s": 800.0, "budget_s": 900.0, "n_folds": 2,
                "final_model": {"kind": "refit"}, "best_params": {"lookback": 24},
                "date": "2026-12-05", "commit": "abc1234", "keras": "3", "cpus": 2,
                "command": "python -m benchmarks.run airline", "final_strategy": "refit_seeds",
                **extra}

    # Rows without fold_spans scored one 24-month forecast per fold.
    monkeypatch.setattr(table_module, "SPACE_CHANGES", ())  # these rows searched today's space
    table = render([row(0, 20.0), row(0, 12.0, fold_spans=[47, 24])])
    headers = [line for line in table.splitlines() if line.startswith("### ")]
    assert headers == ["### jax, intensify=3, a refit per seed",
                       "### jax, intensify=3, rolling-origin folds, a refit per seed (today's default search)"]
    older, rolling = _sections(table).values()
    assert "| 0 | 30.0 | 20.0 |" in older and "| 0 | 30.0 | 12.0 |" in rolling
    assert "| 0 | 30.0 | 12.0 |" not in older

    # Another trial cap lets a search use more of its time budget: a section apart, and
    # not today's default (rows that name the protocol's cap stay where they were).
    table = render([row(0, 12.0, fold_spans=[31] * 3, max_trials=40),
                    row(0, 9.0, fold_spans=[31] * 3, max_trials=100)])
    headers = [line for line in table.splitlines() if line.startswith("### ")]
    assert headers == ["### jax, intensify=3, rolling-origin folds, a refit per seed (today's default search)",
                       "### jax, intensify=3, rolling-origin folds, max_trials=100, a refit per seed"]

    protocol, capped = _sections(table).values()
    assert "| 0 | 30.0 | 12.0 |" in protocol and "| 0 | 30.0 | 9.0 |" in capped
    assert "| 0 | 30.0 | 9.0 |" not in protocol

    # Rows from before a forecaster's final model averaged a refit per seed (they do not
    # record final_strategy) built one refit: a section apart, not today's default.
    table = render([row(0, 12.0, fold_spans=[31] * 3), row(1, 13.0, fold_spans=[31] * 3,
                                                          final_strategy=None)])
    headers = [line for line in table.splitlines() if line.startswith("### ")]
    assert headers == ["### jax, intensify=3, rolling-origin folds",
                       "### jax, intensify=3, rolling-origin folds, a refit per seed (today's default search)"]
    single, seeds = _sections(table).values()
    assert "| 1 | 30.0 | 13.0 |" in single and "| 0 | 30.0 | 12.0 |" in seeds
    assert "| 0 |" not in single and "| 1 |" not in seeds


def test_the_glance_lists_only_todays_default_sections_with_their_target_check(monkeypatch):
    from benchmarks import table as table_module

    monkeypatch.setattr(table_module, "SPACE_CHANGES", ())
    today = [_table_row("airline", seed, "abc1234", intensify=3, ensemble=1, n_folds=3,
                        fold_spans=[31] * 3, searched={"mae": mae}, defaults={"mae": 15.0})
             for seed, mae in enumerate([11.0, 12.0, 13.0, 14.0, 25.0])]
    older = _table_row("airline", 0, "abc1234", intensify=0, n_folds=3, fold_spans=[31] * 3)
    table = table_module.render([*today, older])
    glance = table.split("## At a glance: today's default search")[1].split("\n## ")[0]
    rows = [line for line in glance.splitlines() if line.startswith("| Airline")]
    assert rows == ["| Airline | jax, intensify=3, rolling-origin folds, a refit per seed | 5 | "
                    "13.0 | 25.0 | median 13.0 meets < 13.4; worst 25.0 misses < 20.0; "
                    "**regret**: the search lost to the defaults on at least one seed |"]
    # Only the older section: nothing to glance at, so no glance.
    assert "At a glance" not in table_module.render([older])


def test_rows_that_averaged_configurations_get_a_section_of_their_own():
    from benchmarks.table import render

    def row(seed, accuracy, **extra):
        return {"dataset": "gunpoint", "seed": seed, "backend": "jax", "quick": False,
                "metric": "accuracy", "defaults": {"accuracy": 0.9},
                "searched": {"accuracy": accuracy}, "n_trials": 8, "n_pruned": 4,
                "trials_s": 900.0, "budget_s": 900.0, "n_folds": 5,
                "final_model": {"kind": "bag"}, "best_params": {"units": 8},
                "date": "2026-12-04", "commit": "abc1234", "keras": "3", "cpus": 2,
                "command": "python -m benchmarks.run gunpoint", **extra}

    # Rows from before ensemble="auto" have no "ensemble" key: one configuration.
    table = render([row(0, 0.95, alternatives={"ensemble3": 0.97}),
                    row(5, 0.99, ensemble=3, alternatives={"bag": 0.98})])
    single, averaged = table.split("### jax, ensemble=3")
    assert "| 0 | 0.900 | 0.950 |" in single and "ensemble3 0.970" in single
    assert "| 5 | 0.900 | 0.990 |" in averaged and "bag 0.980" in averaged
    assert "| 0 | 0.900" not in averaged and "| 5 | 0.900" not in single


def test_rows_ranked_by_another_objective_are_named_and_the_default_search_is_marked(monkeypatch):
    from benchmarks import table as table_module
    from benchmarks.table import render

    monkeypatch.setattr(table_module, "SPACE_CHANGES", ())  # these rows searched today's space

    def row(seed, objective, intensify, mase, ensemble=1):
        return {"dataset": "macrodata", "seed": seed, "backend": "jax", "quick": False,
                "intensify": intensify, "ensemble": ensemble, "objective": objective, "metric": "mase",
                "defaults": {"mase": 0.60}, "searched": {"mase": mase}, "n_trials": 40,
                "n_pruned": 30, "trials_s": 800.0, "budget_s": 900.0, "n_folds": 3,
                "final_model": {"kind": "refit"}, "best_params": {"lookback": 8},
                "date": "2026-12-04", "commit": "abc1234", "keras": "3", "cpus": 2,
                "command": "python -m benchmarks.run macrodata", "final_strategy": "refit_seeds"}

    # Macrodata's default objective is MAE, intensify is 3 (a forecaster on 3 folds) and
    # ensemble 1.
    table = render([row(0, "mae", 0, 0.56), row(0, "mae", 3, 0.555), row(0, "mase", 3, 0.51),
                    row(0, "mae", 3, 0.54, ensemble=3)])
    headers = [line for line in table.splitlines() if line.startswith("### ")]
    assert headers == ["### jax, a refit per seed",
                       "### jax, intensify=3, a refit per seed (today's default search)",
                       "### jax, intensify=3, ensemble=3, a refit per seed",
                       "### jax, intensify=3, objective=mase, a refit per seed"]
    today = table.split("(today's default search)")[1].split("###")[0]
    assert "| 0 | 0.600 | 0.555 |" in today and "0.510" not in today and "0.540" not in today


def test_nested_choice_scores_each_fold_with_choices_made_without_it():
    from benchmarks.ensemble_oof import nested_choice

    y = np.array([0, 0, 1, 1, 0, 1])
    folds = [np.array([0, 2]), np.array([1, 3]), np.array([4, 5])]
    right, wrong = np.eye(2)[y], np.eye(2)[1 - y]
    # Trial 0 is right everywhere but on fold 2's rows, trial 1 only there.
    first = right.copy()
    first[[4, 5]] = wrong[[4, 5]]
    second = wrong.copy()
    second[[4, 5]] = right[[4, 5]]
    # On folds 0 and 1 the other folds' rows tie the two trials (2 of 4 each), so the first
    # is kept; on fold 2, the first wins the other rows and is wrong on fold 2's rows.
    best_one, ensemble = nested_choice([first, second], y, folds, size=2)
    assert best_one == pytest.approx(4 / 6)
    # On folds 0 and 1 each trial is sure and half wrong, so the blend of both (0.5
    # everywhere, argmax class 0) has the lower log loss and gets one row of each fold
    # right; on fold 2 the first trial alone is kept, and it is wrong there.
    assert ensemble == pytest.approx(2 / 6)
    soft = [np.where(right > 0, 0.8, 0.2), np.full((6, 2), 0.5)]
    assert nested_choice(soft, y, folds, size=3) == (1.0, 1.0)


def test_reference_folds_scores_var_on_the_searchs_own_folds():
    from benchmarks.reference_folds import fold_scores

    scores = fold_scores("macrodata")
    assert list(scores) == ["VAR(1)", "VAR(2)", "VAR(3)", "VAR(4)"]
    # cv="auto" on 162 quarters: 3 origins of 11 one-step forecasts, MASE per fold.
    assert all(len(v) == 3 and np.all(np.isfinite(v)) for v in scores.values())
    assert np.mean(scores["VAR(1)"]) == pytest.approx(0.400, abs=0.001)


def test_nested_forecast_choice_scores_each_fold_with_choices_made_on_the_others():
    from benchmarks.ensemble_oof import nested_forecast_choice

    truths = [np.zeros((4, 1)), np.zeros((4, 1))]
    # "a" errs by +1 on both folds, "b" by -1.5 on fold 0 and -1 on fold 1: each is the
    # other's cancelling partner, but the blend chosen on one fold is scored on the other.
    a = [np.full((4, 1), 1.0), np.full((4, 1), 1.0)]
    b = [np.full((4, 1), -1.5), np.full((4, 1), -1.0)]
    one, ensemble = nested_forecast_choice([a, b], truths, size=2)
    assert one == pytest.approx(1.0)  # "a" is the best on either fold alone
    # Chosen on fold 1 (a, b at 1:1, blend 0 there), scored on fold 0: |(1 - 1.5) / 2|.
    # Chosen on fold 0: a + b gives -0.25, then a again 1/6; scored on fold 1: (2 - 1) / 3.
    assert ensemble == pytest.approx((0.25 + 1 / 3) / 2)


def test_the_committed_table_is_what_its_rows_render_to():
    # RESULTS.md is never edited by hand: `python -m benchmarks.run --render` rewrites it
    # from runs.jsonl and NOTES.md, so the two cannot drift apart.
    from benchmarks.protocol import OUTPUT, RESULTS
    from benchmarks.table import render

    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=REPO,
                             capture_output=True, text=True, timeout=30)
    if shallow.returncode or shallow.stdout.strip() != "false":
        pytest.skip("the marks of rows before a fix need the repository's whole history")
    rows = [json.loads(line) for line in RESULTS.read_text(encoding="utf-8").splitlines() if line]
    notes = (RESULTS.parent / "NOTES.md").read_text(encoding="utf-8")
    assert OUTPUT.read_text(encoding="utf-8") == render(rows, notes), \
        "benchmarks/RESULTS.md is stale: run `python -m benchmarks.run --render`"


def test_a_row_records_the_backend_and_numerics_versions_and_none_for_a_missing_package(monkeypatch):
    import importlib.metadata as metadata

    from benchmarks import run

    installed = {"tensorflow-cpu": "2.21.0", "numpy": "2.3.5", "scikit-learn": "1.9.1"}

    def version(package):
        if package not in installed:
            raise metadata.PackageNotFoundError(package)
        return installed[package]

    monkeypatch.setattr(metadata, "version", version)
    assert run._versions("tensorflow") == {"tensorflow": None, "tensorflow-cpu": "2.21.0",
                                           "numpy": "2.3.5", "scikit-learn": "1.9.1",
                                           "keras-tuner": None}
    assert list(run._versions("jax")) == ["jax", "jaxlib", "numpy", "scikit-learn", "keras-tuner"]


def test_a_section_names_its_package_versions_or_says_they_were_not_recorded():
    from benchmarks import table as table_module

    versions = {"jax": "0.10.2", "jaxlib": "0.10.2", "numpy": "2.3.5", "keras-tuner": None}
    assert table_module._versions_text([{"versions": versions}, {"versions": versions}]) == \
        "jax 0.10.2, jaxlib 0.10.2, numpy 2.3.5, "
    assert table_module._versions_text([{"versions": versions}, {}]) == \
        "other package versions not recorded, "


def _trial(trial_id, score, splits, n_params, status="completed", std=None):
    row = {"trial_id": trial_id, "score": score, "status": status, "n_params": n_params,
           "std_score": float(np.std([s for s in splits if s is not None])) if std is None else std}
    row.update({f"split{i}_score": s for i, s in enumerate(splits)})
    return row


def test_fold_agreement_is_one_when_the_folds_rank_alike_and_minus_one_when_reversed():
    from benchmarks.selection import complete_trials, fold_agreement

    alike = [_trial(str(i), i, [i, 10 + i, 20 + i], 100) for i in range(4)]
    reversed_ = [_trial(str(i), 1.5, [i, 3 - i], 100) for i in range(4)]
    pruned = _trial("9", 50.0, [50.0, None, None], 10)
    complete, n_folds = complete_trials([*alike, pruned])
    assert n_folds == 3 and [t["trial_id"] for t in complete] == ["0", "1", "2", "3"]
    assert fold_agreement(complete, n_folds) == pytest.approx(1.0)
    assert fold_agreement(*complete_trials(reversed_)) == pytest.approx(-1.0)
    assert fold_agreement(complete[:2], n_folds) is None  # too few trials to rank


def test_each_pair_of_folds_is_correlated_and_first_fold_prunings_are_counted():
    from benchmarks.selection import (complete_trials, fold_agreement, fold_correlations,
                                      pruned_after_one_fold)

    # Folds 1 and 2 rank alike; fold 3 ranks the other way round.
    trials = [_trial(str(i), 1.0, [i, 10 + i, 5 - i], 100) for i in range(4)]
    pruned = [_trial("8", 50.0, [50.0, None, None], 10, status="pruned"),
              _trial("9", 60.0, [9.0, 60.0, None], 10, status="pruned")]
    complete, n_folds = complete_trials([*trials, *pruned])
    assert fold_correlations(complete, n_folds) == {
        (0, 1): pytest.approx(1.0), (0, 2): pytest.approx(-1.0), (1, 2): pytest.approx(-1.0)}
    assert fold_agreement(complete, n_folds) == pytest.approx(-1 / 3)
    assert pruned_after_one_fold([*trials, *pruned]) == 1  # "9" reached the second fold


def test_the_one_standard_error_rule_takes_the_smallest_network_within_the_band():
    from benchmarks.selection import one_standard_error

    trials = [_trial("a", 10.0, [8.0, 12.0], 5000, std=2.0),   # best MAE; SE = 2 / sqrt(2)
              _trial("b", 11.0, [11.0, 11.0], 300),            # within 10 + 1.414
              _trial("c", 11.3, [11.0, 11.6], 200),            # within, and smaller
              _trial("d", 12.0, [12.0, 12.0], 50)]             # outside
    rule = one_standard_error(trials, 2, better="min")
    assert rule == {"best": "a", "chosen": "c", "bound": pytest.approx(10 + 2 / np.sqrt(2)),
                    "members": ["a", "b", "c"], "within": 3}
    accuracy = [_trial("a", 0.9, [0.8, 1.0], 900, std=0.1), _trial("b", 0.8, [0.8, 0.8], 10)]
    assert one_standard_error(accuracy, 2, better="max")["chosen"] == "a"  # b is outside
    assert one_standard_error([], 2, better="min") is None


def test_band_average_refits_every_configuration_of_the_band_and_averages_them(tmp_path):
    from benchmarks.band_average import band_forecaster
    from benchmarks.run import run_one
    from seqtune.ensemble import SequenceEnsembleForecaster

    row = run_one("airline", 0, budget=300.0, max_trials=2, quick=True, directory=tmp_path)
    ensemble, members, band = band_forecaster("airline", row, tmp_path)
    complete = [t for t in row["trials"] if t["status"] == "completed"
                and t["split0_score"] is not None and t["split1_score"] is not None]
    assert 1 <= band["within"] <= len(complete) and band["members"][0] == band["best"]
    assert [trial_id for trial_id, _ in members] == band["members"]
    assert isinstance(ensemble, SequenceEnsembleForecaster)
    forecasts = np.stack([model.predict() for _, model in members])
    np.testing.assert_allclose(ensemble.predict(), forecasts.mean(axis=0), rtol=1e-5)
    assert ensemble.predict().shape == (24,)
    assert band_forecaster("airline", {**row, "seed": 7}, tmp_path) is None  # not on disk
