"""Input validation: turn any accepted X into float32 sequences, or say clearly why not.

Accepted X:

* 2-D ``(n_samples, n_timesteps)`` array or DataFrame: univariate sequences. As in
  scikit-learn, ``n_features_in_`` is then the number of columns.
* 3-D ``(n_samples, n_timesteps, n_features)`` array; ``n_features_in_`` is
  ``n_features``.
* a list of variable-length arrays ``(t_i,)`` or ``(t_i, n_features)``.

Whatever the form, the result is either a dense ``(n, t, f)`` float32 array or a list of
``(t_i, f)`` float32 arrays, and ``estimator.n_step_features_`` holds ``f``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_array, check_consistent_length, validate_data

__all__ = [
    "check_exog",
    "check_exog_presence",
    "check_history",
    "check_params",
    "check_series",
    "did_you_mean",
    "validate_sequences",
]


def did_you_mean(word: Any, options: Iterable[Any]) -> str | None:
    """The option closest to ``word`` (by ``difflib``), for "did you mean" hints; or None."""
    options = [str(o) for o in options]
    close = difflib.get_close_matches(str(word), options, n=1)
    return close[0] if close else None


def check_params(estimator: Any) -> None:
    """Validate an estimator's parameters against its class's ``_parameter_constraints``.

    The scikit-learn way (``fit`` calls this; constructors only store), with messages
    that lead with the parameter and the value received, and add the accepted values
    and a "did you mean" hint for string options. A bool is rejected where the
    constraints ask for a number (``True`` is an ``int`` to Python, not to a user).

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        A ``ValueError`` (and ``TypeError``) naming the parameter, the value, what
        was expected and, where one is close, the intended value.
    """
    constraints = type(estimator)._parameter_constraints
    params = estimator.get_params(deep=False)
    for name, value in params.items():
        allowed = constraints.get(name)
        if allowed is None or allowed == "no_validation":
            continue
        bool_for_number = (
            isinstance(value, (bool, np.bool_))
            and any(isinstance(c, Interval) for c in allowed)
            and not {"boolean", "verbose"} & {c for c in allowed if isinstance(c, str)}
        )
        try:
            if bool_for_number:
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(estimator).__name__} must be a "
                    f"number, not a bool. Got {value!r} instead.")
            validate_parameter_constraints({name: allowed}, {name: value},
                                           caller_name=type(estimator).__name__)
        except InvalidParameterError as exc:
            hint = ""
            options = [o for c in allowed if isinstance(c, StrOptions) for o in c.options]
            if options:
                hint = f" Expected one of {sorted(options)}."
                close = did_you_mean(value, options) if isinstance(value, str) else None
                if close is not None:
                    hint += f" Did you mean {close!r}?"
            raise InvalidParameterError(f"{name}={value!r} is invalid. {exc}{hint}") from None

def _name(estimator: Any) -> str:
    return type(estimator).__name__


def _is_ragged(X: Any) -> bool:
    """True for a list (or 1-D object array) of arrays that do not stack into one array."""
    if isinstance(X, np.ndarray):
        return X.dtype == object and X.ndim == 1 and len(X) > 0 and all(
            isinstance(x, (np.ndarray, list, tuple)) for x in X
        )
    if not isinstance(X, (list, tuple)) or len(X) == 0:
        return False
    if not all(isinstance(x, (np.ndarray, list, tuple)) or hasattr(x, "to_numpy") for x in X):
        return False
    shapes = {np.shape(x) for x in X}
    return len(shapes) > 1


def _check_one_sequence(x: Any, i: int, estimator: Any) -> np.ndarray:
    x = x.to_numpy() if hasattr(x, "to_numpy") else x
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"X[{i}] holds non-numeric values ({exc}); {_name(estimator)} expects each "
            "sequence to be numeric, shaped (t_i,) or (t_i, n_features)."
        ) from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"X[{i}] has {arr.ndim} dimensions (shape {arr.shape}); each sequence of a "
            "variable-length list must be (t_i,) or (t_i, n_features)."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"X[{i}] is an empty sequence; every sequence needs at least 1 step.")
    if not np.isfinite(arr).all():
        bad = "NaN" if np.isnan(arr).any() else "infinity"
        raise ValueError(
            f"Input X contains {bad} in sequence X[{i}]. Padding is done by "
            f"{_name(estimator)} itself: pass sequences of different lengths unpadded, "
            "and impute or drop missing values first."
        )
    return arr.astype(np.float32)


def _check_step_features(n_step: int, estimator: Any, reset: bool) -> None:
    if reset:
        estimator.n_step_features_ = n_step
        return
    expected = estimator.n_step_features_
    if n_step != expected:
        raise ValueError(
            f"X has {n_step} features per step; this {_name(estimator)} was fitted with "
            f"{expected}. Pass X shaped (n_samples, n_timesteps, {expected})"
            + (" or (n_samples, n_timesteps)." if expected == 1 else ".")
        )


def validate_sequences(
    X: Any, estimator: Any, *, reset: bool, y: Any = None, y_numeric: bool = False,
    multi_output: bool = False,
) -> tuple[Any, Any]:
    """Validate X (and y when given) and return float32 sequences.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_timesteps) or (n_samples, n_timesteps, n_features), \
            DataFrame, or list of arrays of shape (t_i,) or (t_i, n_features)
        The sequences.
    estimator : estimator instance
        Receives ``n_features_in_``, ``n_step_features_`` and ``input_ndim_`` when
        ``reset`` is True, and is checked against them otherwise.
    reset : bool
        True in ``fit``; False in ``predict`` and friends.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        Targets, checked for length, finiteness and type with X.
    y_numeric, multi_output : bool
        Passed to scikit-learn's ``check_X_y``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, n_features) or list of ndarray
        float32 data; a list of ``(t_i, n_features)`` arrays for variable lengths.
    y : ndarray or None
        The validated targets.
    """
    if sparse.issparse(X):
        # check_array writes scikit-learn's standard message for sparse input.
        check_array(X, accept_sparse=False, input_name="X", estimator=estimator)

    if isinstance(X, (list, tuple)) and len(X) == 0:
        raise ValueError(f"X is empty: {_name(estimator)} needs at least one sequence.")
    if _is_ragged(X):
        seqs = [_check_one_sequence(x, i, estimator) for i, x in enumerate(X)]
        n_step = {s.shape[1] for s in seqs}
        if len(n_step) > 1:
            raise ValueError(
                f"The sequences in X have different numbers of features per step "
                f"({sorted(n_step)}); every sequence needs the same n_features."
            )
        (n_step,) = n_step
        if reset:
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
            estimator.n_features_in_ = n_step
            estimator.input_ndim_ = "ragged"
        _check_step_features(n_step, estimator, reset)
        if y is not None:
            y = _check_y(y, estimator, y_numeric=y_numeric, multi_output=multi_output)
            check_consistent_length(seqs, y)
        return seqs, y

    # _NotAnArray-style wrappers only support __array__, so ask for ndim that way.
    ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X, dtype=object).ndim
    if ndim >= 3:
        params = dict(allow_nd=True, ensure_2d=False, dtype=[np.float32, np.float64],
                      ensure_all_finite=True, ensure_min_samples=1)
        if y is None:
            X = validate_data(estimator, X, reset=reset, **params)
        else:
            X, y = validate_data(estimator, X, y, reset=reset, y_numeric=y_numeric,
                                 multi_output=multi_output, **params)
        if X.ndim != 3:
            raise ValueError(
                f"X has {X.ndim} dimensions (shape {X.shape}); {_name(estimator)} expects "
                "(n_samples, n_timesteps) or (n_samples, n_timesteps, n_features)."
            )
        if X.shape[1] == 0:
            raise ValueError("X has 0 time steps; every sequence needs at least 1 step.")
        if reset:
            estimator.n_features_in_ = X.shape[2]
            estimator.input_ndim_ = 3
        _check_step_features(X.shape[2], estimator, reset)
        return X.astype(np.float32, copy=False), y

    # 2-D (or wrong): scikit-learn's own checks and messages, feature names included.
    if not reset and getattr(estimator, "input_ndim_", 2) != 2 and ndim == 2:
        # A model fitted on 3-D or ragged data reads 2-D input as univariate sequences.
        X = validate_data(estimator, X, reset=False, ensure_2d=False, allow_nd=False,
                          dtype=[np.float32, np.float64])
        _check_step_features(1, estimator, reset=False)
        return X[:, :, None].astype(np.float32, copy=False), y
    params = dict(dtype=[np.float32, np.float64], ensure_all_finite=True)
    if y is None:
        X = validate_data(estimator, X, reset=reset, **params)
    else:
        X, y = validate_data(estimator, X, y, reset=reset, y_numeric=y_numeric,
                             multi_output=multi_output, **params)
    if reset:
        estimator.input_ndim_ = 2
    _check_step_features(1, estimator, reset)
    return X[:, :, None].astype(np.float32, copy=False), y


def _check_y(y: Any, estimator: Any, *, y_numeric: bool, multi_output: bool) -> np.ndarray:
    return check_array(
        y, ensure_2d=False, dtype="numeric" if y_numeric else None,
        ensure_all_finite=True, input_name="y", estimator=estimator,
        allow_nd=False,
    ) if (multi_output or y_numeric) else np.asarray(y)


def sequence_lengths(X: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Lengths of validated sequences, shape (n_samples,)."""
    if isinstance(X, np.ndarray):
        return np.full(X.shape[0], X.shape[1])
    return np.array([len(x) for x in X])


def check_series(y: Any, name: str) -> tuple[np.ndarray, Any]:
    """Validate a series for a forecaster: numeric, 1-D or 2-D, no NaN or infinity.

    Parameters
    ----------
    y : array-like of shape (n_timesteps,) or (n_timesteps, n_channels), or pandas
    name : str
        How the message names it (``"y"``, ``"y_history"``, ...).

    Returns
    -------
    values : ndarray of float64 of shape (n_timesteps, n_channels)
    index : pandas.Index or None
        The pandas index, when ``y`` was a Series or DataFrame.
    """
    import pandas as pd

    is_pandas = isinstance(y, (pd.Series, pd.DataFrame))
    index = y.index if is_pandas else None
    try:  # pandas' missing values (pd.NA) become NaN, which the finiteness check names
        values = y.to_numpy(dtype=float, na_value=np.nan) if is_pandas else np.asarray(y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric; could not convert it to float ({exc}).") from exc
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D (n_timesteps,) or 2-D (n_timesteps, n_channels); got shape "
            f"{values.shape}."
        )
    if not np.all(np.isfinite(values)):
        bad = np.flatnonzero(~np.all(np.isfinite(values), axis=1))
        where = [str(index[i]) for i in bad[:5]] if index is not None else [int(i) for i in bad[:5]]
        fix = (
            f"{name}.interpolate()" if index is not None
            else "interpolation, e.g. pandas.Series(values).interpolate().to_numpy()"
        )
        raise ValueError(
            f"{name} has {len(bad)} step(s) with NaN or infinite values (first at {where}). "
            f"Recurrent forecasters need a gap-free series: fill the gaps first with {fix}; "
            "seqtune does not drop them silently because that would shift every later step."
        )
    return values, index


def check_exog(X: Any, n_rows: int, *, name: str, aligned_with: str) -> np.ndarray | None:
    """Validate exogenous features: a series (see :func:`check_series`) of ``n_rows`` rows.

    Returns None when ``X`` is None.
    """
    if X is None:
        return None
    values, _ = check_series(X, name)
    if len(values) != n_rows:
        raise ValueError(
            f"Exogenous {name} has {len(values)} rows but {aligned_with} has {n_rows}; "
            f"{name} must be aligned with {aligned_with} row by row (one row of features per step)."
        )
    return values


def check_exog_presence(n_exogenous: int, X: np.ndarray | None, name: str) -> None:
    """Exogenous features at predict or validation time match what the forecaster was fitted on.

    Parameters
    ----------
    n_exogenous : int
        Features the forecaster was fitted with (0: none).
    X : ndarray of shape (n_timesteps, n_exogenous) or None
    name : str
        How the message names ``X``.
    """
    if n_exogenous and X is None:
        raise ValueError(
            f"This forecaster was fitted with {n_exogenous} exogenous feature(s), "
            f"so {name} is required (aligned with the series it accompanies)."
        )
    if not n_exogenous and X is not None:
        raise ValueError(
            f"{name} was given, but this forecaster was fitted without exogenous features; "
            "drop it or refit with X."
        )
    if X is not None and X.shape[1] != n_exogenous:
        raise ValueError(
            f"{name} has {X.shape[1]} exogenous features, but this forecaster was fitted with "
            f"{n_exogenous}."
        )


def check_history(y_history: Any, X: Any, *, n_targets: int, n_exogenous: int, needed: int,
                  why: str, x_name: str = "X") -> tuple[np.ndarray, np.ndarray | None, Any]:
    """Validate a forecaster's prediction history and its exogenous features.

    Parameters
    ----------
    y_history : array-like of shape (n_timesteps,) or (n_timesteps, n_targets)
    X : array-like of shape (n_timesteps, n_exogenous) or None
    n_targets, n_exogenous : int
        What the forecaster was fitted on.
    needed : int
        The fewest steps the history may have.
    why : str
        What makes up ``needed``, for the message (e.g. ``"lookback=24"``).
    x_name : str, default="X"
        How the caller names ``X`` (``"X_history"`` in ``rolling_forecasts``).

    Returns
    -------
    values : ndarray of shape (n_timesteps, n_targets)
    x_values : ndarray of shape (n_timesteps, n_exogenous) or None
    index : pandas index or None
    """
    values, index = check_series(y_history, "y_history")
    if values.shape[1] != n_targets:
        raise ValueError(
            f"y_history has {values.shape[1]} channels, but this forecaster was fitted on {n_targets}."
        )
    if len(values) < needed:
        raise ValueError(
            f"y_history has {len(values)} steps, fewer than the {needed} this forecaster needs "
            f"({why}); pass a longer history."
        )
    x_values = check_exog(X, len(values), name=x_name, aligned_with="y_history")
    check_exog_presence(n_exogenous, x_values, x_name)
    return values, x_values, index
