"""Averages of fitted seqtune estimators: a search's bagged fold models, or an ensemble.

:class:`SequenceEnsembleClassifier` averages class probabilities,
:class:`SequenceEnsembleRegressor` predictions, and :class:`SequenceEnsembleForecaster`
forecasts, of estimators already fitted (weights optional). All three are scikit-learn
estimators: they pickle, clone and log as an MLflow model like a single estimator, and
``fit`` refits every member on new data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from .backtest import RollingScoreMixin

__all__ = ["SequenceEnsembleClassifier", "SequenceEnsembleForecaster", "SequenceEnsembleRegressor"]


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


class SequenceEnsembleForecaster(RollingScoreMixin, _SequenceEnsemble):
    """The weighted mean of fitted forecasters' forecasts.

    The members may differ in ``lookback``, cell or transform, but share ``horizon``
    and the series they forecast (targets and exogenous features).

    Parameters
    ----------
    estimators : sequence of fitted SequenceForecaster
    weights : sequence of float, default=None
        One non-negative weight per estimator; equal when None.

    Examples
    --------
    >>> ensemble = SequenceEnsembleForecaster([forecaster_a, forecaster_b])  # doctest: +SKIP
    >>> ensemble.predict().shape  # doctest: +SKIP
    (horizon,)
    """

    def fit(self, y: Any, X: Any = None, **fit_params: Any):
        """Refit a clone of every member on the series ``y`` (and exogenous ``X``).

        Parameters
        ----------
        y : array-like of shape (n_timesteps,) or (n_timesteps, n_targets)
        X : array-like of shape (n_timesteps, n_exogenous), optional

        Returns
        -------
        self
        """
        return super().fit(y, X, **fit_params)

    def _shared(self, name: str) -> Any:
        members = self._members()
        values = [getattr(m, name) for m in members]
        if any(v != values[0] for v in values[1:]):
            raise ValueError(f"The members' {name} differ ({values}); an ensemble's "
                             f"forecasters must share {name}.")
        return values[0]

    @property
    def horizon(self) -> int:
        """Steps ahead every member forecasts."""
        return int(self._shared("horizon"))

    @property
    def n_targets_(self) -> int:
        return int(self._shared("n_targets_"))

    @property
    def n_exogenous_(self) -> int:
        return int(self._shared("n_exogenous_"))

    @property
    def min_history(self) -> int:
        """The fewest steps ``y_history`` may have: the most any member needs."""
        return max(int(m.min_history) for m in self._members())

    def predict(self, y_history: Any = None, X: Any = None) -> Any:
        """Weighted mean of the members' forecasts of the ``horizon`` steps after ``y_history``.

        Parameters
        ----------
        y_history : array-like of shape (n_timesteps, n_targets) or (n_timesteps,), optional
            At least :attr:`min_history` steps; the training series by default.
        X : array-like of shape (n_timesteps, n_exogenous), optional

        Returns
        -------
        forecast : ndarray of shape (horizon,) or (horizon, n_targets), or pandas
            As the members return it.
        """
        self._shared("horizon")
        weights = self._weights()
        return sum(w * m.predict(y_history, X) for w, m in zip(weights, self._members()))

    def rolling_forecasts(self, y_val: Any, X_val: Any = None, *, y_history: Any = None,
                          X_history: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The weighted mean of the members' rolling forecasts through ``y_val``.

        See ``SequenceForecaster.rolling_forecasts``; returns ``y_true`` and ``y_pred`` of
        shape (n_pooled, n_targets) and the history, of the first member.
        """
        self._shared("horizon")
        weights = self._weights()
        pooled = [m.rolling_forecasts(y_val, X_val, y_history=y_history, X_history=X_history)
                  for m in self._members()]
        truth, _, history = pooled[0]
        return truth, sum(w * p[1] for w, p in zip(weights, pooled)), history

    def _seasonal_difference(self) -> int | None:
        return self._members()[0].seasonal_difference
