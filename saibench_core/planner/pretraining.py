"""Pre-training as a planned dependency: a model that declares ``Pretrain`` is planned from
scratch and from the weights of its pre-training run, which is planned too, before it.

The pre-training run is an ordinary run of the declared problem, model and trainer at
their first grid point, with the dependent's seed, split, software and hardware, planned
over the whole catalog (a ``--problem`` filter that selects only the fine-tuning problem
still gets its dependency). The dependent carries it as JSON (``Run.start_from``), so its
key covers the run its weights come from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import attrs

from sail_types import Pretrain
from sail_types._modules import ModuleKind

from ..discovery import Catalog
from .plan import Planner, Run
from .select import select


def dependent(run: Run, before: Run, pretrain: Pretrain) -> Run:
    """``run`` started from ``before``'s weights (the parameters under ``pretrain.keep``)."""
    return attrs.evolve(run, start_from=json.dumps(before.to_json(), sort_keys=True), start_keep=pretrain.keep)


class Pretraining:
    """Plans the pre-training runs of a catalog's models that declare one (memoized)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._planned: dict[tuple[Pretrain, str, str, int, int], Run | None] = {}

    def declared(self, run: Run) -> Pretrain | None:
        """The ``Pretrain`` of ``run``'s model (``None``: none, or already a fine-tuning run)."""
        model = self.catalog.get("model", run.model)
        return None if model is None or run.start_from else model.spec.pretrain

    def before(self, run: Run, pretrain: Pretrain) -> Run | None:
        """The pre-training run of ``run`` (``None`` where it cannot be planned: a module it
        names is not installed, or they do not fit together)."""
        point = (pretrain, run.software, run.hardware, run.seed, run.split)
        if point not in self._planned:
            patterns: dict[ModuleKind, list[str]] = {"problem": [pretrain.problem], "model": [pretrain.model],
                                                     "trainer": [pretrain.trainer], "software": [run.software],
                                                     "hardware": [run.hardware]}
            if not all(self.catalog.get(kind, name) is not None for kind, (name,) in patterns.items()):
                self._planned[point] = None
            else:
                planner = Planner(select(self.catalog, patterns), fillers=self.catalog.of("model"))
                self._planned[point] = next(iter(planner.runs(seeds=((run.seed, run.split),))), None)
        return self._planned[point]

    def expand(self, runs: Iterable[Run]) -> Iterator[Run]:
        """Each run, and for a model declaring ``Pretrain`` its pre-training run (once, before
        the first run that needs it; never twice, should the plan hold it too) and the run
        started from it. A catalog without ``Pretrain`` passes its runs through."""
        if not any(m.spec.pretrain for m in self.catalog.of("model")):
            yield from runs
            return
        seen: set[str] = set()

        def first(run: Run) -> bool:
            label = json.dumps(run.to_json(), sort_keys=True)
            new = label not in seen
            seen.add(label)
            return new

        for run in runs:
            pretrain = self.declared(run)
            before = self.before(run, pretrain) if pretrain is not None else None
            if before is not None and first(before):
                yield before
            if first(run):
                yield run
            if pretrain is not None and before is not None:
                yield dependent(run, before, pretrain)
