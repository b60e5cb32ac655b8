"""A tutorial saibench plugin: a new problem (wine cultivars from their chemistry) and a
new metric (balanced accuracy); and a tutorial of sets and submodule slots (``atoms``: a
formula energy, an atom-embedding converter and a Deep Sets model the planner completes).
Installed, it meets every installed model with no change to saibench:
``pip install -e examples/saibench-tutorial && saibench solve``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray

from sail_types import Classify, Dataset, Evaluation, Label, Tensor, Test, Train, hookimpl, metric, problem

from .atoms import atom_energies, atom_sets, embed_atom


@problem(task=Classify, field="chemistry", kind="cases")
def wine(*, split_seed: int = 0) -> Dataset[Annotated[NDArray[np.float32], Tensor(13)], Annotated[NDArray[np.int32], Label(3)]]:
    """Tell three wine cultivars apart from 13 chemical measurements (UCI wine, shipped
    with scikit-learn), standardised with the training split's statistics."""
    from sklearn.datasets import load_wine

    raw = load_wine()
    x, y = raw.data.astype(np.float32), raw.target.astype(np.int32)
    order = np.random.default_rng(split_seed).permutation(len(y))
    test, train = order[: len(y) // 4], order[len(y) // 4:]
    mean, std = x[train].mean(0), x[train].std(0)
    x = (x - mean) / std
    checksum = hashlib.sha256(raw.data.tobytes()).hexdigest()
    return Dataset(Train(x[train], y[train]), Test(x[test], y[test]), checksum=checksum)


@metric(goal="max")
def balanced_accuracy(ev: Annotated[Evaluation, Label("k")]) -> float:
    """Mean over true classes of the share predicted right (robust to class imbalance)."""
    return float(np.mean([np.mean(ev.y_pred[ev.y_true == c] == c) for c in np.unique(ev.y_true)]))


@hookimpl
def saibench_modules() -> Sequence[Callable[..., Any]]:
    """The tutorial's modules."""
    return [wine, balanced_accuracy, atom_energies, embed_atom, atom_sets]


@hookimpl
def saibench_preload() -> Sequence[str]:
    """scikit-learn's dataset loaders take ~1 s to import: BenchPods get them imported."""
    return ["sklearn.datasets"]
