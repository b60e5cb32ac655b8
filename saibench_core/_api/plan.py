"""Planning from Python: ``plan`` selects modules by glob and plans their feasible runs."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from sail_types._modules import ModuleKind

from ..discovery import Catalog, Descriptor, load_catalog
from ..errors import UsageError
from ..planner import ROLES, LeftOut, Planner, Run, sample, select
from ..planner.division import DIVISIONS, reference_catalog
from ..planner.division import check as division_check
from ..planner.pretraining import Pretraining
from ..planner.rules import Reason
from ..planner.select import with_grid
from ..results import SEED_MAX
from . import inputs

if TYPE_CHECKING:
    from ..check import Finding

VARY = ("seed", "split", "both")
Globs = str | Sequence[str]
"""One glob pattern (``"mlp*"``) or several: a module is kept when its name matches one."""


def repetitions(seed: int, repeat: int, vary: str) -> list[tuple[int, int]]:
    """``(seed, split)`` of each repetition: ``seed`` varies the initialisation and
    shuffling seed (split 0), ``split`` the data split (seed fixed), ``both`` each.

    >>> repetitions(7, 3, "both")
    [(7, 0), (8, 1), (9, 2)]
    """
    return [(seed + i if vary != "split" else seed, i if vary != "seed" else 0) for i in range(repeat)]


@attrs.frozen(eq=False)
class Plan:
    """The feasible runs of a selection of the installed modules, planned on first use.

    Iterate it, or take ``len()``, for the runs (planned once, then kept); ``stream()`` and
    ``count()`` plan again without keeping them, for plans of millions. Made by ``plan``.

    Attributes:
        catalog: every installed module (less those ``strict_types`` left out); runs are
            executed against it.
        planner: the planner over the selected modules.
        type_failures: the modules ``strict_types`` left out, with mypy's errors.
    """

    catalog: Catalog = attrs.field(repr=False)
    planner: Planner = attrs.field(repr=False)
    repetitions: tuple[tuple[int, int], ...] = ((0, 0),)
    max_runs: int | None = None
    seed: int = 0
    type_failures: tuple[Finding, ...] = ()

    @functools.cached_property
    def runs(self) -> tuple[Run, ...]:
        """The feasible runs, planned on first access."""
        return tuple(self.stream())

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def stream(self) -> Iterator[Run]:
        """The runs as they are planned, none kept (with ``max_runs``: the seeded sample): a
        model that declares ``Pretrain`` comes from scratch and from its pre-training run,
        which comes first (``planner.pretraining``; a sampled run keeps its dependency, which
        the campaign adds)."""
        runs = Pretraining(self.catalog).expand(self.planner.runs(seeds=self.repetitions))
        return iter(sample(runs, self.max_runs, self.seed)) if self.max_runs is not None else runs

    def count(self) -> int:
        """How many runs, counted without making them (``saibench solve --count``; with
        pre-training, by planning them)."""
        if any(m.spec.pretrain for m in self.planner.catalog.of("model")):
            n = sum(1 for _ in Pretraining(self.catalog).expand(self.planner.runs(seeds=self.repetitions)))
        else:
            n = sum(1 for _ in self.planner.tuples(seeds=self.repetitions))
        return n if self.max_runs is None else min(n, self.max_runs)

    def left_out(self) -> Iterator[LeftOut]:
        """What yields no run, and why: broken plugins, platforms, problem × model pairs."""
        return self.planner.left_out()

    def explain(self, problem: str, model: str) -> list[Reason]:
        """Every rule the pairing of ``problem`` and ``model`` violates in this selection
        (empty exactly when the plan has a run of it).

        Args:
            problem: an installed problem's name.
            model: an installed model's name.

        Raises:
            UsageError: no installed problem or model has that name.
        """
        from ..planner.explain import explain_pair

        return explain_pair(self.planner, self._module("problem", problem), self._module("model", model))

    def _module(self, kind: ModuleKind, name: str) -> Descriptor:
        found = self.catalog.get(kind, name)
        if found is not None:
            return found
        names = sorted(m.name for m in self.catalog.of(kind))
        raise UsageError(f"Plan.explain: no {kind} named {name!r}; installed {kind}s: {', '.join(names) or 'none'} "
                         "(see `saibench plugins`)")


def plan(*, problem: Globs = (), model: Globs = (), trainer: Globs = (), software: Globs = (), hardware: Globs = (),
         field: Globs = (), max_chain: int = 3, max_runs: int | None = None, seed: int = 0, repeat: int = 1,
         vary: str = "both", strict_types: bool = False, grid: Mapping[str, Sequence[Any]] | None = None,
         division: str = "open", catalog: Catalog | None = None) -> Plan:
    """Plan the feasible runs of the installed modules (``saibench solve``).

    With no arguments every installed plugin is planned: as many runs as
    ``saibench solve --count``. Role filters choose the runs' top-level modules; any
    installed model may still fill a model's submodule slot.

    Args:
        problem, model, trainer, software, hardware: glob patterns on module names
            (``"mlp*"``, or a list of them); empty: every installed module of the role.
        field: glob patterns on problems' scientific fields.
        max_chain: the longest converter chain adapting a problem to a model.
        max_runs: keep a seeded uniform sample of this many runs.
        seed: the seed of the first repetition, and of ``max_runs`` sampling.
        repeat: repetitions of each configuration (see ``vary``).
        vary: what repetitions vary: ``"seed"`` (initialisation, shuffling), ``"split"``
            (the data split) or ``"both"``.
        strict_types: leave out modules whose plugin code fails ``saibench check`` (mypy).
        grid: hyperparameter values to plan instead of modules' own, by
            ``"MODULE.PARAMETER"``: ``{"md_bulk.temperature": [300.0, 900.0]}`` plans runs
            at both temperatures (``saibench run --set md_bulk.temperature=300,900``).
        division: ``"open"`` (every grid point) or ``"closed"`` (every method at its
            reference hyperparameters, its modules' defaults: ``planner.division``).
        catalog: the modules to plan (default: every installed plugin's).

    Returns:
        The ``Plan``: its runs (iterate it, ``len()``), ``left_out()`` and ``explain()``.

    Raises:
        InvalidInput: an argument's value cannot work.
        UsageError: a pattern matches no installed module, or ``plan`` was called at the
            top level of a script that a pod is importing (no ``if __name__ == "__main__":``).

    >>> import saibench_core as sb
    >>> small = sb.plan(problem="wine", model="linear")
    >>> {(r.problem, r.model) for r in small}
    {('wine', 'linear')}
    """
    inputs.outside_main_import("plan")
    patterns = {role: inputs.globs(role, value) for role, value in zip(ROLES, (problem, model, trainer, software, hardware))}
    fields = inputs.globs("field", field)
    inputs.integer("max_chain", max_chain, 0)
    if max_runs is not None:
        inputs.integer("max_runs", max_runs, 1)
    inputs.integer("seed", seed, 0, SEED_MAX)
    inputs.integer("repeat", repeat, 1)
    inputs.choice("vary", vary, VARY)
    inputs.choice("division", division, DIVISIONS)
    catalog = load_catalog() if catalog is None else catalog
    if division == "closed":
        catalog = reference_catalog(catalog)
    if grid:
        division_check(division, list(grid), catalog)
        catalog = with_grid(catalog, inputs.grid(grid))
    failures: tuple[Finding, ...] = ()
    if strict_types:
        from ..check import check_catalog, without_failures

        report = check_catalog(catalog)
        catalog, failures = without_failures(catalog, report), report.failing()
    chosen = select(catalog, patterns, fields=fields)
    # filters choose the runs' top-level modules; any installed model may still fill a slot
    planner = Planner(chosen, max_chain=max_chain, fillers=catalog.of("model"))
    return Plan(catalog, planner, tuple(repetitions(seed, repeat, vary)), max_runs, seed, failures)


@attrs.frozen
class Explanation:
    """Why a subject (``problem wine × model cnn``, or ``model cnn``) has no run.

    ``reasons`` is empty when it has one (``feasible``).
    """

    subject: str
    reasons: tuple[Reason, ...]

    @property
    def feasible(self) -> bool:
        """Whether the subject is in at least one feasible run."""
        return not self.reasons


def explain(*, problem: Globs = (), model: Globs = (), max_chain: int = 3, catalog: Catalog | None = None) -> list[Explanation]:
    """Every reason a pairing yields no run (``saibench explain``).

    Args:
        problem, model: glob patterns; every matching problem × model pair is explained.
            With neither, every module that is in no feasible run is, with its reasons.
        max_chain: the longest converter chain to consider.
        catalog: the modules (default: every installed plugin's).

    Returns:
        One ``Explanation`` per pair (or per unused module).

    Raises:
        UsageError: a pattern matches no installed module.
    """
    from ..planner.explain import explain_pair, unused

    problems, models = inputs.globs("problem", problem), inputs.globs("model", model)
    inputs.integer("max_chain", max_chain, 0)
    catalog = load_catalog() if catalog is None else catalog
    planner = Planner(catalog, max_chain=max_chain)
    if not (problems or models):
        return [Explanation(f"{d.kind} {d.name}", tuple(reasons)) for d, reasons in unused(planner)]
    chosen = select(catalog, {"problem": problems, "model": models})
    return [Explanation(f"problem {p.name} × model {m.name}", tuple(explain_pair(planner, p, m)))
            for p in chosen.of("problem") for m in chosen.of("model")]
