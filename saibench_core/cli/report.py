"""``saibench report``: the stored results as one offline HTML file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

import saibench_core as sb

from ._common import err, installed_catalog, main


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="HTML file to write.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Results database (default: user data dir).")
@click.option("--ranking", "ranking_globs", multiple=True, metavar="GLOB", help="Only these rankings.")
@click.option("--tuned", is_flag=True, help="Per configuration, only the grid point with the best median validation score.")
def report(output: Path, db: Path | None, ranking_globs: Sequence[str], tuned: bool) -> None:
    """Write one self-contained HTML file: leaderboards, plots, per-run details.

    The leaderboards are those of `saibench rank`; plots (work-precision, learning curves,
    sample efficiency) are inline SVG, so the file reads offline. Needs matplotlib:
    pip install 'saibench[report]'.
    """
    path = sb.report(output, db=db, ranking=ranking_globs, tuned=tuned, catalog=installed_catalog())
    err.print(f"report written to {path}")
