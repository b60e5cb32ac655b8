"""Training algorithms: optax optimizers with the loop's settings."""

from __future__ import annotations

from sail_types import Training, trainer


@trainer()
def adam(*, epochs: int = 40, batch_size: int = 64, learning_rate: float = 3e-3) -> Training:
    """Adam (Kingma & Ba, 2015) with a constant learning rate, minibatches reshuffled each epoch."""
    import optax  # lazy: planning must not import JAX

    return Training(optimizer=optax.adam(learning_rate), epochs=epochs, batch_size=batch_size)
