"""Planner scale: synthetic catalogs of 1,000 to 20,000 modules, timed side by side in one run.

    python benchmarks/planner_scale.py [--sizes 1000 5000 20000] [--z3-seconds 5] [--json]

For each size, one seeded catalog of every role (problems, models, trainers, metrics,
rankings, software, hardware, and converters between five type kinds), then:

- **planner**: ``Planner.tuples()``, the indexed join that ``saibench solve --count`` runs
  (all feasible runs enumerated; pair decisions memoized, Z3 where dims need arithmetic);
- **runs**: the same plan materialized as ``Run`` objects (what ``solve --json`` streams);
- **product-and-filter** (the baseline): every combination of the Cartesian product of
  problem × model × trainer × software × hardware × grid point, kept when it passes the
  same memoized checks - it must count the same feasible tuples;
- **Z3 AllSAT**: the same feasibility as Z3 constraints, enumerated with blocking clauses
  until ``--z3-seconds`` run out (only its rate is reported).

Prints a table; with ``--json`` the last line is one JSON object for the largest size.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import z3

from saibench_core.discovery import Catalog, Descriptor, HyperParam
from saibench_core.planner import Planner
from saibench_core.planner.relations import conflict
from sail_types import Classify, Device, Image, Label, ModuleSpec, Regress, Runtime, Scalar, Sequence, Set, Tensor


def _d(name: str, kind: str, spec: ModuleSpec, **kw: Any) -> Descriptor:
    return Descriptor(name, kind, "synthetic", "0", spec, **kw)  # type: ignore[arg-type]


def synthetic_catalog(size: int, seed: int = 0) -> Catalog:
    """A catalog of ``size`` modules shaped like a big installation: few problems, a large
    model zoo, many parallel converters, a handful of trainers and platforms."""
    rng = random.Random(seed)
    n_problems = max(2, size // 800)
    n_converters, n_metrics, n_rankings = size // 100, size // 50, size // 200
    n_trainers, n_software, n_hardware = 4, 2, 3
    n_models = size - n_problems - n_converters - n_metrics - n_rankings - n_trainers - n_software - n_hardware
    mods: list[Descriptor] = []
    problem_inputs = [Tensor(64), Tensor(13), Image(8, 8, 1), Image(28, 28, 1), Sequence(20, 4), Set(10, 3)]
    for i in range(n_problems):
        task = Classify if rng.random() < 0.8 else Regress
        out = Label(rng.choice([3, 10])) if task is Classify else Scalar()
        mods.append(_d(f"problem{i}", "problem", ModuleSpec("problem", task=task, field=rng.choice(["vision", "chemistry"])),
                       input=rng.choice(problem_inputs), output=out))
    model_inputs = [Tensor("d"), Tensor("d"), Tensor(64), Image("h", "w", 1), Sequence("n", "d"), Set("n", "d"), Tensor("2*d")]
    for i in range(n_models):
        task = Classify if rng.random() < 0.8 else Regress
        out = (Label("k") if rng.random() < 0.9 else Label(10)) if task is Classify else Scalar()
        hyper = (HyperParam("width", (64, 256)),) if rng.random() < 0.2 else ()
        mods.append(_d(f"model{i}", "model", ModuleSpec("model", task=task), input=rng.choice(model_inputs), output=out, hyper=hyper))
    signatures = [
        (Image("h", "w", "c"), Tensor("h*w*c")), (Sequence("n", "d"), Tensor("n*d")), (Set("n", "d"), Tensor("d")),
        (Tensor("d"), Sequence("d", 1)), (Sequence("n", "d"), Set("n", "d")), (Image("h", "w", "c"), Sequence("h", "w*c")),
    ]
    for i in range(n_converters):
        inp, out = signatures[i % len(signatures)]
        mods.append(_d(f"conv{i}", "converter", ModuleSpec("converter", cost=rng.choice([0.5, 1.0, 2.0])), input=inp, output=out))
    for i in range(n_trainers):
        mods.append(_d(f"trainer{i}", "trainer", ModuleSpec("trainer", tasks=() if i < 3 else (Regress,))))
    for i in range(n_metrics):
        mods.append(_d(f"metric{i}", "metric", ModuleSpec("metric", goal="max"), input=rng.choice([Label("k"), Scalar(), None])))
    for i in range(n_rankings):
        mods.append(_d(f"ranking{i}", "ranking", ModuleSpec("ranking", metrics=(f"metric{rng.randrange(n_metrics)}",))))
    platforms = [("cpu",), ("cpu", "gpu")]
    for i in range(n_software):
        mods.append(_d(f"software{i}", "software", ModuleSpec("software"), runtime=Runtime("jax", "0", "float32", platforms[i % 2])))
    for i, platform in enumerate(["cpu", "gpu", "tpu"][:n_hardware]):
        fields: dict[str, Any] = {"failure": "no TPU here"} if platform == "tpu" else {"device": Device(platform)}
        mods.append(_d(f"hardware{i}", "hardware", ModuleSpec("hardware"), **fields))
    return Catalog(tuple(mods))


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn()
    return time.perf_counter() - start, n


def count_planner(catalog: Catalog) -> int:
    return sum(1 for _ in Planner(catalog).tuples())


def count_runs(catalog: Catalog) -> int:
    return sum(1 for _ in Planner(catalog).runs())


def product_and_filter(catalog: Catalog) -> tuple[int, int]:
    """Enumerate the Cartesian product and keep what passes; returns (feasible, candidates).
    Pair decisions come from the same memoized matcher, so only the search differs."""
    planner = Planner(catalog)
    roles = [catalog.of(k) for k in ("problem", "model", "trainer", "software", "hardware")]
    feasible = candidates = 0
    for problem, model, trainer, sw, hw in itertools.product(*roles):
        grid = list(itertools.product(*(h.grid for h in model.hyper)))
        candidates += len(grid)
        if hw.failure or sw.failure or hw.device is None or sw.runtime is None:
            continue
        if hw.device.platform not in sw.runtime.platforms:
            continue
        if trainer.spec.tasks and not any(problem.spec.task.accepts(t) for t in trainer.spec.tasks):
            continue
        if isinstance(planner.match(problem, model), str) or conflict(problem, model):
            continue
        feasible += len(grid)
    return feasible, candidates


def z3_allsat_rate(catalog: Catalog, seconds: float) -> float:
    """Feasible (problem, model, trainer, software, hardware) tuples per second found by Z3
    with blocking clauses (feasible pairs given as facts: Z3 is only asked to enumerate)."""
    planner = Planner(catalog)
    problems, models = catalog.of("problem"), catalog.of("model")
    trainers, software, hardware = catalog.of("trainer"), catalog.of("software"), catalog.of("hardware")
    p, m, t, s, h = (z3.Int(n) for n in "pmtsh")
    solver = z3.Solver()
    for var, n in ((p, len(problems)), (m, len(models)), (t, len(trainers)), (s, len(software)), (h, len(hardware))):
        solver.add(var >= 0, var < n)
    for i, problem in enumerate(problems):
        ok_models = [j for j, model in enumerate(models) if not isinstance(planner.match(problem, model), str)]
        ok_trainers = [j for j, tr in enumerate(trainers) if not tr.spec.tasks or any(problem.spec.task.accepts(x) for x in tr.spec.tasks)]
        solver.add(z3.Implies(p == i, z3.And(z3.Or([m == j for j in ok_models] or [z3.BoolVal(False)]),
                                             z3.Or([t == j for j in ok_trainers] or [z3.BoolVal(False)]))))
    pairs = [z3.And(s == a, h == b) for a, sw in enumerate(software) for b, hw in enumerate(hardware)
             if hw.device and sw.runtime and hw.device.platform in sw.runtime.platforms]
    solver.add(z3.Or(pairs))
    found, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds and solver.check() == z3.sat:
        model = solver.model()
        solver.add(z3.Or([v != model[v] for v in (p, m, t, s, h)]))
        found += 1
    return found / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10000, 20000])
    parser.add_argument("--z3-seconds", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    header = (f"{'modules':>8}{'candidates':>13}{'feasible':>11}{'planner s':>11}{'tuples/s':>12}{'µs/tuple':>10}"
              f"{'runs s':>9}{'product s':>11}{'speedup':>9}{'Z3 tuples/s':>13}")
    print(header)
    row: dict[str, Any] = {}
    for size in args.sizes:
        catalog = synthetic_catalog(size)
        planner_s, feasible = timed(lambda: count_planner(catalog))  # noqa: B023 - called at once
        runs_s, n_runs = timed(lambda: count_runs(catalog))  # noqa: B023
        start = time.perf_counter()
        baseline, candidates = product_and_filter(catalog)
        product_s = time.perf_counter() - start
        if not feasible == n_runs == baseline:
            sys.exit(f"disagreement at {size}: planner {feasible}, runs {n_runs}, product-and-filter {baseline}")
        z3_rate = z3_allsat_rate(catalog, args.z3_seconds)
        row = {"modules": size, "candidates": candidates, "feasible": feasible, "planner_s": round(planner_s, 4),
               "runs_s": round(runs_s, 4), "product_filter_s": round(product_s, 4),
               "speedup_vs_product_filter": round(product_s / planner_s, 2),
               "planner_tuples_per_s": round(feasible / planner_s), "z3_allsat_tuples_per_s": round(z3_rate, 3)}
        print(f"{size:>8}{candidates:>13,}{feasible:>11,}{planner_s:>11.3f}{feasible / planner_s:>12,.0f}"
              f"{1e6 * planner_s / max(feasible, 1):>10.3f}{runs_s:>9.2f}{product_s:>11.2f}{product_s / planner_s:>9.1f}"
              f"{z3_rate:>13,.3f}", flush=True)
    if args.json:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
