"""saibench-microscopy: simulated HRTEM images of gold nanoparticles on carbon, their
denoising and segmentation, classical baselines and U-Nets, registered through entry points."""

from collections.abc import Callable, Sequence
from typing import Any

from sail_types import hookimpl

from .baselines import gaussian_blur, nl_means, noisy_input, threshold
from .networks import encoder, unet_denoiser, unet_segmenter
from .problems import particle_denoise, particle_segment
from .rankings import by_iou, by_psnr
from .simulate import Images, simulate
from .trainers import unet_adam

__all__ = [
    "Images", "by_iou", "by_psnr", "encoder", "gaussian_blur", "nl_means", "noisy_input", "particle_denoise",
    "particle_segment", "simulate", "threshold", "unet_adam", "unet_denoiser", "unet_segmenter",
]


@hookimpl
def saibench_modules() -> Sequence[Callable[..., Any]]:
    """The microscopy modules."""
    return [particle_denoise, particle_segment, noisy_input, gaussian_blur, nl_means, threshold, unet_denoiser,
            unet_segmenter, unet_adam, by_psnr, by_iou]
