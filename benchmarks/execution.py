"""Execution speed: saibench against hand-written JAX, and what a pod costs, in one run.

    python benchmarks/execution.py [--epochs 100] [--trivial 50] [--dask-runs 8] [--json]

1. **Training throughput** on the digits MLP (64-256-10, batch 64, Adam), same number of
   training samples (what saibench trains on after carving its validation fixture), same
   epochs (100), samples per second of the training phase only (compilation excluded, clocks
   read after ``block_until_ready``, each case timed in steady state: after one untimed
   warm-up execution, as saibench's ``train_time`` is):
   - *saibench*: the planned run ``digits × mlp(width=256) × adam`` executed in a BenchPod,
     its ``train_time`` as stored;
   - *hand-written scan* (the named baseline): one ``jax.jit`` over ``lax.scan`` of epochs
     and minibatches, written directly with optax;
   - *hand-written per-step jit*: the usual Python loop calling a jitted step per batch.
   The three are interleaved ``--repeat`` times; each figure is the median over the
   repetitions, and ``ratio_to_scan`` the median of the paired (same repetition) ratios.
2. **Per-run overhead**: the median, over ``--trivial`` one-epoch runs of ``wine × linear``
   in the local pod pool, of wall time minus the phases the pod measures itself (backend
   start, data, conversion, build, fit, predict, metrics); backend start is also shown apart.
3. **Dask**: ``--dask-runs`` CPU-bound runs (the digits MLP, one pod each: ``batch=False``)
   on a ``LocalCluster`` of 2 workers vs 1 worker, each worker pinned to its own core, caches warmed first; the
   speedup is the median over ``--dask-repeat`` paired (1 worker, then 2) measurements.

4. **Repetitions**: the wall time of a campaign of the digits MLP (width 64) at
   ``--repeat 8`` over the same at ``--repeat 1`` (seeds and splits varied, a fresh database
   each, dataset probes included), through ``saibench_core.run`` in this process (so the
   command line's start-up, paid once either way, does not shrink the ratio):
   ``repeat8_cost_ratio`` with the repetitions of the configuration in one batch pod,
   trained as one vectorised program (saibench's default), against the named baseline
   ``repeat8_cost_ratio_one_pod_each`` (``batch=False``: each repetition in its own pod);
   the median of ``--repeat-pairs`` interleaved measurements of each.

With ``--json`` the last line is one JSON object with ``saibench_samples_per_s``,
``handwritten_scan_samples_per_s``, ``ratio_to_scan`` (and its range over repetitions),
``per_run_overhead_ms``, ``dask_speedup_2_workers`` (and its range), ``repeat8_cost_ratio``
and ``repeat8_cost_ratio_one_pod_each``, all medians.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
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
from saibench_core.execute import PodOptions, executors, run_isolated
from saibench_core.planner import Planner, Run

BATCH, WIDTH, LR = 64, 256, 3e-3


def _digits_run(catalog: Any, epochs: int) -> Run:
    run = next(r for r in Planner(catalog).runs() if r.problem == "digits" and r.model == "mlp" and r.hyper["model"]["width"] == WIDTH)
    hyper = {**run.hyper, "trainer": {**run.hyper["trainer"], "epochs": epochs, "batch_size": BATCH, "learning_rate": LR}}
    return attrs.evolve(run, hyper=hyper)


def saibench_throughput(catalog: Any, epochs: int) -> tuple[float, dict[str, Any], int]:
    """(samples/s, metrics, samples trained on) of the planned digits run, in a pod."""
    outcome = run_isolated(_digits_run(catalog, epochs), timeout=600)
    if outcome.status != "ok":
        raise SystemExit(f"saibench run failed: {outcome.reason}")
    n_train = outcome.details["n_train"]
    return (n_train // BATCH) * BATCH * epochs / outcome.metrics["train_time"], outcome.metrics, n_train


def _data(n: int) -> tuple[jax.Array, jax.Array]:
    data = digits()
    return jnp.asarray(data.train.x.reshape(len(data.train.x), -1)[:n]), jnp.asarray(data.train.y[:n])


def _init(key: jax.Array) -> list[tuple[jax.Array, jax.Array]]:
    k1, k2 = jax.random.split(key)
    init = jax.nn.initializers.lecun_normal()
    return [(init(k1, (64, WIDTH)), jnp.zeros(WIDTH)), (init(k2, (WIDTH, 10)), jnp.zeros(10))]


def _loss(params: list[tuple[jax.Array, jax.Array]], x: jax.Array, y: jax.Array) -> jax.Array:
    (w1, b1), (w2, b2) = params
    logits = jax.nn.relu(x @ w1 + b1) @ w2 + b2
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def handwritten_scan(epochs: int, n_train: int) -> float:
    """The baseline: everything in one jit, epochs and minibatches as nested scans."""
    x, y = _data(n_train)
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
    jax.block_until_ready(compiled(params, jax.random.key(1)))  # warm-up execution, as saibench's clock has
    start = time.perf_counter()
    jax.block_until_ready(compiled(params, jax.random.key(1)))
    return steps * BATCH * epochs / (time.perf_counter() - start)


def handwritten_per_step(epochs: int, n_train: int) -> float:
    """A jitted step called from a Python loop: the common way, and slower."""
    x, y = (np.asarray(a) for a in _data(n_train))  # batches sliced on the host, as such loops usually do
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


def _trivial(catalog: Any) -> Run:
    base = next(r for r in Planner(catalog).runs() if r.problem == "wine" and r.model == "linear")
    # one epoch: far from trained, so without the hard-fail sanity metric, which would fail it
    return attrs.evolve(base, hyper={**base.hyper, "trainer": {**base.hyper["trainer"], "epochs": 1}},
                        metrics=tuple(m for m in base.metrics if m != "sanity_accuracy"))


def warm_savings(catalog: Any, n: int) -> tuple[float, float]:
    """Median wall ms of a trivial run in a freshly spawned process vs one forked from the
    warm fork server (both are new processes: the isolation is the same)."""
    run = _trivial(catalog)
    run_isolated(run, timeout=120)
    forked = statistics.median(run_isolated(run, timeout=120).wall_seconds for _ in range(n))
    spawned = statistics.median(run_isolated(run, timeout=120, method="spawn").wall_seconds for _ in range(n))
    return 1000 * spawned, 1000 * forked


def per_run_overhead(catalog: Any, n: int) -> tuple[float, float, float]:
    """(median overhead ms, median backend-start ms, median wall ms) over ``n`` trivial runs."""
    run = _trivial(catalog)
    run_isolated(run, timeout=120)  # start the fork server outside the measurement
    overheads, backends, walls = [], [], []
    for _ in range(n):
        outcome = run_isolated(run, timeout=120)
        phases = outcome.details["phases"]
        overheads.append(1000 * (outcome.wall_seconds - sum(phases.values())))
        backends.append(1000 * phases["backend"])
        walls.append(1000 * outcome.wall_seconds)
    return statistics.median(overheads), statistics.median(backends), statistics.median(walls)


def _pin(core: int) -> None:
    os.sched_setaffinity(0, {core})


def dask_speedup(catalog: Any, runs: int, epochs: int) -> tuple[float, float]:
    """Wall seconds of ``runs`` CPU-bound pods on a Dask LocalCluster of 1 and of 2 workers,
    each worker pinned to a core of its own (as a worker on its own node would be; pods
    inherit the pinning), every worker's fork server started and caches warmed first:
    one paired measurement."""
    from dask import config as dask_config  # imported here: pods fork from a server that imports __main__,
    from distributed import Client, LocalCluster  # and distributed imported there costs every pod ~0.5 s

    base = _digits_run(catalog, epochs)
    jobs = [(f"bench-{seed}", attrs.evolve(base, seed=seed)) for seed in range(runs)]
    walls = []
    for workers in (1, 2):
        with dask_config.set({"distributed.worker.daemon": False}), \
                LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            for core, worker in enumerate(sorted(client.scheduler_info()["workers"])):
                client.run(_pin, core % (os.cpu_count() or 1), workers=[worker])
            client.run(run_isolated, base, timeout=600)  # on every worker: start its fork server, warm the caches
            address = cluster.scheduler_address
            start = time.perf_counter()
            # one pod per run, as the scale-out of pods is what is measured (batched, the 8 seeds would train
            # together in one pod or two, whose vectorised programs already use both cores)
            outcomes = [o for _, _, o in executors.dask(jobs, workers=workers, options=PodOptions(batch=False), address=address)]
            walls.append(time.perf_counter() - start)
            print(f"  {workers} worker(s): {walls[-1]:.1f} s for {runs} runs, each {statistics.mean(o.wall_seconds for o in outcomes):.2f} s on average")
        if any(o.status != "ok" for o in outcomes):
            raise SystemExit(f"dask run failed: {[o.reason for o in outcomes if o.status != 'ok']}")
    return walls[0], walls[1]


def campaign_seconds(catalog: Any, repeat: int, batch: bool) -> float:
    """Wall seconds of ``saibench run --problem digits --model mlp --set mlp.width=64
    --repeat N`` into a fresh database (``batch``: repetitions in one pod)."""
    import tempfile

    import saibench_core as sb

    plan = sb.plan(problem="digits", model="mlp", grid={"mlp.width": [64]}, repeat=repeat, catalog=catalog)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        results = sb.run(plan, db=f"{folder}/results.sqlite", catalog=catalog, batch=batch)
        seconds = time.perf_counter() - start
    if results.counts["ok"] != repeat:
        raise SystemExit(f"repetition campaign failed: {dict(results.counts)}")
    return seconds


def repetition_costs(catalog: Any, pairs: int) -> dict[str, list[float]]:
    """Paired ``--repeat 8`` / ``--repeat 1`` wall-time ratios, batched and one pod each, interleaved."""
    campaign_seconds(catalog, 1, True)  # the fork server and the compilation cache, outside the measurement
    campaign_seconds(catalog, 8, True)
    ratios: dict[str, list[float]] = {"batched": [], "one pod each": []}
    for _ in range(pairs):
        for name, batch in (("batched", True), ("one pod each", False)):
            one = campaign_seconds(catalog, 1, batch)
            ratios[name].append(campaign_seconds(catalog, 8, batch) / one)
            print(f"  {name}: --repeat 1 {one:.2f} s, --repeat 8 {ratios[name][-1] * one:.2f} s, ratio {ratios[name][-1]:.2f}")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=100, help="Epochs of each throughput measurement.")
    parser.add_argument("--trivial", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5, help="Throughput measurements per case (the median is reported).")
    parser.add_argument("--dask-runs", type=int, default=8)
    parser.add_argument("--dask-repeat", type=int, default=3, help="Paired 1-vs-2-worker measurements (the median is reported).")
    parser.add_argument("--dask-epochs", type=int, default=200, help="Epochs of each Dask run (its CPU-bound work).")
    parser.add_argument("--repeat-pairs", type=int, default=3, help="Paired --repeat 8 / --repeat 1 measurements of each kind.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    jax.config.update("jax_platforms", "cpu")
    catalog = load_catalog()
    # interleaved, and the median reported: the figure a user gets, not a quiet moment's best;
    # the ratio is taken per repetition, so that the machine's load drifts cancel in each pair
    scans, per_steps, ours_all, ratios = [], [], [], []
    for _ in range(args.repeat):
        ours, metrics, n_train = saibench_throughput(catalog, args.epochs)
        scans.append(handwritten_scan(args.epochs, n_train))
        per_steps.append(handwritten_per_step(args.epochs, n_train))
        ours_all.append(ours)
        ratios.append(ours / scans[-1])
    scan, per_step, ours, ratio = (statistics.median(v) for v in (scans, per_steps, ours_all, ratios))
    print(f"{'training (digits MLP 64-256-10), median of ' + str(args.repeat):<44}{'samples/s':>12}{'ratio to scan':>15}")
    for name, value in (("hand-written jit + scan (baseline)", scan), ("hand-written jit per step", per_step), ("saibench", ours)):
        print(f"{name:<44}{value:>12,.0f}{value / scan:>15.2f}")
    print(f"saibench / scan, paired per repetition: median {ratio:.2f}, range {min(ratios):.2f}-{max(ratios):.2f}")
    print(f"saibench run ({n_train} samples trained on): accuracy {metrics['accuracy']:.3f}, "
          f"compile {metrics['compile_time']:.2f} s (apart)")
    overhead, backend, wall = per_run_overhead(catalog, args.trivial)
    print(f"per-run overhead (median of {args.trivial} trivial runs): {overhead:.1f} ms outside measured phases; "
          f"JAX backend start {backend:.1f} ms; whole run {wall:.1f} ms")
    spawned, forked = warm_savings(catalog, 10)
    print(f"trivial run, median of 10: spawned {spawned:.0f} ms, forked from the warm server {forked:.0f} ms "
          f"({spawned - forked:.0f} ms saved per run)")
    pairs = [dask_speedup(catalog, args.dask_runs, args.dask_epochs) for _ in range(args.dask_repeat)]
    speedups = [one / two for one, two in pairs]
    one, two, speedup = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs), statistics.median(speedups)
    print(f"dask LocalCluster, {args.dask_runs} CPU-bound runs, median of {args.dask_repeat}: 1 worker {one:.1f} s, "
          f"2 workers {two:.1f} s, speedup {speedup:.2f} (range {min(speedups):.2f}-{max(speedups):.2f})")
    costs = repetition_costs(catalog, args.repeat_pairs)
    batched, each = statistics.median(costs["batched"]), statistics.median(costs["one pod each"])
    print(f"--repeat 8 over --repeat 1 (digits MLP), median of {args.repeat_pairs}: batch pod {batched:.2f}, "
          f"one pod each (baseline) {each:.2f}; the batch costs {batched / each:.2f} of the baseline")
    result = {"saibench_samples_per_s": round(ours), "handwritten_scan_samples_per_s": round(scan),
              "handwritten_per_step_samples_per_s": round(per_step), "ratio_to_scan": round(ratio, 3),
              "ratio_to_scan_range": [round(min(ratios), 3), round(max(ratios), 3)], "repeat": args.repeat,
              "per_run_overhead_ms": round(overhead, 1), "backend_start_ms": round(backend, 1), "trivial_run_wall_ms": round(wall, 1),
              "spawned_run_ms": round(spawned), "forked_run_ms": round(forked),
              "dask_1_worker_s": round(one, 2), "dask_2_workers_s": round(two, 2), "dask_speedup_2_workers": round(speedup, 2),
              "dask_speedup_range": [round(min(speedups), 2), round(max(speedups), 2)], "dask_repeat": args.dask_repeat,
              "repeat8_cost_ratio": round(batched, 2), "repeat8_cost_ratio_range": [round(min(costs["batched"]), 2), round(max(costs["batched"]), 2)],
              "repeat8_cost_ratio_one_pod_each": round(each, 2)}
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
