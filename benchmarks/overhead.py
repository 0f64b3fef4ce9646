"""How much does seqtune add to a plain Keras fit?

Fits ``SequenceClassifier`` and a hand-written Keras model with the same architecture
(Input -> LSTM -> Dense softmax), optimizer (Adam, clipnorm 1), batch size, epochs,
seed and data (the GunPoint training split, loaded offline), early stopping off on
both, and prints the median wall time of each whole ``fit`` call plus their ratio.
Target: ratio <= 1.03 on CPU.

Both timings cover everything a user waits for: label encoding, input checks and
padding (seqtune), building and compiling the model, and ``model.fit``. One warm-up
fit of each comes first (library imports, XLA/tf.function caches), then the
repeats alternate which of the two runs first, so slow drift of the machine hits
both equally. The script also checks that both fits produce the same per-epoch
losses, so the two really train the same model.

Usage (from the repository root)::

    python benchmarks/overhead.py                      # active Keras backend
    python benchmarks/overhead.py --backend all        # tensorflow, jax, torch if installed
    python benchmarks/overhead.py --backend jax --repeats 7 --epochs 30
    python benchmarks/overhead.py --profile            # cProfile of seqtune's own code

``--backend`` re-executes this script once per backend with ``KERAS_BACKEND`` set,
because Keras fixes its backend at import time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

BACKENDS = ("tensorflow", "jax", "torch")
TARGET_RATIO = 1.03
# A child run prints its result as one JSON line with this prefix for the parent.
_RESULT_PREFIX = "OVERHEAD_RESULT "

# Run from a checkout without installing: make `import seqtune` find the repo.
_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend", nargs="+", default=None,
        help="Keras backend(s) to measure: tensorflow, jax, torch, or 'all' (every "
             "installed one). Default: the active backend (KERAS_BACKEND, else tensorflow).",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed fits of each (default 5)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per fit (default 20)")
    parser.add_argument("--batch-size", type=int, default=16, help="batch size (default 16)")
    parser.add_argument("--units", type=int, default=32, help="LSTM units (default 32)")
    parser.add_argument("--cell", default="lstm", choices=("lstm", "gru", "rnn"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile", action="store_true",
        help="also run one seqtune fit under cProfile and print where its own time goes",
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child mode
    return parser.parse_args(argv)


# ----------------------------------------------------------------------------- parent


def _installed(backend: str) -> bool:
    return importlib.util.find_spec(backend) is not None


def _run_backends(args: argparse.Namespace, argv: list[str]) -> int:
    """Re-execute this script once per backend and print a summary table."""
    wanted = list(BACKENDS) if "all" in args.backend else args.backend
    unknown = [b for b in wanted if b not in BACKENDS]
    if unknown:
        print(f"--backend {unknown} is not a Keras backend; expected some of {list(BACKENDS)} "
              "or 'all'.", file=sys.stderr)
        return 2
    # Forward every option except --backend itself to the children.
    forwarded, skip = [], False
    for token in argv:
        if token == "--backend":
            skip = True
            continue
        if skip and not token.startswith("--"):
            continue
        skip = False
        forwarded.append(token)

    results, rc = [], 0
    for backend in wanted:
        if not _installed(backend):
            print(f"\n=== {backend}: skipped ({backend} is not installed) ===", flush=True)
            results.append({"backend": backend, "skipped": f"{backend} not installed"})
            continue
        print(f"\n=== backend: {backend} ===", flush=True)
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *forwarded, "--json"],
            env=env, stdout=subprocess.PIPE, text=True,
        )
        result = None
        for line in proc.stdout.splitlines():
            if line.startswith(_RESULT_PREFIX):
                result = json.loads(line[len(_RESULT_PREFIX):])
            else:
                print(line)
        if proc.returncode != 0 or result is None:
            rc = 1
            results.append({"backend": backend, "skipped": f"failed (exit {proc.returncode})"})
        else:
            results.append(result)

    print("\nSummary (median wall time of a whole fit call)")
    print(f"{'backend':<11} {'keras s':>8} {'seqtune s':>10} {'ratio':>7} {'cpu ratio':>10}"
          f"  within {TARGET_RATIO}?")
    for r in results:
        if "skipped" in r:
            print(f"{r['backend']:<11} {r['skipped']}")
            continue
        ok = "yes" if r["ratio"] <= TARGET_RATIO else "NO"
        print(f"{r['backend']:<11} {r['keras_median_s']:>8.3f} {r['seqtune_median_s']:>10.3f} "
              f"{r['ratio']:>7.3f} {r['cpu_ratio']:>10.3f}  {ok}")
    return rc


# ------------------------------------------------------------------------------ child


def _hand_written_fit(X, y, *, cell, units, epochs, batch_size, seed):
    """What a user would write by hand: encode labels, build, compile, fit."""
    import keras
    import numpy as np

    classes, y_enc = np.unique(y, return_inverse=True)
    keras.utils.set_random_seed(seed)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU,
             "rnn": keras.layers.SimpleRNN}[cell]
    inputs = keras.Input(shape=X.shape[1:])
    x = layer(units)(inputs)
    outputs = keras.layers.Dense(len(classes), activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3, clipnorm=1.0),
        loss="sparse_categorical_crossentropy", metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(X, y_enc.astype("int32"), epochs=epochs, batch_size=batch_size,
                        shuffle=True, verbose=0)
    inner = time.perf_counter() - start
    return model, history.history["loss"], inner


def _seqtune_fit(X, y, *, cell, units, epochs, batch_size, random_state):
    from seqtune import SequenceClassifier

    clf = SequenceClassifier(
        cell=cell, units=units, n_layers=1, bidirectional=False, dropout=0.0,
        learning_rate=1e-3, clipnorm=1.0, batch_size=batch_size, epochs=epochs,
        early_stopping=False, random_state=random_state,
    )
    clf.fit(X, y)
    return clf


def _fresh() -> None:
    """Drop the previous model's graphs outside the timed region (same for both)."""
    import keras

    keras.backend.clear_session()
    gc.collect()


def _measure(args: argparse.Namespace) -> dict:
    import keras
    import numpy as np
    from sklearn.utils import check_random_state

    from seqtune.datasets import load_gunpoint

    X, y, _, _ = load_gunpoint()
    # seqtune seeds Keras with one draw from its random_state; give the hand-written
    # model the very same seed so both start from identical weights.
    seed = int(check_random_state(args.seed).randint(np.iinfo(np.int32).max))
    common = dict(cell=args.cell, units=args.units, epochs=args.epochs,
                  batch_size=args.batch_size)

    backend = keras.config.backend()
    print(f"Keras {keras.__version__}, backend: {backend}; data: GunPoint train "
          f"{X.shape}; {args.cell} {args.units} units, Adam + clipnorm 1, batch "
          f"{args.batch_size}, {args.epochs} epochs, early stopping off, seed {args.seed}",
          flush=True)

    # Wall time is what the target is about; process CPU time (all threads) is also
    # kept because it is far less disturbed by other processes on a shared machine.
    def time_keras():
        _fresh()
        start, cpu = time.perf_counter(), time.process_time()
        _, losses, inner = _hand_written_fit(X, y, seed=seed, **common)
        return time.perf_counter() - start, time.process_time() - cpu, inner, losses

    def time_seqtune():
        _fresh()
        start, cpu = time.perf_counter(), time.process_time()
        clf = _seqtune_fit(X, y, random_state=args.seed, **common)
        return (time.perf_counter() - start, time.process_time() - cpu, clf.fit_time_,
                clf.history_["loss"])

    # Warm-up: imports, backend initialisation, compilation caches.
    *_, keras_losses = time_keras()
    *_, seqtune_losses = time_seqtune()
    loss_diff = float(np.max(np.abs(np.subtract(keras_losses, seqtune_losses))))

    times = {"keras": [], "seqtune": []}  # (wall, cpu, model.fit wall) per repeat
    for i in range(args.repeats):
        order = (("keras", time_keras), ("seqtune", time_seqtune))
        for name, fn in order if i % 2 == 0 else order[::-1]:
            times[name].append(fn()[:3])
        print(f"  repeat {i + 1}/{args.repeats}: keras {times['keras'][-1][0]:.3f}s  "
              f"seqtune {times['seqtune'][-1][0]:.3f}s  (cpu {times['keras'][-1][1]:.3f}s / "
              f"{times['seqtune'][-1][1]:.3f}s)", flush=True)

    def med(name, column):
        return statistics.median(t[column] for t in times[name])

    k_med, s_med = med("keras", 0), med("seqtune", 0)
    k_cpu, s_cpu = med("keras", 1), med("seqtune", 1)
    k_in, s_in = med("keras", 2), med("seqtune", 2)
    result = {
        "backend": backend,
        "keras_median_s": k_med,
        "seqtune_median_s": s_med,
        "ratio": s_med / k_med,
        "keras_cpu_median_s": k_cpu,
        "seqtune_cpu_median_s": s_cpu,
        "cpu_ratio": s_cpu / k_cpu,
        "keras_model_fit_s": k_in,
        "seqtune_model_fit_s": s_in,
        "keras_outside_fit_s": k_med - k_in,
        "seqtune_outside_fit_s": s_med - s_in,
        "paired_ratio": statistics.median(
            s[0] / k[0] for s, k in zip(times["seqtune"], times["keras"])),
        "extra_outside_fit_s": (s_med - s_in) - (k_med - k_in),
        "max_loss_diff": loss_diff,
        "repeats": args.repeats,
        "epochs": args.epochs,
    }
    print(f"hand-written Keras : median {k_med:.3f}s  (model.fit {k_in:.3f}s, "
          f"build+compile+labels {k_med - k_in:.3f}s)")
    print(f"SequenceClassifier : median {s_med:.3f}s  (model.fit {s_in:.3f}s, "
          f"checks+padding+build+compile {s_med - s_in:.3f}s)")
    verdict = "within" if result["ratio"] <= TARGET_RATIO else "ABOVE"
    print(f"ratio seqtune / keras = {result['ratio']:.3f}  ({verdict} the {TARGET_RATIO} target)")
    print(f"CPU-time ratio        = {result['cpu_ratio']:.3f}  (median process CPU "
          f"{k_cpu:.3f}s / {s_cpu:.3f}s; less sensitive to other load on the machine)")
    print(f"median of the {args.repeats} paired ratios (same repeat) = {result['paired_ratio']:.3f}")
    extra = result["extra_outside_fit_s"]
    print(f"seqtune's own work outside model.fit: {extra * 1000:+.0f} ms per fit "
          f"({100 * extra / k_med:+.2f}% of the hand-written fit); model.fit itself runs the "
          "same model on the same data, so any other gap is load on the machine")
    same = "identical" if loss_diff < 1e-5 else f"differ by up to {loss_diff:.2e}"
    print(f"per-epoch training losses of the two warm-up fits: {same}")
    return result


def _profile(args: argparse.Namespace) -> None:
    """cProfile one seqtune fit and list the slowest functions outside Keras's fit."""
    from seqtune.datasets import load_gunpoint

    X, y, _, _ = load_gunpoint()
    common = dict(cell=args.cell, units=args.units, epochs=args.epochs,
                  batch_size=args.batch_size)
    _fresh()
    profiler = cProfile.Profile()
    profiler.enable()
    _seqtune_fit(X, y, random_state=args.seed, **common)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    # seqtune's own functions, by cumulative time: what the wrapper adds around Keras.
    stats.print_stats(r"seqtune[/\\]", 15)
    print("\ncProfile, seqtune's own functions (cumulative seconds):")
    print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parse_args(argv)
    if args.backend:
        return _run_backends(args, argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = _measure(args)
    if args.profile or result["ratio"] > TARGET_RATIO:
        _profile(args)
    if args.json:
        print(_RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
