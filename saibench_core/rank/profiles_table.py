"""Performance profiles as terminal tables: one per ranking, a row per method (its ``ρ(τ)``
at ``TAUS``, then its area), best area first."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from rich import box
from rich.table import Table
from rich.text import Text

from .profiles import TAU_MAX, TAUS, Profile
from .table import number

CAPTION = (f"ρ(τ): the fraction of problems on which the method's cost is within τ times the best method's (cost: "
           f"1/score for positive scores, -score for negated errors; ∞: no score there); area: ∫ρ d(log τ) over "
           f"[1, {TAU_MAX:g}] / log {TAU_MAX:g}, AlgoPerf's benchmark score (1: best on every problem)")


def profile_tables(found: Sequence[Profile]) -> list[Table]:
    """The tables of ``found`` (as ``profiles.profiles`` orders them, ranking by ranking)."""
    out = []
    for ranking, group in groupby(found, key=lambda p: p.ranking):
        rows = list(group)
        problems = rows[0].problems
        table = Table(title=f"performance profiles: ranking {ranking} over {len(problems)} problem"
                            f"{'s' if len(problems) > 1 else ''} ({', '.join(problems)})",
                      box=box.SIMPLE_HEAD, caption=Text(CAPTION), caption_justify="left")
        for header in ("#", "model", "trainer"):
            table.add_column(header, overflow="fold", min_width=10 if header == "model" else None)
        for tau in TAUS:
            table.add_column(f"ρ({number(tau)})", justify="right", overflow="fold")
        table.add_column("area", justify="right", overflow="fold")
        for place, profile in enumerate(rows, start=1):
            table.add_row(str(place), profile.model, profile.trainer, *(number(profile.rho(t), 3) for t in TAUS),
                          number(profile.area, 3))
        out.append(table)
    return out
