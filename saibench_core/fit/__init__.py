"""Methods fitted without gradients (``sail_types.Fitted``): fitting timed as a training
program is, predictions checked and timed as a compiled model's are. NumPy only; a
``Fitted`` method that computes with JAX imports it itself."""

from .fitting import FitError as FitError
from .fitting import FitOutcome as FitOutcome
from .fitting import fit_timed as fit_timed
from .fitting import fitted_of as fitted_of
from .predicting import INFERENCE_PASSES as INFERENCE_PASSES
from .predicting import latencies as latencies
from .predicting import predict as predict
