import numpy as np

from seqtune.sequences import apply_stride, max_length, pad_sequences


def test_stride_keeps_last_step_dense_and_ragged():
    X = np.arange(10, dtype=np.float32).reshape(1, 10, 1)
    out = apply_stride(X, 3)
    assert out[0, :, 0].tolist() == [0, 3, 6, 9]
    assert np.shares_memory(out, X)  # a view, not a copy
    ragged = [np.arange(5.0)[:, None], np.arange(8.0)[:, None]]
    assert [s[:, 0].tolist() for s in apply_stride(ragged, 2)] == [[0, 2, 4], [1, 3, 5, 7]]


def test_pad_keeps_last_steps_and_pads_at_end_with_nan():
    X = [np.arange(1.0, 4.0)[:, None], np.arange(1.0, 7.0)[:, None]]
    out, padded = pad_sequences(X, 4)
    assert padded
    assert out.shape == (2, 4, 1)
    np.testing.assert_array_equal(out[0, :3, 0], [1, 2, 3])
    assert np.isnan(out[0, 3, 0])
    np.testing.assert_array_equal(out[1, :, 0], [3, 4, 5, 6])  # last 4 steps
    assert max_length(X) == 6


def test_dense_truncation_is_a_view_and_short_dense_is_padded():
    X = np.ones((3, 8, 2), dtype=np.float32)
    out, padded = pad_sequences(X, 5)
    assert out.shape == (3, 5, 2) and not padded and np.shares_memory(out, X)
    out, padded = pad_sequences(X, 10)
    assert padded and np.isnan(out[:, 8:]).all() and (out[:, :8] == 1).all()

