"""Exporting stored results as a flat table: CSV, JSON or Parquet.

One row per stored run: its roles, seed, chain, hyperparameters (as JSON text), status,
reason, wall time, peak memory, and one ``metric.<name>`` column per metric.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .store import Record

FORMATS = ("csv", "json", "parquet")


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (a metric never reached, or not available on
    this device) as ``None``, so that the output is standard JSON (``null``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    """The records as flat rows with the same columns (missing metrics are ``None``)."""
    flat = []
    for rec in records:
        run = rec.run
        flat.append({
            "key": rec.key, "problem": run.problem, "model": run.model_label, "trainer": run.trainer,
            "software": run.software, "hardware": run.hardware, "seed": run.seed, "chain": "→".join(run.chain),
            "hyperparameters": json.dumps({k: dict(v) for k, v in run.hyper.items()}, sort_keys=True),
            "status": rec.status, "reason": rec.reason, "wall_seconds": rec.wall_seconds,
            "peak_rss_mb": rec.details.get("monitor", {}).get("peak_rss_mb"),
            **{f"metric.{name}": value for name, value in rec.metrics.items()},
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
            writer.writerows(table)
    elif fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise UsageError("Parquet export needs pyarrow: pip install 'saibench[parquet]' (or use --format csv)") from None
        pq.write_table(pa.Table.from_pylist(table), path)
    else:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return len(table)
