"""What one run produced."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class Outcome:
    """The result of one run: ``ok`` with metrics, or ``failed`` with a reason."""

    status: str
    metrics: dict[str, float] = attrs.field(factory=dict)
    reason: str = ""
    details: dict[str, Any] = attrs.field(factory=dict)
    wall_seconds: float = 0.0
