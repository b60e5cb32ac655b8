"""Every plot kind of the report, in the order the page shows them: a new kind is one
function (``Material -> Iterable[Figure]``, see ``plots``) and one line here."""

from __future__ import annotations

from .order_plots import pareto_fronts, performance_profiles
from .plots import Plot, learning_curves, sample_efficiency, work_precision

PLOTS: list[Plot] = [work_precision, pareto_fronts, sample_efficiency, learning_curves, performance_profiles]
