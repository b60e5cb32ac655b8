from __future__ import annotations

from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sail_types import (
    Image,
    InvalidSignature,
    Label,
    Linear,
    Pipeline,
    Relu,
    SailType,
    Suggest,
    Suggestion,
    Tensor,
    evaluate_dim,
)


def test_descriptors_are_frozen_values_with_readable_repr() -> None:
    assert Image(8, 8, 1) == Image(8, 8, 1) and Image(8, 8, 1) != Tensor(8, 8, 1)
    assert repr(Tensor("h*w*c")) == "Tensor('h * w * c')"
    assert Tensor("h*w").symbols() == {"h", "w"}
    assert SailType.from_annotation(Annotated[list[int], Label(10)]) == Label(10)
    assert SailType.from_annotation(list[int]) is None


@pytest.mark.parametrize("bad", [0, -1, "h**2", "import os", "h.w", 1.5, True])
def test_bad_dims_are_rejected_with_a_fix(bad: object) -> None:
    with pytest.raises(InvalidSignature, match="dimension"):
        Tensor(bad)  # type: ignore[arg-type]


def test_rank_is_checked() -> None:
    with pytest.raises(InvalidSignature, match="takes 3 dimension"):
        Image(8, 8)


@given(st.integers(1, 50), st.integers(1, 50), st.integers(1, 50))
def test_evaluate_dim_is_integer_arithmetic(h: int, w: int, c: int) -> None:
    assert evaluate_dim("h*w*c + 1", {"h": h, "w": w, "c": c}) == h * w * c + 1
    assert evaluate_dim("h//2", {"h": h}) == h // 2


def test_suggest_records_a_grid() -> None:
    value: int = Suggest([64, 256])
    assert value == Suggestion((64, 256))  # type: ignore[comparison-overlap]
    with pytest.raises(ValueError):
        Suggest([])


def test_pipeline_rejects_non_layers() -> None:
    assert Pipeline(Linear(4), Relu()).layers == (Linear(4), Relu())
    with pytest.raises(TypeError, match="SAIL layers"):
        Pipeline(Linear(4), "relu")  # type: ignore[arg-type]
