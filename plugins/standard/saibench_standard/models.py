"""Generic networks over feature vectors: classifiers (any width in, any number of classes
out) and a regressor."""

from __future__ import annotations

from typing import Annotated

from sail_types import (
    Classify,
    Input,
    Label,
    Layer,
    Linear,
    Pipeline,
    Regress,
    Relu,
    Scalar,
    Softmax,
    Suggest,
    Tanh,
    Tensor,
    model,
)


@model(task=Classify)
def mlp(x: Annotated[Input, Tensor("d")], *, width: int = Suggest([256, 64])) -> Annotated[Layer, Label("k")]:
    """A multilayer perceptron with one hidden ReLU layer of ``width`` units."""
    return Pipeline(Linear(width), Relu(), Linear("k"), Softmax())


@model(task=Classify)
def linear(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Label("k")]:
    """Multinomial logistic regression: the baseline every classifier must beat."""
    return Pipeline(Linear("k"), Softmax())


@model(task=Regress)
def mlp_regressor(x: Annotated[Input, Tensor("d")], *, width: int = Suggest([64])) -> Annotated[Layer, Scalar()]:
    """A two-hidden-layer tanh perceptron predicting one real number."""
    return Pipeline(Linear(width), Tanh(), Linear(width), Tanh(), Linear(1))
