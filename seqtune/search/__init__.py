"""Hyperparameter search over seqtune estimators, with Keras Tuner as the engine.

:class:`SequenceSearch` is the entry point. Keras Tuner's oracles (random, Bayesian,
Hyperband) choose the values and own the trial lifecycle; this package adds what Keras
Tuner lacks for sequence models: a scikit-learn meta-estimator whose trials are
``clone(estimator).set_params(**values)``, search spaces narrowed to the data, a
wall-clock budget, failed-trial records and crash-safe resume.

One module per concept, in the order a search uses them:

========================  ==============================================================
``_task``                 the estimator's task, the validation split, narrowing the space
``_objective``            the objective, its direction, and a trial's score
``_runner``               one trial (:class:`~._runner.TrialRunner`, its ``TrialContext``)
``_tuner``                the Keras Tuner adapter: the ``Tuner`` subclass, the oracles,
                          Hyperband's continuation, resume repair
``_chief``                Keras Tuner's chief with leases, and the worker loop (with
                          ``_tuner``, the only modules that touch ``keras_tuner.src``;
                          both imported lazily)
``_job``                  the job a chief writes for its workers, and whose it is
``_loop``                 the search loop: in process, or a chief supervising workers
``_worker``               one worker process (``seqtune worker``)
``_intensify``            re-scoring the best configurations with fresh weight seeds
``_track``                the search's side of tracking (which tracker, the final model)
``_state``                resume state (``seqtune_search.json``)
``_final``                the final model: refit, bagged fold models, or an ensemble
``_progress``             one line per trial, or events for a caller's display
``_search``               :class:`SequenceSearch`: orchestration, fitted attributes
========================  ==============================================================

Trial records are :mod:`seqtune.records`; tracking is :mod:`seqtune.tracking`.
"""

from seqtune.records import RECORD_FILENAME, read_trial_records

from ._search import SequenceSearch

# Pickles name the public path, which stays put when the private modules move.
SequenceSearch.__module__ = __name__

__all__ = ["RECORD_FILENAME", "SequenceSearch", "read_trial_records"]
