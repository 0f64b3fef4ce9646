"""The MLflow ``pyfunc`` wrapper that serves a fitted seqtune estimator.

Unlike the other tracking modules, this one imports MLflow at import time: it
subclasses ``mlflow.pyfunc.PythonModel``. It is only imported when a model is
logged or loaded. A model stores a small "models from code" script
(:data:`MODEL_CODE`) that imports the wrapper from here, and seqtune's code ships
with the model, so serving needs no seqtune install.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np

from seqtune.tracking._serving import serve_predict

__all__ = ["EstimatorPyfuncModel", "ESTIMATOR_ARTIFACT", "MODEL_CODE"]

#: Key of the joblib file in the model's ``artifacts`` mapping.
ESTIMATOR_ARTIFACT = "estimator"


class EstimatorPyfuncModel(mlflow.pyfunc.PythonModel):
    """Serve a pickled seqtune (or any scikit-learn) estimator through ``predict``.

    The estimator itself is stored as a joblib artifact rather than through
    ``mlflow.sklearn``, whose skops serializer refuses classes it does not trust.
    """

    def load_context(self, context) -> None:  # noqa: ANN001
        """Load the fitted estimator from the model's artifacts."""
        import joblib

        self.estimator_ = joblib.load(context.artifacts[ESTIMATOR_ARTIFACT])

    # MLflow 3 reads predict's type hints: np.ndarray is one it accepts without
    # inferring a schema from it (the tensor signature describes the 3-D input),
    # and without a hint it warns on every save and load.
    def predict(self, context, model_input: np.ndarray, params=None):  # noqa: ANN001, ANN201
        """Return the estimator's predictions for ``model_input``, as :func:`serve_predict`.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext
            Unused; the estimator was loaded in :meth:`load_context`.
        model_input : ndarray of shape (n_samples, n_timesteps, n_features) or (n_timesteps, n_columns)
            Sequences, or a forecaster's ``y_history`` (with exogenous columns after
            the targets, see :func:`pack_history`).
        params : dict, optional
            Unused; present for MLflow's interface.
        """
        return serve_predict(self.estimator_, model_input)


#: Source of the "models from code" file stored with each model: MLflow loads the
#: wrapper by running it, instead of unpickling a cloudpickled object.
MODEL_CODE = """\
import mlflow.models

from seqtune.tracking._pyfunc import EstimatorPyfuncModel

mlflow.models.set_model(EstimatorPyfuncModel())
"""
