"""saibench-standard: the generic modules every discipline can reuse."""

from collections.abc import Callable, Sequence
from typing import Any

from sail_types import hookimpl

from .metrics import accuracy, compile_time, inference_throughput, macro_f1, train_time
from .models import linear, mlp
from .platforms import cpu, gpu, jax_float32, tpu
from .rankings import accuracy_per_time, by_accuracy
from .trainers import adam


@hookimpl
def saibench_modules() -> Sequence[Callable[..., Any]]:
    """The standard modules."""
    return [
        mlp, linear, adam,
        accuracy, macro_f1, train_time, compile_time, inference_throughput,
        by_accuracy, accuracy_per_time,
        jax_float32, cpu, gpu, tpu,
    ]
