"""A run's event stream, as metrics read it (``Evaluation.events``)."""

from __future__ import annotations

from typing import Any

from sail_types import Task


def trained_timing(trained: Any) -> dict[str, Any]:
    """The timing event of a trained run: compile time and cache state, training clock."""
    return {"kind": "timing", "compile_seconds": trained.compile_seconds, "compile_cache": trained.compile_cache,
            "train_seconds": trained.train_seconds, "train_clock": trained.train_clock,
            "first_execution_seconds": trained.first_execution_seconds}


def closing(timing: dict[str, Any], inference: Any, latency: Any, device: Any) -> list[dict[str, Any]]:
    """The events every run ends with, trained or fitted: ``timing``, each timed
    ``inference`` pass, single-sample ``latency``, and ``memory`` (host peak, device peak
    where the device reports it)."""
    import resource

    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    return [timing,
            {"kind": "inference", "seconds": [float(v) for v in inference]},
            {"kind": "latency", "seconds": [float(v) for v in latency]},
            {"kind": "memory", "peak_host_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
             "device_bytes": (stats or {}).get("peak_bytes_in_use")}]


def observe(trained: Any, compiled: Any, task: Task, x_validation: Any, y_validation: Any, inference: Any, latency: Any,
            device: Any) -> list[dict[str, Any]]:
    """The run's event stream: per-epoch evaluations on the validation fixture, timings
    with the compile-cache state, inference passes, latencies, memory.

    Epochs inside one compiled scan have no clock of their own; an epoch's ``seconds`` is
    its share of the training time (every epoch does the same work).

    Args:
        trained: ``compile.Trained`` (with ``snapshots`` when a metric follows epochs).
        compiled: the compiled model; task: the problem's task.
        x_validation, y_validation: the validation fixture, converted.
        inference: seconds of each timed whole-test-fixture pass; latency: single samples.
        device: the JAX device the run used.
    """
    from ..compile.train import epoch_scores

    epochs = len(trained.epoch_losses)
    loss = accuracy = None
    if trained.snapshots is not None:
        loss, accuracy = epoch_scores(compiled, task, trained.snapshots, x_validation, y_validation)
    events: list[dict[str, Any]] = []
    for i in range(epochs):
        event: dict[str, Any] = {"kind": "epoch", "epoch": i + 1, "seconds": trained.train_seconds * (i + 1) / epochs,
                                 "train_loss": float(trained.epoch_losses[i])}
        if loss is not None and accuracy is not None:
            event.update(validation_loss=float(loss[i]), validation_accuracy=float(accuracy[i]))
        events.append(event)
    events += closing(trained_timing(trained), inference, latency, device)
    return events
