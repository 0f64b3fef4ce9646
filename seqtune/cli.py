"""The ``seqtune`` command line: ``seqtune search`` and ``seqtune sync``.

The data ``seqtune search`` reads (its formats) is :mod:`seqtune._cli_data`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from seqtune._cli_data import CliError, load_data
from seqtune.spaces import TASKS as _TASKS

__all__ = ["main", "build_parser", "load_data"]

_DATA_HELP = """\
data formats:
  --dataset NAME   packaged data set: gunpoint, basic_motions, pickup_gesture
                   (classification: searched on the train split, the test split is
                   scored at the end), airline, macrodata_growth (forecasting: the last
                   24 / 40 steps are held out and scored at the end).
  file.npz         classification/regression: arrays X (n_samples, n_timesteps) or
                   (n_samples, n_timesteps, n_features) and y (n_samples,).
                   forecasting: y, the series (n_timesteps,) or (n_timesteps, n_targets),
                   and optionally X, exogenous series (n_timesteps, n_exogenous).
  file.csv         classification/regression, wide layout: one row per sample, the
  file.parquet     --target column is the label, every other column one time step.
                   Long layout (--id-column ID): one row per time step; rows sharing an
                   id form one sequence (lengths may differ), the other numeric columns
                   are its features, the target is read from its first row.
                   forecasting (--series COL[,COL]): one row per time step, in time
                   order; --exog names exogenous columns.

examples:
  seqtune search --dataset gunpoint --space quick --tuner random --max-trials 5
  seqtune search data.npz --task regression --time-budget 600 --tracking-uri http://localhost:5000
  seqtune search sales.csv --series sales --horizon 7 --tuner hyperband
  seqtune sync --directory seqtune_search          # after the tracking server was down
  mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db   # browse the runs

A search interrupted by Ctrl-C or a killed process resumes when the same command is
run again (without --overwrite); completed trials are not run again.
"""


def _estimator(task: str, params: dict) -> Any:
    from sklearn.base import clone

    if task == "classification":
        from seqtune.classifier import SequenceClassifier as cls
    elif task == "regression":
        from seqtune.regressor import SequenceRegressor as cls
    else:
        from seqtune.forecaster import SequenceForecaster as cls
    estimator = cls()
    try:
        return clone(estimator).set_params(**params)
    except ValueError as exc:
        raise CliError(f"--param: {exc}") from None


def _parse_params(items: list[str]) -> dict:
    import yaml

    params = {}
    for item in items or []:
        if "=" not in item:
            raise CliError(f"--param {item!r}: expected NAME=VALUE, e.g. --param units=32")
        name, _, raw = item.partition("=")
        params[name.strip()] = yaml.safe_load(raw)
    return params


# ------------------------------------------------------------------------- display


class _Progress:
    """Rich progress display: trial i of N, best score so far, elapsed time and ETA."""

    def __init__(self, console: Any, max_trials: int, time_budget: float | None, objective: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.max_trials = max_trials
        self.time_budget = time_budget
        self.objective = objective
        self.progress = Progress(
            TextColumn("[bold]trial"),
            MofNCompleteColumn(),
            BarColumn(bar_width=16),
            TextColumn("best {task.fields[best]}"),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("ETA {task.fields[eta]}"),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("search", total=max_trials, best="-", eta="-", status="")

    def __enter__(self) -> "_Progress":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def __call__(self, event: dict) -> None:
        n_done, elapsed = event["n_done"], event["elapsed_s"]
        best = "-" if event["best_score"] is None else f"{self.objective}={event['best_score']:.4g}"
        eta = "-"
        if n_done:
            seconds = elapsed / n_done * max(self.max_trials - n_done, 0)
            if self.time_budget is not None:
                seconds = min(seconds, max(self.time_budget - elapsed, 0.0))
            eta = _duration(seconds)
        if event["event"] == "trial_begin":
            status = f"running trial {n_done + 1} of {self.max_trials}"
        else:
            record = event["record"]
            score = "-" if record["score"] is None else f"{record['score']:.4g}"
            status = f"trial {record['trial_id']} {record['status'].lower()} ({score})"
        self.progress.update(self.task, completed=n_done, best=best, eta=eta, status=status)


def _cv_arg(text: str) -> Any:
    """``--cv``: "auto", "none" (one holdout) or a number of folds."""
    lowered = text.strip().lower()
    if lowered in ("auto", "none"):
        return None if lowered == "none" else "auto"
    try:
        return int(lowered)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not auto, none or a number of folds (e.g. --cv 5)") from None


def _auto_or_int(flag: str) -> Callable[[str], Any]:
    """An argparse type for ``flag``: "auto" or a number of configurations."""
    def parse(text: str) -> Any:
        lowered = text.strip().lower()
        if lowered == "auto":
            return "auto"
        try:
            return int(lowered)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not auto or a number of configurations (e.g. {flag} 3)") from None
    return parse


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _leaderboard(console: Any, search: Any, top: int) -> None:
    from rich.table import Table

    from seqtune.records import leaderboard

    results = search.results_
    direction = search.objective_["direction"]
    ranked = leaderboard(search.records_, direction).head(top)
    fixed = {"trial_id", "score", "status", "stopped_by", "duration_s", "epochs_run", "n_params",
             "seconds_per_epoch", "fused_kernel", "error", "std_score"}
    fixed |= {c for c in results.columns if c.startswith("split") and c.endswith("_score")}
    params = [c for c in results.columns if c not in fixed and results[c].nunique(dropna=True) > 1]
    table = Table(title=f"Leaderboard ({search.objective_['name']}, {direction})")
    for column in ["trial", "status", search.objective_["name"], *params, "epochs", "s/epoch", "weights"]:
        table.add_column(column, justify="left" if column == "status" else "right", overflow="fold")
    for _, row in ranked.iterrows():
        score = "-" if np.isnan(row["score"]) else f"{row['score']:.4g}"
        std = row.get("std_score")
        if score != "-" and std is not None and np.isfinite(std):
            score += f" ± {std:.2g}"
        spe = row["seconds_per_epoch"]
        table.add_row(
            str(row["trial_id"]),
            str(row["status"]) + (f" ({row['stopped_by']})" if isinstance(row.get("stopped_by"), str) else ""),
            score,
            *[_fmt(row[p]) for p in params],
            _fmt(row["epochs_run"]), "-" if spe is None or spe != spe else f"{spe:.3g}",
            _fmt(row["n_params"]),
        )
    console.print(table)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# ------------------------------------------------------------------------- commands


def _cmd_search(args: argparse.Namespace) -> int:
    import contextlib

    from rich.console import Console
    from rich.markup import escape

    from seqtune.search import SequenceSearch
    from seqtune.search._objective import resolve_objective

    # Rich assumes 80 columns when writing to a file or pipe; the leaderboard needs more.
    console = Console(width=None if sys.stdout.isatty() else 140)
    data = load_data(args)
    task = data["task"]
    if task not in _TASKS:
        raise CliError(
            f"could not tell the task from the data; pass --task with one of {list(_TASKS)}"
        )
    params = _parse_params(args.param)
    if task == "forecasting" and args.horizon is not None:
        params["horizon"] = args.horizon
    estimator = _estimator(task, params)
    search = SequenceSearch(
        estimator,
        space=args.space,
        tuner=args.tuner,
        max_trials=args.max_trials,
        time_budget=args.time_budget,
        objective=args.objective,
        directory=args.directory,
        project_name=args.project_name,
        overwrite=args.overwrite,
        tracking=not args.no_tracking,
        tracking_uri=args.tracking_uri,
        experiment_name=args.experiment,
        validation_fraction=args.validation_fraction,
        random_state=args.random_state,
        verbose=0,
        cv=args.cv,
        pruning=not args.no_pruning,
        final_model=args.final_model,
        ensemble=args.ensemble,
        intensify=args.intensify,
        n_jobs=args.n_jobs,
        gpus=args.gpus,
        trials_per_gpu=args.trials_per_gpu,
        lease=args.lease,
        chief_address=args.chief_address,
    )
    console.print(
        f"[bold]seqtune search[/]: {escape(data['description'])}; task={task}, "
        f"estimator={type(estimator).__name__}, tuner={args.tuner}, max_trials={args.max_trials}"
        + (f", time_budget={args.time_budget}s" if args.time_budget else "")
    )
    objective = resolve_objective(args.objective, task).name
    started = time.monotonic()
    progress = None if args.quiet else _Progress(console, args.max_trials, args.time_budget, objective)
    with progress or contextlib.nullcontext():
        search.fit(*data["fit"], trial_callback=progress)
    _leaderboard(console, search, args.top)
    console.print(f"best {search.objective_['name']}: {search.best_score_:.4g}  params: {search.best_params_}")
    if data["test"] is not None and search.best_estimator_ is not None:
        if task == "forecasting":
            metrics = search.best_estimator_.evaluate(*data["test"])
            console.print("test: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        else:
            console.print(f"test score: {search.best_estimator_.score(*data['test']):.4g}")
    console.print(f"search directory: {search.project_dir_}   total time: {_duration(time.monotonic() - started)}")
    if search.best_model_uri_:
        console.print(f"best model: {search.best_model_uri_}")
    if args.leaderboard_csv:
        search.results_.to_csv(args.leaderboard_csv, index=False)
        console.print(f"leaderboard written to {args.leaderboard_csv}")
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from seqtune.search._worker import worker_main

    return worker_main(args.oracle, args.directory, tuner_id=args.tuner_id, lease=args.lease,
                       wait=args.wait)


def _cmd_sync(args: argparse.Namespace) -> int:
    from seqtune.tracking import sync_directory

    directory = Path(args.directory)
    if args.project_name:
        projects = [args.project_name]
    else:
        projects = sorted(p.name for p in directory.iterdir() if p.is_dir() and any(p.glob("trial_*")))
        if not projects:
            raise CliError(f"{directory}: no search projects found (no */trial_* directories)")
    total = 0
    for project in projects:
        n = sync_directory(directory, project, tracking_uri=args.tracking_uri, experiment_name=args.experiment)
        print(f"{project}: logged {n} missing trial run(s)")
        total += n
    print(f"synced {total} run(s) from {len(projects)} project(s)")
    return 0


# -------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``seqtune`` command."""
    parser = argparse.ArgumentParser(
        prog="seqtune",
        description="AutoML for recurrent sequence models: Keras-Tuner searches tracked in MLflow.",
        epilog="Run 'seqtune search --help' for the data formats and every option.",
    )
    from seqtune import __version__

    parser.add_argument("--version", action="version", version=f"seqtune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{search,sync,worker}")

    search = sub.add_parser(
        "search",
        help="run a hyperparameter search on a data file or a packaged data set",
        description="Run a hyperparameter search and print the leaderboard.",
        epilog=_DATA_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = search.add_argument_group("data")
    data.add_argument("data", nargs="?", help="data file: .npz, .csv or .parquet (formats below)")
    data.add_argument("--dataset", help="packaged data set: gunpoint, basic_motions, pickup_gesture, airline, macrodata_growth")
    data.add_argument("--task", choices=_TASKS, help="what to learn; when omitted, text labels or at "
                      "most 20 distinct whole numbers are classes, other numbers regression")
    data.add_argument("--target", default="target", help="CSV/Parquet: label column (default: target)")
    data.add_argument("--id-column", help="CSV/Parquet long layout: column naming each row's sequence")
    data.add_argument("--series", help="forecasting CSV/Parquet: target series column(s), comma separated")
    data.add_argument("--exog", help="forecasting CSV/Parquet: exogenous columns, comma separated")
    data.add_argument("--horizon", type=int, help="forecasting: steps ahead to forecast (default: the estimator's, 1)")

    tune = search.add_argument_group("search")
    tune.add_argument("--space", default="default",
                      help="search space: 'default', 'quick', or a YAML file (default: default)")
    tune.add_argument("--tuner", choices=("bayesian", "random", "hyperband"), default="bayesian",
                      help="Keras Tuner oracle (default: bayesian)")
    tune.add_argument("--max-trials", type=int, default=10, help="number of trials (default: 10)")
    tune.add_argument("--time-budget", type=float, help="seconds; no trial starts after it, the running one stops at an epoch end")
    tune.add_argument("--objective", help="'score' (default), 'val_loss', or for forecasting "
                                          "mae/rmse/smape/mase (default: mae)")
    tune.add_argument("--cv", default="auto", type=_cv_arg,
                      help="how trials are scored: auto (5 folds below 1000 samples; forecasters up "
                           "to 3 expanding-window origins), none (one holdout) or a number of folds "
                           "(default: auto)")
    tune.add_argument("--validation-fraction", type=float, default=0.2,
                      help="held-out share scoring the trials with --cv none (default: 0.2)")
    tune.add_argument("--no-pruning", action="store_true",
                      help="run every fold of every trial (default: stop clearly worse trials early)")
    tune.add_argument("--final-model", choices=("auto", "refit", "bag", "refit_seeds"),
                      default="auto",
                      help="the best configuration refitted and checked, its fold models averaged, "
                           "or one refit per seed it was re-scored with, averaged (default: auto)")
    tune.add_argument("--ensemble", type=_auto_or_int("--ensemble"), default="auto",
                      help="average up to this many configurations chosen on out-of-fold "
                           "predictions; auto: 3 for cross-validated classifiers, else 1 "
                           "(default: auto)")
    tune.add_argument("--intensify", type=_auto_or_int("--intensify"), default="auto", metavar="K",
                      help="train the best configuration again with 2 other weight seeds and "
                           "rank it by the mean, up to K configurations; auto: 3 for "
                           "cross-validated forecasters, else 0 (default: auto)")
    tune.add_argument("--param", action="append", metavar="NAME=VALUE",
                      help="fix an estimator parameter, e.g. --param epochs=50 (repeatable)")
    tune.add_argument("--random-state", type=int, help="seed of the oracle and the split")

    workers = search.add_argument_group("workers")
    workers.add_argument("--n-jobs", type=int, default=1,
                         help="worker processes on this machine (-1: one per core; default: 1, "
                              "trials run in this process)")
    workers.add_argument("--gpus", help="GPU ids, e.g. 0,1,2,3: --trials-per-gpu workers on each")
    workers.add_argument("--trials-per-gpu", type=int, default=1, help="workers per GPU (default: 1)")
    workers.add_argument("--lease", type=float, default=30.0,
                         help="seconds without a heartbeat before a worker's trial goes to another "
                              "(default: 30)")
    workers.add_argument("--chief-address", metavar="HOST:PORT",
                         help="listen for workers on other machines (seqtune worker); port 0 picks one")

    state = search.add_argument_group("state and tracking")
    state.add_argument("--directory", default="seqtune_search", help="search state directory (default: seqtune_search)")
    state.add_argument("--project-name", help="sub-directory of --directory (default: <estimator>_<tuner>)")
    state.add_argument("--overwrite", action="store_true",
                       help="delete an earlier search of the same project instead of resuming it")
    state.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db)")
    state.add_argument("--experiment", help="MLflow experiment name")
    state.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")

    out = search.add_argument_group("output")
    out.add_argument("--top", type=int, default=10, help="leaderboard rows to print (default: 10)")
    out.add_argument("--leaderboard-csv", help="also write the full leaderboard to this CSV file")
    out.add_argument("--quiet", action="store_true", help="no progress display")
    search.set_defaults(func=_cmd_search)

    sync = sub.add_parser(
        "sync",
        help="log to MLflow the trials a search could not log (tracking server down)",
        description="Log every finished trial of a search directory that MLflow is missing.",
    )
    sync.add_argument("--directory", default="seqtune_search", help="search state directory (default: seqtune_search)")
    sync.add_argument("--project-name", help="project to sync (default: every project in --directory)")
    sync.add_argument("--tracking-uri", help="MLflow tracking URI")
    sync.add_argument("--experiment", help="MLflow experiment name")
    sync.set_defaults(func=_cmd_sync)

    worker = sub.add_parser(
        "worker",
        help="join a running search as a worker (its chief runs elsewhere)",
        description="Run trials for a search whose chief listens at --oracle, until it stops.",
        epilog="The chief prints this command with its address when it starts listening "
               "(seqtune search --chief-address HOST:PORT).",
    )
    worker.add_argument("--oracle", metavar="HOST:PORT",
                        help="the chief's address (default: read from the search directory)")
    worker.add_argument("--directory", required=True,
                        help="the search's <directory>/<project_name>, on a disk shared with the chief")
    worker.add_argument("--tuner-id", help="a unique id for this worker (default: host name and pid)")
    worker.add_argument("--lease", type=float, help="heartbeat lease in seconds (default: the search's)")
    worker.add_argument("--wait", type=float, default=600.0,
                        help="seconds to wait for the chief to start (default: 600)")
    worker.set_defaults(func=_cmd_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``seqtune`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except CliError as exc:
        print(f"seqtune {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FileNotFoundError) as exc:
        # Configuration errors (bad space, parameter, objective): the message says the fix.
        print(f"seqtune {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"\nseqtune {args.command}: interrupted. Run the same command again (without "
            "--overwrite) to resume; completed trials are kept.",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
