"""``results export``: "never reached" (inf) and "not measured" (NaN) stay apart in JSON,
CSV and Parquet; splits and validation metrics are columns."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from saibench_core.results.export import decode, export

from .test_leaderboard import INF, NAN, record, run


def test_every_format_keeps_never_reached_and_not_measured_apart(tmp_path: Path) -> None:
    recs = [record(run(split=3), {"t95": INF, "device_memory": NAN, "accuracy": 0.9}, validation_metrics={"accuracy": 0.8},
                   reference="majority class", reference_metrics={"accuracy": 0.25}),
            record(run(seed=1), failed="timed out after 600 s")]
    for fmt in ("json", "csv", "parquet"):
        assert export(recs, tmp_path / f"runs.{fmt}", fmt) == 2
    as_json = json.loads((tmp_path / "runs.json").read_text())
    with (tmp_path / "runs.csv").open() as f:
        as_csv = list(csv.DictReader(f))
    for row in (as_json[0], as_csv[0]):
        assert row["metric.t95"] == "Infinity" and decode(row["metric.t95"]) == INF
        assert row["metric.device_memory"] in (None, "")  # not measured: like a metric the run did not have
    assert as_json[0]["split"] == 3 and as_json[0]["validation.accuracy"] == 0.8
    assert as_json[0]["reference"] == as_csv[0]["reference"] == "majority class"
    assert as_json[0]["reference.accuracy"] == 0.25 and float(as_csv[0]["reference.accuracy"]) == 0.25
    assert as_json[1]["reference"] is None and as_json[1]["reference.accuracy"] is None  # a failed run has none
    assert as_json[1]["status"] == "failed" and as_json[1]["metric.t95"] is None
    pq = pytest.importorskip("pyarrow.parquet")
    parquet = pq.read_table(tmp_path / "runs.parquet").to_pylist()
    assert parquet[0]["metric.t95"] == INF and parquet[0]["metric.device_memory"] is None
    assert math.isclose(parquet[0]["metric.accuracy"], 0.9)
