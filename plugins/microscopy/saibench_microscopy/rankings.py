"""Rankings of the microscopy problems' leaderboards: restoration by PSNR, segmentation by
IoU (higher first), as the denoising and segmentation literature report them."""

from __future__ import annotations

from collections.abc import Mapping

from sail_types import ranking


@ranking(metrics=("psnr",), field="microscopy")
def by_psnr(values: Mapping[str, float]) -> float:
    """Test PSNR (dB) alone: the image-restoration leaderboard."""
    return values["psnr"]


@ranking(metrics=("iou",), field="microscopy")
def by_iou(values: Mapping[str, float]) -> float:
    """Test IoU of the predicted masks alone: the segmentation leaderboard."""
    return values["iou"]
