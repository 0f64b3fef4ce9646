import keras
import numpy as np
import pytest

from seqtune.device import fused_kernel_eligible
from seqtune.model import MemberLoss, PaddingMask, build_recurrent_model, predict_in_batches


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_model_shapes_and_depth(cell, bidirectional):
    model = build_recurrent_model(
        n_timesteps=7, n_features=3, n_outputs=5, cell=cell, units=4, n_layers=2,
        bidirectional=bidirectional, head_activation="softmax",
        loss="sparse_categorical_crossentropy",
    )
    out = model.predict(np.zeros((2, 7, 3), np.float32), verbose=0)
    assert out.shape == (2, 5)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    recurrent = [l for l in model.layers if isinstance(l, (keras.layers.RNN, keras.layers.Bidirectional))]
    assert len(recurrent) == 2
    assert isinstance(recurrent[0], keras.layers.Bidirectional) == bidirectional


def test_predict_in_batches_matches_model_predict_across_batch_boundaries():
    model = build_recurrent_model(n_timesteps=6, n_features=2, n_outputs=3, units=4)
    x = np.random.default_rng(0).normal(size=(7, 6, 2))  # float64 in: cast for the model
    expected = model.predict(x.astype(np.float32), verbose=0)
    got = predict_in_batches(model, x, batch_size=3)  # batches of 3, 3 and 1
    assert got.shape == (7, 3) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_clipnorm_and_learning_rate_reach_the_optimizer():
    model = build_recurrent_model(n_timesteps=4, n_features=1, n_outputs=1,
                                  learning_rate=0.05, clipnorm=0.5, units=2)
    assert model.optimizer.clipnorm == 0.5
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)


@pytest.mark.parametrize("base", ["mse", "mae", "huber"])
def test_member_loss_is_the_mean_of_each_members_own_loss(base):
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=(5, 2)).astype("float32")
    y_pred = rng.normal(size=(5, 6)).astype("float32")  # 3 members x 2 outputs
    fn = keras.losses.get(base)
    per_member = [float(keras.ops.mean(fn(y_true, y_pred[:, 2 * m : 2 * m + 2]))) for m in range(3)]
    got = float(MemberLoss(base, n_members=3)(y_true, y_pred))
    assert got == pytest.approx(np.mean(per_member), rel=1e-5)
    restored = MemberLoss.from_config(MemberLoss(base, n_members=3).get_config())
    assert (restored.base, restored.n_members) == (base, 3)


def test_ensemble_members_are_separate_networks_with_separate_gradients():
    keras.utils.set_random_seed(0)
    model = build_recurrent_model(n_timesteps=6, n_features=2, n_outputs=3, units=4, n_members=3,
                                  linear_skip=True)
    assert model.output_shape == (None, 9)
    heads = [l.name for l in model.layers if l.name.startswith("head") and "plus" not in l.name]
    assert heads == ["head", "head_m1", "head_m2"]
    assert sorted(l.name for l in model.layers if l.name.startswith("linear_skip")) == [
        "linear_skip", "linear_skip_m1", "linear_skip_m2"]
    x = np.random.default_rng(1).normal(size=(4, 6, 2)).astype("float32")
    out = model.predict(x, verbose=0).reshape(4, 3, 3)
    assert not np.allclose(out[:, 0], out[:, 1])  # independently initialised
    # A step where only member 1 has an error (members 0 and 2 get their own outputs as
    # targets) moves member 1's weights and nothing else.
    before = {l.name: [w.copy() for w in l.get_weights()] for l in model.layers}
    y_member1 = np.concatenate([out[:, 0], out.mean(axis=1), out[:, 2]], axis=1)
    probe = keras.Model(model.inputs, model.outputs)  # same layers, plain SGD step
    probe.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    probe.train_on_batch(x, y_member1)
    changed = {l.name for l in model.layers
               if any(not np.array_equal(a, b) for a, b in zip(before[l.name], l.get_weights()))}
    assert changed and all(name.endswith("_m1") or "_m1_" in name for name in changed), changed


def test_linear_skip_is_a_linear_map_of_the_flattened_window():
    model = build_recurrent_model(n_timesteps=5, n_features=2, n_outputs=3, units=2, linear_skip=True)
    assert model.get_layer("linear_skip").kernel.shape == (10, 3)
    with pytest.raises(ValueError, match="linear_skip needs a fixed-length, unmasked input window"):
        build_recurrent_model(n_timesteps=None, n_features=2, n_outputs=3, linear_skip=True)


def test_padding_mask_ignores_padded_steps():
    """A padded sequence gives the same output as the unpadded one."""
    keras.utils.set_random_seed(0)
    model = build_recurrent_model(n_timesteps=None, n_features=1, n_outputs=1, units=4,
                                  masked=True, bidirectional=True)
    x = np.random.RandomState(0).normal(size=(1, 5, 1)).astype(np.float32)
    padded = np.concatenate([x, np.full((1, 3, 1), np.nan, np.float32)], axis=1)
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(padded, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_padding_mask_layer_marks_all_nan_steps():
    x = np.array([[[1.0, 2.0], [np.nan, np.nan], [0.0, 0.0]]], np.float32)
    layer = PaddingMask()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.compute_mask(x)),
                                  [[True, False, True]])
    assert not np.isnan(keras.ops.convert_to_numpy(layer(x))).any()


@pytest.mark.parametrize(
    "cell, recurrent_dropout, masked, backend, gpu, expected",
    [
        ("lstm", 0.0, False, "tensorflow", True, True),
        ("gru", 0.0, True, "tensorflow", True, True),   # right-padded masks are fine on TF
        ("gru", 0.0, True, "jax", True, False),         # any mask disables it on jax
        ("lstm", 0.0, True, "torch", True, False),
        ("lstm", 0.2, False, "tensorflow", True, False),  # recurrent dropout disables it
        ("rnn", 0.0, False, "tensorflow", True, False),   # SimpleRNN has no fused kernel
        ("lstm", 0.0, False, "tensorflow", False, False),  # no GPU
    ],
)
def test_fused_kernel_decision(cell, recurrent_dropout, masked, backend, gpu, expected):
    assert fused_kernel_eligible(cell, recurrent_dropout=recurrent_dropout, masked=masked,
                                 backend=backend, gpu=gpu) is expected
