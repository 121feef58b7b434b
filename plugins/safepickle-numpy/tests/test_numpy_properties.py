"""Properties: any array hypothesis can build round-trips; a damaged object-array pickle is a
safepickle error or a load, never a crash."""

from __future__ import annotations

import contextlib
import pickle

import numpy as np
import safepickle
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

_DTYPES = (
    hnp.boolean_dtypes()
    | hnp.integer_dtypes(endianness="=")
    | hnp.unsigned_integer_dtypes(endianness=">")
    | hnp.floating_dtypes()
    | hnp.complex_number_dtypes()
    | hnp.datetime64_dtypes()
    | hnp.timedelta64_dtypes()
    | hnp.byte_string_dtypes()
    | hnp.unicode_string_dtypes()
)
_POLICY = safepickle.Policy(plugins=["numpy"])


@given(hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)),
       st.sampled_from([2, 3, 4, 5]), st.booleans())  # fmt: skip
def test_arrays_round_trip(array: np.ndarray, protocol: int, fortran: bool) -> None:
    if fortran:
        array = np.asfortranarray(array)
    data = pickle.dumps(array, protocol)
    got = safepickle.loads(data, policy=_POLICY)
    want = pickle.loads(data)  # the reference: numpy itself maps some byte orders on load
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes() and got.flags.f_contiguous == want.flags.f_contiguous


_OBJECT = pickle.dumps(np.array([1, "a", None, (2,)], dtype=object), 2)


@given(st.integers(0, len(_OBJECT) - 1), st.integers(0, 255))
def test_damaged_object_array_pickle(offset: int, value: int) -> None:
    damaged = _OBJECT[:offset] + bytes([value]) + _OBJECT[offset + 1 :]
    with contextlib.suppress(safepickle.SafePickleError):  # an error is fine; a crash is not
        safepickle.loads(damaged, policy=_POLICY)
