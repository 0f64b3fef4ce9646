"""The hybrid architectures: seqtune.layers and the options of build_recurrent_model."""

from __future__ import annotations

import pickle
import warnings

import keras
import numpy as np
import pytest

from seqtune import SequenceClassifier, SequenceRegressor
from seqtune.layers import AttentionPooling, MaskedAveragePooling, SeriesNormalization, SqueezeExcite
from seqtune.model import build_recurrent_model

OPTIONS = [
    {},
    {"pooling": "mean"},
    {"pooling": "attention"},
    {"conv_branch": True},
    {"normalize": True},
    {"conv_frontend": 1, "squeeze_excite": True},
    {"conv_branch": True, "squeeze_excite": True, "normalize": True, "pooling": "attention"},
]


def _model(n_timesteps, **options):
    return build_recurrent_model(n_timesteps=n_timesteps, n_features=2, n_outputs=3, masked=True,
                                 units=4, head_activation="softmax",
                                 loss="sparse_categorical_crossentropy", **options)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "plain")
def test_padding_does_not_change_any_architectures_output(options):
    keras.utils.set_random_seed(0)
    long = _model(20, **options)
    short = _model(None, **options)
    short.set_weights(long.get_weights())
    x = np.random.default_rng(0).random((2, 20, 2)).astype("float32")
    x[1, 12:] = np.nan  # sequence 1 has 12 steps, padded to 20 ...
    x2 = np.full((1, 16, 2), np.nan, np.float32)
    x2[0, :12] = x[1, :12]  # ... to 16, and not at all
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "layer does not support masking"
        expected = short.predict_on_batch(x[1:, :12])[0]
        np.testing.assert_allclose(long.predict_on_batch(x)[1], expected, atol=1e-5)
        np.testing.assert_allclose(short.predict_on_batch(x2)[0], expected, atol=1e-5)


def test_conv_branch_is_lstm_fcns_three_blocks_beside_the_recurrent_stack():
    model = _model(20, conv_branch=True, squeeze_excite=True)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv1D)]
    assert [(c.filters, c.kernel_size[0]) for c in convs] == [(128, 8), (256, 5), (128, 3)]
    assert len([l for l in model.layers if isinstance(l, SqueezeExcite)]) == 2
    assert len([l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]) == 3
    assert model.get_layer("recurrent_and_fcn").output.shape == (None, 4 + 128)


def test_series_normalization_standardises_each_series_over_its_valid_steps():
    x = np.array([[[1.0], [3.0], [0.0]], [[2.0], [4.0], [6.0]]], dtype="float32")
    mask = np.array([[True, True, False], [True, True, True]])
    out = keras.ops.convert_to_numpy(SeriesNormalization()(x, mask=mask))
    np.testing.assert_allclose(out[0, :, 0], [-1.0, 1.0, 0.0], atol=1e-4)
    np.testing.assert_allclose(out[1, :, 0], [-1.2247, 0.0, 1.2247], atol=1e-4)


def test_pooling_layers_ignore_padded_steps():
    h = np.array([[[1.0, 0.0], [3.0, 2.0], [100.0, 100.0]]], dtype="float32")
    mask = np.array([[True, True, False]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(MaskedAveragePooling()(h, mask=mask)),
                               [[2.0, 1.0]])
    pooled = keras.ops.convert_to_numpy(AttentionPooling(units=3)(h, mask=mask))
    assert pooled.shape == (1, 2) and np.all(pooled <= 3.0)  # a weighted mean of steps 0 and 1


@pytest.mark.parametrize("estimator_cls", [SequenceClassifier, SequenceRegressor])
def test_hybrid_estimators_fit_pickle_and_predict_the_same(estimator_cls, ragged):
    X, y = ragged
    est = estimator_cls(units=4, epochs=2, batch_size=8, random_state=0, conv_branch=True,
                        pooling="attention", normalize=True, squeeze_excite=True,
                        validation_fraction=0.0, reduce_lr_patience=1).fit(X, y)
    assert "val_loss" not in est.history_  # validation_fraction=0: the training loss is watched
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(restored.predict(X), est.predict(X), rtol=1e-5, atol=1e-6)


def test_reduce_lr_patience_lowers_the_learning_rate_on_a_plateau(seq3d):
    X, y = seq3d
    def fit(epochs):
        return SequenceClassifier(units=4, epochs=epochs, batch_size=40, learning_rate=1e-9,
                                  early_stopping=False, reduce_lr_patience=1,
                                  random_state=0).fit(X, y)

    # A learning rate of 1e-9 leaves the loss flat: it is halved after each epoch but the
    # first, and never goes below learning_rate / 64.
    assert float(fit(4).model_.optimizer.learning_rate) == pytest.approx(1e-9 / 8, rel=1e-3)
    assert float(fit(9).model_.optimizer.learning_rate) == pytest.approx(1e-9 / 64, rel=1e-3)


@pytest.mark.parametrize(("params", "match"), [
    ({"pooling": "max"}, r"pooling='max' is invalid.*Expected one of \['attention', 'last', 'mean'\]"),
    ({"conv_frontend": -1}, r"conv_frontend=-1 is invalid"),
    ({"reduce_lr_patience": 0}, r"reduce_lr_patience=0 is invalid"),
    ({"validation_fraction": 1.0}, r"validation_fraction=1.0 is invalid"),
])
def test_bad_architecture_options_name_the_value(seq3d, params, match):
    X, y = seq3d
    with pytest.raises(ValueError, match=match):
        SequenceClassifier(units=4, epochs=1, **params).fit(X, y)
