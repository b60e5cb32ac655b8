"""Training algorithms: optax optimizers with the loop's settings."""

from __future__ import annotations

from sail_types import Regress, Training, trainer


@trainer()
def adam(*, epochs: int = 40, batch_size: int = 64, learning_rate: float = 3e-3) -> Training:
    """Adam (Kingma & Ba, 2015) with a constant learning rate, minibatches reshuffled each epoch."""
    import optax  # lazy: planning must not import JAX

    return Training(optimizer=optax.adam(learning_rate), epochs=epochs, batch_size=batch_size)


@trainer(tasks=(Regress,), only_with=("field:chemistry",))
def adamw_cosine(*, epochs: int = 60, batch_size: int = 64, peak_learning_rate: float = 3e-3, weight_decay: float = 1e-4) -> Training:
    """AdamW with a linear warm-up (5 % of the steps) then cosine decay to zero: the usual
    schedule for fitting potential-energy surfaces; offered for chemistry regressions."""
    import optax

    steps = epochs * max(1, 2000 // batch_size)  # an upper bound is enough for the schedule's shape
    schedule = optax.warmup_cosine_decay_schedule(0.0, peak_learning_rate, max(1, steps // 20), steps)
    return Training(optimizer=optax.adamw(schedule, weight_decay=weight_decay), epochs=epochs, batch_size=batch_size)
