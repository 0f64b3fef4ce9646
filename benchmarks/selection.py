"""Can the folds rank the configurations at all? Read from the trials a run kept.

For each row of ``benchmarks/results/runs.jsonl`` that carries its trials (``trials``,
since 9cf98b2), over the trials that completed every fold:

- **fold agreement**: the mean Spearman correlation, over pairs of folds, between the
  trials' scores on one fold and on the other. Near 1, the folds rank the
  configurations alike, and the best mean score means something; near 0, a fold's
  ranking says little about another's, and picking the best mean picks noise (the
  winner's curse). Each pair's correlation is printed too (``1-2`` is the first fold
  against the second): folds can agree with each other and disagree with a third.
- **pruned after one fold**: trials pruned on the first fold's score alone, which
  therefore never reached the others (their first fold decided them).
- **one standard error**: how many trials score within one standard error of the best
  (its folds' standard deviation over the square root of their number), and which one
  the one-standard-error rule (Breiman et al.; glmnet's ``lambda.1se``) would take: the
  smallest network (``n_params``) among them. It only names the trial; it fits nothing
  and reads no test score, so it says how often the rule would change the pick, not
  whether that would be better.

The test split takes no part; the pick's test score is printed from the row, as the
search made it::

    python -m benchmarks.selection [--backend jax] [--results PATH] [DATASET ...]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from itertools import combinations
from pathlib import Path

import numpy as np

from benchmarks.protocol import DATASETS, RESULTS


def complete_trials(trials: list[dict]) -> tuple[list[dict], int]:
    """The trials with a score on every fold, and the number of folds.

    Parameters
    ----------
    trials : list of dict
        A row's ``trials``: ``search.results_`` rows (``split<i>_score`` columns).

    Returns
    -------
    (complete, n_folds)
    """
    n_folds = sum(1 for key in (trials[0] if trials else {}) if key.startswith("split"))
    complete = [t for t in trials
                if t.get("status") == "completed" and n_folds
                and all(t.get(f"split{i}_score") is not None for i in range(n_folds))]
    return complete, n_folds


def fold_correlations(complete: list[dict], n_folds: int) -> dict[tuple[int, int], float] | None:
    """Spearman correlation between two folds' scores, for each pair of folds.

    Parameters
    ----------
    complete, n_folds
        From :func:`complete_trials`.

    Returns
    -------
    dict or None
        ``{(i, j): rho}`` for folds ``i < j`` (0-based). None with fewer than 3 trials
        or 2 folds, or when a fold scored every trial alike.
    """
    if len(complete) < 3 or n_folds < 2:
        return None
    from scipy.stats import spearmanr

    scores = [[t[f"split{i}_score"] for t in complete] for i in range(n_folds)]
    correlations = {(i, j): float(spearmanr(scores[i], scores[j]).statistic)
                    for i, j in combinations(range(n_folds), 2)}
    if any(not np.isfinite(c) for c in correlations.values()):
        return None
    return correlations


def fold_agreement(complete: list[dict], n_folds: int) -> float | None:
    """Mean Spearman correlation between the folds' scores, over pairs of folds.

    None where :func:`fold_correlations` is None.
    """
    correlations = fold_correlations(complete, n_folds)
    return None if correlations is None else float(np.mean(list(correlations.values())))


def pruned_after_one_fold(trials: list[dict]) -> int:
    """How many trials were pruned with a score on their first fold only."""
    return sum(1 for t in trials if t.get("status") == "pruned"
               and t.get("split0_score") is not None and t.get("split1_score") is None)


def one_standard_error(complete: list[dict], n_folds: int, *, better: str) -> dict | None:
    """The trials within one standard error of the best, and the smallest of them.

    Parameters
    ----------
    complete, n_folds
        From :func:`complete_trials`.
    better : {"max", "min"}
        Whether a higher score is better.

    Returns
    -------
    dict or None
        ``best`` and ``chosen`` (trial ids), ``bound`` (the band's edge), ``members``
        (the trial ids in the band, the best included, best first) and ``within`` (how
        many). None without a complete trial.
    """
    if not complete:
        return None
    sign = 1.0 if better == "max" else -1.0
    best = max(complete, key=lambda t: sign * t["score"])
    se = (best.get("std_score") or 0.0) / math.sqrt(n_folds)
    bound = best["score"] - sign * se
    within = sorted((t for t in complete if sign * (t["score"] - bound) >= 0),
                    key=lambda t: -sign * t["score"])
    chosen = min(within, key=lambda t: (t.get("n_params") or math.inf, -sign * t["score"]))
    return {"best": best["trial_id"], "chosen": chosen["trial_id"], "bound": bound,
            "members": [t["trial_id"] for t in within], "within": len(within)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", metavar="DATASET",
                        help=f"any of {', '.join(DATASETS)} (default: all)")
    parser.add_argument("--backend", default="jax", help="rows of this backend (default: jax)")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="the JSON lines to read (default: benchmarks/results/runs.jsonl)")
    args = parser.parse_args(argv)
    unknown = [d for d in args.datasets if d not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; expected any of {list(DATASETS)}")
    rows = [json.loads(line) for line in args.results.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    rows = [r for r in rows if r.get("trials") and not r.get("quick")
            and r["backend"] == args.backend and r["dataset"] in (args.datasets or DATASETS)]
    if not rows:
        print(f"no {args.backend} row in {args.results} carries its trials", file=sys.stderr)
        return 1
    print("data set | seed | commit | trials (complete) | pruned after one fold | fold agreement "
          "| each pair of folds | within 1 SE | 1-SE rule takes | pick's test score")
    for row in rows:
        ds = DATASETS[row["dataset"]]
        complete, n_folds = complete_trials(row["trials"])
        pairs = fold_correlations(complete, n_folds)
        agreement = fold_agreement(complete, n_folds)
        each = "-" if pairs is None else ", ".join(f"{i + 1}-{j + 1} {rho:+.2f}"
                                                   for (i, j), rho in pairs.items())
        rule = one_standard_error(complete, n_folds, better="max" if ds.task == "classification"
                                  else "min")
        takes = "-" if rule is None else (
            "the best trial" if rule["chosen"] == rule["best"] else f"trial {rule['chosen']}")
        print(f"{row['dataset']} | {row['seed']} | {row['commit']} | {len(row['trials'])} "
              f"({len(complete)}) | {pruned_after_one_fold(row['trials'])} | "
              f"{'-' if agreement is None else f'{agreement:+.2f}'} | {each} | "
              f"{'-' if rule is None else rule['within']} | {takes} | "
              f"{row['searched'][ds.metric]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
