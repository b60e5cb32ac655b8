"""What early stopping costs: training throughput of the digits MLP (64-256-10, batch 64,
Adam 3e-3) through ``compile.fit``, without stopping and with ``Training(patience=...)``.

    python benchmarks/early_stopping.py [--epochs 100] [--repeat 5] [--json]

Cases, interleaved ``--repeat`` times, each figure the median (samples/s of the epochs run,
training clock only, steady state as ``fit`` times it):
- *off*: ``patience=None``, the default program;
- *on, never stops*: ``patience`` longer than the run, so every epoch also evaluates the
  validation fixture and keeps the best parameters: the overhead of stopping itself;
- *on, stops*: ``patience=5``; the epochs after the stop are skipped under ``lax.cond``, so
  its wall time per epoch *asked for* is what a user saves.
"""

from __future__ import annotations

import argparse
import json
import statistics

import jax
import numpy as np
import optax
from saibench_vision import digits

from saibench_core.compile import compile_model, fit
from sail_types import Linear, Pipeline, Relu, Training

BATCH, WIDTH, LR = 64, 256, 3e-3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = digits()
    x = data.train.x.reshape(len(data.train.x), -1).astype(np.float32)
    y = np.asarray(data.train.y)
    cut = int(0.8 * len(x))
    (xt, yt), validation = (x[:cut], y[:cut]), (x[cut:], y[cut:])
    model = compile_model(Pipeline(Linear(WIDTH), Relu(), Linear(10)), {})
    samples_per_epoch = (len(xt) // BATCH) * BATCH
    cases = {"off": None, "on_never_stops": args.epochs + 1, "on_stops": 5}
    rates: dict[str, list[float]] = {name: [] for name in cases}
    wall: dict[str, list[float]] = {name: [] for name in cases}
    epochs_run: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, patience in cases.items():
            training = Training(optax.adam(LR), epochs=args.epochs, batch_size=BATCH, patience=patience)
            trained = fit(model, training, "cross_entropy", xt, yt, key=jax.random.key(0),
                          validation=validation if patience else None)
            epochs_run[name] = trained.epochs_run
            rates[name].append(samples_per_epoch * trained.epochs_run / trained.train_seconds)
            wall[name].append(trained.train_seconds)
    result = {f"{name}_samples_per_s": statistics.median(v) for name, v in rates.items()}
    result |= {f"{name}_train_seconds": statistics.median(v) for name, v in wall.items()}
    result |= {f"{name}_epochs_run": n for name, n in epochs_run.items()}
    result["overhead_ratio"] = statistics.median(b / a for a, b in zip(rates["off"], rates["on_never_stops"], strict=True))
    for key, value in result.items():
        print(f"{key:34} {value:.4g}" if isinstance(value, float) else f"{key:34} {value}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
