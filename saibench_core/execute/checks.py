"""Run-time checks of the data against what its modules declare.

The planner trusts signatures; a problem returning 7×7 images for ``Image(8, 8, 1)``, or
12 classes for ``Label(10)``, would otherwise fail later with an error that blames a
model, or succeed silently. These checks name the module, the declared type and the
actual shape, before anything is trained.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sail_types import InvalidSignature, Label, SailType

from ..errors import SaibenchError


class DeclaredTypeError(SaibenchError, TypeError):
    """A module's data do not match the SAIL type it declares.

    Attributes:
        module: ``"problem digits"`` or ``"converter flatten"``.
    """

    def __init__(self, module: str, message: str) -> None:
        super().__init__(message)
        self.module = module


class DatasetChanged(SaibenchError, ValueError):
    """A problem's data differ from those the campaign checked before running."""


def expected_shape(declared: SailType, dims: Mapping[str, int], actual: tuple[int, ...]) -> tuple[int, ...] | int:
    """The per-sample shape ``declared`` stands for, its dims taken from ``dims``; a bare
    dim name that ``dims`` does not bind is read from ``actual`` (so a name used twice must
    agree); where a dim stays unknown (an expression of unknown names), only the rank.

    Example:
        >>> from sail_types import Image
        >>> expected_shape(Image("n", "n", 1), {}, (7, 8, 1)), expected_shape(Image(8, 8, 1), {}, (7, 7, 1))
        ((7, 7, 1), (8, 8, 1))
    """
    bound = {s: dims[s] for s in declared.symbols() if s in dims}
    for i, dim in enumerate(declared.dims):
        if isinstance(dim, str) and dim.isidentifier() and dim not in bound and i < len(actual):
            bound[dim] = actual[i]
    try:
        return declared.shape(bound)
    except InvalidSignature:  # unbound names remain: the rank is still known
        return len(declared.shape(dict.fromkeys(declared.symbols(), 1)))


def _matches(expected: tuple[int, ...] | int, actual: tuple[int, ...]) -> bool:
    return len(actual) == expected if isinstance(expected, int) else actual == expected


def _describe(declared: SailType, expected: tuple[int, ...] | int) -> str:
    if isinstance(expected, int):
        return f"{declared!r} (rank {expected})"
    # the bound shape, where the declaration alone does not show it: Tensor('d') = (64,), Atoms(8) = (8, 4)
    return f"{declared!r}" if expected == declared.dims else f"{declared!r} = {expected}"


def _check_class_map(module: str, declared: SailType, y: np.ndarray, split: str, dims: Mapping[str, int]) -> None:
    """Targets of a per-element classification (``Segment``: ``Image("h", "w", "k")`` scores
    out): a class index per element, the declared shape less its last axis (the classes)."""
    expected = expected_shape(declared, dims, (*y.shape[1:], 0))
    if not isinstance(expected, tuple) or not _matches(expected[:-1], y.shape[1:]):
        raise DeclaredTypeError(module, f"{module} declares {_describe(declared, expected)} scores, so its {split} targets "
                                f"are one class index per element, of per-sample shape {expected[:-1] if isinstance(expected, tuple) else '(...)'}"
                                f" (the declared shape less its last axis, the classes), but they have shape {y.shape[1:]}")
    if not np.issubdtype(y.dtype, np.integer):
        raise DeclaredTypeError(module, f"{module}'s {split} targets are class indices per element, but have dtype {y.dtype}; "
                                "return e.g. mask.astype(np.int32)")
    k = expected[-1]
    if len(y) and (int(y.min()) < 0 or (isinstance(k, int) and k > 0 and int(y.max()) >= k)):
        raise DeclaredTypeError(module, f"{module}'s {split} targets contain class {int(y.min()) if y.min() < 0 else int(y.max())}, "
                                f"outside [0, {k})")


def _check_targets(module: str, declared: SailType, y: np.ndarray, split: str, dims: Mapping[str, int],
                   classes: bool = False) -> None:
    if classes and not isinstance(declared, Label):
        _check_class_map(module, declared, y, split, dims)
        return
    if not isinstance(declared, Label):
        expected = expected_shape(declared, dims, y.shape[1:])
        if not _matches(expected, y.shape[1:]):
            raise DeclaredTypeError(module, f"{module} declares {_describe(declared, expected)} targets but its {split} "
                                    f"fixture y has per-sample shape {y.shape[1:]}")
        return
    if y.shape[1:] != ():
        raise DeclaredTypeError(module, f"{module} declares {declared!r} targets (one class index per sample) but its "
                                f"{split} fixture y has per-sample shape {y.shape[1:]}")
    if not np.issubdtype(y.dtype, np.integer):
        raise DeclaredTypeError(module, f"{module} declares {declared!r} targets (integer class indices) but its {split} "
                                f"targets have dtype {y.dtype}; return e.g. y.astype(np.int32)")
    if not len(y):
        return
    k = expected_shape(declared, dims, ())
    low, high = int(y.min()), int(y.max())
    if low < 0 or (isinstance(k, tuple) and high >= k[0]):
        bad = low if low < 0 else high
        where = f"[0, {k[0]})" if isinstance(k, tuple) else "[0, k)"
        raise DeclaredTypeError(module, f"{module} declares {declared!r} targets but its {split} targets contain class "
                                f"{bad}, outside {where}")


def check_fixture(module: str, declared_input: SailType, declared_output: SailType, split: str, x: Any, y: Any,
                  dims: Mapping[str, int], *, classes: bool = False) -> None:
    """Check one fixture of a problem against the problem's declared input and output.

    Args:
        module: how to name the problem (``"problem digits"``).
        declared_input, declared_output: the problem's SAIL types (per sample).
        split: the fixture's name (``"train"``, ``"validation"``, ``"test"``).
        x, y: the fixture's inputs and targets, batch axis first.
        dims: the run's bound dims.
        classes: the task predicts classes (``argmax``): targets are class indices, one
            per sample for ``Label``, one per element (the declared shape less its last
            axis) for per-element scores such as a segmentation's ``Image("h", "w", "k")``.

    Raises:
        DeclaredTypeError: e.g. "problem digits declares input Image(8, 8, 1) but its train
            fixture x has per-sample shape (7, 7, 1)".
    """
    xa, ya = np.asarray(x), np.asarray(y)
    if xa.ndim == 0 or ya.ndim == 0 or len(xa) != len(ya):
        raise DeclaredTypeError(module, f"{module}'s {split} fixture has inputs of shape {xa.shape} and targets of "
                                f"shape {ya.shape}: both need a batch axis first, of the same length")
    expected = expected_shape(declared_input, dims, xa.shape[1:])
    if not _matches(expected, xa.shape[1:]):
        raise DeclaredTypeError(module, f"{module} declares input {_describe(declared_input, expected)} but its {split} "
                                f"fixture x has per-sample shape {xa.shape[1:]}")
    _check_targets(module, declared_output, ya, split, dims, classes)


def check_meta(module: str, split: str, n: int, meta: Mapping[str, Any]) -> None:
    """Check a fixture's per-sample metadata: every array has the fixture's ``n`` samples
    along its first axis (``Fixture`` checks this when it is built; a mapping changed after
    that, or a fixture built without ``Fixture``, reaches the run unchecked).

    Raises:
        DeclaredTypeError: e.g. "problem quakes's test fixture has 40 samples but its
            metadata 'station' has 39".
    """
    for key, value in meta.items():
        shape = np.shape(value)
        if not shape or shape[0] != n:
            length = "no batch axis" if not shape else f"{shape[0]}"
            raise DeclaredTypeError(module, f"{module}'s {split} fixture has {n} samples but its metadata {key!r} has "
                                    f"{length}; give one value per sample, in the order of x: "
                                    f"Test(x, y, meta={{{key!r}: values}}) with len(values) == len(x)")


def check_converted(module: str, model: str, declared: SailType, split: str, x: Any, dims: Mapping[str, int]) -> None:
    """Check converted inputs against the model's declared input, with the run's dims.

    Args:
        module: what produced ``x``: ``"converter flatten"`` (the last of the chain) or,
            with no chain, ``"problem wine"``.
        model: the model's name; declared: its input type.

    Raises:
        DeclaredTypeError: naming ``module``, the declared type and the actual shape.
    """
    shape = np.shape(x)[1:]
    expected = expected_shape(declared, dims, shape)
    if not _matches(expected, shape):
        raise DeclaredTypeError(module, f"{module} should give model {model}'s input {_describe(declared, expected)} "
                                f"(dims {dict(dims)}) but its {split} x has per-sample shape {shape}")


def check_checksum(problem: str, expected: str, measured: str) -> None:
    """Fail when the campaign checked a problem's data (``expected``, empty when it did
    not) and the data loaded now differ.

    Raises:
        DatasetChanged: "the dataset of problem X changed since the campaign checked it".
    """
    if expected and expected != measured:
        raise DatasetChanged(f"the dataset of problem {problem} changed since the campaign checked it: checksum "
                             f"{measured[:16]}… now, {expected[:16]}… then; the problem's data are not "
                             "deterministic (seed every generator) or its source changed; run the campaign again")


def check_output_shape(model: str, declared: SailType, dims: Mapping[str, int], per_sample: tuple[int, ...]) -> None:
    """A trained model's outputs have the shape its signature declares (``Label(10)``:
    ``(10,)`` scores; ``Scalar()``: one value, ``()`` or ``(1,)``), before it trains.

    Raises:
        DeclaredTypeError: they do not; the message names both shapes.
    """
    expected = declared.shape(dims)
    if per_sample == expected or (int(np.prod(per_sample)) == int(np.prod(expected)) == 1):
        return
    raise DeclaredTypeError(f"model {model}", f"model {model}'s network outputs shape {per_sample} per sample, but its signature "
                            f"declares {declared!r}, shape {expected}; make its last layer produce that (e.g. end with "
                            "Linear('k') for Label('k'), Linear(1) for Scalar()) or fix the annotation")
