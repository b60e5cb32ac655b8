"""Commands that plan and inspect: plugins, solve, explain, check (none imports JAX)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence

import click
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

import saibench_core as sb

from ..planner import LeftOut, Run
from ..rank import hyper_items
from ..rank.table import fit as fit_widths
from ..results import SEED_MAX
from ._common import installed_catalog, main, out, plan_from, plan_options


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their versions and modules, and any that failed to load.

    Exits with status 2 when a plugin or module is broken (after listing the rest).
    """
    catalog = installed_catalog()
    modules = {p.name: [m for m in catalog if m.plugin == p.name] for p in catalog.plugins}
    if as_json:
        click.echo(json.dumps({
            "plugins": [{"name": p.name, "distribution": p.distribution, "version": p.version,
                         "modules": [{"name": m.name, "kind": m.kind} for m in modules[p.name]]}
                        for p in catalog.plugins],
            "broken": [{"plugin": b.plugin, "module": b.module, "reason": b.reason} for b in catalog.broken],
        }, indent=2))
    else:
        table = Table("plugin", "distribution", "version", title="saibench plugins")
        table.add_column("modules", overflow="fold")
        for p in catalog.plugins:
            table.add_row(p.name, p.distribution, p.version, "\n".join(f"{m.kind}: {m.name}" for m in modules[p.name]) or "-")
        for b in catalog.broken:
            table.add_row(b.plugin, "-", "-", f"BROKEN{f' module {b.module}' if b.module else ''}: {b.reason}", style="red")
        out.print(table)
    sys.exit(2 if catalog.broken else 0)



TABLE_ROWS = 1000



@main.command()
@plan_options
@click.option("--json", "as_json", is_flag=True, help="Stream a JSON list, one object per feasible run and line.")
@click.option("--count", is_flag=True, help="Print only the number of feasible runs.")
@click.option("--all", "show_all", is_flag=True, help="Also list what was left out, and why.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, SEED_MAX),
              help="Seed recorded in each run (and of --max-runs sampling).")
def solve(as_json: bool, count: bool, show_all: bool, max_chain: int, max_runs: int | None, strict_types: bool,
          seed: int, division: str, fields: Sequence[str], settings: Sequence[str], **globs: Sequence[str]) -> None:
    """List every feasible benchmark run of the installed modules.

    Plans stream: `--json` writes each run as it is planned, `--count` keeps none in memory.
    `saibench explain` says why a pairing is missing.
    """
    plan = plan_from(globs, fields, settings, max_chain=max_chain, max_runs=max_runs, seed=seed, strict_types=strict_types,
                     division=division)
    if count:
        n = plan.count()
        click.echo(json.dumps({"feasible": n}) if as_json else str(n))
        return
    if as_json:
        _stream_json(plan.stream(), plan.left_out() if show_all else None)
        return
    shown, n = [], 0
    for n, r in enumerate(plan.stream(), 1):
        if n <= TABLE_ROWS:
            shown.append(r)
    out.print(_plan_table(shown, f"{n} feasible run(s)" + (f", first {TABLE_ROWS} shown (use --json or --count)" if n > TABLE_ROWS else "")))
    if show_all:
        left = Table("left out", title="left out (details: saibench explain)")
        left.add_column("reason", overflow="fold")
        for lo in plan.left_out():
            left.add_row(" × ".join(lo.modules), lo.reason)
        out.print(left)


def _plan_table(runs: Sequence[Run], title: str) -> Group:
    """Planned runs as a table readable at 80 columns: only what tells rows apart gets a
    column (the platform and the chain only when they differ), each row shows the
    hyperparameters not every row shares, and what all share goes below the table."""
    items = [hyper_items(r) for r in runs]
    common = [i for i in items[0] if all(i in row for row in items[1:])] if items else []
    platforms = sorted({f"{r.software} @ {r.hardware}" for r in runs})
    table = Table(title=Text(title), box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    columns = ["#", "problem", "model", "trainer"] + (["platform"] if len(platforms) > 1 else []) + ["chain", "hyperparameters"]
    rows = []
    for i, (r, row) in enumerate(zip(runs, items), 1):
        cells = [str(i), r.problem, r.started_label, r.trainer] + ([f"{r.software} @ {r.hardware}"] if len(platforms) > 1 else [])
        rows.append(cells + [" → ".join(r.chain) or "-", " ".join(x for x in row if x not in common) or "-"])
    cols = [[name] + [row[j] for row in rows] for j, name in enumerate(columns)]
    # as the leaderboards do: a squeezed column keeps its longest word where it can
    least = [min(max(len(w) for c in col for w in c.split()), 10 if name == "model" else 14) for name, col in zip(columns, cols)]
    widths = fit_widths([max(map(len, col)) for col in cols], least, out.width - 2 * (len(columns) - 1), last=2)
    for j, name in enumerate(columns):
        table.add_column(name, overflow="fold", width=widths[j] if widths else None)
    for cells in rows:
        table.add_row(*map(Text, cells))
    shared = (platforms if len(platforms) == 1 else []) + common
    return Group(table, Text("every run: " + " ".join(shared), style="dim") if shared else Text())


def _stream_json(runs: Iterator[Run], left_out: Iterator[LeftOut] | None) -> None:
    write = sys.stdout.write
    write('{"runs": [' if left_out is not None else "[")
    for i, run in enumerate(runs):
        write(("\n" if i == 0 else ",\n") + json.dumps(run.to_json()))
    write("\n]")
    if left_out is not None:
        write(', "left_out": ' + json.dumps([{"modules": list(lo.modules), "reason": lo.reason} for lo in left_out], indent=1) + "}")
    write("\n")


@main.command()
@click.option("--problem", "problems", multiple=True, metavar="GLOB", help="Explain pairings of these problems.")
@click.option("--model", "models", multiple=True, metavar="GLOB", help="Explain pairings of these models.")
@click.option("--max-chain", default=3, show_default=True, type=click.IntRange(min=0), help="Longest converter chain to consider.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def explain(problems: Sequence[str], models: Sequence[str], max_chain: int, as_json: bool) -> None:
    """Say every reason a pairing yields no run.

    With --problem and/or --model, every matching problem × model pair is explained.
    With neither, every module that appears in no feasible run is, with its reasons.
    """
    entries = sb.explain(problem=problems, model=models, max_chain=max_chain, catalog=installed_catalog())
    pairwise = bool(problems or models)
    if as_json:
        click.echo(json.dumps([{"subject": e.subject, "feasible": e.feasible, "reasons": [r.to_json() for r in e.reasons]}
                               for e in entries], indent=2))
        return
    if not entries:
        out.print("every installed module is in at least one feasible run")
    for subject, reasons in ((e.subject, e.reasons) for e in entries):
        if not reasons:
            out.print(f"{subject}: feasible (see `saibench solve`)", style="green")
            continue
        out.print(f"{subject}: no run, {len(reasons)} reason(s)", style="bold")
        for r in reasons:
            about = "" if pairwise else f"{' × '.join(r.modules[:2])}: "
            out.print(f"  - [{r.requirement}] {about}{r.detail}", soft_wrap=True)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check(as_json: bool) -> None:
    """Type-check every installed plugin's modules with mypy; exit 1 if any fails."""
    from ..check import check_catalog

    report = check_catalog(installed_catalog())
    if as_json:
        click.echo(json.dumps([f.to_json() for f in report.findings], indent=2))
    else:
        for f in report.findings:
            status = "ok" if not f.errors else f"{len(f.errors)} error(s)"
            out.print(f"{f.plugin}: {f.kind} {f.module}: {status}", style="green" if not f.errors else "red")
            for line in f.errors:
                out.print(f"    {line}", soft_wrap=True)
        for line in report.other:
            out.print(f"  (outside any module) {line}", style="yellow", soft_wrap=True)
    sys.exit(1 if any(report.failing()) else 0)

