"""What every command shares: the group that turns errors into one line, the consoles,
the plan filters and options."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

import saibench_core as sb

from ..discovery import BLOCK_ENV, Catalog, load_catalog
from ..errors import InvalidInput, SaibenchError
from ..planner import ROLES, Run
from ..planner.division import DIVISIONS
from ..rank import hyper_items
from ..safe_text import SafeConsole

F = TypeVar("F", bound=Callable[..., Any])
OPTIONS = {"output": "-o/--output", "jobs": "-j/--jobs"}  # the API's keyword → its option, where not --<keyword>

# markup off: module names and reasons (e.g. "jax[cuda12]") are printed verbatim; every
# print escapes control characters, which plugins, runs and databases may carry (safe_text)
out = SafeConsole(highlight=False, markup=False)
err = SafeConsole(stderr=True, highlight=False, markup=False)


def fail(message: str, status: int = 2) -> NoReturn:
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
            fail(exc.naming(OPTIONS.get(exc.parameter, "--" + exc.parameter.replace("_", "-"))))
        except SaibenchError as exc:
            fail(str(exc))
        except click.ClickException as exc:
            self._usage(exc)
            raise

    @staticmethod
    def _usage(exc: click.ClickException) -> None:
        if isinstance(exc, click.exceptions.NoArgsIsHelpError):
            return  # `saibench` alone shows the help, as click does
        where = exc.ctx if isinstance(exc, click.UsageError) else None
        hint = f" (see `{where.command_path} --help`)" if where is not None else ""
        fail(exc.format_message().rstrip(".") + hint, exc.exit_code)


def filters(fn: F) -> F:
    """Add ``--problem``, ``--model``, ... glob filters to a command."""
    for role in reversed(ROLES):
        fn = click.option(f"--{role}", f"{role}_globs", multiple=True, metavar="GLOB",
                          help=f"Only {role}s whose name matches (repeatable, glob patterns).")(fn)
    return fn


def installed_catalog() -> Catalog:
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


def plan_from(globs: dict[str, Sequence[str]], fields: Sequence[str], settings: Sequence[str] = (), **options: Any) -> sb.Plan:
    """``sb.plan`` of the installed modules with the ``--problem`` ... filters and ``--set``
    grids; says what ``--strict-types`` left out."""
    plan = sb.plan(problem=globs["problem_globs"], model=globs["model_globs"], trainer=globs["trainer_globs"],
                   software=globs["software_globs"], hardware=globs["hardware_globs"], field=fields,
                   catalog=installed_catalog(), grid=_grid(settings), **options)
    for finding in plan.type_failures:
        err.print(f"saibench: --strict-types leaves out {finding.kind} {finding.module} ({finding.plugin}): "
                  f"{finding.errors[0]}", style="yellow", soft_wrap=True)
    return plan


def hyper_text(run: Run) -> str:
    """Every hyperparameter of the run (problem, model, filled slots, trainer)."""
    return " ".join(hyper_items(run))



@click.group(cls=SaibenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="saibench")
def main() -> None:
    """Benchmark AI methods on scientific problems, across communities."""


def plan_options(fn: F) -> F:
    """Options shared by ``solve`` and ``run``: filters, chain cap, sampling, type checking."""
    for option in reversed([
        click.option("--field", "fields", multiple=True, metavar="GLOB", help="Only problems of these fields (repeatable)."),
        click.option("--max-chain", default=3, show_default=True, type=click.IntRange(min=0),
                     help="Longest converter chain to consider."),
        click.option("--max-runs", type=click.IntRange(min=1), help="Keep a seeded uniform sample of this many runs."),
        click.option("--strict-types", is_flag=True, help="Leave out modules whose plugin code fails `saibench check`."),
        click.option("--division", type=click.Choice(DIVISIONS), default="open", show_default=True,
                     help="closed: every method at its reference hyperparameters (its modules' defaults); open: every grid point."),
        click.option("--set", "settings", multiple=True, metavar="MODULE.PARAM=V1,V2",
                     help="Plan these values of a module's hyperparameter instead of its own (repeatable), "
                          "e.g. --set md_bulk.temperature=300,900."),
    ]):
        fn = option(fn)
    return filters(fn)

