"""End of a search in MLflow: summary metrics, best params, leaderboard CSV and plots.

Plots use matplotlib's object API (no pyplot state), so two searches can end at once.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from seqtune.records import leaderboard as records_leaderboard
from seqtune.records import rank_records

from ._common import _MAX_TAG_LEN, _finite_float, _key, _ms, _value
from ._records import _objective_name

# Matplotlib is not thread-safe (its mathtext parser fails when two threads draw
# log-scale tick labels at once), and two searches may end at the same time.
_MATPLOTLIB_LOCK = threading.Lock()


def _warm_plotting() -> None:
    """Import matplotlib's figure and Agg modules now (about 0.3 s).

    Called from ``start_search``, which a search runs on its tracking thread while the
    first trial trains, so the end-of-search plots do not pay the import.
    """
    try:
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.figure  # noqa: F401
        import matplotlib.ticker  # noqa: F401
    except ImportError:  # mlflow-skinny without matplotlib: no plots, see _render_plots
        pass


def _render_plots(records: Sequence[Mapping[str, Any]], directory: str) -> list[str]:
    """Draw the end-of-search plots into PNG files in ``directory``; return their paths."""
    paths = []
    try:
        import matplotlib  # noqa: F401  (a dependency of mlflow, not of mlflow-skinny)
    except ImportError:
        return paths
    with _MATPLOTLIB_LOCK:
        for name, make in (("learning_curves.png", _learning_curves_figure),
                           ("score_vs_params.png", _score_vs_params_figure)):
            fig = make(records)
            if fig is not None:
                path = os.path.join(directory, name)
                fig.savefig(path, format="png")
                paths.append(path)
    return paths


def _learning_curves_figure(records: Sequence[Mapping[str, Any]], top: int = 5) -> Any | None:
    """Train/validation loss per epoch of the ``top`` best trials."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state

    best = [r for r in rank_records(records) if (r.get("history") or {}).get("loss")][:top]
    if not best:
        return None
    fig = Figure(figsize=(7, 4.5), dpi=100)
    ax = fig.add_subplot()
    for i, record in enumerate(best):
        color = f"C{i}"
        history = record["history"]
        label = f"trial {record.get('trial_id')} ({_objective_name(record)}={float(record['score']):.4g})"
        ax.plot(range(1, len(history["loss"]) + 1), history["loss"], color=color, linestyle="--",
                alpha=0.7)
        if history.get("val_loss"):
            ax.plot(range(1, len(history["val_loss"]) + 1), history["val_loss"], color=color,
                    label=label)
        else:
            ax.lines[-1].set_label(label)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (dashed: train, solid: validation)")
    ax.set_title(f"Learning curves of the top {len(best)} trials")
    ax.legend(fontsize="small")
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.12, top=0.92)  # cheaper than tight_layout
    return fig


def _score_vs_params_figure(records: Sequence[Mapping[str, Any]]) -> Any | None:
    """One panel per searched parameter: objective against the parameter's value."""
    from matplotlib.figure import Figure

    scored = rank_records(records)
    names = sorted({k for r in scored for k in (r.get("params") or {})})
    names = [n for n in names if len({_value(r["params"].get(n)) for r in scored}) > 1]
    if not scored or not names:
        return None
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(4 * cols, 3.2 * rows), dpi=100)
    objective = _objective_name(scored[0])
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        values = [r["params"].get(name) for r in scored]
        scores = [float(r["score"]) for r in scored]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric:
            ax.scatter(values, scores)
            if min(values) > 0 and max(values) / min(values) >= 100:
                from matplotlib.ticker import FuncFormatter, NullFormatter

                ax.set_xscale("log")
                # Plain "1e-05" labels: mathtext ones cost ~10x more to lay out.
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(NullFormatter())
        else:
            cats = sorted({_value(v) for v in values})
            ax.scatter([cats.index(_value(v)) for v in values], scores)
            ax.set_xticks(range(len(cats)), cats, rotation=30, fontsize="small")
        ax.set_xlabel(name)
        ax.set_ylabel(objective)
    # Fixed margins instead of tight_layout, which measured every tick label again and
    # cost more than drawing the figure (this runs at the end of every search).
    fig.subplots_adjust(left=0.12 / cols + 0.02, right=0.98, bottom=0.2 / rows + 0.04,
                        top=0.96, wspace=0.35, hspace=0.55)
    return fig


def _leaderboard_csv(leaderboard: Any, records: Sequence[Mapping[str, Any]]) -> str:
    """The leaderboard as CSV text; :func:`seqtune.records.leaderboard` when none is given."""
    import pandas as pd

    if leaderboard is None:
        leaderboard = records_leaderboard(records)
    elif not isinstance(leaderboard, pd.DataFrame):
        leaderboard = pd.DataFrame(leaderboard)
    return leaderboard.to_csv(index=False)


def log_summary(client: Any, run_id: str, *, best_score: Any, best_params: Mapping[str, Any] | None,
                leaderboard: Any, records: Sequence[Mapping[str, Any]]) -> None:
    """Log the end of a search on its parent run: metrics, best params, leaderboard, plots.

    Metrics: ``best_score``, ``n_trials`` and ``n_trials_<status>``; the best params as
    ``best.*`` tags (a resumed search may end with a different best) and as
    ``best_params.json``; then ``leaderboard.csv`` and the PNG plots under ``plots/``.
    """
    from mlflow.entities import Metric, RunTag

    metrics = []
    score = _finite_float(best_score)
    if score is not None:
        metrics.append(Metric("best_score", score, _ms(None), len(records)))
    metrics.append(Metric("n_trials", float(len(records)), _ms(None), 0))
    counts: dict[str, int] = {}
    for record in records:
        status = str(record.get("status") or "COMPLETED").upper()
        counts[status] = counts.get(status, 0) + 1
    for status, count in counts.items():
        metrics.append(Metric(f"n_trials_{status.lower()}", float(count), _ms(None), 0))
    tags = [RunTag(_key(f"best.{k}"), _value(v, _MAX_TAG_LEN))
            for k, v in (best_params or {}).items()]
    client.log_batch(run_id, metrics=metrics, tags=tags)
    if best_params is not None:
        client.log_dict(run_id, {"best_score": best_score, "best_params": dict(best_params)},
                        "best_params.json")
    if records or leaderboard is not None:
        client.log_text(run_id, _leaderboard_csv(leaderboard, records), "leaderboard.csv")
    with tempfile.TemporaryDirectory() as tmp:
        for path in _render_plots(records, tmp):
            client.log_artifact(run_id, path, "plots")
