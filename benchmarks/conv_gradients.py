"""Training a convolutional network on the CPU: XLA's convolution gradients against
saibench's CPU rule (``sail_types._conv``), inside the one compiled training program.

    python benchmarks/conv_gradients.py [--steps 4] [--batch 64] [--repeat 3] [--json]

The network is the microscopy plugin's ``unet_denoiser`` (width 8, two levels) on 64 × 64
single-channel images, trained with Adam on the squared error; each case runs ``--steps``
updates of a batch:

- *XLA gradients, lax.scan* (the named baseline): the steps in one ``lax.scan``, as
  ``compile.train`` runs them, with ``lax.conv_general_dilated``'s own gradients - what
  saibench did before the rule (jax-ml/jax#12868: inside a loop XLA:CPU computes them far
  slower than compiled alone);
- *saibench rule, lax.scan*: the same program with ``convolve``'s reverse-mode rule (the
  default on the CPU);
- *XLA gradients, per-step jit*: the other way around the XLA issue - one jitted step
  called from a Python loop, which gives up the single compiled program.

Each case is compiled and executed once first, then timed (``block_until_ready``); cases
are interleaved ``--repeat`` times, each figure the median, the ratio to the baseline the
median of paired ratios. ``--json``: the last line is ``{case: {"seconds_per_step",
"speedup_over_baseline"}}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import optax
from saibench_microscopy.networks import unet_denoiser

from saibench_core.compile.nn import compile_model
from sail_types import Image, Input, _conv

BASELINE = "XLA gradients, lax.scan (baseline)"


def xla_gradients() -> Any:
    """While active, ``convolve`` on the CPU uses ``lax.conv_general_dilated``'s gradients."""
    def plain(x: jax.Array, w: jax.Array, strides: Any, padding: Any, dilation: Any) -> jax.Array:
        return jax.lax.conv_general_dilated(x, w, strides, padding, lhs_dilation=dilation, dimension_numbers=_conv.SPATIAL[x.ndim - 2])
    return mock.patch.object(_conv, "_cpu_convolution", lambda: plain)


def training_step(batch: int) -> tuple[Callable[..., Any], Any, jax.Array, jax.Array]:
    model = compile_model(unet_denoiser(Input(Image(64, 64, 1), {"c": 1}), width=8), {"c": 1})
    rng = np.random.default_rng(0)
    clean = rng.random((batch, 64, 64, 1), dtype=np.float32)
    noisy = jnp.asarray(clean + 0.3 * rng.normal(size=clean.shape).astype(np.float32))
    params, _ = model.init(jax.random.key(0), (64, 64, 1))
    optimizer = optax.adam(3e-3)

    def step(state: Any, _: Any) -> tuple[Any, jax.Array]:
        params, opt_state = state
        loss, grads = jax.value_and_grad(lambda p: jnp.mean((model.apply(p, noisy) - clean) ** 2))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    return step, (params, optimizer.init(params)), noisy, jnp.asarray(clean)


def scanned(steps: int, batch: int, patch: Any) -> Callable[[], float]:
    step, state, _, _ = training_step(batch)
    with patch:
        program = jax.jit(lambda s: jax.lax.scan(step, s, None, length=steps)).lower(state).compile()
    jax.block_until_ready(program(state))  # type: ignore[no-untyped-call]

    def measure() -> float:
        clock = time.perf_counter()
        jax.block_until_ready(program(state))  # type: ignore[no-untyped-call]
        return (time.perf_counter() - clock) / steps

    return measure


def per_step(steps: int, batch: int) -> Callable[[], float]:
    step, state, _, _ = training_step(batch)
    with xla_gradients():
        program = jax.jit(step).lower(state, None).compile()
    jax.block_until_ready(program(state, None))  # type: ignore[no-untyped-call]

    def measure() -> float:
        clock, s = time.perf_counter(), state
        for _ in range(steps):
            s, _ = program(s, None)  # type: ignore[no-untyped-call]
        jax.block_until_ready(s)  # type: ignore[no-untyped-call]
        return (time.perf_counter() - clock) / steps

    return measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4, help="Updates per measurement.")
    parser.add_argument("--batch", type=int, default=64, help="Images per batch.")
    parser.add_argument("--repeat", type=int, default=3, help="Measurements per case (the median is reported).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    jax.config.update("jax_platforms", "cpu")  # type: ignore[no-untyped-call]
    cases = {
        BASELINE: scanned(args.steps, args.batch, xla_gradients()),
        "saibench rule, lax.scan": scanned(args.steps, args.batch, contextlib.nullcontext()),
        "XLA gradients, per-step jit": per_step(args.steps, args.batch),
    }
    seconds: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(args.repeat):  # interleaved: load drifts cancel in each repetition's ratios
        for case, measure in cases.items():
            seconds[case].append(measure())
    print(f"U-Net denoiser training step, batch {args.batch} of 64 x 64, median of {args.repeat}{'s/step':>10}{'speedup':>10}")
    result = {}
    for case, values in seconds.items():
        median = statistics.median(values)
        speedup = statistics.median(b / v for v, b in zip(values, seconds[BASELINE], strict=True))
        print(f"{case:<72}{median:>10.3f}{speedup:>10.1f}")
        result[case] = {"seconds_per_step": round(median, 4), "speedup_over_baseline": round(speedup, 2)}
    print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind}, {args.steps} steps per measurement")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
