"""Deep equality for fitted estimators: same types and the same fitted state, value for value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse


def assert_same(
    got: Any, want: Any, path: str = "obj", depth: int = 0, seen: set[Any] | None = None
) -> None:
    """Fail (naming the path) unless ``got`` holds what ``want`` holds; cycles (Birch's
    linked leaves) are followed once."""
    seen = set() if seen is None else seen
    if (id(got), id(want)) in seen:
        return
    seen.add((id(got), id(want)))
    assert depth < 200, path
    if callable(want) and not isinstance(want, type) and hasattr(want, "__qualname__"):
        # functions (numpy.mean arrives as the plugin's narrowed wrapper of it)
        assert getattr(got, "__qualname__", None) == getattr(want, "__qualname__", None), path
        return
    assert type(got) is type(want), (path, type(got), type(want))
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape, path
        if want.dtype.hasobject:
            for i, (a, b) in enumerate(zip(got.ravel(), want.ravel(), strict=True)):
                assert_same(a, b, f"{path}[{i}]", depth + 1, seen)
        else:
            assert np.array_equal(got, want, equal_nan=want.dtype.kind in "fc"), path
    elif scipy.sparse.issparse(want):
        assert (got != want).nnz == 0, path
    elif isinstance(want, dict):
        assert got.keys() == want.keys(), path
        for key in want:
            assert_same(got[key], want[key], f"{path}[{key!r}]", depth + 1, seen)
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), path
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_same(a, b, f"{path}[{i}]", depth + 1, seen)
    elif isinstance(want, float) and math.isnan(want):
        assert math.isnan(got), path
    elif isinstance(want, type) or want is None or isinstance(want, (int, float, str, bytes)):
        assert got == want, path
    elif hasattr(want, "__dict__") and vars(want):
        assert_same(vars(got), vars(want), path, depth + 1, seen)
    elif hasattr(want, "__reduce_ex__"):  # Cython classes: compare what they pickle
        assert_same(got.__reduce_ex__(2)[1:], want.__reduce_ex__(2)[1:], path, depth + 1, seen)
    else:
        assert got == want, path
