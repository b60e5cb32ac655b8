"""A small convolutional classifier for images of any size."""

from __future__ import annotations

from typing import Annotated

from sail_types import (
    Classify,
    Conv,
    Flatten,
    Image,
    Input,
    Label,
    Layer,
    Linear,
    MaxPool,
    Pipeline,
    Relu,
    Softmax,
    Suggest,
    model,
)


@model(task=Classify, field="vision", constraints=("kernel <= h", "kernel <= w"))
def cnn(x: Annotated[Input, Image("h", "w", "c")], *, kernel: int = Suggest([3, 5]),
        channels: int = Suggest([16])) -> Annotated[Layer, Label("k")]:
    """Convolution (``kernel``×``kernel``, ``channels`` maps, ReLU), 2×2 max pooling, then a
    linear read-out. A kernel larger than the image is pruned by the planner (Z3)."""
    return Pipeline(Conv(channels, kernel), Relu(), MaxPool(2), Flatten(), Linear("k"), Softmax())
