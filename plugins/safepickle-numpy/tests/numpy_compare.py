"""Equality for numpy objects as a user means it: same type, dtype, shape, layout and values."""

from __future__ import annotations

from typing import Any

import numpy as np


def assert_same(got: Any, want: Any) -> None:
    """Fail unless ``got`` is the object ``want`` was, value for value."""
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, np.ma.MaskedArray):
        assert_same(got.data, want.data)
        assert_same(np.ma.getmaskarray(got), np.ma.getmaskarray(want))
        assert got.fill_value == want.fill_value
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.flags.f_contiguous == want.flags.f_contiguous or want.ndim < 2
        if want.dtype.hasobject:
            for item_got, item_want in zip(
                got.ravel().tolist(), want.ravel().tolist(), strict=True
            ):
                assert_same(item_got, item_want)
        else:
            assert got.tobytes() == want.tobytes()
    elif isinstance(want, np.generic):
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    elif isinstance(want, np.random.Generator):
        assert_same(got.bit_generator, want.bit_generator)
    elif isinstance(want, np.random.RandomState):
        assert_same(got.get_state(legacy=False), want.get_state(legacy=False))
    elif isinstance(want, np.random.BitGenerator):
        assert repr(got.state) == repr(want.state)
    elif isinstance(want, np.random.SeedSequence):
        assert (got.entropy, got.spawn_key, got.pool_size) == (
            want.entropy,
            want.spawn_key,
            want.pool_size,
        )
    elif isinstance(want, dict):
        assert got.keys() == want.keys()
        for key in want:
            assert_same(got[key], want[key])
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for item_got, item_want in zip(got, want, strict=True):
            assert_same(item_got, item_want)
    else:
        assert got == want, (got, want)
