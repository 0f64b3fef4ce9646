"""A fingerprint of the data a search ran on: shapes, dtypes and a SHA-256 of the bytes.

A resumed search compares it with the one it started with (resuming on other data
would mix results), and the tracker logs it with the parent run.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

__all__ = ["dataset_fingerprint"]


def dataset_fingerprint(X: Any, y: Any = None) -> dict[str, Any]:
    """Shapes, dtypes and a SHA-256 hash identifying the data a search ran on.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps)
        Input sequences (a 1-D series for forecasters), or a list of variable-length
        sequences.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
        Targets.

    Returns
    -------
    dict
        ``{"X_shape", "X_dtype", "y_shape", "y_dtype", "sha256"}``; the ``y_*`` keys
        only when ``y`` is given. The hash covers shapes, dtypes and bytes of both.
    """
    digest = hashlib.sha256()
    out: dict[str, Any] = {}
    for name, arr in (("X", X), ("y", y)):
        if arr is None:
            continue
        if isinstance(arr, (list, tuple)) and arr and len({np.shape(a) for a in arr}) > 1:
            arr = np.array([None] + list(arr), dtype=object)[1:]  # ragged: keep one per row
        arr = np.asarray(arr)
        if arr.dtype == object:  # ragged input: hash each sequence
            parts = [np.ascontiguousarray(np.asarray(a)) for a in arr]
            out[f"{name}_shape"] = [len(parts)]
            out[f"{name}_dtype"] = "object"
            for part in parts:
                digest.update(str((part.shape, part.dtype.str)).encode())
                digest.update(part.tobytes())
            continue
        arr = np.ascontiguousarray(arr)
        out[f"{name}_shape"] = list(arr.shape)
        out[f"{name}_dtype"] = str(arr.dtype)
        digest.update(str((name, arr.shape, arr.dtype.str)).encode())
        digest.update(arr.tobytes())
    out["sha256"] = digest.hexdigest()
    return out
