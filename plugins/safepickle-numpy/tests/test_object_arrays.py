"""Object arrays: safepickle_numpy.loads refuses every state numpy would read past."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys

import numpy as np
import pytest
import safepickle

import safepickle_numpy

_GOOD = pickle.dumps(np.array([1, 2, 3], dtype=object), 2)
_SHAPE_3 = b"K\x01K\x03\x85"  # MARK version 1, shape (3,) as written by numpy


def _with_shape(shape: bytes) -> bytes:
    assert _SHAPE_3 in _GOOD
    return _GOOD.replace(_SHAPE_3, b"K\x01" + shape, 1)


BAD = {
    # shape (100_000_000,) for 3 items: numpy would read 10**8 list slots
    "short-list": _with_shape(b"J\x00\xe1\xf5\x05\x85"),
    # shape (4,) for 3 items: one slot past the end
    "one-short": _with_shape(b"K\x04\x85"),
    # shape (2,) for 3 items: numpy would not crash, but it is not what numpy writes
    "long-list": _with_shape(b"K\x02\x85"),
    # shape (2, 2) for 3 items
    "2d": _with_shape(b"K\x02K\x02\x86"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_item_count_must_match_the_shape(name: str) -> None:
    with pytest.raises(safepickle.MalformedPickle, match="items"):
        safepickle_numpy.loads(BAD[name])


def test_items_built_by_a_call_are_refused() -> None:
    """The items come from list(...): the pass cannot count them, so it refuses."""
    payload = _GOOD.replace(
        b"]q\x11(K\x01K\x02K\x03e", b"c__builtin__\nlist\n(K\x01K\x02K\x03t\x85R"
    )
    assert payload != _GOOD
    with pytest.raises(safepickle.MalformedPickle, match="items"):
        safepickle_numpy.loads(payload)


def test_state_dtype_from_memo_is_followed() -> None:
    """A second array's state fetches the dtype and the items from the memo: still checked."""
    items = [1, 2, 3]
    pair = [np.array(items, dtype=object), np.array(items, dtype=object)]
    data = pickle.dumps(pair, 2)
    got = safepickle_numpy.loads(data)
    assert [a.tolist() for a in got] == [items, items]


def test_the_crash_is_real_under_plain_pickle() -> None:
    """The short list really crashes numpy (in a child process): the check is not theory."""
    script = "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"  # the point: it crashes
    done = subprocess.run(
        [sys.executable, "-c", script], input=BAD["short-list"], capture_output=True, check=False
    )
    assert done.returncode != 0


def test_masked_object_arrays_are_checked() -> None:
    masked = np.ma.masked_array(np.array([1, "a", None], dtype=object), mask=[0, 1, 0])
    data = pickle.dumps(masked, 2)
    assert safepickle_numpy.loads(data).tolist() == masked.tolist()
    bad = data.replace(b"K\x01K\x03\x85", b"K\x01K\x09\x85", 1)
    assert bad != data
    with pytest.raises(safepickle.MalformedPickle, match="items"):
        safepickle_numpy.loads(bad)


def test_plain_loads_still_refuses_object_dtypes() -> None:
    with pytest.raises(safepickle.ExecutionError, match=r"safepickle_numpy\.load"):
        safepickle.loads(_GOOD, policy=safepickle.Policy(plugins=["numpy"]))


def test_dtype_changed_through_the_memo_is_followed() -> None:
    """A dtype memoized as 'V8', then changed by BUILD to hold an object field, then fetched
    from the memo for an array state: the pass must see the changed dtype."""
    record = np.zeros(3, dtype=[("o", "O")])
    record["o"] = [1, 2, 3]
    data = pickle.dumps(record, 2)
    assert b"O8" in data
    short = data.replace(b"K\x01K\x03\x85", b"K\x01K\x05\x85", 1)  # shape (5,), 3 items
    assert short != data
    assert safepickle_numpy.loads(data).tolist() == record.tolist()
    with pytest.raises(safepickle.MalformedPickle, match="items"):
        safepickle_numpy.loads(short)


def _fragment(obj: object) -> bytes:
    """The opcodes that push ``obj``, without memo writes (so fragments can be joined)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, 2)
    pickler.fast = True  # no memo: BINPUT indices of separate fragments would collide
    pickler.dump(obj)
    return buffer.getvalue()[2:-1]


def test_dtype_built_after_memoizing_is_followed() -> None:
    """dtype('V8') is memoized, then a BUILD turns it into a dtype with an object field; an
    array state fetches it from the memo with 3 items for shape (5,). The pass must see the
    BUILD through the memo (numpy would read past the list)."""
    object_field = (3, "|", None, ("o",), {"o": (np.dtype("O"), 0)}, 8, 1, 63)
    payload = (
        b"\x80\x02cnumpy\ndtype\n" + _fragment(("V8", False, True)) + b"Rq\xc8"
        + _fragment(object_field) + b"b0"  # BUILD the memoized dtype, then POP it
        + b"cnumpy._core.multiarray\n_reconstruct\n" + _fragment((np.ndarray, (0,), b"b"))
        + b"R(" + _fragment(1) + _fragment((5,)) + b"h\xc8" + _fragment(False)
        + _fragment([(1,), (2,), (3,)]) + b"tb."
    )  # fmt: skip
    with pytest.raises(safepickle.MalformedPickle, match="items"):
        safepickle_numpy.loads(payload)
    fixed = payload.replace(_fragment((5,)) + b"h", _fragment((3,)) + b"h")
    assert safepickle_numpy.loads(fixed).tolist() == [(1,), (2,), (3,)]
