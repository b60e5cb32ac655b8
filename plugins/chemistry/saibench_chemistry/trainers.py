"""A trainer for interatomic potentials: many small updates on few configurations."""

from __future__ import annotations

from sail_types import Training, trainer

from .common import Potential


@trainer(tasks=(Potential,))
def force_matching(*, epochs: int = 150, batch_size: int = 4, peak_learning_rate: float = 3e-3,
                   weight_decay: float = 0.0) -> Training:
    """AdamW with a linear warm-up (5 % of the steps) then cosine decay to zero, on batches of
    a few configurations: each configuration carries 3n force components, so a few dozen
    configurations train a potential when they give many updates (the quick ``md_bulk``'s 60
    give 15 an epoch; a batch as large as the training set gives one). The loss is the
    problem's: squared energy error plus the squared force error (``FORCES``)."""
    import optax

    def optimizer(steps: int) -> optax.GradientTransformation:
        schedule = optax.warmup_cosine_decay_schedule(0.0, peak_learning_rate, max(1, steps // 20), max(2, steps))
        return optax.adamw(schedule, weight_decay=weight_decay)

    return Training(optimizer, epochs=epochs, batch_size=batch_size)
