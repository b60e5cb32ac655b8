"""Learned methods: a residual U-Net denoiser and a U-Net segmenter that share one
``encoder``, written in SAIL layers.

Both networks are ``encoder(width)`` followed by a task's head, so the encoder's parameters
sit under the same tree paths (``[0]...``), with the same shapes, in both: weights
pre-trained on denoising can be carried into the segmenter and only its head replaced.
"""

from __future__ import annotations

from typing import Annotated

from sail_types import (
    Concat,
    Conv,
    Denoise,
    GroupNorm,
    Identity,
    Image,
    Input,
    Layer,
    MaxPool,
    Pipeline,
    Pretrain,
    Relu,
    Residual,
    Segment,
    Suggest,
    Upsample,
    model,
)

LEVELS = 2  # times the encoder halves the image: 64 → 32 → 16 pixels
GROUPS = 2  # GroupNorm's groups of channels (Wu & He 2018): batch-independent, so any batch size trains alike
TRAINED_BY = ("trainer:unet_adam",)  # the standard adam's 40 epochs leave them below a Gaussian blur
DIVISIBLE = tuple(f"{side} % {2**LEVELS} == 0" for side in ("h", "w"))  # each level halves the sides exactly


def block(width: int) -> Layer:
    """A 3 × 3 convolution of ``width`` channels, group-normalised and rectified."""
    return Pipeline(Conv(width, 3), GroupNorm(GROUPS), Relu())


def encoder(width: int, levels: int = LEVELS) -> Layer:
    """The shared feature extractor: a U-Net body (Ronneberger, Fischer & Brox 2015) mapping
    an ``(h, w, c)`` image to ``(h, w, width)`` features. At each level a conv block whose
    output is kept (the skip) beside the max-pooled, twice as wide, deeper body up-sampled
    back by a stride-2 transposed convolution; the two are joined by another conv block.
    """
    if levels == 0:
        return block(width)
    deeper = Pipeline(MaxPool(2), encoder(2 * width, levels - 1), Upsample(2), Conv(width, 1))
    return Pipeline(block(width), Concat(Identity(), deeper), block(width))


@model(task=Denoise, field="microscopy", constraints=DIVISIBLE, only_with=TRAINED_BY)
def unet_denoiser(x: Annotated[Input, Image("h", "w", "c")], *, width: int = Suggest([8])) -> Annotated[Layer, Image("h", "w", "c")]:
    """Residual U-Net denoiser: the noisy image plus a correction that a 1 × 1 convolution
    reads from the encoder's features (residual learning, Zhang et al. 2017, DnCNN), trained
    on the squared error to the clean image."""
    return Residual(Pipeline(encoder(width), Conv("c", 1)))


@model(task=Segment, field="microscopy", constraints=DIVISIBLE, only_with=TRAINED_BY,
       pretrain=Pretrain("particle_denoise", "unet_denoiser", keep="[0]", trainer="unet_adam"))
def unet_segmenter(x: Annotated[Input, Image("h", "w", "c")], *, width: int = Suggest([8])) -> Annotated[Layer, Image("h", "w", "k")]:
    """U-Net segmenter: per-pixel logits of the ``k`` classes, a 1 × 1 convolution of the
    encoder's features, trained on the per-pixel cross-entropy. Planned twice: from
    scratch, and fine-tuned from the encoder (``[0]``) that ``unet_denoiser`` trained on
    ``particle_denoise``'s unlabelled images, its head new."""
    return Pipeline(encoder(width), Conv("k", 1))
