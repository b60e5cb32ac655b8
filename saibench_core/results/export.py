"""Exporting stored results as a flat table: CSV, JSON or Parquet.

One row per stored run: its roles, seed, split, chain, hyperparameters (as JSON text),
status, reason, wall time, peak memory, one ``metric.<name>`` column per test metric and one
``validation.<name>`` column per validation metric; the run's trivial reference baseline
(``reference``: its name, such as ``majority class``) and one ``reference.<name>`` column per
metric it was scored on (test fixture), so a skill over the reference is one subtraction away.

"Not measured" (NaN) and "never reached" (±inf) stay apart in every format: NaN is ``null``
in JSON, an empty cell in CSV and null in Parquet (like a metric the run did not have);
±inf is the string ``"Infinity"``/``"-Infinity"`` in JSON and CSV (``float()`` in Python
and ``Number()`` in JavaScript read it back) and IEEE infinity in Parquet.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..planner import Run
from ..planner.compose import walk
from .store import Record

FORMATS = ("csv", "json", "parquet")


INFINITY = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _encode(value: Any, infinity: bool) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return INFINITY[value] if infinity and math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _encode(v, infinity) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v, infinity) for v in value]
    return value


def json_safe(value: Any) -> Any:
    """``value`` as standard JSON: NaN (not measured) as ``None`` (``null``), ±inf (never
    reached) as ``"Infinity"``/``"-Infinity"``, in nested dicts and lists too.

    >>> json_safe({"mae": float("nan"), "time_to_95_accuracy": [float("inf"), 2.5]})
    {'mae': None, 'time_to_95_accuracy': ['Infinity', 2.5]}
    """
    return _encode(value, infinity=True)


def decode(value: Any) -> Any:
    """Inverse of ``json_safe`` for one value: ``None`` → NaN, ``"Infinity"`` → inf."""
    if value is None:
        return math.nan
    return float(value) if value in ("Infinity", "-Infinity") else value


def hyper_columns(run: Run) -> dict[str, Any]:
    """A run's hyperparameters one column each: ``hyper.<role>.<name>``, and a filled
    slot's as ``hyper.model.<slot>.<name>``.

    >>> hyper = {"model": {"width": 8}, "trainer": {"epochs": 40}}
    >>> hyper_columns(Run("wine", "linear", "adam", "jax-float32", "cpu", (), 0.0, {}, hyper, (), ()))
    {'hyper.model.width': 8, 'hyper.trainer.epochs': 40}
    """
    columns = {f"hyper.{role}.{k}": v for role, values in run.hyper.items() for k, v in values.items()}
    return columns | {f"hyper.model.{f.slot}.{k}": v for f in walk(run.fills) for k, v in f.hyper.items()}


def rows(records: Iterable[Record], *, flat_hyper: bool = False) -> list[dict[str, Any]]:
    """The records as flat rows with the same columns (missing metrics are ``None``).

    Args:
        records: stored runs.
        flat_hyper: hyperparameters one column each (``hyper_columns``) instead of one
            column of JSON text (what a DataFrame wants; files keep a fixed set of columns).
    """
    flat = []
    for rec in records:
        run = rec.run
        hyper = hyper_columns(run) if flat_hyper else {
            "hyperparameters": json.dumps({k: dict(v) for k, v in run.hyper.items()}, sort_keys=True)}
        flat.append({
            "key": rec.key, "problem": run.problem, "model": run.model_label, "trainer": run.trainer,
            "software": run.software, "hardware": run.hardware, "seed": run.seed, "split": run.split,
            "chain": "→".join(run.chain), "started_from": run.origin, **hyper,
            "status": rec.status, "reason": rec.reason, "wall_seconds": rec.wall_seconds,
            "peak_rss_mb": rec.details.get("monitor", {}).get("peak_rss_mb"),
            **{f"metric.{name}": value for name, value in rec.metrics.items()},
            **{f"validation.{name}": value for name, value in rec.details.get("validation_metrics", {}).items()},
            "reference": rec.details.get("reference"),
            **{f"reference.{name}": value for name, value in rec.details.get("reference_metrics", {}).items()},
        })
    columns = list(dict.fromkeys(c for row in flat for c in row))
    return [{c: row.get(c) for c in columns} for row in flat]


def export(records: Iterable[Record], path: Path, fmt: str) -> int:
    """Write ``records`` to ``path`` in ``fmt``; returns the number of rows.

    Raises:
        UsageError: unknown format, or Parquet without pyarrow installed.
    """
    table = rows(records)
    if fmt == "json":
        path.write_text(json.dumps(json_safe(table), indent=1, allow_nan=False))
    elif fmt == "csv":
        with path.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(table[0]) if table else ["key"])
            writer.writeheader()
            writer.writerows(json_safe(table))
    elif fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise UsageError("Parquet export needs pyarrow: pip install 'saibench[parquet]' (or use --format csv)") from None
        pq.write_table(pa.Table.from_pylist(_encode(table, infinity=False)), path)
    else:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return len(table)
