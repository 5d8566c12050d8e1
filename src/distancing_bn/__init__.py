"""distancing_bn: explainable Bayesian diagnosis of why a partner pulls away.

A reflective aid, not a clinical tool. Load a model, give answers, get the posterior of every
cause, the most informative next question, and why::

    >>> import distancing_bn as dbn
    >>> model = dbn.load_model()                      # the bundled default model
    >>> post = model.posterior({"less_contact": "a_lot"})
    >>> round(float(post.probabilities.sum()), 6) > 0
    True
"""

from __future__ import annotations

from .batch import score_csv
from .errors import (
    DataError,
    DistancingBNError,
    DistancingBNWarning,
    EvidenceError,
    ImpossibleEvidenceError,
    InvalidAnswerError,
    ModelError,
    ModelSyntaxError,
    ModelTooLargeError,
    ModelValidationError,
    ModelWarning,
    NumericalWarning,
    UnknownQuestionError,
)
from .formats import default_model_path, from_pgmpy, load_model, load_network
from .guidance import Guidance
from .information import QuestionRanking, StopDecision, StopRule
from .model import Model
from .network import Network
from .results import Explanation, Posterior
from .session import Session
from .spec import ModelSpec, load_spec

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "DistancingBNError",
    "DistancingBNWarning",
    "EvidenceError",
    "Explanation",
    "Guidance",
    "ImpossibleEvidenceError",
    "InvalidAnswerError",
    "Model",
    "ModelError",
    "ModelSpec",
    "ModelSyntaxError",
    "ModelTooLargeError",
    "ModelValidationError",
    "ModelWarning",
    "Network",
    "NumericalWarning",
    "Posterior",
    "QuestionRanking",
    "Session",
    "StopDecision",
    "StopRule",
    "UnknownQuestionError",
    "__version__",
    "default_model_path",
    "from_pgmpy",
    "load_model",
    "load_network",
    "load_spec",
    "score_csv",
]
