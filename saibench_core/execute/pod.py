"""A BenchPod: one run, executed inside its own process.

The pod re-discovers the catalog (plugins are code, not data, so nothing is pickled),
pins JAX to the run's hardware before JAX is imported, builds the problem's fixtures,
applies the converter chain, compiles and trains the model, then evaluates every attached
metric on the test fixture.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import platformdirs

from sail_types import TASKS, Dataset, Evaluation, Layer, Training

from ..discovery import Catalog, Descriptor, load_catalog
from ..errors import SaibenchError, UsageError
from ..planner import Fill, Run
from ..planner.compose import build


class ConversionError(SaibenchError):
    """No converter chain of a run could convert its data."""


JAX_PLATFORM = {"cpu": "cpu", "gpu": "cuda", "tpu": "tpu"}


def _module(catalog: Catalog, kind: Any, name: str) -> Descriptor:
    found = catalog.get(kind, name)
    if found is None:
        raise UsageError(f"{kind} {name!r} is no longer installed; re-run `saibench solve`")
    return found


def convert(catalog: Catalog, chains: Sequence[tuple[str, ...]], xs: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """Apply the first converter chain that runs; fall back to the next on an exception.

    Raises:
        ConversionError: every chain failed; the message gives each failure.
    """
    failures = []
    for chain in chains:
        try:
            out = xs
            for name in chain:
                fn = _module(catalog, "converter", name).fn
                out = tuple(fn(x) for x in out)
            return out, chain
        except UsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plugin's converter may raise anything; try the next chain
            failures.append(f"{'→'.join(chain)}: {type(exc).__name__}: {exc}")
    raise ConversionError("every converter chain failed: " + "; ".join(failures))


def per_element(catalog: Catalog, fills: Sequence[Fill], x: Any) -> Any:
    """Run the fills' converter chains on every set element: ``(N, n, ...)`` → ``(N, n, ...')``."""
    chains = {fill.chain for fill in fills if fill.chain}
    if not chains:
        return x
    if len(chains) > 1:
        raise UsageError(f"slots need different element chains {sorted(chains)}; saibench applies one per run")
    import numpy as np

    x = np.asarray(x)
    (flat,), _ = convert(catalog, [chains.pop()], (x.reshape((-1,) + x.shape[2:]),))
    flat = np.asarray(flat)
    return flat.reshape(x.shape[:2] + flat.shape[1:])


def enable_compilation_cache(jax: Any) -> None:
    """Use JAX's persistent compilation cache in the user cache directory (shared by every
    run on this machine; ``SAIBENCH_JAX_CACHE`` chooses another, ``off`` disables it)."""
    where = os.environ.get("SAIBENCH_JAX_CACHE") or str(Path(platformdirs.user_cache_dir("saibench")) / "jax")
    if where == "off":
        return
    jax.config.update("jax_compilation_cache_dir", where)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


class HardFail(SaibenchError):
    """A metric crossed its hard-fail threshold; the run fails, its metrics are kept."""

    def __init__(self, reason: str, metrics: dict[str, float]) -> None:
        super().__init__(reason)
        self.metrics = metrics


def hard_failures(catalog: Catalog, metrics: Mapping[str, float]) -> list[str]:
    """Each metric whose value is worse than its declared ``hard_fail`` threshold."""
    out = []
    for name, value in metrics.items():
        spec = _module(catalog, "metric", name).spec
        if spec.hard_fail is None:
            continue
        if (value < spec.hard_fail) if spec.goal == "max" else (value > spec.hard_fail):
            out.append(f"{name} = {value:.4g} is {'below' if spec.goal == 'max' else 'above'} its hard-fail threshold {spec.hard_fail:g}")
    return out


def observe(trained: Any, compiled: Any, loss: str, x_test: Any, y_test: Any, latency: Any, device: Any) -> list[dict[str, Any]]:
    """The run's event stream: per-epoch evaluations, timings, latencies, memory.

    Epochs inside one compiled scan have no clock of their own; an epoch's ``seconds`` is
    its share of the training time (every epoch does the same work)."""
    import resource

    from ..compile.train import epoch_scores

    epochs = len(trained.epoch_losses)
    test_loss = test_accuracy = None
    if trained.snapshots is not None:
        test_loss, test_accuracy = epoch_scores(compiled, loss, trained.snapshots, x_test, y_test)
    events: list[dict[str, Any]] = []
    for i in range(epochs):
        event: dict[str, Any] = {"kind": "epoch", "epoch": i + 1, "seconds": trained.train_seconds * (i + 1) / epochs,
                                 "train_loss": float(trained.epoch_losses[i])}
        if test_loss is not None and test_accuracy is not None:
            event.update(test_loss=float(test_loss[i]), test_accuracy=float(test_accuracy[i]))
        events.append(event)
    events.append({"kind": "timing", "compile_seconds": trained.compile_seconds, "train_seconds": trained.train_seconds})
    events.append({"kind": "latency", "seconds": [float(v) for v in latency]})
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    events.append({"kind": "memory", "peak_host_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                   "device_bytes": (stats or {}).get("peak_bytes_in_use")})
    return events


class Phases:
    """Wall time of each named phase of a run: ``with phases("load"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def environment() -> dict[str, Any]:
    """What a run needs recorded to be reproduced: versions, hardware, module hashes."""
    versions: dict[str, str | None] = {}
    for dist in ("jax", "jaxlib", "optax", "numpy", "saibench"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "packages": versions,
    }


def execute(run: Run, catalog: Catalog | None = None, save_weights: str | None = None) -> dict[str, Any]:
    """Execute one run in this process and return its metrics and facts; with
    ``save_weights``, the trained parameters are written there (``.npz``)."""
    catalog = catalog or load_catalog()
    hardware = _module(catalog, "hardware", run.hardware)
    if hardware.device is None:
        raise UsageError(f"hardware {run.hardware!r} is not available: {hardware.failure}")
    os.environ.setdefault("JAX_PLATFORMS", JAX_PLATFORM[hardware.device.platform])

    import jax

    jax.config.update("jax_platforms", os.environ["JAX_PLATFORMS"])  # type: ignore[no-untyped-call] # imported already in a fork server
    enable_compilation_cache(jax)
    import numpy as np

    from ..compile import compile_model, fit, predict, weights
    from ..compile.train import latencies

    phases = Phases()
    with phases("backend"):
        device = jax.devices()[0]
    if device.platform != hardware.device.platform:
        raise UsageError(f"hardware {run.hardware!r} asked for {hardware.device.platform} but JAX runs on {device.platform}")
    problem = _module(catalog, "problem", run.problem)
    model = _module(catalog, "model", run.model)
    trainer = _module(catalog, "trainer", run.trainer)
    hyper: Mapping[str, Mapping[str, Any]] = run.hyper

    with phases("load"):
        data: Dataset[Any, Any] = problem.fn(**hyper.get("problem", {}))
    with phases("convert"):
        (x_train, x_test), chain_used = convert(catalog, (run.chain, *run.fallbacks), (data.train.x, data.test.x))
        x_train, x_test = (np.asarray(per_element(catalog, run.fills, x), dtype=np.float32) for x in (x_train, x_test))
    with phases("build"):
        layer: Layer = build(catalog, model, run.dims, hyper.get("model", {}), run.fills)
        training: Training = trainer.fn(**hyper.get("trainer", {}))
        runtime = _module(catalog, "software", run.software).runtime
        compiled = compile_model(layer, run.dims, runtime.precision if runtime else "float32")
    task = TASKS[problem.task or ""]
    with phases("fit"):  # compile + train, each also timed inside fit
        initial = None
        if run.init_weights:
            path = Path(run.init_weights.rsplit("#", 1)[0])
            initial = lambda fresh: weights.load(path, fresh)  # noqa: E731
        needs_epochs = any("epochs" in _module(catalog, "metric", m).spec.needs for m in run.metrics)
        trained = fit(compiled, training, task.loss, x_train, np.asarray(data.train.y), key=jax.random.key(run.seed),
                      initial=initial, snapshots=needs_epochs)
    with phases("predict"):
        scores, inference_seconds = predict(compiled, trained.params, x_test)
        latency = latencies(compiled, trained.params, x_test)
    with phases("observe"):
        events = observe(trained, compiled, task.loss, x_test, np.asarray(data.test.y), latency, device)
    y_pred = scores.argmax(-1) if task.loss == "cross_entropy" else scores.reshape(np.shape(data.test.y))
    evaluation = Evaluation(
        y_true=np.asarray(data.test.y), y_pred=y_pred, scores=scores,
        train_seconds=trained.train_seconds, compile_seconds=trained.compile_seconds,
        inference_seconds=inference_seconds, n_train=len(x_train), n_test=len(x_test),
        epochs=training.epochs, events=tuple(events),
    )
    with phases("metrics"):
        metrics = {name: float(_module(catalog, "metric", name).fn(evaluation)) for name in run.metrics}
    if failed := hard_failures(catalog, metrics):
        raise HardFail("; ".join(failed), metrics)
    saved = str(weights.save(trained.params, Path(save_weights))) if save_weights else None
    return {
        "metrics": metrics,
        "weights": saved,
        "epoch_losses": [float(v) for v in trained.epoch_losses],
        "device": str(device),
        "dataset_checksum": data.checksum,
        "chain_used": list(chain_used),
        "environment": environment(),
        "phases": phases.seconds,
    }
