"""``saibench results``: stored results, exported for analysis elsewhere or as an AI bill of materials."""

from __future__ import annotations

from pathlib import Path

import click

import saibench_core as sb

from .._api.rank import STATUSES
from ..results.export import FORMATS
from ._common import err, main


@main.group()
def results() -> None:
    """Stored results: export them for analysis elsewhere, or as an AI bill of materials."""


@results.command("export")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Results database (default: user data dir).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--status", type=click.Choice(STATUSES), help="Only runs with this status.")
def export_results(db: Path | None, fmt: str, output: Path, status: str | None) -> None:
    """Write every stored run as one row: roles, seed, hyperparameters, status, metrics."""
    n = sb.export(output, format=fmt, db=db, status=status)
    err.print(f"{n} run(s) written to {output}")


@results.command("aibom")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Results database (default: user data dir).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write, e.g. bom.spdx.json.")
def aibom_results(db: Path | None, output: Path) -> None:
    """Write the stored campaign as an SPDX 3.0 AI bill of materials (JSON-LD): models, datasets, software."""
    n = sb.aibom(output, db=db)
    err.print(f"{n} model(s) written to {output}")
