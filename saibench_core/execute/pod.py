"""A BenchPod: one run, executed inside its own process.

The pod re-discovers the catalog (plugins are code, not data, so nothing is pickled),
pins JAX to the run's hardware before JAX is imported, builds the problem's fixtures,
applies the converter chain, compiles and trains the model, then evaluates every attached
metric on the test fixture.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from collections.abc import Mapping, Sequence
from typing import Any

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


def execute(run: Run, catalog: Catalog | None = None) -> dict[str, Any]:
    """Execute one run in this process and return its metrics and facts."""
    catalog = catalog or load_catalog()
    hardware = _module(catalog, "hardware", run.hardware)
    if hardware.device is None:
        raise UsageError(f"hardware {run.hardware!r} is not available: {hardware.failure}")
    os.environ.setdefault("JAX_PLATFORMS", JAX_PLATFORM[hardware.device.platform])

    import jax

    jax.config.update("jax_platforms", os.environ["JAX_PLATFORMS"])  # type: ignore[no-untyped-call] # imported already in a fork server
    import numpy as np

    from ..compile import compile_model, fit, predict

    device = jax.devices()[0]
    if device.platform != hardware.device.platform:
        raise UsageError(f"hardware {run.hardware!r} asked for {hardware.device.platform} but JAX runs on {device.platform}")
    problem = _module(catalog, "problem", run.problem)
    model = _module(catalog, "model", run.model)
    trainer = _module(catalog, "trainer", run.trainer)
    hyper: Mapping[str, Mapping[str, Any]] = run.hyper

    data: Dataset[Any, Any] = problem.fn(**hyper.get("problem", {}))
    (x_train, x_test), chain_used = convert(catalog, (run.chain, *run.fallbacks), (data.train.x, data.test.x))
    x_train, x_test = (per_element(catalog, run.fills, x) for x in (x_train, x_test))
    layer: Layer = build(catalog, model, run.dims, hyper.get("model", {}), run.fills)
    training: Training = trainer.fn(**hyper.get("trainer", {}))
    task = TASKS[problem.task or ""]
    compiled = compile_model(layer, run.dims)
    x_train = np.asarray(x_train, dtype=np.float32)
    x_test = np.asarray(x_test, dtype=np.float32)
    trained = fit(compiled, training, task.loss, x_train, np.asarray(data.train.y), key=jax.random.key(run.seed))
    scores, inference_seconds = predict(compiled, trained.params, x_test)
    y_pred = scores.argmax(-1) if task.loss == "cross_entropy" else scores.reshape(np.shape(data.test.y))
    evaluation = Evaluation(
        y_true=np.asarray(data.test.y), y_pred=y_pred, scores=scores,
        train_seconds=trained.train_seconds, compile_seconds=trained.compile_seconds,
        inference_seconds=inference_seconds, n_train=len(x_train), n_test=len(x_test),
        epochs=training.epochs,
    )
    metrics = {name: float(_module(catalog, "metric", name).fn(evaluation)) for name in run.metrics}
    return {
        "metrics": metrics,
        "epoch_losses": [float(v) for v in trained.epoch_losses],
        "device": str(device),
        "dataset_checksum": data.checksum,
        "chain_used": list(chain_used),
        "environment": environment(),
    }
