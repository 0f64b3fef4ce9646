"""Strided forecasting windows: equal to a naive copy-based reference, no per-window copies."""

import numpy as np
import pytest

from seqtune.windows import (
    WindowDataset,
    n_windows,
    normalize_windows,
    sliding_windows,
    window_starts,
)


def _naive_windows(y, X, lookback, horizon):
    """Copy-based reference: one explicit slice per window."""
    series = y if X is None else np.concatenate([y, X], axis=1)
    hist, targ, dec = [], [], []
    for s in range(len(y) - lookback - horizon + 1):
        hist.append(series[s : s + lookback].copy())
        targ.append(y[s + lookback : s + lookback + horizon].copy())
        dec.append(y[s + lookback - 1 : s + lookback + horizon - 1].copy())
    return np.array(hist), np.array(targ), np.array(dec)


def _collect(ds):
    parts = [ds[i] for i in range(len(ds))]
    return parts


@pytest.mark.parametrize("k,p", [(1, 0), (3, 0), (2, 2)])
@pytest.mark.parametrize("lookback,horizon", [(1, 1), (5, 3), (7, 1)])
def test_direct_batches_equal_naive_reference(k, p, lookback, horizon):
    rng = np.random.default_rng(0)
    y = rng.normal(size=(40, k)).astype(np.float32)
    X = rng.normal(size=(40, p)).astype(np.float32) if p else None
    hist, targ, _ = _naive_windows(y, X, lookback, horizon)
    ds = WindowDataset(y, X, lookback=lookback, horizon=horizon, batch_size=4)
    got_hist = np.concatenate([b[0] for b in _collect(ds)])
    got_targ = np.concatenate([b[1] for b in _collect(ds)])
    assert len(ds) == -(-len(hist) // 4)
    np.testing.assert_array_equal(got_hist, hist)
    np.testing.assert_array_equal(got_targ, targ.reshape(len(targ), horizon * k))


def test_seq2seq_batches_hold_teacher_forcing_inputs():
    y = np.arange(30, dtype=np.float32).reshape(15, 2)
    hist, targ, dec = _naive_windows(y, None, 4, 3)
    ds = WindowDataset(y, lookback=4, horizon=3, strategy="seq2seq", batch_size=100)
    (got_hist, got_dec), got_targ = ds[0]
    np.testing.assert_array_equal(got_hist, hist)
    np.testing.assert_array_equal(got_targ, targ)
    np.testing.assert_array_equal(got_dec, dec)
    # The decoder input at step h is the true value one step before target h.
    np.testing.assert_array_equal(got_dec[:, 1:], got_targ[:, :-1])
    np.testing.assert_array_equal(got_dec[:, 0], got_hist[:, -1, :2])


def test_windows_are_views_not_copies():
    # A moderately sized series: 200k steps x lookback 256 would be 200 MB as copies.
    y = np.random.default_rng(1).normal(size=(200_000, 1)).astype(np.float32)
    ds = WindowDataset(y, lookback=256, horizon=4, batch_size=64)
    assert np.shares_memory(ds.history_windows, ds.series)
    assert np.shares_memory(ds.target_windows, ds.series)
    # The strided views own no memory: every byte they reach lies inside the series.
    from numpy.lib.array_utils import byte_bounds

    low, high = byte_bounds(ds.series)
    for view in (ds.history_windows, ds.target_windows):
        assert not view.flags.owndata
        start, end = byte_bounds(view)
        assert low <= start and end <= high
    assert ds.history_windows.nbytes > 100 * ds.series.nbytes  # what copies would have cost
    # A batch is a fresh array of one batch only.
    hist, targ = ds[3]
    assert hist.shape == (64, 256, 1) and targ.shape == (64, 4)
    assert not np.shares_memory(hist, ds.series)


def test_sliding_windows_view_matches_slices():
    a = np.arange(24.0).reshape(8, 3)
    w = sliding_windows(a, 3)
    assert w.shape == (6, 3, 3)
    assert np.shares_memory(w, a)
    for i in range(6):
        np.testing.assert_array_equal(w[i], a[i : i + 3])
    with pytest.raises(ValueError, match="Window length=9 must lie between 1 and the series length 8"):
        sliding_windows(a, 9)


def test_window_starts_select_validation_targets():
    # Targets of the windows start at or after row 20; their history reaches back.
    starts = window_starts(30, lookback=5, horizon=2, first_target=20)
    assert starts[0] == 15 and starts[-1] == n_windows(30, 5, 2) - 1
    assert np.all(starts + 5 >= 20)


def test_shuffle_is_seeded_and_covers_every_window():
    y = np.arange(50, dtype=np.float32)
    a = WindowDataset(y, lookback=3, horizon=1, batch_size=8, shuffle=True, seed=0)
    b = WindowDataset(y, lookback=3, horizon=1, batch_size=8, shuffle=True, seed=0)
    first_a = np.concatenate([a[i][1] for i in range(len(a))]).ravel()
    first_b = np.concatenate([b[i][1] for i in range(len(b))]).ravel()
    np.testing.assert_array_equal(first_a, first_b)
    assert sorted(first_a) == list(range(3, 50))  # every target once
    assert not np.array_equal(first_a, np.arange(3, 50))  # actually shuffled
    a.on_epoch_end()
    second = np.concatenate([a[i][1] for i in range(len(a))]).ravel()
    assert sorted(second) == list(range(3, 50)) and not np.array_equal(second, first_a)


def test_window_norm_standardises_each_window():
    y = np.linspace(100, 200, 60, dtype=np.float32)[:, None]
    ds = WindowDataset(y, lookback=10, horizon=2, batch_size=100, window_norm=True)
    hist, targ = ds[0]
    np.testing.assert_allclose(hist.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(hist.std(axis=1), 1, atol=1e-4)
    # A linear ramp looks the same in every window once normalised.
    np.testing.assert_allclose(targ, np.broadcast_to(targ[0], targ.shape), atol=1e-4)
    normalised, mean, std = normalize_windows(np.stack([y[:10], y[10:20]]), 1)
    np.testing.assert_allclose(normalised * std + mean, np.stack([y[:10], y[10:20]]), rtol=1e-6)


def test_errors_name_the_values():
    y = np.zeros((10, 1), dtype=np.float32)
    with pytest.raises(ValueError, match=r"10 steps holds no window of lookback=8 \+ horizon=3"):
        WindowDataset(y, lookback=8, horizon=3)
    with pytest.raises(ValueError, match="Exogenous X has 9 rows but y has 10"):
        WindowDataset(y, np.zeros((9, 1)), lookback=2, horizon=1)
    with pytest.raises(ValueError, match="strategy='recursive' is not supported"):
        WindowDataset(y, lookback=2, horizon=1, strategy="recursive")
