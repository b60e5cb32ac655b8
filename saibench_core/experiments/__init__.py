"""Experiments and derivatives: what a problem asks of a trained model beyond its outputs on
the test fixture - gradients (``sail_types.Gradient``) taken through the run's converters,
and experiments (``sail_types.Experiment``) conducted on the model as a callable."""

from .conduct import conduct as conduct
from .conduct import gradient_values as gradient_values
from .differentiable import chain_function as chain_function
from .differentiable import chained as chained
from .trained_model import of_compiled as of_compiled
from .trained_model import of_fitted as of_fitted
