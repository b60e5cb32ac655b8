"""SAIL models compiled to JAX, and the jit+scan training loop. Imports JAX."""

from .finite import NonFinite as NonFinite
from .inference import latencies as latencies
from .inference import predict as predict
from .inference import predictions as predictions
from .nn import CompiledModel as CompiledModel
from .nn import compile_model as compile_model
from .train import Trained as Trained
from .train import fit as fit
from .train import fit_many as fit_many
