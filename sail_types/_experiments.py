"""Derivatives and experiments: what a problem asks of a trained model beyond its outputs.

``Gradient`` is a derivative of the model's output with respect to part of its input
(forces are ``-∂E/∂positions``): a problem declares it (``@problem(gradients=[...])``) with
its true values in the fixtures' metadata, the engine trains on it (a weighted squared
error beside the task's loss) and hands the model's values to metrics
(``Evaluation.gradients``); an experiment computes it with ``Gradient.of``.

``Experiment`` is a procedure that receives the trained model (``TrainedModel``) and returns
observations that metrics read (``Evaluation.observations``): the paper's "fixtures
including both the energy prediction, and the position and velocity updates computed
from the prediction". A problem returns its experiments with its data
(``Dataset(..., experiments={"rollout": Experiment(...)})``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._errors import InvalidSignature, InvalidValue


def _as_index(wrt: object) -> tuple[Any, ...]:
    index = wrt if isinstance(wrt, tuple) else (wrt,)
    for part in index:
        if part is not Ellipsis and not isinstance(part, (int, slice)):
            raise InvalidSignature(f"Gradient(wrt={wrt!r})", "wrt indexes one sample's input with ints, slices and ...: "
                                   "Gradient('forces', wrt=np.s_[:, 1:4], sign=-1.0) for the x, y, z of every atom")
    return index


def _finite(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidValue(f"Gradient({attribute.name}={value!r})", f"{attribute.name} is a finite number")
    if attribute.name == "weight" and value < 0:
        raise InvalidValue(f"Gradient(weight={value!r})", "weight is >= 0 (0: evaluated, not trained on)")


def _check_gradient_name(name: object) -> None:
    from ._modules import check_name  # _modules declares problems' gradients with this class

    check_name(name, "name", "Gradient")


@attrs.frozen
class Gradient:
    """A derivative of a model's output with respect to part of its input, as a target.

    ``Gradient("forces", wrt=np.s_[1:, 1:4], sign=-1.0)`` is minus the derivative of the
    (summed) output with respect to columns 1-3 of rows 1 onwards of each sample's input:
    the forces of a ``Configuration``'s atoms, ``-∂E/∂positions``.

    A problem declares it (``@problem(..., gradients=[FORCES])``) and gives its true values
    in every fixture's metadata under the same name (``Train(x, e, meta={"forces": f})``,
    ``f`` shaped as ``x[(slice(None), *wrt)]``). Then:

    - a trained model is trained on ``weight ×`` the mean squared error of its gradient
      beside the task's loss (``weight=0``: evaluated only);
    - metrics read the model's values as ``Evaluation.gradients[name]`` and the true ones
      as ``Evaluation.meta[name]``;
    - the derivative is taken through the run's converters, which must then be written
      with ``jax.numpy``, as the model is; a ``Fitted`` predictor that is not gives it
      itself, as a method of the same name (``predictor.forces(x)``);
    - the reference baseline (a constant) has a zero gradient.

    Args:
        name: the target's name, as in the fixtures' metadata.
        wrt: the part of one sample's input to differentiate by (ints, slices, ``...``).
        sign: a factor applied to the derivative (``-1.0`` for forces).
        weight: the weight of its squared error in the training loss.
    """

    name: str = attrs.field(validator=lambda _, __, value: _check_gradient_name(value))
    wrt: tuple[Any, ...] = attrs.field(default=(Ellipsis,), converter=_as_index)
    sign: float = attrs.field(default=1.0, validator=_finite)
    weight: float = attrs.field(default=1.0, validator=_finite)

    def of(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """A JAX function ``x -> sign · ∂(Σ fn(x))/∂x`` at ``wrt``, batch axis first.

        ``fn`` maps a batch to per-sample outputs with ``jax.numpy`` (``TrainedModel.jax``):
        each sample's output depends on its own input only, so one reverse pass gives every
        sample's derivative. Composes with ``jax.jit``, ``jax.grad`` and ``lax.scan``.
        """
        import jax
        import jax.numpy as jnp

        def derivative(x: Any) -> Any:
            return self.take(jax.grad(lambda batch: jnp.sum(fn(batch)))(jnp.asarray(x)))

        return derivative

    def take(self, input_gradient: Any) -> Any:
        """This gradient from the derivative of the summed output with respect to the whole
        input (batch axis first): the part at ``wrt``, times ``sign``."""
        return self.sign * input_gradient[self._batched]

    def select(self, x: NDArray[Any]) -> NDArray[Any]:
        """The part of a batch ``x`` this gradient is taken with respect to (its shape is the
        gradient's)."""
        selected: NDArray[Any] = np.asarray(x)[self._batched]
        return selected

    @property
    def _batched(self) -> tuple[Any, ...]:
        """``wrt`` for a batch: every sample, then ``wrt`` within each."""
        return (slice(None), *self.wrt)


Predict = Callable[[NDArray[Any]], NDArray[Any]]


@attrs.frozen
class TrainedModel:
    """A trained model as an experiment receives it: inputs are the problem's own (the
    run's converters are applied inside), batch axis first.

    Attributes:
        name: the model's name (``deep_sets``).
        predict: ``predict(x) -> outputs``: NumPy in, NumPy out (also ``model(x)``).
        jax: the same as a pure, traceable function of ``jax.numpy`` arrays (for
            ``jax.jit``, ``jax.grad``, ``lax.scan``), or ``None`` where the model is not
            written with JAX (a simulator wrapped as a ``Fitted`` method).
        gradients: each of the problem's declared gradients, by name: ``x -> values``,
            NumPy in and out (``model.gradient("forces", x)``).
    """

    name: str
    predict: Predict
    jax: Callable[[Any], Any] | None = None
    gradients: Mapping[str, Predict] = attrs.field(factory=dict)

    def __call__(self, x: ArrayLike) -> NDArray[Any]:
        return self.predict(np.asarray(x))

    def gradient(self, name: str, x: ArrayLike) -> NDArray[Any]:
        """The model's gradient ``name`` (as the problem declares it) at inputs ``x``.

        Raises:
            KeyError: the problem declares no such gradient, or the model cannot give it.
        """
        if name not in self.gradients:
            raise KeyError(f"model {self.name!r} gives no gradient {name!r}: it is not written with jax.numpy and its "
                           f"predictor has no method {name}(x); gradients it gives: {sorted(self.gradients) or 'none'}")
        return self.gradients[name](np.asarray(x))


Observations = Mapping[str, Any]


def _check_run(_: object, __: object, run: Callable[..., Any]) -> None:
    if not callable(run):
        raise InvalidSignature(repr(run), "Experiment's first argument is a function run(model, data) -> observations")


def _as_arrays(data: Mapping[str, ArrayLike]) -> dict[str, NDArray[Any]]:
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise InvalidSignature("Experiment(data=...)", "an experiment's data is a mapping of names to arrays")
    return {k: np.asarray(v) for k, v in data.items()}


@attrs.frozen
class Experiment:
    """A procedure a problem conducts on the trained model; its observations reach metrics.

    ``run(model, data) -> observations``: ``model`` is the ``TrainedModel``, ``data`` this
    experiment's arrays (initial states, a reference trajectory). ``run`` returns a mapping
    of names to numbers or arrays; metrics read it as ``Evaluation.observations[name]``
    (``name`` the experiment's key in ``Dataset.experiments``), on the test fixture's
    evaluation only. An experiment that raises fails alone: its metrics are not measured
    and the run keeps the others.

    A problem of ``kind="setting"`` is cached with its experiments, so ``run`` is a function
    defined at the top level of a module (named, not a lambda) and ``data`` plain arrays.

    Example:
        >>> def mean_output(model, data):
        ...     return {"mean": float(np.mean(model(data["x"])))}
        >>> Experiment(mean_output, data={"x": np.zeros((4, 2))}).data["x"].shape
        (4, 2)
    """

    run: Callable[[TrainedModel, Mapping[str, NDArray[Any]]], Observations] = attrs.field(validator=_check_run)
    data: Mapping[str, NDArray[Any]] = attrs.field(factory=dict, converter=_as_arrays)


def _check_module_name(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    from ._modules import check_name

    check_name(value, attribute.name, "Pretrain")


@attrs.frozen
class Pretrain:
    """Where a model's runs may start from: the weights another run trained, carried over.

    ``@model(task=Segment, pretrain=Pretrain("particle_denoise", "unet_denoiser", keep="[0]"))``
    makes the planner plan each run of the model twice: trained from scratch, and started
    from the parameters a run of ``model`` trained on ``problem`` (by ``trainer``, at their
    default hyperparameters, with the same seed, split, software and hardware). That
    pre-training run is planned as the other's dependency: it runs first, its weights are
    kept, and the fine-tuning run loads the parameters under ``keep`` - the paths
    (``jax.tree_util.keystr``) that start with it, e.g. ``"[0]"`` for the first layer of a
    ``Pipeline`` (an encoder) - and initialises the rest (a new head) afresh; ``keep=""``
    carries every parameter. Leaderboards and exports show which run each started from.

    Args:
        problem, model: the pre-training run's problem and model (installed module names).
        keep: the prefix of the parameter paths carried over.
        trainer: the pre-training run's trainer.
    """

    problem: str = attrs.field(validator=_check_module_name)
    model: str = attrs.field(validator=_check_module_name)
    keep: str = attrs.field(default="", validator=attrs.validators.instance_of(str))
    trainer: str = attrs.field(default="adam", validator=_check_module_name)
