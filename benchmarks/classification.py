"""Regenerate the classification benchmark table: seqtune beside the published references.

For each data set (GunPoint, BasicMotions, PickupGestureWiimoteZ; all ship inside aeon
and load offline, published train/test split) this runs a small ``SequenceSearch`` on
the training split, refits the best configuration on the whole training split, and
scores it on the test split. The budget (trials, wall time, CPU cores) is written in
the table, next to the published references and the hand-written recurrent models of
BENCHMARKS.md. ``--no-search`` fits one documented fixed configuration per data set
instead (the configurations in ``FIXED`` below).

PickupGestureWiimoteZ has sequences of 29-361 steps: it goes in as a list of arrays,
and seqtune pads and masks it.

Usage (from the repository root)::

    python benchmarks/classification.py                         # ~8-15 min on 2 cores
    python benchmarks/classification.py --trials 8 --time-budget 600
    python benchmarks/classification.py --no-search             # fixed configs, ~2 min
    python benchmarks/classification.py --datasets gunpoint --mlflow

The table is printed and written to ``benchmarks/results/classification.md``
(``--output`` to change).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(_REPO))

DEFAULT_OUTPUT = _REPO / "benchmarks" / "results" / "classification.md"


@dataclass(frozen=True)
class Benchmark:
    title: str
    loader: str  # name in seqtune.datasets
    shape: str
    references: str  # published, from BENCHMARKS.md
    by_hand: str  # hand-written Keras recurrent models, BENCHMARKS.md
    by_hand_best: float  # the best of those, to say whether seqtune beats it
    space: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)


# Spaces are small on purpose (a few trials on 2 cores). What the hand-written models
# of BENCHMARKS.md taught: bidirectional layers help, the number of steps the model sees
# (stride) matters more than depth, and with 40-50 training series a validation split is
# too small to early-stop on, so epochs are fixed and early stopping is off. Learning
# rates stop at 1e-3: at 3e-3 the training loss of these recurrent models climbs again
# late in training. (Trials were then scored on their best epoch while the refit kept
# the last one, so the search kept picking 3e-3 and the refit scored 0.72-0.86 on
# GunPoint, JAX run of 2026-11-22; trials now score the epoch they keep.)
BENCHMARKS = {
    "gunpoint": Benchmark(
        title="GunPoint",
        loader="load_gunpoint",
        shape="50/150, 150 × 1",
        references="1-NN DTW 0.907 · MLP 0.928 · ResNet 0.991 · FCN 1.00 · "
                   "InceptionTime 1.00 · ROCKET 1.00",
        by_hand="BiLSTM 0.927 (0.93–0.98 over 3 seeds)",
        by_hand_best=0.927,
        space={
            "cell": ["lstm", "gru"],
            "bidirectional": True,
            "units": [32, 64],
            "stride": [2, 3],
            "learning_rate": [5.0e-4, 1.0e-3],
            "batch_size": 16,
            "epochs": 100,
            "early_stopping": False,
        },
        fixed={"cell": "lstm", "bidirectional": True, "units": 64, "stride": 2,
               "batch_size": 16, "epochs": 150, "early_stopping": False},
    ),
    "basic_motions": Benchmark(
        title="BasicMotions",
        loader="load_basic_motions",
        shape="40/40, 100 × 6",
        references="1-NN DTW (dependent) 0.975 · MiniRocket 1.00",
        by_hand="GRU 0.95",
        by_hand_best=0.95,
        space={
            "cell": ["lstm", "gru"],
            # {"type": "bool"}, not [False, True]: Keras Tuner turns a bool choice into 0/1.
            "bidirectional": {"type": "bool"},
            "units": [32, 64],
            "stride": [1, 2],
            "learning_rate": [5.0e-4, 1.0e-3],
            "batch_size": 16,
            "epochs": 100,
            "early_stopping": False,
        },
        fixed={"cell": "lstm", "bidirectional": True, "units": 64, "stride": 2,
               "batch_size": 16, "epochs": 100, "early_stopping": False},
    ),
    "pickup_gesture": Benchmark(
        title="PickupGestureWiimoteZ (variable length, masked)",
        loader="load_pickup_gesture",
        shape="50/50, 29–361 × 1",
        references="1-NN DTW (tuned window) 0.66 · MLP 0.604 · ResNet 0.704 · "
                   "FCN 0.744 · InceptionTime 0.760 · ROCKET 0.830",
        by_hand="0.34 at full length; BiLSTM at stride 4 0.66",
        by_hand_best=0.66,
        space={
            "cell": ["lstm", "gru"],
            "bidirectional": True,
            "units": [32, 64],
            "stride": [4, 8],
            "learning_rate": [5.0e-4, 1.0e-3],
            "batch_size": 16,
            "epochs": 150,
            "early_stopping": False,
        },
        fixed={"cell": "lstm", "bidirectional": True, "units": 64, "stride": 4,
               "batch_size": 16, "epochs": 150, "early_stopping": False},
    ),
}


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(BENCHMARKS),
                        choices=list(BENCHMARKS), help="data sets to run (default: all)")
    parser.add_argument("--trials", type=int, default=5,
                        help="search trials per data set (default 5)")
    parser.add_argument("--time-budget", type=float, default=240.0,
                        help="search seconds per data set, refit not counted (default 240)")
    parser.add_argument("--tuner", default="random", choices=("random", "bayesian"),
                        help="Keras Tuner oracle (default random)")
    parser.add_argument("--no-search", action="store_true",
                        help="fit the documented fixed configuration of each data set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mlflow", action="store_true",
                        help="track the searches in MLflow (default store sqlite:///mlruns/mlflow.db)")
    parser.add_argument("--directory", default="seqtune_search",
                        help="search state directory (default seqtune_search/)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"markdown file to write (default {DEFAULT_OUTPUT.relative_to(_REPO)})")
    return parser.parse_args(argv)


def _describe(params: dict) -> str:
    """Short text for a configuration, e.g. 'BiLSTM 64, stride 2, lr 0.001, 100 epochs'."""
    cell = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[params.get("cell", "lstm")]
    name = ("Bi" if params.get("bidirectional") else "") + cell
    parts = [f"{name} {params.get('units', 64)}"]
    if params.get("n_layers", 1) != 1:
        parts.append(f"{params['n_layers']} layers")
    parts.append(f"stride {params.get('stride', 1)}")
    parts.append(f"lr {params.get('learning_rate', 1e-3):g}")
    parts.append(f"{params.get('epochs')} epochs")
    return ", ".join(parts)


def _run_one(key: str, args: argparse.Namespace) -> dict:
    from seqtune import SequenceClassifier, datasets

    bench = BENCHMARKS[key]
    X_train, y_train, X_test, y_test = getattr(datasets, bench.loader)()
    note = None
    print(f"\n=== {bench.title}: {bench.shape} ===", flush=True)
    start = time.perf_counter()
    if args.no_search:
        clf = SequenceClassifier(random_state=args.seed, **bench.fixed).fit(X_train, y_train)
        accuracy = clf.score(X_test, y_test)
        params, trials = dict(bench.fixed), 0
    else:
        try:
            search = _search(key, args, X_train, y_train)
        except Exception as exc:  # noqa: BLE001 - keep the other data sets' results
            if not isinstance(X_train, list):
                raise
            # Same sequences, still variable length and masked, as a 1-D object array.
            note = (f"SequenceSearch failed on the list input ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0]}); searched on the same sequences "
                    "as a 1-D object array instead")
            print(f"NOTE: {note}", flush=True)
            X_train = _object_array(X_train)
            search = _search(key, args, X_train, y_train)
        accuracy = search.score(X_test, y_test)
        params = {**bench.space, **search.best_params_}
        trials = int((search.results_["status"] != "failed").sum())
        print(search.results_[["trial_id", *[k for k in bench.space
                                             if isinstance(bench.space[k], list)],
                               "score", "status", "duration_s"]].to_string(index=False))
    wall = time.perf_counter() - start
    print(f"{bench.title}: test accuracy {accuracy:.3f} ({_describe(params)}; "
          f"{wall:.0f} s)", flush=True)
    return {"key": key, "accuracy": accuracy, "params": params, "trials": trials,
            "wall_s": wall, "note": note}


def _object_array(X: list) -> np.ndarray:
    out = np.empty(len(X), dtype=object)
    out[:] = X
    return out


def _search(key: str, args: argparse.Namespace, X_train, y_train):
    import keras

    from seqtune import SequenceClassifier, SequenceSearch

    search = SequenceSearch(
        SequenceClassifier(random_state=args.seed),
        space=BENCHMARKS[key].space,
        tuner=args.tuner,
        # Validation loss ranks trials more finely than accuracy on 8-10 series.
        objective="val_loss",
        max_trials=args.trials,
        time_budget=args.time_budget,
        directory=args.directory,
        # One directory per backend, so runs on two backends at once do not mix trials.
        project_name=f"benchmark_{key}_{keras.config.backend()}",
        overwrite=True,
        tracking=args.mlflow,
        experiment_name="seqtune-benchmarks" if args.mlflow else None,
        random_state=args.seed,
        verbose=1,
    )
    return search.fit(X_train, y_train)


def _table(results: list[dict], args: argparse.Namespace) -> str:
    import keras

    cores = os.cpu_count()
    mode = ("fixed configuration (--no-search)" if args.no_search else
            f"{args.tuner} search, ≤{args.trials} trials and {args.time_budget:.0f} s of "
            "trials per data set, then a refit on the whole training split")
    command = f"python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:])}".rstrip()
    lines = [
        "# seqtune on the classification benchmarks",
        "",
        f"Generated by `{command}` on {dt.date.today().isoformat()}: "
        f"{mode}; Keras {keras.__version__} ({keras.config.backend()} backend), "
        f"{cores} CPU cores, {platform.python_implementation()} "
        f"{platform.python_version()}, seed {args.seed}. Test-set accuracy on the published "
        "split; references from `BENCHMARKS.md`.",
        "",
        "| data set | train/test, length × channels | seqtune (test acc.) | "
        f"{'configuration' if args.no_search else 'best configuration'} "
        "| budget: trials, wall time | hand-written recurrent (BENCHMARKS.md) "
        "| published references |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        bench = BENCHMARKS[r["key"]]
        budget = (f"{r['trials']} trial{'s' * (r['trials'] != 1)}, "
                  f"{r['wall_s'] / 60:.1f} min" if not args.no_search
                  else f"1 fit, {r['wall_s'] / 60:.1f} min")
        lines.append(
            f"| {bench.title} | {bench.shape} | **{r['accuracy']:.3f}** | "
            f"{_describe(r['params'])} | {budget} on {cores} cores | {bench.by_hand} | "
            f"{bench.references} |"
        )
    verdicts = []
    for r in results:
        bench = BENCHMARKS[r["key"]]
        gap = r["accuracy"] - bench.by_hand_best
        word = "beats" if gap > 1e-9 else "matches" if abs(gap) <= 1e-9 else "trails"
        verdicts.append(f"{bench.title.split(' (')[0]} {r['accuracy']:.3f} {word} "
                        f"{bench.by_hand_best:.3f}")
    lines += [
        "", "Reading the table:", "",
        "- Against the best hand-written recurrent model of BENCHMARKS.md (same 2-core "
        f"CPU, 4-6 configurations by hand): {'; '.join(verdicts)}.",
    ]
    if not args.no_search:
        lines.append(_SEARCH_NOTE)
    lines += _NOTES
    lines += [f"- {BENCHMARKS[r['key']].title}: {r['note']}." for r in results if r.get("note")]
    return "\n".join(lines) + "\n"


_SEARCH_NOTE = (
    "- The budget is deliberately small (a few minutes per data set on 2 CPU cores). "
    "Trials are ranked by validation loss on 20% of the training split (8-10 series), "
    "a noisy signal on sets this small: the search does not always pick the "
    "configuration that scores best on the test split (compare "
    "`results/classification_fixed.md`, from `--no-search`), and more trials or "
    "seeds move the figures by a few points either way."
)
_NOTES = [
    "- Pure recurrent models trail the convolutional ones (ResNet, FCN, InceptionTime) "
    "and ROCKET on the long univariate series: GunPoint (150 steps) and above all "
    "PickupGestureWiimoteZ (up to 361 steps). An LSTM/GRU must carry the whole series "
    "through its state, while a convolution sees local shapes directly; striding the "
    "series (fewer, coarser steps) is what closes part of the gap here, not depth.",
    "- The test splits are small (BasicMotions: 40 series, so one series is 0.025 of "
    "accuracy; PickupGestureWiimoteZ: 50, 0.02), so differences of a few series between "
    "seeds and budgets are noise.",
]


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    results = [_run_one(key, args) for key in args.datasets]
    table = _table(results, args)
    print("\n" + table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    print(f"Written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
