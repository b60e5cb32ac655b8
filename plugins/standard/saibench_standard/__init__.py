"""saibench-standard: the generic modules every discipline can reuse."""

from collections.abc import Callable, Sequence
from typing import Any

from sail_types import hookimpl

from .classical import knn, logistic_regression, ridge
from .converters import lag_features
from .gaussian_process import gaussian_process
from .metrics import (
    accuracy,
    compile_time,
    inference_throughput,
    latency_p50,
    latency_p99,
    macro_f1,
    mae,
    p99_error,
    peak_device_memory,
    peak_host_memory,
    rmse,
    sanity_accuracy,
    time_to_95_accuracy,
    train_time,
)
from .metrics_image import dice, iou, psnr, ssim
from .metrics_skill import ece, mae_skill, mase, mse_skill, nnse, nnse_per_group, nse, r2, worst_class_f1
from .models import linear, mlp, mlp_regressor
from .platforms import cpu, gpu, jax_bfloat16, jax_float32, tpu
from .rankings import accuracy_per_time, by_accuracy, by_mae, pareto_accuracy_time
from .trainers import adam, adamw_cosine


@hookimpl
def saibench_modules() -> Sequence[Callable[..., Any]]:
    """The standard modules."""
    return [
        mlp, linear, mlp_regressor, ridge, gaussian_process, knn, logistic_regression, adam, adamw_cosine,
        accuracy, macro_f1, mae, rmse, p99_error, train_time, compile_time, inference_throughput,
        time_to_95_accuracy, latency_p50, latency_p99, peak_host_memory, peak_device_memory, sanity_accuracy,
        r2, nse, nnse, nnse_per_group, mae_skill, mse_skill, mase, worst_class_f1, ece, psnr, ssim, iou, dice,
        by_accuracy, accuracy_per_time, by_mae, pareto_accuracy_time,
        jax_float32, jax_bfloat16, cpu, gpu, tpu,
        lag_features,
    ]
