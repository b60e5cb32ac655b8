"""Classical methods fitted without gradients: the baselines every learned model must beat.

Each returns ``Fitted``: it receives the training fixture and returns a predictor, so it
takes no trainer and shows no epochs or learning rate. All compute in float64 NumPy (and
SciPy's L-BFGS-B), on the CPU, whatever the run's hardware.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import Classify, Fitted, Input, Label, Regress, Scalar, Suggest, Tensor, Train, model

Vectors = NDArray[np.float32]
ROWS_PER_BLOCK = 1024  # k-NN distances are computed this many queries at a time: memory stays O(block × n_train)


@model(task=Regress)
def ridge(x: Annotated[Input, Tensor("d")], *, alpha: float = Suggest([0.1, 1.0, 10.0])) -> Annotated[Fitted, Scalar()]:
    """Ridge regression in closed form: the least-squares weights with an L2 penalty
    ``alpha ||w||²`` on them (not on the intercept), from the normal equations on centred
    data (Hoerl & Kennard, 1970). ``alpha`` near 0 is ordinary least squares."""

    def fit(train: Train[Vectors, NDArray[np.floating]]) -> Callable[[Vectors], NDArray[np.float64]]:
        xs, ys = np.asarray(train.x, np.float64), np.asarray(train.y, np.float64).reshape(len(train.x))
        x_mean, y_mean = xs.mean(axis=0), ys.mean()
        centred = xs - x_mean
        gram = centred.T @ centred + alpha * np.eye(xs.shape[1])
        weights = np.linalg.solve(gram, centred.T @ (ys - y_mean))
        intercept = y_mean - x_mean @ weights
        return lambda q: np.asarray(q, np.float64) @ weights + intercept

    return Fitted(fit, how=f"closed-form ridge regression (normal equations, alpha={alpha:g})")


@model(task=Classify)
def knn(x: Annotated[Input, Tensor("d")], *, neighbours: int = Suggest([1, 3])) -> Annotated[Fitted, Label("k")]:
    """k nearest neighbours (Fix & Hodges, 1951; Cover & Hart, 1967): a sample's class is
    the majority among its ``neighbours`` nearest training samples in Euclidean distance
    (a tied vote goes to the lowest class index, as in scikit-learn); its scores are the
    share of the neighbours' votes each class gets."""
    classes = x.dims["k"]

    def fit(train: Train[Vectors, NDArray[np.integer]]) -> Callable[[Vectors], NDArray[np.float64]]:
        stored = np.asarray(train.x, np.float64).reshape(len(train.x), -1)
        labels = np.asarray(train.y, np.int64)
        norms = np.einsum("ij,ij->i", stored, stored)
        k = min(neighbours, len(stored))

        def predict(q: Vectors) -> NDArray[np.float64]:
            queries = np.asarray(q, np.float64).reshape(len(q), -1)
            votes = np.zeros((len(queries), classes))
            for start in range(0, len(queries), ROWS_PER_BLOCK):
                block = queries[start:start + ROWS_PER_BLOCK]
                # ||q||² is the same for every training sample, so it does not change the order
                distances = norms[None, :] - 2.0 * block @ stored.T
                nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
                np.add.at(votes[start:start + len(block)], (np.arange(len(block))[:, None], labels[nearest]), 1.0 / k)
            return votes

        return predict

    return Fitted(fit, how=f"{neighbours}-nearest neighbours (Euclidean), no training loop")


@model(task=Classify)
def logistic_regression(x: Annotated[Input, Tensor("d")], *, l2: float = Suggest([1e-4, 1e-3])) -> Annotated[Fitted, Label("k")]:
    """Multinomial logistic regression trained to convergence: the mean cross-entropy plus
    ``l2/2 ||W||²`` (the intercepts unpenalised) minimised by L-BFGS-B (Byrd et al., 1995)
    with its exact gradient, until the projected gradient is below 1e-8. The same model as
    the bundled ``linear``, without the question of whether Adam's epochs were enough
    (scikit-learn's ``LogisticRegression(C=1 / (l2 * n_train))`` minimises the same)."""
    classes = x.dims["k"]

    def fit(train: Train[Vectors, NDArray[np.integer]]) -> Callable[[Vectors], NDArray[np.float64]]:
        from scipy.optimize import minimize  # lazy: describing must stay cheap

        xs = np.asarray(train.x, np.float64).reshape(len(train.x), -1)
        onehot = np.eye(classes)[np.asarray(train.y, np.int64)]
        n, d = xs.shape

        def loss(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            weights, bias = theta[:d * classes].reshape(d, classes), theta[d * classes:]
            logits = xs @ weights + bias
            logits -= logits.max(axis=1, keepdims=True)
            log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            residual = (np.exp(log_p) - onehot) / n
            value = -np.sum(onehot * log_p) / n + 0.5 * l2 * np.sum(weights**2)
            gradient = np.concatenate([(xs.T @ residual + l2 * weights).ravel(), residual.sum(axis=0)])
            return float(value), gradient

        found = minimize(loss, np.zeros(d * classes + classes), jac=True, method="L-BFGS-B",
                         options={"maxiter": 10_000, "gtol": 1e-8, "ftol": 0.0})
        weights, bias = found.x[:d * classes].reshape(d, classes), found.x[d * classes:]

        def predict(q: Vectors) -> NDArray[np.float64]:
            logits = np.asarray(q, np.float64).reshape(len(q), -1) @ weights + bias
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            return np.asarray(p / p.sum(axis=1, keepdims=True))

        return predict

    return Fitted(fit, how=f"multinomial logistic regression, L2 {l2:g}, L-BFGS-B to convergence (no epochs)")
