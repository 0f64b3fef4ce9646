"""The best estimator as an MLflow 3 logged ``pyfunc`` model."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from seqtune.device import backend_and_device


def _pip_requirements() -> list[str]:
    """Pinned requirements for serving: seqtune's runtime deps that are installed."""
    from importlib import metadata

    names = ["mlflow", "numpy", "pandas", "scikit-learn", "joblib", "keras", "pyyaml"]
    backend = backend_and_device().get("keras_backend")
    names += {"tensorflow": ["tensorflow"], "jax": ["jax"], "torch": ["torch"]}.get(backend, [])
    reqs = []
    for name in names:
        candidates = [name, "tensorflow-cpu"] if name == "tensorflow" else [name]
        for dist in candidates:
            try:
                reqs.append(f"{dist}=={metadata.version(dist)}")
                break
            except metadata.PackageNotFoundError:
                continue
    return reqs


def _log_pyfunc_model(client: Any, experiment_id: str, run_id: str | None, estimator: Any,
                      X_example: Any, predictions: Any, *, name: str) -> str:
    """Save ``estimator`` as a pyfunc model and log it as an MLflow 3 logged model.

    Mirrors what ``mlflow.pyfunc.log_model`` does, but through an explicit client
    instead of the global active run. ``predictions`` is the model's output for
    ``X_example``; the signature is inferred from the two.
    """
    import joblib
    import numpy as np
    import mlflow.pyfunc
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model, infer_signature

    import seqtune
    from ._pyfunc import ESTIMATOR_ARTIFACT, MODEL_CODE

    # Stored whole: the caller picks it (5 sequences, or a forecaster's full history).
    example = np.asarray(X_example)
    signature = infer_signature(example, np.asarray(predictions))
    model = client.create_logged_model(
        experiment_id, name=name, source_run_id=run_id,
        tags={"seqtune.estimator": type(estimator).__name__}, model_type="seqtune",
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            est_path = os.path.join(tmp, "estimator.joblib")
            joblib.dump(estimator, est_path)
            local = os.path.join(tmp, "model")
            mlflow_model = Model(artifact_path=model.artifact_location, model_uuid=model.model_id,
                                 run_id=run_id, model_id=model.model_id)
            seqtune_dir = Path(seqtune.__path__[0])
            code_file = os.path.join(tmp, "seqtune_model.py")
            Path(code_file).write_text(MODEL_CODE, encoding="utf-8")
            mlflow.pyfunc.save_model(
                local,
                python_model=code_file,
                artifacts={ESTIMATOR_ARTIFACT: est_path},
                signature=signature,
                input_example=example,
                pip_requirements=_pip_requirements(),
                # Ship seqtune's code with the model, so serving needs no seqtune install.
                code_paths=[str(seqtune_dir)],
                mlflow_model=mlflow_model,
            )
            for cache in Path(local).rglob("__pycache__"):
                shutil.rmtree(cache, ignore_errors=True)
            client.log_model_artifacts(model.model_id, local)
        if run_id is not None:
            client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
        client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    except Exception:
        with contextlib.suppress(Exception):
            client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        raise
    return f"models:/{model.model_id}"
