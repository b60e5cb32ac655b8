"""Execution speed: saibench against hand-written JAX, and what a pod costs, in one run.

    python benchmarks/execution.py [--epochs 40] [--trivial 50] [--json]

1. **Training throughput** on the digits MLP (64-256-10, batch 64, Adam), same data, same
   epochs, samples per second of the training phase only (compilation excluded, clocks read
   after ``block_until_ready``):
   - *saibench*: the planned run ``digits × mlp(width=256) × adam`` executed in a BenchPod,
     its ``train_time`` as stored;
   - *hand-written scan* (the named baseline): one ``jax.jit`` over ``lax.scan`` of epochs
     and minibatches, written directly with optax;
   - *hand-written per-step jit*: the usual Python loop calling a jitted step per batch.
2. **Per-run overhead**: the median, over ``--trivial`` one-epoch runs of ``wine × linear``
   in the local pod pool, of wall time minus the phases the pod measures itself (backend
   start, data, conversion, build, fit, predict, metrics); backend start is also shown apart.
3. **Dask**: 8 CPU-bound runs on a ``LocalCluster`` of 2 workers vs 1 worker.

With ``--json`` the last line is one JSON object with ``saibench_samples_per_s``,
``handwritten_scan_samples_per_s``, ``ratio_to_scan``, ``per_run_overhead_ms`` and
``dask_speedup_2_workers``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import attrs
import jax
import jax.numpy as jnp
import numpy as np
import optax
from saibench_vision import digits

from saibench_core.discovery import load_catalog
from saibench_core.execute import run_isolated
from saibench_core.planner import Planner, Run

BATCH, WIDTH, LR = 64, 256, 3e-3


def _digits_run(catalog: Any, epochs: int) -> Run:
    run = next(r for r in Planner(catalog).runs() if r.problem == "digits" and r.model == "mlp" and r.hyper["model"]["width"] == WIDTH)
    hyper = {**run.hyper, "trainer": {**run.hyper["trainer"], "epochs": epochs, "batch_size": BATCH, "learning_rate": LR}}
    return attrs.evolve(run, hyper=hyper)


def saibench_throughput(catalog: Any, epochs: int) -> tuple[float, dict[str, Any]]:
    outcome = run_isolated(_digits_run(catalog, epochs), timeout=600)
    if outcome.status != "ok":
        raise SystemExit(f"saibench run failed: {outcome.reason}")
    n_train = 1797 - 450
    return n_train * epochs / outcome.metrics["train_time"], outcome.metrics


def _data() -> tuple[jax.Array, jax.Array]:
    data = digits()
    return jnp.asarray(data.train.x.reshape(len(data.train.x), -1)), jnp.asarray(data.train.y)


def _init(key: jax.Array) -> list[tuple[jax.Array, jax.Array]]:
    k1, k2 = jax.random.split(key)
    init = jax.nn.initializers.lecun_normal()
    return [(init(k1, (64, WIDTH)), jnp.zeros(WIDTH)), (init(k2, (WIDTH, 10)), jnp.zeros(10))]


def _loss(params: list[tuple[jax.Array, jax.Array]], x: jax.Array, y: jax.Array) -> jax.Array:
    (w1, b1), (w2, b2) = params
    logits = jax.nn.relu(x @ w1 + b1) @ w2 + b2
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def handwritten_scan(epochs: int) -> float:
    """The baseline: everything in one jit, epochs and minibatches as nested scans."""
    x, y = _data()
    n, steps = len(x), len(x) // BATCH
    opt = optax.adam(LR)

    def step(carry: Any, batch: Any) -> Any:
        params, state = carry
        value, grads = jax.value_and_grad(_loss)(params, *batch)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), value

    def epoch(carry: Any, key: jax.Array) -> Any:
        order = jax.random.permutation(key, n)[: steps * BATCH].reshape(steps, BATCH)
        carry, losses = jax.lax.scan(step, carry, (x[order], y[order]))
        return carry, losses.mean()

    @jax.jit
    def train(params: Any, key: jax.Array) -> Any:
        return jax.lax.scan(epoch, (params, opt.init(params)), jax.random.split(key, epochs))

    params = _init(jax.random.key(0))
    compiled = train.lower(params, jax.random.key(1)).compile()
    start = time.perf_counter()
    jax.block_until_ready(compiled(params, jax.random.key(1)))
    return steps * BATCH * epochs / (time.perf_counter() - start)


def handwritten_per_step(epochs: int) -> float:
    """A jitted step called from a Python loop: the common way, and slower."""
    x, y = (np.asarray(a) for a in _data())  # batches sliced on the host, as such loops usually do
    n, steps = len(x), len(x) // BATCH
    opt = optax.adam(LR)

    @jax.jit
    def step(params: Any, state: Any, xb: jax.Array, yb: jax.Array) -> Any:
        value, grads = jax.value_and_grad(_loss)(params, xb, yb)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    params = _init(jax.random.key(0))
    state = opt.init(params)
    jax.block_until_ready(step(params, state, x[:BATCH], y[:BATCH]))  # compile outside the clock
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(n)
        for i in range(steps):
            idx = order[i * BATCH:(i + 1) * BATCH]
            params, state, _ = step(params, state, x[idx], y[idx])
    jax.block_until_ready(params)
    return steps * BATCH * epochs / (time.perf_counter() - start)


def per_run_overhead(catalog: Any, n: int) -> tuple[float, float, float]:
    """(median overhead ms, median backend-start ms, median wall ms) over ``n`` trivial runs."""
    base = next(r for r in Planner(catalog).runs() if r.problem == "wine" and r.model == "linear")
    run = attrs.evolve(base, hyper={**base.hyper, "trainer": {**base.hyper["trainer"], "epochs": 1}})
    run_isolated(run, timeout=120)  # start the fork server outside the measurement
    overheads, backends, walls = [], [], []
    for _ in range(n):
        outcome = run_isolated(run, timeout=120)
        phases = outcome.details["phases"]
        overheads.append(1000 * (outcome.wall_seconds - sum(phases.values())))
        backends.append(1000 * phases["backend"])
        walls.append(1000 * outcome.wall_seconds)
    return statistics.median(overheads), statistics.median(backends), statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--trivial", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="Throughput measurements per case (median kept).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    jax.config.update("jax_platforms", "cpu")
    catalog = load_catalog()
    scan = statistics.median(handwritten_scan(args.epochs) for _ in range(args.repeat))
    per_step = statistics.median(handwritten_per_step(args.epochs) for _ in range(args.repeat))
    measured = [saibench_throughput(catalog, args.epochs) for _ in range(args.repeat)]
    ours = statistics.median(v for v, _ in measured)
    metrics = measured[0][1]
    print(f"{'training (digits MLP 64-256-10), median of ' + str(args.repeat):<44}{'samples/s':>12}{'ratio to scan':>15}")
    for name, value in (("hand-written jit + scan (baseline)", scan), ("hand-written jit per step", per_step), ("saibench", ours)):
        print(f"{name:<44}{value:>12,.0f}{value / scan:>15.2f}")
    print(f"saibench run: accuracy {metrics['accuracy']:.3f}, compile {metrics['compile_time']:.2f} s (apart)")
    overhead, backend, wall = per_run_overhead(catalog, args.trivial)
    print(f"per-run overhead (median of {args.trivial} trivial runs): {overhead:.1f} ms outside measured phases; "
          f"JAX backend start {backend:.1f} ms; whole run {wall:.1f} ms")
    result = {"saibench_samples_per_s": round(ours), "handwritten_scan_samples_per_s": round(scan),
              "handwritten_per_step_samples_per_s": round(per_step), "ratio_to_scan": round(ours / scan, 3),
              "per_run_overhead_ms": round(overhead, 1), "backend_start_ms": round(backend, 1), "trivial_run_wall_ms": round(wall, 1)}
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
