"""Exact Gaussian-process regression with its hyperparameters by maximum marginal likelihood.

A zero-mean GP on standardised targets over standardised inputs, with the kernel
``signal * exp(-|a - b|² / (2 length²)) + noise * [a = b]`` (Rasmussen & Williams, 2006,
eq. 2.31, with a white-noise term). The three hyperparameters are log-parameterised
``theta = log(signal, length, noise)`` in scikit-learn's order for
``ConstantKernel * RBF + WhiteKernel``, and chosen by L-BFGS-B on the log marginal
likelihood (R&W eq. 2.30) with its analytic gradient (R&W eq. 5.9). Float64 NumPy and
SciPy, on the CPU, whatever the run's hardware. An exact GP costs O(n³) in time and O(n²) in
memory, so at most ``max_points`` training samples (a seeded random subset) are used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, NamedTuple

import attrs
import numpy as np
from numpy.typing import NDArray

from sail_types import Fitted, Input, Regress, Scalar, Tensor, Train, model

Vectors = NDArray[np.float32]
Floats = NDArray[np.float64]
SUBSET_SEED = 0  # the subset's seed when the engine passes no run seed: the same subset everywhere
ROWS_PER_BLOCK = 1024  # queries predicted at a time: memory stays O(block × max_points)
START_SIGNAL, START_NOISE = 1.0, 0.1  # targets are standardised: unit variance, a tenth of it noise
SIGNAL_BOUNDS, NOISE_BOUNDS = (1e-2, 1e2), (1e-6, 1e1)  # noise >= 1e-6 keeps K well conditioned
LENGTH_RANGE = (1e-2, 1e2)  # the length scale's bounds, as multiples of the median pairwise distance


@attrs.frozen(eq=False)
class Posterior:
    """A GP conditioned on its training set: the predictor ``fit`` returns.

    Attributes:
        theta: ``log(signal, length, noise)`` on the standardised scales.
        log_likelihood: the log marginal likelihood of the standardised targets at ``theta``.
        points: the training inputs used, standardised ``(n, d)``.
        alpha: ``K⁻¹ y`` for the standardised targets ``y``.
        x_mean, x_scale, y_mean, y_scale: the standardisation, undone on prediction.
    """

    theta: Floats
    log_likelihood: float
    points: Floats
    alpha: Floats
    x_mean: Floats
    x_scale: Floats
    y_mean: float
    y_scale: float

    def __call__(self, q: Vectors) -> Floats:
        """The posterior mean at inputs ``q`` ``(N, d)``, in the targets' units."""
        from scipy.spatial.distance import cdist  # lazy: describing must stay cheap

        signal, length, _ = np.exp(self.theta)
        queries = (np.asarray(q, np.float64).reshape(len(q), -1) - self.x_mean) / self.x_scale
        mean = np.empty(len(queries))
        for start in range(0, len(queries), ROWS_PER_BLOCK):
            block = queries[start:start + ROWS_PER_BLOCK]
            # the white noise belongs to the observations, not to the function at new inputs
            cross = signal * np.exp(-0.5 * cdist(block, self.points, "sqeuclidean") / length**2)
            mean[start:start + len(block)] = cross @ self.alpha
        return mean * self.y_scale + self.y_mean


def standardise(values: Floats) -> tuple[Floats, Floats, Floats]:
    """``values`` less their mean, over their standard deviation (ddof 0, as scikit-learn's
    ``normalize_y``; a constant column keeps scale 1), with that mean and scale."""
    mean = values.mean(axis=0)
    scale = values.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (values - mean) / scale, mean, scale


class _Conditioned(NamedTuple):
    """The training covariance at one ``theta``, factorised."""

    rbf: Floats  # the RBF part of K (K less its white noise)
    scaled: Floats  # |a - b|² / length²
    factor: tuple[Floats, bool]  # scipy.linalg.cho_factor of K
    alpha: Floats  # K⁻¹ y
    log_likelihood: float


def _condition(theta: Floats, sq_distances: Floats, y: Floats) -> _Conditioned | None:
    """``K`` at ``theta`` factorised, or ``None`` where it is not numerically positive definite."""
    from scipy.linalg import cho_factor, cho_solve

    signal, length, noise = np.exp(theta)
    scaled = sq_distances / length**2
    rbf = signal * np.exp(-0.5 * scaled)
    try:
        factor = cho_factor(rbf + noise * np.eye(len(y)), lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    alpha = cho_solve(factor, y, check_finite=False)
    value = -0.5 * float(y @ alpha) - float(np.log(np.diag(factor[0])).sum()) - 0.5 * len(y) * float(np.log(2 * np.pi))
    return _Conditioned(rbf, scaled, factor, alpha, value)


def log_marginal_likelihood(theta: Floats, sq_distances: Floats, y: Floats) -> tuple[float, Floats]:
    """``log p(y | X, theta)`` (R&W eq. 2.30) and its gradient in ``theta``.

    ``∂/∂θ = ½ tr((ααᵀ − K⁻¹) ∂K/∂θ)`` with ``α = K⁻¹ y`` (R&W eq. 5.9), where
    ``∂K/∂log signal`` is the RBF part of ``K`` itself, ``∂K/∂log length`` the RBF part
    times ``|a − b|² / length²``, and ``∂K/∂log noise`` is ``noise * I``.

    Args:
        theta: ``log(signal, length, noise)``.
        sq_distances: the squared Euclidean distances between the training inputs ``(n, n)``.
        y: the training targets ``(n,)``.

    Returns:
        The log marginal likelihood and its gradient ``(3,)``; ``-inf`` and a zero gradient
        where ``K`` is not numerically positive definite (as scikit-learn does).
    """
    from scipy.linalg import lapack

    conditioned = _condition(theta, sq_distances, y)
    if conditioned is None:
        return -np.inf, np.zeros(3)
    rbf, scaled, factor, alpha, value = conditioned
    # K⁻¹ from the factor by LAPACK's potri: a third of cho_solve(factor, I)'s flops. It
    # fills the lower triangle only, and K⁻¹ and both ∂K are symmetric, so
    # tr(K⁻¹ ∂K) = sum(K⁻¹ ∘ ∂K) = 2 sum(lower ∘ ∂K) - sum(diag(K⁻¹) diag(∂K))
    inverse, info = lapack.dpotri(factor[0], lower=True)
    if info != 0:
        return -np.inf, np.zeros(3)
    lower = np.tril(inverse)
    diagonal = np.diag(lower)

    def half_trace(d_k: Floats) -> float:  # ½ tr((ααᵀ − K⁻¹) ∂K)
        return 0.5 * float(alpha @ (d_k @ alpha) - 2.0 * np.einsum("ij,ij->", lower, d_k) + diagonal @ np.diag(d_k))

    noise = float(np.exp(theta[2]))
    return value, np.array([half_trace(rbf), half_trace(rbf * scaled), 0.5 * noise * float(alpha @ alpha - diagonal.sum())])


def start_and_bounds(points: Floats) -> tuple[Floats, list[tuple[float, float]]]:
    """The optimiser's start ``theta`` (signal 1, length the median pairwise distance, noise
    0.1) and its bounds on ``theta`` for the standardised inputs ``points``."""
    from scipy.spatial.distance import pdist

    distances = pdist(points) if len(points) > 1 else np.zeros(0)
    positive = distances[distances > 0]
    median = float(np.median(positive)) if len(positive) else 1.0
    bounds = [SIGNAL_BOUNDS, (median * LENGTH_RANGE[0], median * LENGTH_RANGE[1]), NOISE_BOUNDS]
    return np.log([START_SIGNAL, median, START_NOISE]), [(float(np.log(lo)), float(np.log(hi))) for lo, hi in bounds]


def fit_exact(x: Floats, y: Floats, theta: Floats | None = None) -> Posterior:
    """The GP posterior on all of ``x`` ``(n, d)``, ``y`` ``(n,)``, both standardised here.

    Args:
        theta: fixed hyperparameters ``log(signal, length, noise)`` on the standardised
            scales; ``None`` chooses them by L-BFGS-B on the log marginal likelihood from
            ``start_and_bounds``.
    """
    from scipy.optimize import minimize
    from scipy.spatial.distance import pdist, squareform

    points, x_mean, x_scale = standardise(x)
    targets, y_mean, y_scale = standardise(y)
    sq_distances = squareform(pdist(points, "sqeuclidean"))
    if theta is None:
        start, bounds = start_and_bounds(points)

        def objective(t: Floats) -> tuple[float, Floats]:
            value, gradient = log_marginal_likelihood(t, sq_distances, targets)
            return -value, -gradient

        theta = np.asarray(minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds).x, np.float64)
    conditioned = _condition(theta, sq_distances, targets)
    if conditioned is None:
        raise np.linalg.LinAlgError(f"the GP's training covariance at theta={theta} is not positive definite")
    return Posterior(np.asarray(theta, np.float64), conditioned.log_likelihood, points, conditioned.alpha,
                     x_mean, x_scale, float(y_mean), float(y_scale))


def subset(n: int, max_points: int, seed: int) -> NDArray[np.intp]:
    """The training samples used: all ``n`` when ``n <= max_points``, else ``max_points``
    of them drawn at random by ``seed``, in their order."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


@model(task=Regress, constraints=("max_points >= 2",))
def gaussian_process(x: Annotated[Input, Tensor("d")], *, max_points: int = 1000) -> Annotated[Fitted, Scalar()]:
    """Exact Gaussian-process regression (Rasmussen & Williams, 2006): the posterior mean of
    a zero-mean GP with an RBF kernel (one length scale) plus white noise, on standardised
    inputs and targets, its signal variance, length scale and noise variance chosen by
    maximising the log marginal likelihood (L-BFGS-B, analytic gradient) from a length
    scale of the median pairwise distance. At most ``max_points`` training samples are used
    (a random subset of a larger training fixture, drawn by the run's seed), for the
    hyperparameters and the posterior alike: the cost is O(max_points³) per likelihood
    evaluation."""

    def fit(train: Train[Vectors, NDArray[np.floating]], *, seed: int = SUBSET_SEED) -> Callable[[Vectors], Floats]:
        xs = np.asarray(train.x, np.float64).reshape(len(train.x), -1)
        ys = np.asarray(train.y, np.float64).reshape(len(xs))
        chosen = subset(len(xs), max_points, seed)
        return fit_exact(xs[chosen], ys[chosen])

    # ``how`` is fixed before ``fit`` sees the fixture, so it states the cap, not the count
    return Fitted(fit, how=f"exact GP, RBF kernel, hyperparameters by maximum marginal likelihood (L-BFGS-B), "
                           f"at most {max_points} training points (a seeded random subset beyond)")
