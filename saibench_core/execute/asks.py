"""What a problem asks of a run beyond predictions: its ``Gradient`` targets (trained on,
and evaluated on the validation and test fixtures) and its experiments (conducted on the
trained model). The pod hands them here, trained and fitted runs alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from sail_types import Experiment, Fixture, Gradient, TrainedModel

from ..discovery import Catalog
from ..errors import SaibenchError
from ..planner import Run


class GradientTargetError(SaibenchError, ValueError):
    """A problem declares a ``Gradient`` whose true values its fixtures do not give."""


@attrs.frozen
class Asked:
    """What the answers add: ``evaluation`` (``evaluate_run``'s ``gradients`` and
    ``observations``) and ``record`` (what the run's result stores of them)."""

    evaluation: dict[str, Any] = attrs.field(factory=dict)
    record: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Asks:
    """A problem's gradients and experiments for one run, with the run's chain, its
    unconverted inputs (train, validation, test) and fixtures."""

    gradients: Sequence[Gradient]
    experiments: Mapping[str, Experiment]
    chain: tuple[str, ...]
    raw: tuple[NDArray[Any], ...]  # train, validation, test
    fixtures: tuple[Fixture[Any, Any], Fixture[Any, Any], Fixture[Any, Any]]

    def __bool__(self) -> bool:
        return bool(self.gradients or self.experiments)

    def targets(self, y: NDArray[Any], fixture: Fixture[Any, Any]) -> tuple[NDArray[Any], ...]:
        """``(y, *true gradients)`` of a fixture, as a run with gradients trains on.

        Raises:
            GradientTargetError: a gradient's true values are missing or misshapen.
        """
        out = [y]
        for gradient in self.gradients:
            kind = type(fixture).__name__
            if gradient.name not in fixture.meta:
                raise GradientTargetError(f"the problem declares Gradient {gradient.name!r} but its {kind} fixture has no "
                                          f"meta[{gradient.name!r}]; give its true values: {kind}(x, y, meta={{{gradient.name!r}: "
                                          "values}})")
            true = np.asarray(fixture.meta[gradient.name], dtype=np.float32)
            expected = gradient.select(np.asarray(fixture.x)).shape
            if true.shape != expected:
                raise GradientTargetError(f"{kind} meta[{gradient.name!r}] has shape {true.shape}, but Gradient {gradient.name!r} "
                                          f"of inputs {np.shape(fixture.x)} at wrt={gradient.wrt!r} has shape {expected}")
            out.append(true)
        return tuple(out)

    def on_raw_inputs(self, catalog: Catalog, run: Run, network: Any, converted_shape: tuple[int, ...], name: str) -> Any:
        """The compiled ``network`` taking the problem's own inputs (the chain inside it), or
        ``None`` when nothing is asked or the chain is not written with ``jax.numpy`` and no
        gradient needs it.

        Raises:
            UsageError: a gradient is asked and the chain does not trace with JAX.
        """
        if not self:
            return None
        from ..experiments.differentiable import chain_function, chained, traceable

        convert = chain_function(catalog, self.chain, run.fills)
        try:
            traceable(convert, self.chain, self.raw[0], f"the problem's Gradient {self.gradients[0].name!r}" if self.gradients else "")
        except SaibenchError:
            if self.gradients:
                raise
            return None
        return chained(network, convert, lambda _: tuple(converted_shape))

    def trained_model(self, name: str, on_raw: Any, network: Any, params: Any, catalog: Catalog, run: Run) -> TrainedModel | None:
        """The trained network as experiments receive it (``None`` when nothing is asked)."""
        if not self:
            return None
        from ..experiments import of_compiled

        if on_raw is not None:
            return of_compiled(name, on_raw, params, self.gradients)
        converted = of_compiled(name, network, params, ())  # a NumPy chain: converted first, no JAX function, no gradients
        return TrainedModel(name, lambda x: converted.predict(self.numpy_chain(catalog, run)(x)))

    def fitted_model(self, name: str, predictor: Callable[[Any], Any], catalog: Catalog, run: Run) -> TrainedModel | None:
        """A fitted method as experiments receive it (``None`` when nothing is asked)."""
        if not self:
            return None
        from ..experiments import chain_function, of_fitted
        from .pod import element_chain

        traced = chain_function(catalog, self.chain, run.fills) if (self.chain or element_chain(run.fills)) else None
        return of_fitted(name, predictor, self.numpy_chain(catalog, run), traced, self.gradients, self.raw[0][:2])

    def numpy_chain(self, catalog: Catalog, run: Run) -> Callable[[Any], Any]:
        """``x -> converted x`` with the run's chain as a run without gradients applies it."""
        from .pod import convert, per_element

        def apply(x: Any) -> Any:
            (out,), _ = convert(catalog, [self.chain], (x,))
            return np.asarray(per_element(catalog, run.fills, out), dtype=np.float32)

        return apply

    def conduct(self, model: TrainedModel | None) -> Asked:
        """The model's gradients on the validation and test fixtures and the experiments'
        observations (``Asked``)."""
        if model is None:
            return Asked()
        from ..experiments import conduct, gradient_values

        evaluation: dict[str, Any] = {"gradients": {}}
        record: dict[str, Any] = {}
        for split, x in (("validation", self.raw[1]), ("test", self.raw[2])):
            evaluation["gradients"][split], missing = gradient_values(model, self.gradients, x)
            if missing:
                record["gradients_missing"] = missing
        evaluation["observations"], record["experiments"] = conduct(self.experiments, model)
        if not record["experiments"]:
            del record["experiments"]
        return Asked(evaluation, record)
