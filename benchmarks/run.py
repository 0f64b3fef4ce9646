"""The results table: ``SequenceSearch`` with the default space against the estimator's defaults.

For each data set (GunPoint, BasicMotions, PickupGestureWiimoteZ, Airline, Macrodata;
all load offline with their published splits) and seed, this fits the estimator with
its defaults, runs ``SequenceSearch(space="default")`` under a stated budget (trials and
wall seconds), and scores both on the test split, which takes no part in selection,
early stopping or ensembling. Every search is logged to MLflow (``mlruns/``) like any
other. Each run appends one JSON line to ``benchmarks/results/runs.jsonl``;
``benchmarks/RESULTS.md`` is rendered from all the lines there, with the references of
BENCHMARKS.md beside them, per backend, with the median and worst over seeds::

    python -m benchmarks.run                           # every data set, 5 seeds, JAX-or-default backend
    python -m benchmarks.run --seeds 2 --backend tensorflow gunpoint airline
    python -m benchmarks.run --render                  # only rewrite RESULTS.md from runs.jsonl
    python -m benchmarks.run --intensify 0 airline     # SequenceSearch(intensify=0): a section of its own
    python -m benchmarks.run --quick                   # a smoke test of the whole pipeline (minutes)

``--quick`` shrinks every budget (2 trials, 2 folds, a handful of epochs, defaults fitted
for 5 epochs) and writes to a temporary directory unless ``--results``/``--output`` say
otherwise: its figures are not results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
RESULTS = _REPO / "benchmarks" / "results" / "runs.jsonl"
OUTPUT = _REPO / "benchmarks" / "RESULTS.md"
DEFAULT_BUDGET_S = 900.0  # the cap: 15 minutes of search per data set and seed
DEFAULT_MAX_TRIALS = 40

#: Fixes that changed what a benchmark search does after rows had been run with the
#: earlier code: (commit, data sets, what the earlier rows did, which rows it touches).
#: The table marks every row whose commit lacks the fix, so a section that mixes rows
#: from before and after one says so beside each figure.
LATER_FIXES = (
    ("78abe70", ("gunpoint", "pickup_gesture"),
     "its first trial saw 64 strided steps, not the whole sequence (the space narrowing "
     "dropped the space's default instead of capping it)", lambda row: True),
    ("6e749ff", ("airline", "macrodata"),
     "the time kept back for re-scoring was not capped at a quarter of the budget",
     lambda row: bool(row.get("intensify"))),
)

#: Changes to a default search space: (commit, the commit that reverted it or None, data
#: sets, section label). Rows whose commit includes a change, and not its revert, get a
#: section of their own, named by the label, so a section never mixes two spaces. Today's
#: default rows have every change still in force and none reverted. Telling needs the
#: repository's history: in a shallow clone or for an unknown commit no row is labelled.
SPACE_CHANGES = (
    ("aa4ed4e", "4d13b0d", ("airline", "macrodata"), "5-network trials"),
)


@dataclass(frozen=True)
class Dataset:
    title: str
    task: str  # "classification" or "forecasting"
    shape: str
    metric: str  # what the table reports: "accuracy", "mae" or "mase"
    references: str
    target: str
    horizon: int = 1
    n_test: int = 0  # forecasting: steps held out at the end
    better: str = "max"
    targets: dict = field(default_factory=dict)  # {"median": x, "worst": x, "mean": x}
    objective: str = "score"  # what SequenceSearch ranks trials by, by default, on this set


DATASETS = {
    "gunpoint": Dataset(
        "GunPoint", "classification", "50/150, 150 × 1", "accuracy",
        "1-NN DTW 0.907 · MLP 0.928 · ResNet 0.991 · FCN 1.00 · LSTM-FCN 1.00 · InceptionTime 1.00 · ROCKET 1.00",
        "median ≥ 0.99, worst ≥ 0.97", targets={"median": 0.99, "worst": 0.97}),
    "basic_motions": Dataset(
        "BasicMotions", "classification", "40/40, 100 × 6", "accuracy",
        "1-NN DTW (dependent) 0.975 · MiniRocket, ROCKET, ResNet, InceptionTime 1.00",
        "median 1.00", targets={"median": 1.0}),
    "pickup_gesture": Dataset(
        "PickupGestureWiimoteZ", "classification", "50/50, 29–361 × 1 (variable length)", "accuracy",
        "1-NN DTW 0.66 · MLP 0.604 · ResNet 0.704 · FCN 0.744 · InceptionTime 0.760 · ROCKET 0.830",
        "median ≥ 0.76 (InceptionTime), aim 0.83 (ROCKET)", targets={"median": 0.76}),
    "airline": Dataset(
        "Airline", "forecasting", "120 / 24 months", "mae",
        "seasonal naive 71.3 · SARIMA 39.4 · Holt-Winters 29.0 · neuralforecast LSTM 13.4–14.3",
        "median MAE < 13.4, worst < 20", horizon=24, n_test=24, better="min",
        targets={"median": 13.4, "worst": 20.0}, objective="mae"),
    "macrodata": Dataset(
        "Macrodata (q/q growth, 3 series)", "forecasting", "162 / 40 quarters, one step ahead",
        "mase", "naive 0.661 · mean 0.635 · VAR(1) 0.503", "mean MASE < 0.503",
        horizon=1, n_test=40, better="min", targets={"mean": 0.503}, objective="mae"),
}


def _load(name: str):
    from seqtune import datasets

    ds = DATASETS[name]
    if ds.task == "classification":
        return getattr(datasets, f"load_{name}")()
    series = datasets.load_airline() if name == "airline" else datasets.load_macrodata_growth()
    values = series.to_numpy(dtype=float)
    return values[: -ds.n_test], values[-ds.n_test:]


def _estimator(name: str, seed: int, quick: bool):
    from seqtune import SequenceClassifier, SequenceForecaster

    ds = DATASETS[name]
    extra = {"epochs": 5} if quick else {}
    if ds.task == "classification":
        return SequenceClassifier(random_state=seed, **extra)
    return SequenceForecaster(horizon=ds.horizon, random_state=seed, **extra)


def _test_score(name: str, model, test) -> dict:
    ds = DATASETS[name]
    if ds.task == "classification":
        X_test, y_test = test
        return {"accuracy": float(model.score(X_test, y_test))}
    metrics = model.evaluate(test)
    return {k: float(v) for k, v in metrics.items()}


def run_one(name: str, seed: int, *, budget: float, max_trials: int, quick: bool,
            directory: Path, intensify: int | str = "auto", command: str = "") -> dict:
    """Defaults and a search on one data set and seed; the row of runs.jsonl.

    ``command`` is recorded as the command that made the row.
    """
    import keras
    from sklearn.base import clone

    from seqtune import SequenceSearch
    from seqtune.search._final import resolve_ensemble, resolve_final_model
    from seqtune.search._intensify import resolve_intensify

    ds = DATASETS[name]
    data = _load(name)
    if ds.task == "classification":
        X_train, y_train, X_test, y_test = data
        fit_args, test = (X_train, y_train), (X_test, y_test)
    else:
        y_train, y_test = data
        fit_args, test = (y_train,), y_test
    estimator = _estimator(name, seed, quick)

    started = time.perf_counter()
    defaults = clone(estimator).fit(*fit_args)
    defaults_s = time.perf_counter() - started
    defaults_score = _test_score(name, defaults, test)

    search = SequenceSearch(
        estimator, space="quick" if quick else "default", tuner="bayesian",
        max_trials=2 if quick else max_trials, time_budget=budget, cv=2 if quick else "auto",
        directory=directory,
        # One directory per section: a search of another protocol must not overwrite the
        # trials that benchmarks.ensemble_oof reads back for the default's rows.
        project_name=(f"{name}_seed{seed}_{keras.config.backend()}"
                      + (f"_intensify{intensify}" if intensify != "auto" else "")
                      + (f"_maxtrials{max_trials}" if max_trials != DEFAULT_MAX_TRIALS else "")),
        overwrite=True, tracking=True, experiment_name="seqtune-benchmarks",
        random_state=seed, verbose=0, intensify=intensify,
    )
    started = time.perf_counter()
    search.fit(*fit_args)
    total_s = time.perf_counter() - started
    search_s = sum(r.get("duration_s") or 0.0 for r in search.records_)
    searched_score = _test_score(name, search.best_estimator_, test)
    ensemble = resolve_ensemble(search.ensemble, ds.task, search.n_folds_)
    intensify = resolve_intensify(search.intensify, ds.task, search.n_folds_)
    own = (resolve_final_model(search.final_model, ds.task, search.n_folds_), ensemble)
    alternatives = {}
    others = ((("refit", ("refit", 1)), ("bag", ("bag", 1)), ("ensemble3", ("bag", 3)))
              if ds.task == "classification"
              # A forecaster's ensemble was measured on Airline's one-origin folds only.
              else (("single", ("refit", 1)), ("seeds", ("refit_seeds", 1)),
                    ("ensemble3", ("refit", 3))))
    if not quick:
        # The same trials with another final model: resuming the finished search runs no
        # trial, it only builds the model (not tracked, so MLflow keeps one parent run).
        for label, (final, k) in others:
            if (final, k) == own:
                continue
            other = clone(search).set_params(tracking=False, overwrite=False,
                                             max_trials=search.n_trials_, final_model=final,
                                             ensemble=k)
            other.fit(*fit_args)
            alternatives[label] = _test_score(name, other.best_estimator_, test)[ds.metric]
    statuses = [r["status"] for r in search.records_]
    return {
        "dataset": name, "seed": seed, "backend": keras.config.backend(), "quick": quick,
        "intensify": intensify, "ensemble": ensemble, "final_strategy": own[0],
        "metric": ds.metric, "defaults": defaults_score, "searched": searched_score,
        "defaults_s": round(defaults_s, 1), "search_wall_s": round(total_s, 1),
        "trials_s": round(search_s, 1), "budget_s": budget, "max_trials": search.max_trials,
        "n_trials": len(statuses), "n_completed": statuses.count("COMPLETED"),
        "n_pruned": statuses.count("PRUNED"), "n_failed": statuses.count("FAILED"),
        "n_folds": search.n_folds_, "best_cv_score": search.best_score_,
        # Steps each fold scores: Airline's two folds scored one origin each before 2026-12-05.
        "fold_spans": next(([f["n_test"] for f in r["folds"]] for r in search.records_
                            if r["status"] == "COMPLETED"), None),
        "objective": search.objective_["name"], "best_params": search.best_params_,
        "final_model": {**{k: v for k, v in (search.final_model_ or {}).items()
                           if k in ("kind", "epochs", "n_models", "verified", "fallback")},
                        **({"n_members": len(search.final_model_["members"])}
                           if "members" in (search.final_model_ or {}) else {})},
        "alternatives": alternatives,
        "pick_seed_folds": _pick_seed_folds(search) if ds.task == "forecasting" else None,
        "date": dt.date.today().isoformat(), "commit": _commit(),
        "keras": keras.__version__, "versions": _versions(keras.config.backend()),
        "python": platform.python_version(),
        "cpus": os.cpu_count(), "command": command or "python -m benchmarks.run",
    }


def _versions(backend: str) -> dict[str, str | None]:
    """The versions of the packages beyond Keras that a row's figures depend on.

    A 2026-12-02 row's commit gave other scores after a reinstall, and its row said nothing
    of which package had moved."""
    found = {}
    own = {"jax": ["jax", "jaxlib"], "tensorflow": ["tensorflow", "tensorflow-cpu"]}
    for package in [*own.get(backend, [backend]), "numpy", "scikit-learn", "keras-tuner"]:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def _pick_seed_folds(search) -> dict | None:
    """The pick's fold score on its first weight seed, the mean of its re-scoring seeds'
    scores, and the score of their forecasts averaged (what ``final_model="refit_seeds"``
    delivers, measured on the folds alone); None when the pick was not re-scored."""
    import numpy as np

    from seqtune.backtest import METRICS
    from seqtune.search._final import seed_forecasts, forecast_fold_loss, scored_seeds
    from seqtune.search._runner import read_oof

    best = next(r for r in search.records_ if r["trial_id"] == search.best_trial_id_)
    trial_dir = Path(search.project_dir_) / f"trial_{best['trial_id']}"
    first, averaged = read_oof(trial_dir, "forecasting"), seed_forecasts(trial_dir, best)
    n_seeds = len(scored_seeds(best))
    if n_seeds < 2 or first is None or averaged is None:
        return None
    n = len(best["folds"])
    loss = forecast_fold_loss([first[f"y_true{i}"] for i in range(n)],
                              [first[f"scale{i}"] for i in range(n)],
                              search.objective_["name"] if search.objective_["name"] in METRICS
                              else "mae")
    stacked = [np.concatenate([oof[f"y_pred{i}"] for i in range(n)]) for oof in (first, averaged)]
    # A re-scored record's score is already the mean over its scored seeds.
    return {"n_seeds": n_seeds, "first": loss(stacked[0]), "mean": float(best["score"]),
            "averaged": loss(stacked[1])}


def _commit(repo: Path = _REPO) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, text=True,
                             capture_output=True, timeout=10)
        if out.returncode:  # not a git checkout (an sdist, say): no commit to name
            return "unknown"
        # The table's own files change with every run: only the code makes a row "dirty".
        # Untracked files count: a new module the code imports is code too.
        dirty = subprocess.run(["git", "status", "--porcelain", "--", ".",
                                ":!benchmarks/results", ":!benchmarks/RESULTS.md"],
                               cwd=repo, text=True, capture_output=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ---------------------------------------------------------------------------- table


def _fmt(value: float, metric: str) -> str:
    return f"{value:.3f}" if metric in ("accuracy", "mase") else f"{value:.1f}"


def _config(params: dict) -> str:
    keys = ("cell", "units", "n_layers", "bidirectional", "conv_branch", "squeeze_excite",
            "pooling", "normalize", "stride", "lookback", "linear_skip", "log", "difference",
            "ensemble_size", "learning_rate")
    shown = []
    for key in keys:
        if key in params:
            value = params[key]
            if isinstance(value, float):
                value = f"{value:.2g}"
            shown.append(f"{key}={value}")
    return ", ".join(shown)


def render(rows: list[dict], notes: str = "") -> str:
    """RESULTS.md from the rows of runs.jsonl (the latest row per data set, seed and backend).

    ``notes``, the committed reading of the figures (``NOTES.md`` beside runs.jsonl: why a
    target was missed, which choices saw test scores), is appended as it is.
    """
    latest: dict = {}
    for row in rows:
        if not row.get("quick"):
            latest[(row["dataset"], _variant(row), row["seed"])] = row
    lines = [
        "# seqtune results",
        "",
        "Regenerated by `python -m benchmarks.run` (see its docstring); every figure below is a",
        "row of `benchmarks/results/runs.jsonl`, written by that command. Test splits are the",
        "published ones and take no part in a search's selection, early stopping or",
        "ensembling (some defaults of the search were chosen after seeing earlier test scores:",
        "*Reading these figures* says which). A run",
        "is: the estimator's defaults fitted once, and `SequenceSearch(space=\"default\",",
        "tuner=\"bayesian\", cv=\"auto\")` under the budget shown (wall seconds of trials on the",
        "machine named; the final model's fit is not counted), both scored on the test split.",
        "",
    ]
    quick = [r for r in rows if r.get("quick")]
    if not latest and quick:
        lines += ["**Only `--quick` smoke runs are recorded: these are not results.**", ""]
        latest = {(r["dataset"], _variant(r), r["seed"]): r for r in quick}
    for name, ds in DATASETS.items():
        runs = [r for (d, _, _), r in sorted(latest.items()) if d == name]
        if not runs:
            continue
        lines += [f"## {ds.title} ({ds.shape})", "",
                  f"Reported: test {ds.metric} ({'higher' if ds.better == 'max' else 'lower'} is "
                  f"better). References: {ds.references}. Target: {ds.target}.", ""]
        for variant in sorted({_variant(r) for r in runs}):
            mine = sorted((r for r in runs if _variant(r) == variant), key=lambda r: r["seed"])
            current = " (today's default search)" if all(map(is_current_default, mine)) else ""
            lines += [f"### {variant}{current}", "",
                      "| seed | defaults | searched | trials (pruned) | trials s / budget | folds | final model | other final models | chosen configuration |",
                      "|---|---|---|---|---|---|---|---|---|"]
            marks = {id(r): _missing_fixes(r) for r in mine}
            used = [fix for fix in LATER_FIXES if any(fix in m for m in marks.values())]
            for r in mine:
                regret = (r["searched"][ds.metric] < r["defaults"][ds.metric]) if ds.better == "max" \
                    else (r["searched"][ds.metric] > r["defaults"][ds.metric])
                sign = "".join(_MARKS[used.index(fix)] for fix in marks[id(r)])
                final = r.get("final_model", {}).get("kind", "")
                if r.get("final_model", {}).get("n_members"):
                    final += f" of {r['final_model']['n_members']}"
                lines.append(
                    f"| {r['seed']} | {_fmt(r['defaults'][ds.metric], ds.metric)} | "
                    f"{_fmt(r['searched'][ds.metric], ds.metric)}{sign}{' (regret)' if regret else ''} | "
                    f"{r['n_trials']} ({r['n_pruned']}) | {r['trials_s']:.0f} / {r['budget_s']:.0f} | "
                    f"{r['n_folds']} | {final} | {_alternatives(r, ds.metric)} | {_config(r['best_params'])} |")
            searched = [r["searched"][ds.metric] for r in mine]
            defaults = [r["defaults"][ds.metric] for r in mine]
            worst = min if ds.better == "max" else max
            lines += [
                f"| **median** | {_fmt(statistics.median(defaults), ds.metric)} | "
                f"**{_fmt(statistics.median(searched), ds.metric)}** | | | | | | |",
                f"| **worst** | {_fmt(worst(defaults), ds.metric)} | "
                f"**{_fmt(worst(searched), ds.metric)}** | | | | | | |",
                f"| **mean** | {_fmt(statistics.mean(defaults), ds.metric)} | "
                f"**{_fmt(statistics.mean(searched), ds.metric)}** | | | | | | |",
                "",
                _verdict(ds, searched, defaults, [r["budget_s"] for r in mine]),
                "",
                f"Runs: {', '.join(sorted({r['date'] for r in mine}))}, commit(s) "
                f"{', '.join(sorted({r['commit'] for r in mine}))}, Keras {mine[0]['keras']}, "
                f"{_versions_text(mine)}{mine[0]['cpus']} CPU cores; command(s): "
                + "; ".join(f"`{c}`" for c in dict.fromkeys(r["command"] for r in mine)) + ".",
                "",
            ]
            if used:
                lines += [" ".join(f"{_MARKS[i]} Ran before {commit}, which changed this: "
                                   f"{what}." for i, (commit, _, what, _) in enumerate(used)), ""]
    if notes.strip():
        lines += ["## Reading these figures", "", notes.strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def _variant(row: dict) -> str:
    """A row's section: its backend, and the search options that set it apart.

    Rows written before ``ensemble="auto"`` existed carry no ``ensemble``: they kept one
    configuration (the default then). The objective is named where it is not the data
    set's default (Macrodata's rows ranked by MASE, measured as a candidate default).
    A multi-step forecaster's rows that record ``fold_spans`` were scored on every
    origin of each fold (``make_folds``, 2026-12-05): "rolling-origin folds". A trial cap
    other than the protocol's ``DEFAULT_MAX_TRIALS`` (rows without one ran under it) is
    named too, since it sets how much of the time budget a search may use, and so is
    every change of the default space the row's commit includes (``SPACE_CHANGES``), and
    a final model averaging a refit per seed (``final_strategy``).
    """
    max_trials = int(row.get("max_trials") or DEFAULT_MAX_TRIALS)
    intensify = int(row.get("intensify") or 0)
    ensemble = int(row.get("ensemble") or 1)
    objective = row.get("objective")
    other = objective is not None and objective != DATASETS[row["dataset"]].objective
    return (row["backend"] + (f", intensify={intensify}" if intensify else "")
            + (f", ensemble={ensemble}" if ensemble != 1 else "")
            + (f", objective={objective}" if other else "")
            + (", rolling-origin folds" if _rolling_origins(row) else "")
            + (f", max_trials={max_trials}" if max_trials != DEFAULT_MAX_TRIALS else "")
            + (", a refit per seed" if _final_strategy(row) == "refit_seeds" else "")
            + "".join(f", {label}" for _, label in _space_changes(row)))


def _space_changes(row: dict) -> list[tuple[str, str]]:
    """The entries of ``SPACE_CHANGES`` in force at this row's commit, for its data set:
    (commit, label) each. A ``+dirty`` commit counts as its committed part."""
    commit = str(row.get("commit") or "").removesuffix("+dirty")
    return [(change, label) for change, revert, names, label in SPACE_CHANGES
            if row["dataset"] in names and _has(commit, change)
            and not (revert and _has(commit, revert))]


def _rolling_origins(row: dict) -> bool:
    return DATASETS[row["dataset"]].horizon > 1 and bool(row.get("fold_spans"))


def is_current_default(row: dict) -> bool:
    """Whether a row's search options are what ``SequenceSearch`` does by default today."""
    from seqtune.search._final import resolve_ensemble, resolve_final_model
    from seqtune.search._intensify import resolve_intensify

    task, n_folds = DATASETS[row["dataset"]].task, int(row.get("n_folds") or 1)
    return (int(row.get("intensify") or 0) == resolve_intensify("auto", task, n_folds)
            and int(row.get("ensemble") or 1) == resolve_ensemble("auto", task, n_folds)
            and row.get("objective") in (None, DATASETS[row["dataset"]].objective)
            and (DATASETS[row["dataset"]].horizon == 1 or _rolling_origins(row))
            and int(row.get("max_trials") or DEFAULT_MAX_TRIALS) == DEFAULT_MAX_TRIALS
            and _final_strategy(row) == resolve_final_model("auto", task, n_folds)
            and [c for c, _ in _space_changes(row)] == [
                change for change, revert, names, _ in SPACE_CHANGES
                if row["dataset"] in names and revert is None])


def _final_strategy(row: dict) -> str:
    """How a row's final model was built (``final_model`` resolved). Rows written before
    it was recorded used the default of their day: one refit for forecasters, the fold
    models for cross-validated classifiers."""
    if row.get("final_strategy"):
        return row["final_strategy"]
    task = DATASETS[row["dataset"]].task
    return "refit" if task == "forecasting" or int(row.get("n_folds") or 1) < 2 else "bag"


_MARKS = "†‡§¶"


def _missing_fixes(row: dict) -> list[tuple]:
    """The entries of ``LATER_FIXES`` that touch this row and that its commit lacks."""
    commit = str(row.get("commit") or "").removesuffix("+dirty")
    return [fix for fix in LATER_FIXES
            if row["dataset"] in fix[1] and fix[3](row) and _lacks(commit, fix[0])]


def _lacks(commit: str, fix: str) -> bool:
    """Whether ``commit`` comes before ``fix`` in this repository's history; False when
    git cannot tell (no checkout, an unknown commit)."""
    return _has(commit, fix) is False


@functools.lru_cache(maxsize=None)
def _has(commit: str, change: str, repo: Path = _REPO) -> bool | None:
    """Whether ``commit`` includes ``change``; None when git cannot tell (no checkout, a
    shallow clone, an unknown commit). Cached for the process, None included: a render
    reads one checkout's history."""
    if not commit or commit == "unknown":
        return None
    try:
        out = subprocess.run(["git", "merge-base", "--is-ancestor", change, commit], cwd=repo,
                             capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    # 0: the change is in the commit's history; 1: it is not; 128: git cannot tell
    return {0: True, 1: False}.get(out.returncode)


def _alternatives(row: dict, metric: str) -> str:
    """The test scores of the other final models built from the same trials."""
    return ", ".join(f"{label} {_fmt(value, metric)}"
                     for label, value in (row.get("alternatives") or {}).items())


def _versions_text(rows: list[dict]) -> str:
    """The other package versions of a section's rows, or a warning when some lack them."""
    if not all("versions" in r for r in rows):
        return "other package versions not recorded, "
    seen = dict.fromkeys(f"{package} {v}" for r in rows for package, v in r["versions"].items()
                         if v is not None)
    return "".join(f"{item}, " for item in seen)


def _verdict(ds: Dataset, searched: list[float], defaults: list[float], budgets: list[float]) -> str:
    better = (lambda a, b: a >= b) if ds.better == "max" else (lambda a, b: a <= b)
    worst = min(searched) if ds.better == "max" else max(searched)
    checks = []
    for kind, bound in ds.targets.items():
        value = {"median": statistics.median(searched), "worst": worst,
                 "mean": statistics.mean(searched)}[kind]
        ok = value >= bound if ds.better == "max" else value < bound
        checks.append(f"{kind} {_fmt(value, ds.metric)} {'meets' if ok else 'misses'} "
                      f"{'≥' if ds.better == 'max' else '<'} {bound}")
    no_regret = all(better(s, d) for s, d in zip(searched, defaults))
    checks.append("no regret on every seed" if no_regret else
                  "**regret**: the search lost to the defaults on at least one seed")
    short = []
    if len(searched) < 5:
        short.append(f"{len(searched)} seed(s), not 5")
    if min(budgets) < DEFAULT_BUDGET_S:
        short.append(f"{min(budgets):.0f} s of trials, not {DEFAULT_BUDGET_S:.0f}")
    protocol = (f" **Below the full protocol** ({'; '.join(short)}): indicative only."
                if short else "")
    return "Target check: " + "; ".join(checks) + f" ({len(searched)} seeds)." + protocol


def main(argv: list[str] | None = None) -> int:
    from seqtune.cli import _auto_or_int

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", metavar="DATASET",
                        help=f"any of {', '.join(DATASETS)} (default: all)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default: 5)")
    parser.add_argument("--seed-list", help="explicit seeds, comma separated (overrides --seeds)")
    parser.add_argument("--backend", help="Keras backend (default: KERAS_BACKEND, else jax if installed)")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                        help=f"wall seconds of search per data set and seed (default: {DEFAULT_BUDGET_S:.0f})")
    parser.add_argument("--max-trials", type=int, default=DEFAULT_MAX_TRIALS)
    parser.add_argument("--intensify", type=_auto_or_int("--intensify"), default="auto",
                        metavar="K", help="SequenceSearch(intensify=K): a value other than the "
                                          "default's gets a section of its own (default: auto)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: tiny budgets, not results")
    parser.add_argument("--results", type=Path, help=f"JSON lines to append to (default: {RESULTS.relative_to(_REPO)})")
    parser.add_argument("--output", type=Path, help=f"table to write (default: {OUTPUT.relative_to(_REPO)})")
    parser.add_argument("--render", action="store_true", help="only rewrite the table from the results")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="run with uncommitted code changes (the rows then say +dirty)")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    unknown = [d for d in args.datasets if d not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; expected any of {list(DATASETS)}")

    scratch = Path(tempfile.mkdtemp(prefix="seqtune-bench-")) if args.quick else None
    results = args.results or (scratch / "runs.jsonl" if scratch else RESULTS)
    output = args.output or (scratch / "RESULTS.md" if scratch else OUTPUT)
    if not args.render:
        if not args.quick and not args.allow_dirty and _commit().endswith("+dirty"):
            parser.error("the code has uncommitted changes, so the rows could not name the code "
                         "they ran: commit first (or pass --allow-dirty, and the rows say +dirty)")
        backend = args.backend or os.environ.get("KERAS_BACKEND")
        if backend is None:
            import importlib.util

            backend = "jax" if importlib.util.find_spec("jax") else "tensorflow"
        if "keras" in sys.modules and sys.modules["keras"].config.backend() != backend:
            parser.error(f"Keras is already loaded with another backend than {backend!r}")
        os.environ["KERAS_BACKEND"] = backend
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        seeds = ([int(s) for s in args.seed_list.split(",")] if args.seed_list
                 else list(range(1 if args.quick else args.seeds)))
        # --quick stops at its 2 trials; the budget is only a ceiling, so a loaded CI
        # machine still runs both (a 20 s budget once ended a quick run after 1).
        budget = 300.0 if args.quick else args.budget
        directory = (scratch or _REPO) / "seqtune_search" / "benchmarks"
        results.parent.mkdir(parents=True, exist_ok=True)
        for name in args.datasets or list(DATASETS):
            for seed in seeds:
                row = run_one(name, seed, budget=budget, max_trials=args.max_trials,
                              quick=args.quick, directory=directory, intensify=args.intensify,
                              command=" ".join(["python -m benchmarks.run", *argv]))
                with open(results, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")
                ds = DATASETS[name]
                print(f"{name} seed {seed} [{row['backend']}]: defaults "
                      f"{_fmt(row['defaults'][ds.metric], ds.metric)}, searched "
                      f"{_fmt(row['searched'][ds.metric], ds.metric)} ({row['n_trials']} trials, "
                      f"{row['trials_s']:.0f} s)", flush=True)
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if results.is_file() else []
    notes = results.parent / "NOTES.md"
    output.write_text(render(rows, notes.read_text(encoding="utf-8") if notes.is_file() else ""),
                      encoding="utf-8")
    print(f"wrote {output} from {len(rows)} run(s) in {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
