"""Option types of the command line that click lacks.

The checks of what the options name (paths, the scheduler address) are the API's
(``_api/inputs.py``), so the CLI and the Python API refuse the same values the same way.
"""

from __future__ import annotations

from typing import Any

import click

from .._api.inputs import finite_above, finite_bound


class FiniteFloat(click.ParamType[float]):
    """A float option that must be finite and above ``minimum`` (``open``: strictly).

    ``click.FloatRange`` lets ``nan`` through, since every comparison with it is false.
    """

    name = "number"

    def __init__(self, minimum: float, *, open: bool = False) -> None:
        self.minimum, self.open = minimum, open

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """``value`` as a float; fails (click's usage error) unless finite and in range."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not finite_above(number, self.minimum, open=self.open):
            self.fail(f"{value!r} is not a finite number {finite_bound(self.minimum, open=self.open)}", param, ctx)
        return number
