"""Averages of fitted seqtune estimators: a search's bagged fold models, or an ensemble.

:class:`SequenceEnsembleClassifier` averages class probabilities, and
:class:`SequenceEnsembleRegressor` predictions, of estimators already fitted (weights
optional). Both are scikit-learn estimators: they pickle, clone and log as an MLflow
model like a single estimator, and ``fit`` refits every member on new data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

__all__ = ["SequenceEnsembleClassifier", "SequenceEnsembleRegressor"]


class _SequenceEnsemble(BaseEstimator):
    def __init__(self, estimators: Sequence[Any], weights: Sequence[float] | None = None) -> None:
        self.estimators = estimators
        self.weights = weights

    def _weights(self) -> np.ndarray:
        if not self.estimators:
            raise ValueError("estimators is empty; an ensemble needs at least one fitted estimator.")
        weights = np.ones(len(self.estimators)) if self.weights is None else np.asarray(self.weights, float)
        if weights.shape != (len(self.estimators),) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError(
                f"weights={self.weights!r} is invalid: expected {len(self.estimators)} "
                "non-negative numbers, not all zero (one per estimator), or None."
            )
        return weights / weights.sum()

    def fit(self, X: Any, y: Any, **fit_params: Any):
        """Refit a clone of every member on ``X, y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), or as the members accept
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        self._weights()
        self.estimators_ = [clone(e).fit(X, y, **fit_params) for e in self.estimators]
        return self

    def _members(self) -> list:
        fitted = getattr(self, "estimators_", None)
        if fitted is None:  # built from members fitted elsewhere (a search's folds)
            for estimator in self.estimators:
                check_is_fitted(estimator)
            return list(self.estimators)
        return fitted

    def __sklearn_is_fitted__(self) -> bool:
        try:
            self._members()
        except Exception:
            return False
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


class SequenceEnsembleClassifier(ClassifierMixin, _SequenceEnsemble):
    """The weighted mean of fitted classifiers' class probabilities.

    Parameters
    ----------
    estimators : sequence of fitted classifiers
        They must share ``classes_``.
    weights : sequence of float, default=None
        One non-negative weight per estimator; equal when None.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> ensemble = SequenceEnsembleClassifier([clf_a, clf_b])  # doctest: +SKIP
    >>> ensemble.predict_proba(X).shape  # doctest: +SKIP
    (n_samples, n_classes)
    """

    @property
    def classes_(self) -> np.ndarray:
        return self._members()[0].classes_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Weighted mean of the members' probabilities, shape (n_samples, n_classes)."""
        members = self._members()
        classes = members[0].classes_
        for member in members[1:]:
            if not np.array_equal(member.classes_, classes):
                raise ValueError(
                    f"The members' classes differ ({classes.tolist()} vs "
                    f"{member.classes_.tolist()}); every member must see every class."
                )
        weights = self._weights()
        return sum(w * m.predict_proba(X) for w, m in zip(weights, members))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class, shape (n_samples,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class SequenceEnsembleRegressor(RegressorMixin, _SequenceEnsemble):
    """The weighted mean of fitted regressors' predictions.

    Parameters
    ----------
    estimators : sequence of fitted regressors
    weights : sequence of float, default=None
        One non-negative weight per estimator; equal when None.
    """

    def predict(self, X: Any) -> np.ndarray:
        """Weighted mean of the members' predictions, in the shape of their output."""
        weights = self._weights()
        return sum(w * np.asarray(m.predict(X), dtype=float)
                   for w, m in zip(weights, self._members()))
