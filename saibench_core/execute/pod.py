"""A BenchPod: one run, executed inside its own process.

The pod re-discovers the catalog (plugins are code, not data, so nothing is pickled),
pins JAX to the run's hardware before JAX is imported, loads the problem's data
(checked against the campaign's checksum and the problem's declared types), carves a
validation fixture where the problem provides none, applies the converter chain (its
output checked against the model's input type), compiles and trains the model (or fits a
``Fitted`` one: ``execute/fitted.py``), then evaluates every attached metric on the
validation fixture (for choosing among grid points) and, once, on the test fixture.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import platformdirs

from sail_types import Dataset, Layer, Task, Training

from ..data import dataset_checksum, load_problem
from ..discovery import Catalog, Descriptor, load_catalog
from ..errors import SaibenchError, UsageError
from ..planner import Fill, Run
from ..planner.compose import build
from ..results.provenance import environment
from .asks import Asks
from .checks import check_checksum, check_converted, check_output_shape
from .evaluate import evaluate_run
from .events import observe, trained_timing
from .fixtures import run_fixtures
from .probe import problem_arguments
from .reference import run_context


class ConversionError(SaibenchError):
    """No converter chain of a run could convert its data."""


JAX_PLATFORM = {"cpu": "cpu", "gpu": "cuda", "tpu": "tpu"}


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
                fn = catalog.require("converter", name).fn
                out = tuple(fn(x) for x in out)
            return out, chain
        except UsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plugin's converter may raise anything; try the next chain
            failures.append(f"{'→'.join(chain)}: {type(exc).__name__}: {exc}")
    raise ConversionError("every converter chain failed: " + "; ".join(failures))


def element_chain(fills: Sequence[Fill]) -> tuple[str, ...]:
    """The converter chain the fills apply to every set element (``()``: none).

    Raises:
        UsageError: slots need different chains.
    """
    chains = {fill.chain for fill in fills if fill.chain}
    if len(chains) > 1:
        raise UsageError(f"slots need different element chains {sorted(chains)}; saibench applies one per run")
    return chains.pop() if chains else ()


def per_element(catalog: Catalog, fills: Sequence[Fill], x: Any) -> Any:
    """Run the fills' converter chains on every set element: ``(N, n, ...)`` → ``(N, n, ...')``."""
    chain = element_chain(fills)
    if not chain:
        return x
    import numpy as np

    x = np.asarray(x)
    (flat,), _ = convert(catalog, [chain], (x.reshape((-1,) + x.shape[2:]),))
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


_COMPILED: dict[Any, Any] = {}


def compiled_once(layer: Layer, dims: Mapping[str, int], precision: str, *, logits: bool) -> Any:
    """``compile.compile_model``, once per distinct layer, dims, precision and loss in this
    process: the members of a batch pod share one compiled model, and so the jitted
    programs the inference and latency passes keep for it. A layer that cannot be hashed
    (one wrapping a Flax or Equinox module) is compiled each time."""
    from ..compile import compile_model

    key = (layer, tuple(sorted(dims.items())), precision, logits)
    try:
        found = _COMPILED.get(key)
    except TypeError:
        return compile_model(layer, dims, precision, logits=logits)
    if found is None:
        found = _COMPILED[key] = compile_model(layer, dims, precision, logits=logits)
    return found


def _task(problem: Descriptor) -> Task:
    task = problem.spec.task
    if not isinstance(task, Task):
        raise UsageError(f"problem {problem.name!r} declares no task; give it one: @problem(task=Classify)")
    return task


def execute(run: Run, catalog: Catalog | None = None, save_weights: str | None = None) -> dict[str, Any]:
    """Execute one run in this process and return its metrics and facts; with
    ``save_weights``, the trained parameters are written there (``.npz``).

    Returns:
        a JSON-ready dict: ``metrics`` (on the test fixture), ``validation_metrics`` (the
        same metrics on the validation fixture), fixture sizes, ``training`` (epochs asked
        for and run, steps, patience, best epoch, stopped early), ``epoch_losses`` and, when a
        metric follows epochs, the ``validation_loss`` and ``validation_accuracy`` curves,
        ``compile_cache``, ``train_clock``, ``timing`` (the timing event and each timed
        inference pass), the measured ``dataset_checksum``, the chain
        used, phases, etc.

    Raises:
        DatasetChanged, DeclaredTypeError: the data are not those checked or declared.
        NonFinite: the loss, parameters or predictions went non-finite.
        HardFail: a test metric crossed its hard-fail threshold.
    """
    prepared = prepare(run, catalog, save_weights)
    if not isinstance(prepared, Pending):
        return prepared  # a fitted model: done
    from ..compile import fit

    with prepared.phases("fit"):  # compile + train, each also timed inside fit
        trained = fit(**prepared.fit_args)
    return prepared.finish(trained)


@attrs.frozen
class Pending:
    """A run prepared up to training: ``fit``'s arguments, and what evaluates it once trained."""

    run: Run
    fit_args: dict[str, Any]
    finish: Callable[[Any], dict[str, Any]]
    phases: Phases


def prepare(run: Run, catalog: Catalog | None = None, save_weights: str | None = None) -> Pending | dict[str, Any]:
    """``execute`` up to training: load, check, carve, convert and build; a ``Fitted``
    model is fitted and evaluated here (its result returned). See ``execute``."""
    catalog = catalog or load_catalog()
    hardware = catalog.require("hardware", run.hardware)
    if hardware.device is None:
        raise UsageError(f"hardware {run.hardware!r} is not available: {hardware.failure}")
    os.environ.setdefault("JAX_PLATFORMS", JAX_PLATFORM[hardware.device.platform])

    import jax

    jax.config.update("jax_platforms", os.environ["JAX_PLATFORMS"])  # type: ignore[no-untyped-call] # imported already in a fork server
    enable_compilation_cache(jax)
    import numpy as np

    from ..compile import latencies, predict, weights
    from ..compile.finite import check_predictions
    from ..compile.nn import sample_output_shape
    from ..compile.standardize import standardized, target_scale

    phases = Phases()
    with phases("backend"):
        device = jax.devices()[0]
    if device.platform != hardware.device.platform:
        raise UsageError(f"hardware {run.hardware!r} asked for {hardware.device.platform} but JAX runs on {device.platform}")
    problem = catalog.require("problem", run.problem)
    model = catalog.require("model", run.model)
    task = _task(problem)
    hyper: Mapping[str, Mapping[str, Any]] = run.hyper

    with phases("load"):
        data: Dataset[Any, Any] = load_problem(problem, problem_arguments(problem, hyper.get("problem", {}), run.split))
    with phases("check"):
        checksum = dataset_checksum(data)
        check_checksum(run.problem, run.dataset_checksum, checksum)
        train, validation, test, carved = run_fixtures(problem, task, data, run)
    gradients = problem.spec.gradients
    with phases("convert"):
        # with gradients the chain runs inside the compiled program (derivatives through it): it is chosen and checked
        # on a few samples here; otherwise each fixture is converted once
        fused = bool(gradients) and not model.fitted
        raw = tuple(np.asarray(f.x, dtype=np.float32) for f in (train, validation, test))
        xs, chain_used = convert(catalog, (run.chain, *run.fallbacks), tuple(x[:2] if fused else x for x in raw))
        assert model.input is not None
        source = f"converter {chain_used[-1]}" if chain_used else f"problem {run.problem}"
        for split, x in zip(("train", "validation", "test"), xs, strict=True):
            check_converted(source, run.model, model.input, split, x, run.dims)
        converted = tuple(np.asarray(per_element(catalog, run.fills, x), dtype=np.float32) for x in xs)
        x_train, x_val, x_test = raw if fused else converted
    y_train, y_val, y_test = (np.asarray(f.y) for f in (train, validation, test))
    # training targets, reference baseline, unit; and each evaluated fixture's metadata, which converters never touch
    context = {**run_context(problem, task, train, validation, test), "meta": {"validation": validation.meta, "test": test.meta}}
    recorded = {"validation_carved": carved, "device": str(device), "dataset_checksum": checksum,
                "declared_checksum": data.checksum, "chain_used": list(chain_used),
                **({"started_from": {"run": run.origin, "keep": run.start_keep}} if run.start_from else {})}
    asks = Asks(gradients, data.experiments, chain_used, raw, (train, validation, test))
    if model.fitted:  # fitted without gradients, by the ``fit`` pseudo-trainer: no training loop
        from .fitted import execute_fitted

        return execute_fitted(catalog, run, model, task, ((x_train, y_train), (x_val, y_val), (x_test, y_test)), phases, device,
                              recorded, context, train.meta, asks)
    with phases("build"):
        layer: Layer = build(catalog, model, run.dims, hyper.get("model", {}), run.fills)
        training: Training = catalog.require("trainer", run.trainer).fn(**hyper.get("trainer", {}))
        runtime = catalog.require("software", run.software).runtime
        network = compiled_once(layer, run.dims, runtime.precision if runtime else "float32", logits=task.loss == "cross_entropy")
        scale = target_scale(task, problem.output, y_train)
        network = standardized(network, scale)  # a regressor starts at its targets' scale
        on_raw = asks.on_raw_inputs(catalog, run, network, converted[0].shape[1:], model.name)
        compiled = on_raw if fused and on_raw is not None else network
        assert model.output is not None
        check_output_shape(model.name, model.output, run.dims, sample_output_shape(compiled, x_train.shape[1:]))
    initial = None
    if run.init_weights:
        path = Path(run.init_weights.rsplit("#", 1)[0])
        initial = lambda fresh: weights.load(path, fresh)  # noqa: E731
    if run.pretraining is not None:  # the campaign ran it first and kept its weights by key
        from .key import run_key
        from .pretraining import weights_path

        kept = weights_path(run_key(catalog, run.pretraining))
        initial = lambda fresh: weights.load(kept, fresh, keep=run.start_keep)  # noqa: E731
    needs_epochs = any("epochs" in catalog.require("metric", m).spec.needs for m in run.metrics)
    targets, val_targets = (asks.targets(y, f) for y, f in ((y_train, train), (y_val, validation))) if fused else (y_train, y_val)
    fit_args = {"model": compiled, "training": training, "task": task, "x": x_train, "y": targets, "key": jax.random.key(run.seed),
                "initial": initial, "snapshots": needs_epochs, "validation": (x_val, val_targets),  # validation: early stopping only
                "gradients": gradients if fused else ()}

    def finish(trained: Any) -> dict[str, Any]:
        """Predict, experiment, observe and evaluate the trained run: its result."""
        with phases("predict"):
            scores, inference = predict(compiled, trained.params, x_test)
            check_predictions(scores, "test")
            val_scores, _ = predict(compiled, trained.params, x_val, passes=0)
            check_predictions(val_scores, "validation")
            latency = latencies(compiled, trained.params, x_test)
        with phases("experiments"):
            asked = asks.conduct(asks.trained_model(model.name, on_raw, network, trained.params, catalog, run))
        with phases("observe"):
            events = tuple(observe(trained, compiled, task, x_val, y_val, inference, latency, device))
        shared = {"train_seconds": trained.train_seconds, "compile_seconds": trained.compile_seconds,
                  "inference_seconds": float(np.median(inference)), "n_train": len(x_train), "n_validation": len(x_val),
                  "n_test": len(x_test), "epochs": trained.epochs_run, "events": events}
        with phases("metrics"):
            evaluated = evaluate_run(catalog, run.metrics, task, {"validation": (y_val, val_scores), "test": (y_test, scores)}, shared,
                                     **context, **asked.evaluation)
        saved = str(weights.save(trained.params, Path(save_weights))) if save_weights else None
        return {
            **result(evaluated, shared, trained_timing(trained), inference, recorded, phases),
            **asked.record,
            "weights": saved,
            "epoch_losses": [float(v) for v in trained.epoch_losses],
            # what the trainer did: epochs asked for and run, the updates its schedule was sized for,
            # and with early stopping the best epoch (whose parameters were evaluated)
            "training": {"epochs": training.epochs, "epochs_run": trained.epochs_run, "steps": trained.steps,
                         "patience": training.patience, "best_epoch": trained.best_epoch, "stopped_early": trained.stopped_early,
                         "own_loss": training.loss is not None, "target_scale": list(scale) if scale else None,
                         "vectorised": trained.vectorised},
            # the per-epoch curves on the validation fixture, where a metric follows epochs
            **{f"validation_{key}": [event[f"validation_{key}"] for event in events if event["kind"] == "epoch"]
               for key in ("loss", "accuracy") if trained.snapshots is not None},
        }

    return Pending(run, fit_args, finish, phases)


def execute_many(runs: Sequence[Run], catalog: Catalog | None = None,
                 saves: Sequence[str | None] = ()) -> list[dict[str, Any] | BaseException]:
    """``execute`` of repetitions of one configuration in this process: each is prepared
    alone, those that train the same way (same shapes, no starting weights, no gradient
    targets) are trained together as one vectorised program (``compile.fit_many``), and
    each is evaluated alone. A member's result, or the exception that failed it alone."""
    catalog = catalog or load_catalog()
    members: list[Pending | dict[str, Any] | BaseException] = []
    for run, save in zip(runs, saves or [None] * len(runs), strict=True):
        try:
            members.append(prepare(run, catalog, save))
        except Exception as exc:  # noqa: BLE001 - one member's failure, reported as the run's
            members.append(exc)
    pending = [m for m in members if isinstance(m, Pending)]
    trained = dict(zip(map(id, pending), _train_together(pending), strict=True))
    done: list[dict[str, Any] | BaseException] = []
    for member in members:
        if not isinstance(member, Pending):
            done.append(member)
            continue
        outcome = trained[id(member)]
        try:
            done.append(member.finish(outcome) if not isinstance(outcome, BaseException) else outcome)
        except Exception as exc:  # noqa: BLE001 - as above
            done.append(exc)
    return done


def _alike(p: Pending) -> tuple[Any, ...] | None:
    """What members must share to train as one vectorised program (the shapes of their
    data), or ``None`` for a member that trains alone (starting weights, gradient targets)."""
    args = p.fit_args
    if args["initial"] is not None or args["gradients"]:
        return None
    return args["x"].shape, args["validation"][0].shape, _shapes(args["y"]), _shapes(args["validation"][1])


def _shapes(tree: Any) -> tuple[Any, ...]:
    """The shapes of a pytree's leaves."""
    import jax

    return tuple(getattr(leaf, "shape", ()) for leaf in jax.tree.leaves(tree))


def _train_together(pending: Sequence[Pending]) -> list[Any]:
    """Each member's ``Trained`` (or the exception that failed it): members alike
    (``_alike``: same shapes) as one vectorised program each, the others one by one."""
    from ..compile import fit, fit_many

    trained: dict[int, Any] = {}
    kinds: dict[Any, list[int]] = {}
    for i, p in enumerate(pending):
        kind = _alike(p)
        kinds.setdefault(kind if kind is not None else ("alone", i), []).append(i)
    for members in kinds.values():
        if len(members) == 1:
            p = pending[members[0]]
            try:
                with p.phases("fit"):  # compile + train, each also timed inside fit
                    trained[members[0]] = fit(**p.fit_args)
            except Exception as exc:  # noqa: BLE001 - one member's failure
                trained[members[0]] = exc
            continue
        group = [pending[i] for i in members]
        first = group[0].fit_args
        start = time.perf_counter()
        try:
            together: list[Any] = fit_many(first["model"], first["training"], first["task"],
                                           [(p.fit_args["x"], p.fit_args["y"]) for p in group],
                                           keys=[p.fit_args["key"] for p in group], snapshots=first["snapshots"],
                                           validations=[p.fit_args["validation"] for p in group])
        except Exception as exc:  # noqa: BLE001 - the program failed: each member with the reason
            together = [exc] * len(group)
        share = (time.perf_counter() - start) / len(group)
        for i, p, t in zip(members, group, together, strict=True):
            p.phases.seconds["fit"] = share
            trained[i] = t if isinstance(t, BaseException) else t._replace(vectorised=len(group))
    return [trained[i] for i in range(len(pending))]


def result(evaluated: Mapping[str, Any], shared: Mapping[str, Any], timing: Mapping[str, Any], inference: Any,
           recorded: Mapping[str, Any], phases: Phases) -> dict[str, Any]:
    """What every run's result holds, trained or fitted: the evaluated metrics, fixture
    sizes, the clocks (``timing`` with each timed inference pass), what the pod recorded
    about the data, the environment and the phases."""
    return {
        **evaluated,
        **{k: shared[k] for k in ("n_train", "n_validation", "n_test")},
        "compile_cache": timing["compile_cache"], "train_clock": timing["train_clock"],
        "timing": {**timing, "inference_seconds": [float(v) for v in inference]},
        **recorded, "environment": environment(), "phases": phases.seconds,
    }
