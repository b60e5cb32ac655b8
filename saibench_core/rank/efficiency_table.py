"""Sample-efficiency curves as terminal tables: one per ranking and problem, a row per
configuration (its score at each label budget, then the curve's area), best area first,
the reference baseline's row marked ``ref``."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from rich import box
from rich.table import Table

from .efficiency import Curve
from .table import REF, number


def efficiency_tables(curves: Sequence[Curve]) -> list[Table]:
    """The tables of ``curves`` (as ``efficiency.curves`` orders them)."""
    out = []
    for (ranking, problem), group in groupby(curves, key=lambda c: (c.ranking, c.problem)):
        rows = list(group)
        budgets = sorted({b for c in rows for b, _ in c.points})
        table = Table(title=f"sample efficiency: ranking {ranking} on {problem}", box=box.SIMPLE_HEAD,
                      caption=f"score at each {rows[0].budget} (fraction of the labelled training data); area: mean "
                              "score over log2(budget), trapezoid rule", caption_justify="left")
        table.add_column("#", overflow="fold")
        table.add_column("model", overflow="fold", min_width=10)
        table.add_column("trainer", overflow="fold")
        for budget in budgets:
            table.add_column(f"{budget:g}", justify="right", overflow="fold")
        table.add_column("area", justify="right", overflow="fold")
        place = 0
        for curve in rows:
            scores = dict(curve.points)
            place += not curve.reference
            table.add_row(REF if curve.reference else str(place), curve.label, curve.trainer or "-",
                          *(number(scores[b]) if b in scores else "-" for b in budgets), number(curve.area))
        out.append(table)
    return out
