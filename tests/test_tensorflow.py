"""The TensorFlow workarounds: a fit's traced graphs are freed after it, and Keras's
false retracing warning is filtered."""

import gc
import logging
import threading
import weakref

import keras
import numpy as np
import pytest

from seqtune import SequenceForecaster, SequenceRegressor
from conftest import TINY
from seqtune._tensorflow import releasing_custom_gradients

pytestmark = pytest.mark.skipif(
    keras.config.backend() != "tensorflow", reason="a TensorFlow-only defect")


def _registry() -> dict:
    from tensorflow.python.framework import ops

    return ops._gradient_registry._registry


def _custom_gradients() -> set[str]:
    return {name for name in _registry() if name.startswith("CustomGradient-")}


def _func_graphs() -> list:
    from tensorflow.python.framework.func_graph import FuncGraph

    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, FuncGraph)]


@pytest.fixture
def series():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 10, 1)).astype("float32")
    return X, X.sum(axis=(1, 2))


def test_a_fit_leaves_no_custom_gradient_registered(series):
    before = _custom_gradients()
    SequenceRegressor(**TINY).fit(*series)
    assert _custom_gradients() == before


def test_a_fitted_estimators_graphs_are_freed_once_it_is(series):
    known = {id(g) for g in _func_graphs()}
    est = SequenceRegressor(**TINY).fit(*series)
    est.predict(series[0])
    graphs = [weakref.ref(g) for g in _func_graphs() if id(g) not in known]
    assert graphs, "the fit traced no graph; the test would prove nothing"
    del est
    keras.backend.clear_session()
    gc.collect()
    assert [r for r in graphs if r() is not None] == []


def test_a_released_model_trains_and_predicts_on(series):
    X, y = series
    est = SequenceRegressor(**TINY).fit(X, y)
    weights = [w.copy() for w in est.model_.get_weights()]
    est.model_.fit(X, y.reshape(-1, 1), epochs=2, batch_size=16, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(weights, est.model_.get_weights()))
    assert est.predict(X).shape == (30,)
    assert np.isfinite(est.predict(X)).all()


def test_an_ensemble_forecaster_leaves_no_custom_gradient():
    y = np.sin(np.arange(80) / 4.0)
    before = _custom_gradients()
    SequenceForecaster(lookback=8, horizon=2, ensemble_size=2, **TINY).fit(y)
    assert _custom_gradients() == before


def test_entries_from_before_and_other_names_are_kept():
    table = _registry()
    table["CustomGradient-seqtune-test-old"] = object()
    try:
        with releasing_custom_gradients():
            table["CustomGradient-seqtune-test-new"] = object()
            table["SeqtuneTestOp"] = object()
        assert "CustomGradient-seqtune-test-old" in table
        assert "SeqtuneTestOp" in table
        assert "CustomGradient-seqtune-test-new" not in table
    finally:
        for name in ("CustomGradient-seqtune-test-old", "SeqtuneTestOp"):
            table.pop(name, None)


def test_the_last_block_to_leave_releases_even_across_threads():
    table = _registry()
    inside, release = threading.Event(), threading.Event()

    def other_fit():
        with releasing_custom_gradients():
            table["CustomGradient-seqtune-test-thread"] = object()
            inside.set()
            release.wait(timeout=30)

    worker = threading.Thread(target=other_fit)
    try:
        with releasing_custom_gradients():
            worker.start()
            assert inside.wait(timeout=30)
            with releasing_custom_gradients():
                table["CustomGradient-seqtune-test-nested"] = object()
            assert "CustomGradient-seqtune-test-nested" in table
        # The other thread's block is still open: nothing is released yet.
        assert {"CustomGradient-seqtune-test-nested",
                "CustomGradient-seqtune-test-thread"} <= set(table)
        release.set()
        worker.join(timeout=30)
        assert not worker.is_alive()
        assert not {"CustomGradient-seqtune-test-nested",
                    "CustomGradient-seqtune-test-thread"} & set(table)
    finally:
        release.set()
        if worker.ident is not None:
            worker.join(timeout=30)
        for name in ("CustomGradient-seqtune-test-nested", "CustomGradient-seqtune-test-thread"):
            table.pop(name, None)


def test_kerass_false_retracing_warning_is_filtered_and_others_kept(series, caplog):
    X, y = series
    own = "6 out of the last 6 calls to <function f at 0x0> triggered tf.function retracing."
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for seed in range(7):  # a model per fit: each traces once, as a search's folds do
            SequenceRegressor(**{**TINY, "random_state": seed}).fit(X, y).predict(X[:5])
        logging.getLogger("tensorflow").warning(own)
    assert [r.getMessage() for r in caplog.records if "retracing" in r.getMessage()] == [own]
