"""The report's plots of orders beyond one score: Pareto fronts (a partial-order ranking's
first two metrics, each configuration coloured by its front) and performance profiles
(``rank.profiles``: the fraction of problems each method is within τ of the best on)."""

from __future__ import annotations

import math
from collections.abc import Iterator

from ..rank import profiles
from ..rank.profiles import TAU_MAX
from .plots import Figure, Material, _axes, _legend, by_problem, labels, svg


def pareto_fronts(material: Material) -> Iterator[Figure]:
    """Per partial-order ranking and problem: its first two metrics' medians, a point per
    configuration in its front's colour, front 1 (none dominates it) joined by a line."""
    for board in material.boards:
        if board.ranking.spec.order != "partial" or len(board.ranking.spec.metrics) < 2:
            continue
        x_name, y_name = board.ranking.spec.metrics[:2]
        for problem, entries in by_problem(board.entries).items():
            shown = [(e, label) for e, label in zip(entries, labels(entries))
                     if e.front is not None and all(math.isfinite(e.metrics.get(m, math.nan)) for m in (x_name, y_name))]
            if not shown:
                continue
            title = f"Pareto fronts on {problem}: ranking {board.ranking.name}\nmedians; front 1: no configuration dominates it"
            fig, ax = _axes(title, x_name, y_name, len(shown))
            handles = [ax.scatter([e.metrics[x_name]], [e.metrics[y_name]], s=30, color=f"C{(e.front or 1) - 1}",
                                  marker="s" if e.reference else "o") for e, _ in shown]
            first = sorted((e.metrics[x_name], e.metrics[y_name]) for e, _ in shown if e.front == 1 and not e.reference)
            if len(first) > 1:
                ax.plot(*zip(*first), color="C0", linewidth=1, alpha=0.6)
            if max(e.metrics[x_name] for e, _ in shown) > 20 * max(min(e.metrics[x_name] for e, _ in shown), 1e-300):
                ax.set_xscale("log")
            _legend(fig, handles, [f"front {e.front}: {label}" for e, label in shown])
            yield Figure(title, svg(fig), board.ranking.name, problem)


def performance_profiles(material: Material) -> Iterator[Figure]:
    """Per score ranking over two problems or more: each method's ρ(τ) as a step curve on
    τ from 1 to ``TAU_MAX`` (log scale), its area in the legend."""
    for board in material.boards:
        if board.ranking.spec.order == "partial":
            continue
        found, _ = profiles(board)
        if not found or len(found[0].problems) < 2:
            continue
        title = f"performance profiles: ranking {board.ranking.name} over {len(found[0].problems)} problems"
        fig, ax = _axes(title, "τ: ratio to the best method's cost (log scale)", "ρ(τ): fraction of problems", len(found))
        handles = []
        for profile in found:
            taus = sorted({1.0, TAU_MAX, *(r for r in profile.ratios if math.isfinite(r) and r <= TAU_MAX)})
            handles.append(ax.step(taus, [profile.rho(t) for t in taus], where="post", linewidth=1.2)[0])
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        _legend(fig, handles, [f"{p.model} by {p.trainer} (area {p.area:.3f})" for p in found])
        yield Figure(title, svg(fig), board.ranking.name, "")

