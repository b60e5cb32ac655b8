"""A trainer for the U-Nets: image-to-image networks that need many more updates than the
standard ``adam``'s 40 epochs give on a few hundred images."""

from __future__ import annotations

from sail_types import Denoise, Segment, Training, trainer


@trainer(tasks=(Denoise, Segment), only_with=("field:microscopy",))
def unet_adam(*, epochs: int = 120, batch_size: int = 32, peak_learning_rate: float = 3e-3) -> Training:
    """Adam with a linear warm-up (5 % of the steps) then cosine decay to zero at the run's
    last update (as U-Nets for electron micrographs are commonly trained), minibatches
    reshuffled each epoch."""
    import optax  # lazy: planning must not import JAX

    def optimizer(steps: int) -> optax.GradientTransformation:  # sized from the run's real number of updates
        return optax.adam(optax.warmup_cosine_decay_schedule(0.0, peak_learning_rate, max(1, steps // 20), max(2, steps)))

    return Training(optimizer, epochs=epochs, batch_size=batch_size)
