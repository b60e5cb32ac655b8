"""The ``saibench`` command line: plugins, solve, explain, check, run, rank, results.

It parses options, calls the Python API (``saibench_core.plan``, ``run``, ``rank``, ...)
and prints; what it refuses, the API refuses with the same error, named here by option.
Planning commands import neither JAX nor the plugins' heavy dependencies; only ``run``
starts pods that do.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

import saibench_core as sb

from ._api.plan import VARY
from ._api.rank import STATUSES
from .cli_validate import FiniteFloat
from .discovery import BLOCK_ENV, Catalog, load_catalog
from .errors import InvalidInput, SaibenchError
from .planner import ROLES, LeftOut, Run
from .rank import REFERENCES, Leaderboard, efficiency_tables, hyper_items, number, tables
from .rank.table import fit as fit_widths
from .results import SEED_MAX, Outcome
from .results.export import FORMATS, json_safe
from .safe_text import SafeConsole

F = TypeVar("F", bound=Callable[..., Any])
OPTIONS = {"output": "-o/--output", "jobs": "-j/--jobs"}  # the API's keyword → its option, where not --<keyword>

# markup off: module names and reasons (e.g. "jax[cuda12]") are printed verbatim; every
# print escapes control characters, which plugins, runs and databases may carry (safe_text)
out = SafeConsole(highlight=False, markup=False)
err = SafeConsole(stderr=True, highlight=False, markup=False)


def _fail(message: str, status: int = 2) -> NoReturn:
    err.print(f"saibench: error: {' '.join(message.split())}", style="bold red", soft_wrap=True)
    sys.exit(status)


class SaibenchGroup(click.Group):
    """Turns every ``SaibenchError`` and click usage error into one line on stderr and exit
    status 2 (click's own three lines of usage, hint and error are one line here, with the
    hint kept: ``see `saibench run --help```)."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:
            self._usage(exc)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:  # the API's check, said with the option's name
            _fail(exc.naming(OPTIONS.get(exc.parameter, "--" + exc.parameter.replace("_", "-"))))
        except SaibenchError as exc:
            _fail(str(exc))
        except click.ClickException as exc:
            self._usage(exc)
            raise

    @staticmethod
    def _usage(exc: click.ClickException) -> None:
        if isinstance(exc, click.exceptions.NoArgsIsHelpError):
            return  # `saibench` alone shows the help, as click does
        where = exc.ctx if isinstance(exc, click.UsageError) else None
        hint = f" (see `{where.command_path} --help`)" if where is not None else ""
        _fail(exc.format_message().rstrip(".") + hint, exc.exit_code)


def filters(fn: F) -> F:
    """Add ``--problem``, ``--model``, ... glob filters to a command."""
    for role in reversed(ROLES):
        fn = click.option(f"--{role}", f"{role}_globs", multiple=True, metavar="GLOB",
                          help=f"Only {role}s whose name matches (repeatable, glob patterns).")(fn)
    return fn


def _catalog() -> Catalog:
    catalog = load_catalog()
    for broken in catalog.broken:
        err.print(f"saibench: warning: {broken}; fix the plugin or skip it with {BLOCK_ENV}={broken.plugin} "
                  "(other plugins still load)", style="yellow", soft_wrap=True)
    return catalog


def _grid(settings: Sequence[str]) -> dict[str, list[Any]]:
    """``--set MODULE.PARAM=V1,V2`` options as ``sb.plan``'s grid: each value read as JSON
    (``300``, ``0.5``, ``true``), else kept as a string."""
    grid: dict[str, list[Any]] = {}
    for setting in settings:
        key, sep, values = setting.partition("=")
        if not sep or not values:
            raise click.BadParameter(f"{setting!r} is not MODULE.PARAM=V1,V2, e.g. md_bulk.temperature=300,900",
                                     param_hint="--set")
        grid.setdefault(key.strip(), []).extend(_value(v.strip()) for v in values.split(","))
    return grid


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _plan(globs: dict[str, Sequence[str]], fields: Sequence[str], settings: Sequence[str] = (), **options: Any) -> sb.Plan:
    """``sb.plan`` of the installed modules with the ``--problem`` ... filters and ``--set``
    grids; says what ``--strict-types`` left out."""
    plan = sb.plan(problem=globs["problem_globs"], model=globs["model_globs"], trainer=globs["trainer_globs"],
                   software=globs["software_globs"], hardware=globs["hardware_globs"], field=fields,
                   catalog=_catalog(), grid=_grid(settings), **options)
    for finding in plan.type_failures:
        err.print(f"saibench: --strict-types leaves out {finding.kind} {finding.module} ({finding.plugin}): "
                  f"{finding.errors[0]}", style="yellow", soft_wrap=True)
    return plan


def _hyper(run: Run) -> str:
    """Every hyperparameter of the run (problem, model, filled slots, trainer)."""
    return " ".join(hyper_items(run))


@click.group(cls=SaibenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="saibench")
def main() -> None:
    """Benchmark AI methods on scientific problems, across communities."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their versions and modules, and any that failed to load.

    Exits with status 2 when a plugin or module is broken (after listing the rest).
    """
    catalog = _catalog()
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


def plan_options(fn: F) -> F:
    """Options shared by ``solve`` and ``run``: filters, chain cap, sampling, type checking."""
    for option in reversed([
        click.option("--field", "fields", multiple=True, metavar="GLOB", help="Only problems of these fields (repeatable)."),
        click.option("--max-chain", default=3, show_default=True, type=click.IntRange(min=0),
                     help="Longest converter chain to consider."),
        click.option("--max-runs", type=click.IntRange(min=1), help="Keep a seeded uniform sample of this many runs."),
        click.option("--strict-types", is_flag=True, help="Leave out modules whose plugin code fails `saibench check`."),
        click.option("--set", "settings", multiple=True, metavar="MODULE.PARAM=V1,V2",
                     help="Plan these values of a module's hyperparameter instead of its own (repeatable), "
                          "e.g. --set md_bulk.temperature=300,900."),
    ]):
        fn = option(fn)
    return filters(fn)


TABLE_ROWS = 1000
EFFICIENCY = "sample-efficiency"  # rank --json's key for the curves (not a module name: it has a "-")


@main.command()
@plan_options
@click.option("--json", "as_json", is_flag=True, help="Stream a JSON list, one object per feasible run and line.")
@click.option("--count", is_flag=True, help="Print only the number of feasible runs.")
@click.option("--all", "show_all", is_flag=True, help="Also list what was left out, and why.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, SEED_MAX),
              help="Seed recorded in each run (and of --max-runs sampling).")
def solve(as_json: bool, count: bool, show_all: bool, max_chain: int, max_runs: int | None, strict_types: bool,
          seed: int, fields: Sequence[str], settings: Sequence[str], **globs: Sequence[str]) -> None:
    """List every feasible benchmark run of the installed modules.

    Plans stream: `--json` writes each run as it is planned, `--count` keeps none in memory.
    `saibench explain` says why a pairing is missing.
    """
    plan = _plan(globs, fields, settings, max_chain=max_chain, max_runs=max_runs, seed=seed, strict_types=strict_types)
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
    entries = sb.explain(problem=problems, model=models, max_chain=max_chain, catalog=_catalog())
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
    from .check import check_catalog

    report = check_catalog(_catalog())
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


def _print_boards(boards: Sequence[Leaderboard], catalog: Catalog) -> None:
    """One table per ranking and problem (see ``rank.table``); a board with no entry prints
    only its notes (e.g. ``--tuned`` over runs stored without validation metrics). Then the
    sample-efficiency curves of problems with a label budget (``rank.efficiency``)."""
    for board in boards:
        for table in tables(board, out.width):
            out.print(table)
        if not board.entries:
            for note in board.notes[1:] if board.tuned else board.notes:
                err.print(f"saibench: ranking {board.ranking.name}: {note}", style="yellow", soft_wrap=True)
    for curves in efficiency_tables(sb.sample_efficiency(boards, catalog)):
        out.print(curves)


class _Progress:
    """``run``'s progress on stderr: a bar from when the runs are known, a line per run done."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.stack = stack

    def start(self, runs: Sequence[Run]) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        if runs:
            self.bar = self.stack.enter_context(Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                                         TimeElapsedColumn(), console=err, transient=False))
            self.task = self.bar.add_task("running", total=len(runs))

    def done(self, r: Run, outcome: Outcome | None) -> None:
        label = f"{r.problem} × {r.started_label} by {r.trainer} on {r.software} @ {r.hardware}, " \
                f"seed {r.seed} split {r.split}: {_hyper(r)}"
        if outcome is None:
            self.bar.console.print(f"skip  {label} (already stored)", style="dim")
        elif outcome.status == "ok":
            shown = ", ".join(f"{k}={number(v)}" for k, v in outcome.metrics.items())
            self.bar.console.print(f"ok    {label}: {shown}", style="green")
        else:
            self.bar.console.print(f"FAIL  {label}: {outcome.reason}", style="red")
        self.bar.advance(self.task)


@main.command()
@plan_options
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Results database (default: user data dir).")
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="Runs executed at once, each in its own process.")
@click.option("--timeout", default=600.0, show_default=True, type=FiniteFloat(0, open=True), help="Seconds before a run is killed.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where pods run: this machine, or Dask (a LocalCluster of -j workers, or --address).")
@click.option("--address", metavar="URL", help="Dask scheduler, e.g. tcp://10.0.0.1:8786 (implies --executor dask).")
@click.option("--save-weights", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Save each run's trained parameters as DIR/<run key>.npz.")
@click.option("--init-weights", type=click.Path(dir_okay=False, exists=True, path_type=Path), metavar="FILE",
              help="Start every run from these saved parameters (fine-tuning); part of each run's key.")
@click.option("--memory-limit", type=FiniteFloat(1), metavar="MiB", help="Kill a run whose resident memory exceeds this.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, SEED_MAX),
              help="Seed of model initialisation and shuffling.")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(min=1),
              help="Run each configuration N times (seeds SEED..SEED+N-1 and/or splits 0..N-1, see --vary).")
@click.option("--vary", type=click.Choice(VARY), default="both", show_default=True,
              help="What --repeat varies: the seed (initialisation, shuffling), the data split, or both.")
def run(db: Path | None, jobs: int, timeout: float, executor: str, address: str | None, save_weights: Path | None,
        init_weights: Path | None, memory_limit: float | None, max_chain: int, max_runs: int | None, strict_types: bool, seed: int,
        repeat: int, vary: str, fields: Sequence[str], settings: Sequence[str], **globs: Sequence[str]) -> None:
    """Plan and execute every feasible run, store the results, print the leaderboards.

    Runs already in the database with the same modules, versions and settings are skipped.
    Exits with status 1 when any run failed (the others are stored all the same).
    """
    plan = _plan(globs, fields, settings, max_chain=max_chain, max_runs=max_runs, seed=seed, repeat=repeat, vary=vary,
                 strict_types=strict_types)
    with contextlib.ExitStack() as stack:
        bar = _Progress(stack)
        results = sb.run(plan, db=db, jobs=jobs, timeout=timeout, memory_limit=memory_limit, executor=executor,
                         address=address, save_weights=save_weights, init_weights=init_weights, on_start=bar.start,
                         on_done=bar.done)
    counts = results.counts
    if not sum(counts.values()):
        err.print("saibench: nothing to run: no feasible run (see `saibench solve --all`)")
        return
    err.print(f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} already stored; results in {results.db}")
    _print_boards(results.leaderboards(), plan.catalog)
    sys.exit(1 if counts["failed"] else 0)


@main.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Results database (default: user data dir).")
@click.option("--ranking", "ranking_globs", multiple=True, metavar="GLOB", help="Only these rankings.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {ranking: [entries, best first]} as JSON (not measured: null; never reached: "Infinity"), '
                   'the problems\' reference baselines under "reference-baselines": {ranking: [rows]}, and '
                   'sample-efficiency curves under "sample-efficiency": [curves].')
@click.option("--tuned", is_flag=True, help="Per configuration, only the grid point with the best median validation score.")
def rank(db: Path | None, ranking_globs: Sequence[str], as_json: bool, tuned: bool) -> None:
    """Print one leaderboard per ranking from the stored results.

    Repetitions of a configuration are aggregated (median [95% bootstrap interval], tie groups by a paired test); one whose repetitions
    partly failed is ranked on its ok ones and flagged. With --tuned, hyperparameters are
    chosen on validation and test values are shown.
    """
    catalog = _catalog()
    boards = sb.rank(db=db, ranking=ranking_globs, tuned=tuned, catalog=catalog)
    if as_json:
        for board in boards:
            for note in board.notes:
                err.print(f"saibench: ranking {board.ranking.name}: {note}", soft_wrap=True)
        shown: dict[str, Any] = {b.ranking.name: [e.to_json() for e in b.entries] for b in boards}
        # not a module name (no "-" in one), so it never shadows a ranking
        shown[REFERENCES] = {b.ranking.name: [e.to_json() for e in b.references] for b in boards if b.references}
        if efficiency := sb.sample_efficiency(boards, catalog):
            shown[EFFICIENCY] = [c.to_json() for c in efficiency]
        click.echo(json.dumps(json_safe(shown), indent=2, allow_nan=False))
    else:
        _print_boards(boards, catalog)


@main.group()
def results() -> None:
    """Stored results: export them for analysis elsewhere."""


@results.command("export")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Results database (default: user data dir).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--status", type=click.Choice(STATUSES), help="Only runs with this status.")
def export_results(db: Path | None, fmt: str, output: Path, status: str | None) -> None:
    """Write every stored run as one row: roles, seed, hyperparameters, status, metrics."""
    n = sb.export(output, format=fmt, db=db, status=status)
    err.print(f"{n} run(s) written to {output}")
