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
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.protocol import (
    DATASETS,
    DEFAULT_BUDGET_S,
    DEFAULT_MAX_TRIALS,
    OUTPUT,
    REPO,
    RESULTS,
    load_split,
    make_estimator,
    score_on_test,
)
from benchmarks.table import fmt, render


def run_one(name: str, seed: int, *, budget: float, max_trials: int, quick: bool,
            directory: Path, intensify: int | str = "auto", command: str = "") -> dict:
    """Defaults and a search on one data set and seed; the row of runs.jsonl.

    ``command`` is recorded as the command that made the row.
    """
    import keras
    from sklearn.base import clone

    from seqtune.search._final import resolve_ensemble, resolve_final_model
    from seqtune.search._intensify import resolve_intensify

    ds = DATASETS[name]
    data = load_split(name)
    if ds.task == "classification":
        X_train, y_train, X_test, y_test = data
        fit_args, test = (X_train, y_train), (X_test, y_test)
    else:
        y_train, y_test = data
        fit_args, test = (y_train,), y_test
    estimator = make_estimator(name, seed, quick)

    started = time.perf_counter()
    defaults = clone(estimator).fit(*fit_args)
    defaults_s = time.perf_counter() - started
    defaults_score = score_on_test(name, defaults, test)

    search = table_search(name, seed, estimator, budget=budget, max_trials=max_trials,
                          quick=quick, directory=directory, intensify=intensify)
    started = time.perf_counter()
    search.fit(*fit_args)
    total_s = time.perf_counter() - started
    search_s = sum(r.get("duration_s") or 0.0 for r in search.records_)
    searched_score = score_on_test(name, search.best_estimator_, test)
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
            alternatives[label] = score_on_test(name, other.best_estimator_, test)[ds.metric]
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
        "trials": trial_table(search),
        "date": dt.date.today().isoformat(), "commit": _commit(),
        "keras": keras.__version__, "versions": _versions(keras.config.backend()),
        "python": platform.python_version(),
        "cpus": os.cpu_count(), "command": command or "python -m benchmarks.run",
    }


def table_search(name: str, seed: int, estimator, *, budget: float, max_trials: int,
                 quick: bool, directory: Path, intensify: int | str = "auto"):
    """The table's ``SequenceSearch`` of ``estimator`` on data set ``name`` for ``seed``.

    Its directory, ``directory/<name>_seed<seed>_<backend>[_intensify<k>][_maxtrials<n>]``,
    is kept, so :mod:`benchmarks.ensemble_oof` and :mod:`benchmarks.band_average` can
    resume the finished search (no trial runs again) and read its trials back.
    """
    import keras

    from seqtune import SequenceSearch

    return SequenceSearch(
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


def trial_table(search) -> list[dict]:
    """Every trial's row of ``search.results_`` (parameters, fold scores, status), without
    the error text and with NaN as None: a selection rule can then be replayed on a
    committed run without rerunning its search, whose directory is not kept."""
    frame = search.results_.drop(columns=["error"], errors="ignore")
    return [{key: None if isinstance(value, float) and math.isnan(value) else value
             for key, value in row.items()} for row in frame.to_dict(orient="records")]


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


def _commit(repo: Path = REPO) -> str:
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
    parser.add_argument("--results", type=Path, help=f"JSON lines to append to (default: {RESULTS.relative_to(REPO)})")
    parser.add_argument("--output", type=Path, help=f"table to write (default: {OUTPUT.relative_to(REPO)})")
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
        directory = (scratch or REPO) / "seqtune_search" / "benchmarks"
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
                      f"{fmt(row['defaults'][ds.metric], ds.metric)}, searched "
                      f"{fmt(row['searched'][ds.metric], ds.metric)} ({row['n_trials']} trials, "
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
