import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from seqtune import SequenceClassifier

from conftest import TINY


def test_fit_predict_shapes_and_attributes(seq3d):
    X, y = seq3d
    clf = SequenceClassifier(**TINY).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.predict(X).shape == (40,)
    assert clf.n_features_in_ == 2 and clf.n_step_features_ == 2
    assert clf.sequence_length_ == 12 and clf.masked_ is False
    assert clf.n_epochs_ == 2 and set(clf.history_) >= {"loss", "accuracy", "val_loss"}
    assert len(clf.history_["loss"]) == 2
    assert clf.model_.input_shape == (None, 12, 2)
    assert clf.n_params_ == clf.model_.count_params()
    assert 0.0 <= clf.score(X, y) <= 1.0


def test_string_labels_multiclass():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 5))
    y = np.array(["cat", "dog", "emu"])[np.arange(30) % 3]
    clf = SequenceClassifier(**TINY).fit(X, y)
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    assert set(clf.predict(X)) <= {"cat", "dog", "emu"}
    assert clf.predict_proba(X).shape == (30, 3)


def test_learns_a_simple_rule():
    """The sign of the last step decides the class: a GRU must get it right."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 8))
    y = (X[:, -1] > 0).astype(int)
    clf = SequenceClassifier(cell="gru", units=8, epochs=30, learning_rate=0.01,
                             early_stopping=False, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9


def test_same_random_state_gives_identical_predictions(seq3d):
    X, y = seq3d
    p1 = SequenceClassifier(**TINY).fit(X, y).predict_proba(X)
    p2 = SequenceClassifier(**TINY).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)


def test_fit_leaves_the_callers_global_random_state_alone(seq3d):
    import random

    from seqtune import SequenceForecaster

    X, y = seq3d
    np.random.seed(123)
    random.seed(123)
    np_state, py_state = np.random.get_state()[1].copy(), random.getstate()
    SequenceClassifier(**TINY).fit(X, y)
    SequenceForecaster(lookback=4, units=4, epochs=1, random_state=0).fit(np.sin(np.arange(40.0)))
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert random.getstate() == py_state
    # random_state=None draws its seed from NumPy's global generator, as scikit-learn
    # does, and takes nothing else from it: two such fits still differ.
    np.random.seed(5)
    first = SequenceClassifier(**{**TINY, "random_state": None}).fit(X, y)
    after = np.random.randint(1000)
    np.random.seed(5)
    np.random.randint(np.iinfo(np.int32).max)
    assert after == np.random.randint(1000)
    second = SequenceClassifier(**{**TINY, "random_state": None}).fit(X, y)
    assert not np.allclose(first.predict_proba(X), second.predict_proba(X))


def test_a_fit_on_jax_does_not_import_tensorflow():
    # keras.utils.set_random_seed imports TensorFlow whenever it is installed: seconds
    # and hundreds of MiB per process for a seed JAX never reads.
    import os
    import subprocess
    import sys

    pytest.importorskip("jax")
    code = (
        "import sys, numpy as np\n"
        "from seqtune import SequenceClassifier, SequenceForecaster\n"
        "X = np.random.default_rng(0).normal(size=(20, 6, 1))\n"
        "SequenceClassifier(units=2, epochs=1, random_state=0).fit(X, np.arange(20) % 2)\n"
        "SequenceForecaster(lookback=4, units=2, epochs=1, random_state=0)"
        ".fit(np.sin(np.arange(40.0)))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow')[:3])\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_squeeze_excite_without_convolutions_warns_that_it_does_nothing(seq3d):
    import warnings

    X, y = seq3d
    with pytest.warns(UserWarning, match=r"squeeze_excite=True has no effect without "
                                         r"convolutions.*conv_branch=False, conv_frontend=0"):
        SequenceClassifier(squeeze_excite=True, **TINY).fit(X, y)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="squeeze_excite")
        SequenceClassifier(squeeze_excite=True, conv_branch=True, **TINY).fit(X, y)


def test_clone_pickle_and_joblib_round_trips(seq3d, tmp_path):
    X, y = seq3d
    clf = SequenceClassifier(**TINY, bidirectional=True).fit(X, y)
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    joblib.dump(clf, tmp_path / "clf.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "clf.joblib").predict_proba(X), expected)
    np.testing.assert_array_equal(clone(clf).fit(X, y).predict_proba(X), expected)
    assert clone(clf).get_params() == clf.get_params()


def test_ragged_input_is_padded_and_masked(ragged):
    X, y = ragged
    clf = SequenceClassifier(**TINY).fit(X, y)
    assert clf.masked_ and clf.sequence_length_ == max(len(x) for x in X)
    # Padding must not change the result: one sequence alone, or beside a longer one.
    alone = clf.predict_proba([X[0]])
    with_long = clf.predict_proba([X[0], np.zeros(14)])[:1]
    np.testing.assert_allclose(alone, with_long, rtol=1e-5)


def test_sequence_length_and_stride():
    X = np.random.RandomState(0).normal(size=(20, 30, 1))
    y = np.arange(20) % 2
    clf = SequenceClassifier(**TINY, stride=4, sequence_length=5).fit(X, y)
    assert clf.model_.input_shape == (None, 5, 1) and not clf.masked_
    clf = SequenceClassifier(**TINY, stride=3).fit(X, y)
    assert clf.sequence_length_ == 10
    clf = SequenceClassifier(**TINY, sequence_length=40).fit(X, y)
    assert clf.masked_ and clf.model_.input_shape == (None, 40, 1)


def test_validation_data_is_monitored(seq3d):
    X, y = seq3d
    clf = SequenceClassifier(**TINY).fit(X[:30], y[:30], validation_data=(X[30:], y[30:]))
    assert len(clf.history_["val_accuracy"]) == 2


def test_sample_weight_changes_the_fit(seq3d):
    X, y = seq3d
    w = np.where(y == 1, 10.0, 1.0)
    p_plain = SequenceClassifier(**TINY).fit(X, y).predict_proba(X)
    p_weighted = SequenceClassifier(**TINY).fit(X, y, sample_weight=w).predict_proba(X)
    assert not np.allclose(p_plain, p_weighted)


def test_is_classifier_and_stratified_cv(seq3d):
    X, y = seq3d
    clf = SequenceClassifier(**TINY)
    assert is_classifier(clf)
    scores = cross_val_score(clf, X, y, cv=StratifiedKFold(3))
    assert scores.shape == (3,) and np.all((0 <= scores) & (scores <= 1))


def test_pipeline_with_row_preserving_step(seq3d):
    X, y = seq3d
    pipe = make_pipeline(FunctionTransformer(lambda Z: Z * 2.0), SequenceClassifier(**TINY))
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (40,)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search(seq3d, n_jobs):
    X, y = seq3d
    grid = GridSearchCV(SequenceClassifier(**TINY), {"cell": ["lstm", "gru"]}, cv=2,
                        n_jobs=n_jobs)
    grid.fit(X, y)
    assert grid.best_params_["cell"] in {"lstm", "gru"}
    assert len(grid.cv_results_["mean_test_score"]) == 2
    assert grid.predict(X).shape == (40,)
