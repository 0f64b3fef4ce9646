"""What seqtune 812b6f8 wrote to disk still loads: search state, a pickled search, a pyfunc model.

The fixtures in ``tests/fixtures/v812b6f8/`` were written once by
``tests/fixtures/make_legacy_fixtures.py`` from a checkout of that commit. Users have
such directories, pickles and logged models; a refactor must not strand them.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from seqtune.classifier import SequenceClassifier
from seqtune.search import SequenceSearch, read_trial_records

FIXTURES = Path(__file__).parent / "fixtures" / "v812b6f8"
# Keys of a trial record as 812b6f8 wrote them (DESIGN.md's schema, plus "metrics").
LEGACY_KEYS = {
    "trial_id", "number", "status", "params", "score", "objective", "history", "epochs_run",
    "initial_epoch", "duration_s", "seconds_per_epoch", "n_params", "fused_kernel", "error",
    "tags", "started_at", "ended_at", "metrics",
}


@pytest.fixture(scope="module")
def legacy():
    data = np.load(FIXTURES / "data.npz")
    space = json.loads((FIXTURES / "space.json").read_text())
    return data, space


def _copy_search(tmp_path: Path) -> Path:
    target = tmp_path / "search"
    shutil.copytree(FIXTURES / "search", target)
    return target


def _search(directory: Path, space: dict, max_trials: int) -> SequenceSearch:
    return SequenceSearch(
        SequenceClassifier(), space=space, tuner="random", max_trials=max_trials,
        directory=directory, project_name="golden", overwrite=False, tracking=False,
        random_state=0, verbose=0, cv=None,  # 812b6f8 scored trials on one holdout
    )


def test_legacy_records_load_and_have_the_golden_keys():
    records = read_trial_records(FIXTURES / "search" / "golden")
    assert [r["trial_id"] for r in records] == ["0", "1"]
    assert [r["status"] for r in records] == ["COMPLETED", "COMPLETED"]
    for record in records:
        assert set(record) == LEGACY_KEYS


def test_new_records_keep_every_legacy_key(tmp_path, legacy):
    data, space = legacy
    search = _search(tmp_path, space, max_trials=1).fit(data["X"], data["y"])
    assert LEGACY_KEYS <= set(search.records_[0])


def test_legacy_search_resumes_without_rerunning_its_trials(tmp_path, legacy):
    data, space = legacy
    directory = _copy_search(tmp_path)
    before = {r["trial_id"]: r for r in read_trial_records(directory / "golden")}
    # It predates the folds record: resuming says that it cannot check them.
    with pytest.warns(UserWarning, match="kept no record of its folds"):
        search = _search(directory, space, max_trials=3).fit(data["X"], data["y"])
    assert list(search.results_["trial_id"]) == ["0", "1", "2"]
    assert set(search.results_["status"]) == {"completed"}
    for trial_id, record in before.items():
        after = next(r for r in search.records_ if r["trial_id"] == trial_id)
        assert after["started_at"] == record["started_at"]
        assert after["score"] == record["score"]


def test_legacy_search_directory_syncs_to_mlflow(tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    from seqtune.cli import main

    directory = _copy_search(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["sync", "--directory", str(directory), "--tracking-uri", store,
                 "--experiment", "legacy"]) == 0
    assert "golden: logged 2 missing trial run(s)" in capsys.readouterr().out
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("legacy")
    runs = client.search_runs([experiment.experiment_id])
    children = sorted(r.data.tags["trial_id"] for r in runs if "mlflow.parentRunId" in r.data.tags)
    assert children == ["0", "1"]


def test_legacy_pickled_search_predicts_identically(legacy):
    data, _ = legacy
    with open(FIXTURES / "search.pkl", "rb") as handle:
        search = pickle.load(handle)
    np.testing.assert_allclose(search.predict_proba(data["X"][:8]), data["proba"], rtol=1e-6, atol=1e-7)
    assert list(search.results_["trial_id"]) == ["0", "1"]
    assert search.best_params_["cell"] in ("lstm", "gru")


@pytest.mark.parametrize("import_first", [False, True], ids=["fresh-process", "seqtune-imported"])
def test_legacy_pyfunc_model_predicts_identically(tmp_path, import_first):
    """In a fresh process the model runs the seqtune copy it shipped with; with seqtune
    imported first it runs today's code, through ``seqtune.tracking._pyfunc``."""
    script = textwrap.dedent(
        f"""
        import numpy as np
        {"import seqtune.classifier, seqtune.tracking._pyfunc" if import_first else ""}
        import mlflow.pyfunc
        model = mlflow.pyfunc.load_model({str(FIXTURES / "pyfunc_model")!r})
        data = np.load({str(FIXTURES / "data.npz")!r})
        np.testing.assert_array_equal(np.asarray(model.predict(data["X"][:5])), data["labels"])
        import seqtune
        print("SEQTUNE", seqtune.__file__)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    where = out.stdout.split("SEQTUNE", 1)[1].strip()
    shipped = str(FIXTURES / "pyfunc_model" / "code")
    assert where.startswith(shipped) != import_first
