"""SAIL models compiled to JAX, and the jit+scan training loop. Imports JAX."""

from .nn import CompiledModel as CompiledModel
from .nn import compile_model as compile_model
from .train import Trained as Trained
from .train import fit as fit
from .train import predict as predict
