"""Running from Python: ``run`` executes a plan in isolated pods and stores the results.

The executor (and with it the pods' JAX) is imported only when ``run`` is called, so
planning from Python stays as light as ``saibench solve``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..discovery import Catalog, load_catalog
from ..planner import Run
from ..rank import Leaderboard, leaderboards, restrict
from ..results import Outcome, Record, Store, default_path
from . import inputs
from .plan import Plan

if TYPE_CHECKING:
    import pandas as pd

OnDone = Callable[[Run, Outcome | None], None]
"""Called after each run is stored, with its outcome (``None``: skipped, already stored)."""
OnStart = Callable[[Sequence[Run]], None]
"""Called once with the campaign's runs, checked and planned, before any starts."""


@attrs.frozen
class Results:
    """What a campaign did: counts by status, and the stored records of its runs.

    Attributes:
        db: the results database.
        counts: ``{"ok": n, "failed": n, "skipped": n}`` (skipped: already stored).
        records: the stored record of each of the campaign's runs, from this campaign or an
            earlier one (skipped runs), oldest first.
        catalog: the modules the runs were executed against (for their rankings).
    """

    db: Path
    counts: Mapping[str, int]
    records: tuple[Record, ...] = attrs.field(repr=False)
    catalog: Catalog = attrs.field(repr=False)

    @property
    def failed(self) -> int:
        """How many runs of this campaign failed."""
        return self.counts.get("failed", 0)

    def leaderboards(self, *, tuned: bool = False) -> list[Leaderboard]:
        """One leaderboard per installed ranking, over this campaign's runs only.

        Args:
            tuned: per configuration, only the grid point with the best median validation score.
        """
        return leaderboards(self.catalog, self.records, tuned=tuned)

    def to_dataframe(self) -> pd.DataFrame:
        """The campaign's runs as a pandas DataFrame, one row per run (see ``results_frame``).

        Raises:
            MissingExtra: pandas is not installed (``pip install 'saibench[pandas]'``).
        """
        from .rank import frame

        return frame(self.records)


def run(plan_or_runs: Plan | Iterable[Run], *, db: Path | str | None = None, jobs: int = 1, timeout: float = 600.0,
        memory_limit: float | None = None, executor: str = "local", address: str | None = None,
        save_weights: Path | str | None = None, init_weights: Path | str | None = None, on_start: OnStart | None = None,
        on_done: OnDone | None = None, catalog: Catalog | None = None, batch: bool = True) -> Results:
    """Execute the runs not yet stored, each in its own process, and store their results
    (``saibench run``). Every argument is checked before any run is planned or started.

    Args:
        plan_or_runs: a ``Plan`` (see ``plan``), or runs of one.
        db: the results database (default: ``results.sqlite`` in the user data directory).
        jobs: runs executed at once.
        timeout: seconds before a run is killed.
        memory_limit: MiB of resident memory above which a run is killed (``None``: no limit).
        executor: ``"local"`` (this machine) or ``"dask"`` (a LocalCluster of ``jobs``
            workers, or the scheduler at ``address``).
        address: a Dask scheduler, e.g. ``"tcp://10.0.0.1:8786"`` (implies ``"dask"``).
        save_weights: a folder to save each run's trained parameters in, as ``<run key>.npz``.
        init_weights: saved parameters to start every run from (fine-tuning); part of each
            run's key.
        on_start: called with the runs once they are planned, before any starts (a
            progress bar's total).
        on_done: called with each run and its outcome as it is stored (``None``: skipped).
        catalog: the modules to run against (default: the plan's, else every installed one).
        batch: run the repetitions of a configuration in one pod, trained as one vectorised
            program where they train alike (``execute.batch``); ``False``: each in its own pod.

    Returns:
        ``Results``: counts by status and the stored records of these runs.

    Raises:
        InvalidInput: an argument's value cannot work (said before any work starts).
        UsageError: called at the top level of a script that a pod is importing (no
            ``if __name__ == "__main__":`` guard).
        StoreError: the database cannot be opened or written.
    """
    from .. import execute
    from ..execute.executors import EXECUTORS

    inputs.outside_main_import("run")
    inputs.integer("jobs", jobs, 1)
    timeout = inputs.finite("timeout", timeout, 0, open=True)
    memory_limit = None if memory_limit is None else inputs.finite("memory_limit", memory_limit, 1)
    inputs.choice("executor", executor, EXECUTORS)
    if address is not None:
        inputs.scheduler_address(address)
    weights_dir = None if save_weights is None else inputs.weights_dir(Path(save_weights))
    weights = None if init_weights is None else inputs.weights_file(Path(init_weights))
    if catalog is None:
        catalog = plan_or_runs.catalog if isinstance(plan_or_runs, Plan) else load_catalog()
    runs = list(plan_or_runs)
    if weights is not None:
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        runs = [attrs.evolve(r, init_weights=f"{weights.resolve()}#{digest}") for r in runs]
    with Store(Path(db) if db is not None else default_path()) as store:
        counts = {"ok": 0, "failed": 0, "skipped": 0}
        if on_start is not None:
            on_start(runs)
        if runs:
            options = execute.PodOptions(timeout, memory_limit, str(weights_dir.resolve()) if weights_dir else None, batch=bool(batch))
            counts = execute.run_campaign(catalog, runs, store, jobs=jobs, options=options,
                                          executor="dask" if address else executor, address=address,
                                          on_done=on_done or (lambda run, outcome: None))
        return Results(store.path, counts, tuple(restrict(store.records(), runs)), catalog)
