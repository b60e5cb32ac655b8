"""Classical baselines, fitted without gradients: the noisy input itself, a Gaussian filter
and non-local means for denoising, and a smoothed intensity threshold for segmentation.

Each tunes its one parameter on the training fixture (best PSNR, or best IoU against the
training masks) from a small grid, so the learned models are compared with baselines given
the same data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import Denoise, Fitted, Image, Input, Segment, Train, model

Images = NDArray[np.float32]
Denoiser = Callable[[Images], NDArray[np.float64]]

BLUR_SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # pixels
NLM_STRENGTHS = (0.4, 0.6, 0.8, 1.0, 1.2)  # h as a multiple of the estimated noise σ (skimage suggests 0.8 in fast mode)
NLM_TUNING_IMAGES = 64  # non-local means is tuned on the first training images (i.i.d. draws), to stay fast
SMOOTHING_SIGMAS = (1.0, 2.0, 3.0, 4.0)  # pixels, for the threshold segmenter
THRESHOLDS = 256  # candidate thresholds: quantiles of the smoothed training pixels


def _best(candidates: Sequence[float], score: Callable[[float], float]) -> float:
    """The candidate of highest score (the first of equals)."""
    return candidates[int(np.argmax([score(c) for c in candidates]))]


def _mean_squared_error(denoise: Denoiser, x: Images, y: Images) -> float:
    return float(np.mean((denoise(x) - np.asarray(y, np.float64)) ** 2))


def blurred(x: Images, sigma: float) -> NDArray[np.float64]:
    """Each image of ``(N, h, w, c)`` Gaussian-filtered over its two spatial axes, channel by
    channel (``scipy.ndimage.gaussian_filter``, edges reflected)."""
    from scipy.ndimage import gaussian_filter

    return np.asarray(gaussian_filter(np.asarray(x, np.float64), sigma=(0, sigma, sigma, 0), mode="reflect"))


@model(task=Denoise, field="microscopy")
def noisy_input(x: Annotated[Input, Image("h", "w", "c")]) -> Annotated[Fitted, Image("h", "w", "c")]:
    """The noisy image itself: the floor every denoiser must clear (its PSNR is set by the
    dose alone)."""

    def fit(train: Train[Images, Images]) -> Denoiser:
        return lambda images: np.asarray(images, np.float64)

    return Fitted(fit, how="the noisy input, unchanged")


@model(task=Denoise, field="microscopy")
def gaussian_blur(x: Annotated[Input, Image("h", "w", "c")]) -> Annotated[Fitted, Image("h", "w", "c")]:
    """A Gaussian filter whose width is the one of ``BLUR_SIGMAS`` with the best PSNR on the
    training fixture."""

    def fit(train: Train[Images, Images]) -> Denoiser:
        sigma = _best(BLUR_SIGMAS, lambda s: -_mean_squared_error(lambda im: blurred(im, s), train.x, train.y))
        return lambda images: blurred(images, sigma)

    return Fitted(fit, how=f"Gaussian filter, σ of {BLUR_SIGMAS} px with the best training PSNR")


def nl_means_denoised(x: Images, strength: float) -> NDArray[np.float64]:
    """Each image of ``(N, h, w, c)`` denoised by non-local means (Buades, Coll & Morel 2005;
    ``skimage.restoration.denoise_nl_means``, fast mode, 5 × 5 patches searched 6 pixels
    away) with ``h = strength × σ``, σ the image's own noise estimate
    (``skimage.restoration.estimate_sigma``, a wavelet median absolute deviation)."""
    from skimage.restoration import denoise_nl_means, estimate_sigma

    out = np.empty(np.shape(x), np.float64)
    for i, image in enumerate(np.asarray(x, np.float64)):
        sigma = float(estimate_sigma(image, channel_axis=-1, average_sigmas=True))  # type: ignore[no-untyped-call]
        denoised = denoise_nl_means(image, h=strength * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6,
                                    channel_axis=-1)
        out[i] = np.reshape(denoised, image.shape)  # one channel comes back without its axis
    return out


@model(task=Denoise, field="microscopy")
def nl_means(x: Annotated[Input, Image("h", "w", "c")]) -> Annotated[Fitted, Image("h", "w", "c")]:
    """Non-local means, its filtering strength the one of ``NLM_STRENGTHS`` with the best
    PSNR on the first ``NLM_TUNING_IMAGES`` training images."""

    def fit(train: Train[Images, Images]) -> Denoiser:
        x_tune, y_tune = train.x[:NLM_TUNING_IMAGES], train.y[:NLM_TUNING_IMAGES]
        strength = _best(NLM_STRENGTHS, lambda h: -_mean_squared_error(lambda im: nl_means_denoised(im, h), x_tune, y_tune))
        return lambda images: nl_means_denoised(images, strength)

    return Fitted(fit, how=f"non-local means, h/σ of {NLM_STRENGTHS} with the best training PSNR")


def pooled_iou(predicted: NDArray[np.bool_], truth: NDArray[np.bool_]) -> float:
    """|A ∩ B| / |A ∪ B| over all pixels (1 where both are empty)."""
    union = np.sum(predicted | truth)
    return float(np.sum(predicted & truth) / union) if union else 1.0


def threshold_ious(smoothed: NDArray[np.float64], truth: NDArray[np.bool_],
                   thresholds: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pooled IoU of ``smoothed < t`` (dark particles) and of ``smoothed > t`` (bright ones)
    against ``truth`` at each sorted threshold ``t``, from cumulative counts of the sorted
    pixel values (one pass for every threshold)."""
    values, inside = smoothed.ravel(), truth.ravel()
    order = np.argsort(values, kind="stable")
    values, inside = values[order], inside[order]
    below = np.searchsorted(values, thresholds, side="left")  # pixels < t
    above = len(values) - np.searchsorted(values, thresholds, side="right")  # pixels > t
    true_below = np.concatenate([[0], np.cumsum(inside)])[below]
    true_above = inside.sum() - np.concatenate([[0], np.cumsum(inside)])[len(values) - above]
    total_true = inside.sum()

    def iou(selected: NDArray[np.intp], hits: NDArray[np.intp]) -> NDArray[np.float64]:
        union = selected + total_true - hits
        return np.where(union > 0, hits / np.maximum(union, 1), 1.0)

    return iou(below, true_below), iou(above, true_above)


@model(task=Segment, field="microscopy")
def threshold(x: Annotated[Input, Image("h", "w", 1)]) -> Annotated[Fitted, Image("h", "w", 2)]:
    """A particle is where the Gaussian-smoothed image is darker (or brighter) than a
    threshold: the smoothing width, the threshold and its side are those of best IoU with
    the training masks (widths of ``SMOOTHING_SIGMAS``, thresholds at ``THRESHOLDS``
    quantiles of the smoothed training pixels). Scores per pixel: ``(1 − p, p)`` with
    ``p`` the logistic of the distance to the threshold in the training pixels' spread."""

    def fit(train: Train[Images, NDArray[np.int32]]) -> Callable[[Images], NDArray[np.float64]]:
        truth = np.asarray(train.y) == 1
        best: tuple[float, float, float, float] = (-1.0, 0.0, 0.0, 1.0)  # iou, sigma, threshold, side (+1: dark)
        for sigma in SMOOTHING_SIGMAS:
            smoothed = blurred(train.x, sigma)[..., 0]
            candidates = np.quantile(smoothed, np.linspace(0, 1, THRESHOLDS))
            for side, ious in zip((1.0, -1.0), threshold_ious(smoothed, truth, candidates), strict=True):
                i = int(np.argmax(ious))
                if ious[i] > best[0]:
                    best = (float(ious[i]), sigma, float(candidates[i]), side)
        _, sigma, cut, side = best
        spread = float(np.std(blurred(train.x, sigma))) or 1.0

        def predict(images: Images) -> NDArray[np.float64]:
            p = 1 / (1 + np.exp(-side * (cut - blurred(images, sigma)[..., 0]) / spread))
            return np.stack([1 - p, p], axis=-1)

        return predict

    return Fitted(fit, how="Gaussian smoothing and an intensity threshold of best training IoU")
