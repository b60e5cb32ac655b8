"""``saibench data``: the datasets plugins declare: list, prepare, verify, remove."""

from __future__ import annotations

import json

import click
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sail_types import DataSource

from ..data import prepared, registry
from ._common import err, fail, main, out


def _sources() -> dict[str, DataSource]:
    sources, broken = registry.declared()
    for b in broken:
        err.print(f"saibench: warning: {b}", style="yellow", soft_wrap=True)
    return sources


def _chosen(names: tuple[str, ...]) -> list[DataSource]:
    sources = _sources()
    return [registry.find(sources, n) for n in names] if names else list(sources.values())


def _row(source: DataSource) -> dict[str, object]:
    return {"name": source.name, "source": source.source, "licence": source.licence, "version": source.version,
            "parameters": dict(source.parameters),
            "sizes": {size: {"samples": s.samples, "bytes": s.bytes, "state": prepared.state(source, size),
                             "folder": str(prepared.folder(source, size))} for size, s in source.sizes.items()}}


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


@main.group()
def data() -> None:
    """The datasets that installed plugins declare: list, prepare, verify, remove."""


@data.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dataset, a line each.")
def list_data(as_json: bool) -> None:
    """Every declared dataset: source, licence, samples and size on disk per size, whether prepared."""
    sources = _sources()
    if as_json:
        for source in sources.values():
            out.print(json.dumps(_row(source), default=repr), soft_wrap=True)
        return
    table = Table("dataset", "source", "licence", "size", "samples", "on disk", "state")
    for source in sources.values():
        for i, (size, s) in enumerate(source.sizes.items()):
            first = i == 0
            table.add_row(source.name if first else "", source.source if first else "", source.licence if first else "",
                          size, f"{s.samples:,}", _mib(s.bytes), prepared.state(source, size))
    out.print(table)
    out.print(f"prepared datasets live in {prepared.root()} (SAIBENCH_DATASETS to choose)")


@data.command("prepare")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--size", default="quick", show_default=True, help="Which size to prepare (see `saibench data list`).")
@click.option("--force", is_flag=True, help="Prepare again even if prepared (e.g. after `data verify` found damage).")
def prepare_data(names: tuple[str, ...], size: str, force: bool) -> None:
    """Generate or unpack datasets into the user cache (all declared ones if no NAME is given)."""
    chosen = _chosen(names)
    for source in chosen:  # an unknown size fails before any work starts
        if size not in source.sizes:
            fail(f"dataset {source.name!r} has no size {size!r}; known sizes: {', '.join(source.sizes)}")
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(), TextColumn("{task.fields[what]}"))
    with Progress(*columns, console=err, transient=False) as bar:
        for source in chosen:
            task = bar.add_task(f"{source.name} ({size})", total=1.0, what="")

            def advance(fraction: float, what: str, task: TaskID = task) -> None:
                bar.update(task, completed=fraction, what=what)

            where = prepared.prepare(source, size, force=force, progress=advance)
            bar.update(task, completed=1.0, what=str(where))


@data.command("verify")
@click.argument("names", nargs=-1, metavar="[NAME]...")
def verify_data(names: tuple[str, ...]) -> None:
    """Recompute every prepared file's SHA-256 and name any that differs; exit 1 if one does."""
    damaged = 0
    for source in _chosen(names):
        for size in source.sizes:
            if prepared.state(source, size) == "missing":
                continue
            problems = prepared.verify(source, size)
            damaged += len(problems)
            for line in problems:
                out.print(f"{source.name} ({size}): {line}; fix: saibench data prepare {source.name} --size {size} --force", soft_wrap=True)
            if not problems:
                out.print(f"{source.name} ({size}): ok")
    if damaged:
        raise SystemExit(1)


@data.command("remove")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
def remove_data(names: tuple[str, ...]) -> None:
    """Delete a dataset's prepared files (every size)."""
    for source in _chosen(names):
        out.print(f"{source.name}: {'removed' if prepared.remove(source) else 'was not prepared'}")
