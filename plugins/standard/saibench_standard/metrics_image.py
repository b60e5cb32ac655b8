"""Metrics of image targets (``Annotated[Evaluation, Image(...)]``: they attach only to
problems whose targets are images): PSNR and SSIM for restoration (denoising,
super-resolution: ``Regress`` tasks and those refining it, such as ``Denoise``), IoU and
Dice for masks (``Segment`` tasks).

The data range R of PSNR and SSIM is the range of the fixture's true images,
max(y) − min(y). A mask is true where a value is above 0.5: for a segmentation, whose
targets and predictions are class indices per pixel, every class but 0 (the background)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray

from sail_types import Evaluation, Image, Regress, Segment, metric

NAN = float("nan")
WINDOW, K1, K2 = 7, 0.01, 0.03  # SSIM's uniform window and constants (Wang et al. 2004)


def _images(a: Any) -> NDArray[np.float64]:
    return np.asarray(a, dtype=np.float64)


def _range(y: NDArray[np.float64]) -> float:
    return float(y.max() - y.min())


@metric(goal="max", unit="dB", tasks=(Regress,))
def psnr(ev: Annotated[Evaluation, Image("h", "w", "c")]) -> float:
    """Peak signal-to-noise ratio over the whole fixture, 10·log10(R² / MSE), R the true
    images' data range (``skimage.metrics.peak_signal_noise_ratio`` with
    ``data_range=R``); ∞ for a perfect prediction."""
    y, p = _images(ev.y_true), _images(ev.y_pred)
    mse = np.mean((y - p) ** 2)
    return float(10 * np.log10(_range(y) ** 2 / mse)) if mse > 0 else float("inf")


def _ssim(y: NDArray[np.float64], p: NDArray[np.float64], data_range: float) -> float:
    """Mean SSIM of one ``(h, w, c)`` image, channel by channel."""
    from scipy.ndimage import uniform_filter

    n = WINDOW**2
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    pad = (WINDOW - 1) // 2
    out = []
    for ch in range(y.shape[-1]):
        a, b = y[..., ch], p[..., ch]
        mean = {k: uniform_filter(v, size=WINDOW) for k, v in {"a": a, "b": b, "aa": a * a, "bb": b * b, "ab": a * b}.items()}
        var_a = (mean["aa"] - mean["a"] ** 2) * n / (n - 1)  # sample covariances, as Wang et al.
        var_b = (mean["bb"] - mean["b"] ** 2) * n / (n - 1)
        cov = (mean["ab"] - mean["a"] * mean["b"]) * n / (n - 1)
        s = ((2 * mean["a"] * mean["b"] + c1) * (2 * cov + c2)) / ((mean["a"] ** 2 + mean["b"] ** 2 + c1) * (var_a + var_b + c2))
        out.append(s[pad:-pad, pad:-pad].mean())
    return float(np.mean(out))


@metric(goal="max", tasks=(Regress,))
def ssim(ev: Annotated[Evaluation, Image("h", "w", "c")]) -> float:
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004, IEEE TIP 13(4)),
    mean over images and channels of the mean local SSIM in a 7×7 uniform window
    (K1 = 0.01, K2 = 0.03, sample covariances, the border of 3 pixels left out), R the
    fixture's data range: ``skimage.metrics.structural_similarity`` with
    ``channel_axis=-1, data_range=R``. NaN for images smaller than 7×7."""
    y, p = _images(ev.y_true), _images(ev.y_pred)
    if min(y.shape[1:3]) < WINDOW:
        return NAN
    r = _range(y)
    return float(np.mean([_ssim(a, b, r) for a, b in zip(y, p, strict=True)]))


def _masks(ev: Evaluation) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    return _images(ev.y_true) > 0.5, _images(ev.y_pred) > 0.5


@metric(goal="max", tasks=(Segment,))
def iou(ev: Annotated[Evaluation, Image("h", "w", "c")]) -> float:
    """Intersection over union (Jaccard index) of the true and predicted masks, pooled over
    the fixture's pixels: |A ∩ B| / |A ∪ B| (``sklearn.metrics.jaccard_score`` on the
    flattened masks); 1 where both are empty."""
    a, b = _masks(ev)
    union = np.sum(a | b)
    return float(np.sum(a & b) / union) if union else 1.0


@metric(goal="max", tasks=(Segment,))
def dice(ev: Annotated[Evaluation, Image("h", "w", "c")]) -> float:
    """Dice coefficient (Dice 1945, Ecology 26(3)) of the true and predicted masks, pooled
    over the fixture's pixels: 2|A ∩ B| / (|A| + |B|), the F1 score of the pixels
    (``sklearn.metrics.f1_score`` on the flattened masks); 1 where both are empty."""
    a, b = _masks(ev)
    total = np.sum(a) + np.sum(b)
    return float(2 * np.sum(a & b) / total) if total else 1.0
