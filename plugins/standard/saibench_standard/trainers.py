"""Training algorithms: optax optimizers (or factories sized from the run's number of updates)
with the loop's settings."""

from __future__ import annotations

from sail_types import Regress, Training, trainer


@trainer()
def adam(*, epochs: int = 40, batch_size: int = 64, learning_rate: float = 3e-3) -> Training:
    """Adam (Kingma & Ba, 2015) with a constant learning rate, minibatches reshuffled each epoch."""
    import optax  # lazy: planning must not import JAX

    return Training(optimizer=optax.adam(learning_rate), epochs=epochs, batch_size=batch_size)


@trainer(tasks=(Regress,), only_with=("field:chemistry",))
def adamw_cosine(*, epochs: int = 60, batch_size: int = 64, peak_learning_rate: float = 3e-3, weight_decay: float = 1e-4,
                 clip_norm: float | None = None, patience: int | None = None) -> Training:
    """AdamW (decoupled weight decay) with a linear warm-up (5 % of the steps) then cosine
    decay to zero at the run's last update: the usual schedule for fitting potential-energy
    surfaces; offered for chemistry regressions. ``clip_norm`` clips each update's gradient
    to that global norm first; ``patience`` stops on the validation loss."""
    import optax

    def optimizer(steps: int) -> optax.GradientTransformation:  # sized from the run's real number of updates
        schedule = optax.warmup_cosine_decay_schedule(0.0, peak_learning_rate, max(1, steps // 20), max(2, steps))
        adamw = optax.adamw(schedule, weight_decay=weight_decay)
        return adamw if clip_norm is None else optax.chain(optax.clip_by_global_norm(clip_norm), adamw)

    return Training(optimizer=optimizer, epochs=epochs, batch_size=batch_size, patience=patience)
