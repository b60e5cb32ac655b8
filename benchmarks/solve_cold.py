"""Cold start of `saibench solve` on the installed plugins, side by side with two baselines
in one run: a bare interpreter, and `import jax` (what solve must not pay).

    python benchmarks/solve_cold.py [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import jax": [sys.executable, "-c", "import jax"],
    "saibench solve --json": [sys.executable, "-m", "saibench_core", "solve", "--json"],
}


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    medians = {name: statistics.median(timed(cmd) for _ in range(args.repeat)) for name, cmd in CASES.items()}
    base = medians["import jax"]
    print(f"{'case':<24}{'median s':>10}{'ratio to import jax':>22}")
    for name, value in medians.items():
        print(f"{name:<24}{value:>10.3f}{value / base:>22.2f}")
    if args.json:
        print(json.dumps({"solve_cold_s": medians["saibench solve --json"], "import_jax_s": base,
                          "python_start_s": medians["python -c pass"]}))


if __name__ == "__main__":
    main()
