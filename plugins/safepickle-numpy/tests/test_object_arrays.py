"""Object arrays through plain safepickle.loads: the plugin's inspect hook refuses every state
numpy would read past, before anything runs, and loads the rest with their items checked."""

from __future__ import annotations

import builtins
import datetime
import decimal
import io
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safepickle
from hypothesis import given
from hypothesis import strategies as st
from safepickle.scan.engine import Scanner

_POLICY = safepickle.Policy(plugins=["numpy"])
_GOOD = pickle.dumps(np.array([1, 2, 3], dtype=object), 2)
_SHAPE_3 = b"K\x01K\x03\x85"  # MARK version 1, shape (3,) as written by numpy


def _with_shape(shape: bytes) -> bytes:
    assert _SHAPE_3 in _GOOD
    return _GOOD.replace(_SHAPE_3, b"K\x01" + shape, 1)


BAD = {
    # shape (100_000_000,) for 3 items: numpy would read 10**8 list slots (a segfault)
    "short-list": _with_shape(b"J\x00\xe1\xf5\x05\x85"),
    # shape (4,) for 3 items: one slot past the end
    "one-short": _with_shape(b"K\x04\x85"),
    # shape (2,) for 3 items: numpy would not crash, but it is not what numpy writes
    "long-list": _with_shape(b"K\x02\x85"),
    # shape (2, 2) for 3 items
    "2d": _with_shape(b"K\x02K\x02\x86"),
}


def test_the_crash_is_real_under_plain_pickle() -> None:
    """The short list really crashes numpy under plain pickle (in a child process, killed by
    SIGSEGV): the check is not theory."""
    script = "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"  # the point: it crashes
    done = subprocess.run(
        [sys.executable, "-c", script], input=BAD["short-list"], capture_output=True, check=False
    )
    assert done.returncode == -signal.SIGSEGV


@pytest.mark.parametrize("name", sorted(BAD))
def test_item_count_must_match_the_shape(name: str) -> None:
    """In-process: a clean refusal, naming the opcode, the shape and why it cannot be allowed."""
    with pytest.raises(safepickle.UnsafeOpcode, match="whose item list holds 3") as info:
        safepickle.loads(BAD[name], policy=_POLICY)
    assert info.value.opcode == "BUILD"
    assert "no policy can allow it" in str(info.value)


def test_every_entry_point_refuses_the_short_list(tmp_path: Path) -> None:
    bad = BAD["short-list"]
    with pytest.raises(safepickle.UnsafeOpcode):
        safepickle.load(io.BytesIO(bad), policy=_POLICY)
    with pytest.raises(safepickle.UnsafeOpcode):
        list(safepickle.load_all(io.BytesIO(_GOOD + bad), policy=_POLICY))
    with pytest.raises(safepickle.UnsafeOpcode):
        safepickle.Unpickler(io.BytesIO(bad), policy=_POLICY).load()
    with safepickle.patch(_POLICY), pytest.raises(safepickle.UnsafeOpcode):
        pickle.loads(bad)  # routed through safepickle by the patch
    with safepickle.patch(_POLICY):
        assert pickle.loads(_GOOD).tolist() == [1, 2, 3]


def test_scan_reports_the_short_list_as_refused(tmp_path: Path) -> None:
    (tmp_path / "short.pkl").write_bytes(BAD["short-list"])
    (tmp_path / "good.pkl").write_bytes(_GOOD)
    scanner = Scanner(_POLICY)
    assert scanner.scan_file(str(tmp_path / "short.pkl")).status == "refused"
    assert scanner.scan_file(str(tmp_path / "good.pkl")).status == "clean"
    done = subprocess.run(
        [sys.executable, "-m", "safepickle", "scan", "--plugin", "numpy", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # 1: something was refused
    assert "short.pkl" in done.stdout


def test_items_built_by_a_call_are_refused() -> None:
    """The items come from list(...): the pass cannot count them, so it refuses."""
    payload = _GOOD.replace(
        b"]q\x11(K\x01K\x02K\x03e", b"c__builtin__\nlist\n(K\x01K\x02K\x03t\x85R"
    )
    assert payload != _GOOD
    with pytest.raises(safepickle.UnsafeOpcode, match="not a list the pass can count"):
        safepickle.loads(payload, policy=_POLICY.allowing(builtins.list))


def test_state_dtype_from_memo_is_followed() -> None:
    """A second array's state fetches the dtype and the items from the memo: still checked."""
    items = [1, 2, 3]
    data = pickle.dumps([np.array(items, dtype=object), np.array(items, dtype=object)], 2)
    got = safepickle.loads(data, policy=_POLICY)
    assert [a.tolist() for a in got] == [items, items]


def test_masked_object_arrays_are_checked() -> None:
    masked = np.ma.masked_array(np.array([1, "a", None], dtype=object), mask=[0, 1, 0])
    data = pickle.dumps(masked, 2)
    assert safepickle.loads(data, policy=_POLICY).tolist() == masked.tolist()
    bad = data.replace(b"K\x01K\x03\x85", b"K\x01K\x09\x85", 1)
    assert bad != data
    with pytest.raises(safepickle.UnsafeOpcode, match="item list"):
        safepickle.loads(bad, policy=_POLICY)


def test_dtype_changed_through_the_memo_is_followed() -> None:
    """A dtype memoized as 'V8', then changed by BUILD to hold an object field, then fetched
    from the memo for an array state: the pass must see the changed dtype."""
    record = np.zeros(3, dtype=[("o", "O")])
    record["o"] = [1, 2, 3]
    data = pickle.dumps(record, 2)
    assert b"O8" in data
    short = data.replace(b"K\x01K\x03\x85", b"K\x01K\x05\x85", 1)  # shape (5,), 3 items
    assert short != data
    assert safepickle.loads(data, policy=_POLICY).tolist() == record.tolist()
    with pytest.raises(safepickle.UnsafeOpcode, match="item list"):
        safepickle.loads(short, policy=_POLICY)


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
    object_field = (3, "|", None, ("o",), {"o": (np.dtype("O"), 0)}, 8, 1, 27)  # numpy's flags
    payload = (
        b"\x80\x02cnumpy\ndtype\n" + _fragment(("V8", False, True)) + b"Rq\xc8"
        + _fragment(object_field) + b"b0"  # BUILD the memoized dtype, then POP it
        + b"cnumpy._core.multiarray\n_reconstruct\n" + _fragment((np.ndarray, (0,), b"b"))
        + b"R(" + _fragment(1) + _fragment((5,)) + b"h\xc8" + _fragment(False)
        + _fragment([(1,), (2,), (3,)]) + b"tb."
    )  # fmt: skip
    with pytest.raises(safepickle.UnsafeOpcode, match="item list"):
        safepickle.loads(payload, policy=_POLICY)
    fixed = payload.replace(_fragment((5,)) + b"h", _fragment((3,)) + b"h")
    assert safepickle.loads(fixed, policy=_POLICY).tolist() == [(1,), (2,), (3,)]


def _overlapping_object_field() -> bytes:
    """dtype('V8') rebuilt by BUILD with an object field and an int64 field at the same
    offset (numpy's constructor refuses that layout; __setstate__ does not), then an array of
    it whose one item sets the int to 0x41414141: reading the object field dereferences it."""
    fields = {"o": (np.dtype("O"), 0), "x": (np.dtype("i8"), 0)}
    state = (3, "|", None, ("o", "x"), fields, 8, 1, 63)
    return (
        b"\x80\x02cnumpy\ndtype\n" + _fragment(("V8", False, True)) + b"Rq\xc8"
        + _fragment(state) + b"b0"
        + b"cnumpy._core.multiarray\n_reconstruct\n" + _fragment((np.ndarray, (0,), b"b"))
        + b"R(" + _fragment(1) + _fragment((1,)) + b"h\xc8" + _fragment(False)
        + _fragment([(None, 0x41414141)]) + b"tb."
    )  # fmt: skip


def test_overlapping_object_field_is_refused() -> None:
    payload = _overlapping_object_field()
    script = "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read())[0]['o'])"
    done = subprocess.run(
        [sys.executable, "-c", script], input=payload, capture_output=True, check=False
    )
    assert done.returncode == -signal.SIGSEGV  # the payload is live: a forged object pointer
    with pytest.raises(safepickle.UnsafeOpcode, match="not exactly what numpy writes") as info:
        safepickle.loads(payload, policy=_POLICY)
    assert "dtype.__setstate__ trusts its state" in str(info.value)


def _built_dtype_array(dtype_args: tuple[Any, ...], state: tuple[Any, ...], data: Any) -> bytes:
    """numpy.dtype(*dtype_args), then BUILD with ``state``, used for a one-item array whose
    state holds ``data``."""
    return (
        b"\x80\x02cnumpy\ndtype\n" + _fragment(dtype_args) + b"Rq\xc8"
        + _fragment(state) + b"b0"
        + b"cnumpy._core.multiarray\n_reconstruct\n" + _fragment((np.ndarray, (0,), b"b"))
        + b"R(" + _fragment(1) + _fragment((1,)) + b"h\xc8" + _fragment(False)
        + _fragment(data) + b"tb."
    )  # fmt: skip


_FLAG_TAMPERING = {
    # an object dtype whose flags say "no objects": its state is raw bytes, read as a pointer
    "object-without-flags": _built_dtype_array(
        ("O8", False, True), (3, "|", None, None, None, -1, -1, 0), b"AAAAAAAA"
    ),
    # a datetime64 dtype whose flags say "objects": found by fuzzing damaged record pickles
    "datetime-with-object-flags": _built_dtype_array(
        ("M8", False, True), (3, "<", None, None, None, -1, -1, 63), [None]
    ),
    # an object dtype in big-endian order: numpy would byte-swap the pointers
    "swapped-object": _built_dtype_array(
        ("O8", False, True), (3, ">", None, None, None, -1, -1, 63), [1]
    ),
    # a datetime64 state without its unit metadata: numpy's __setstate__ itself crashes
    "datetime-without-unit": _built_dtype_array(
        ("M8", False, True), (3, "<", None, None, None, -1, -1, 0), b"\x00" * 8
    ),
    # the unit as text, not bytes: not what numpy writes
    "datetime-unit-as-text": _built_dtype_array(
        ("M8", False, True),
        (4, "<", None, None, None, -1, -1, 0, (None, ("ns", 1, 1, 1))),
        b"\x00" * 8,
    ),
}


@pytest.mark.parametrize("name", sorted(_FLAG_TAMPERING))
def test_dtype_flags_changed_by_build_are_refused(name: str) -> None:
    """dtype.__setstate__ takes flags and byte order as given: every BUILT dtype must be one
    numpy's constructor would build."""
    with pytest.raises(safepickle.UnsafeOpcode, match="not exactly what numpy writes"):
        safepickle.loads(_FLAG_TAMPERING[name], policy=_POLICY)


@pytest.mark.parametrize("name", ["object-without-flags", "datetime-without-unit"])
def test_dtype_tampering_is_live(name: str) -> None:
    """Under plain pickle these crash the interpreter (b"AAAAAAAA" dereferenced as an object;
    numpy's own dtype.__setstate__): the refusals above are not theory."""
    script = "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read())[0])"
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=_FLAG_TAMPERING[name],
        capture_output=True,
        check=False,
    )
    assert done.returncode == -signal.SIGSEGV


class _Scalar:
    """Pickles as numpy's ``scalar(dtype, array)`` for a structured scalar with objects."""

    def __init__(self, dtype: np.dtype[Any], array: np.ndarray) -> None:
        self.args = (dtype, array)

    def __reduce__(self) -> tuple[Any, ...]:
        return np._core.multiarray.scalar, self.args


def test_structured_object_scalar_from_an_empty_array_is_refused() -> None:
    """numpy 2.4's scalar() reads the item of an empty array (a crash): the narrowed scalar
    wants exactly what numpy writes, a one-item array of the scalar's dtype."""
    dtype = np.dtype([("o", "O")])
    payload = pickle.dumps(_Scalar(dtype, np.zeros(0, dtype=dtype)), 2)
    done = subprocess.run(
        [sys.executable, "-c", "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read()))"],
        input=payload,
        capture_output=True,
        check=False,
    )
    assert done.returncode == -signal.SIGSEGV
    with pytest.raises(safepickle.ExecutionError, match="anything but one item"):
        safepickle.loads(payload, policy=_POLICY)
    value = np.zeros(1, dtype=dtype)[0]
    value["o"] = "kept"
    got = safepickle.loads(pickle.dumps(value, 2), policy=_POLICY)
    assert got["o"] == "kept"


def test_stringdtype_short_list_is_refused() -> None:
    data = pickle.dumps(np.array(["a", "bb", "ccc"], dtype=np.dtypes.StringDType()), 2)
    assert safepickle.loads(data, policy=_POLICY).tolist() == ["a", "bb", "ccc"]
    short = data.replace(b"K\x01K\x03\x85", b"K\x01J\x00\xe1\xf5\x05\x85", 1)
    assert short != data
    with pytest.raises(safepickle.UnsafeOpcode, match="item list holds 3"):
        safepickle.loads(short, policy=_POLICY)


# --- many item types, through plain safepickle.loads ---------------------------------------
_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | st.binary() | st.complex_numbers(allow_nan=False)
    | st.decimals(allow_nan=False) | st.dates() | st.datetimes()
    | st.sampled_from([np.float64(1.5), np.int8(-3), np.str_("np"), np.datetime64("2020-01")])
)  # fmt: skip
_ITEMS = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        | st.frozensets(st.integers(), max_size=3)
        | st.builds(lambda a: _object_array(a, 1), st.lists(inner, max_size=3))
    ),
    max_leaves=8,
)


def _object_array(items: list[Any], columns: int) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    for index, item in enumerate(items):
        array[index] = item
    if columns > 1 and len(items) % columns == 0:
        return array.reshape(-1, columns)
    return array


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, np.ndarray):
        return (
            isinstance(got, np.ndarray)
            and got.dtype == want.dtype
            and got.shape == want.shape
            and all(_same(g, w) for g, w in zip(got.flat, want.flat, strict=True))
        )
    if isinstance(want, (list, tuple)):
        return type(got) is type(want) and all(_same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(_same(got[k], want[k]) for k in want)
    return type(got) is type(want) and got == want


@given(st.lists(_ITEMS, max_size=8), st.integers(1, 2), st.integers(0, 5))
def test_object_arrays_of_many_item_types_round_trip(
    items: list[Any], columns: int, protocol: int
) -> None:
    array = _object_array(items, columns)
    data = pickle.dumps(array, protocol)
    got = safepickle.loads(data, policy=_POLICY)
    assert _same(got, pickle.loads(data))  # benign: the reference


def test_item_types_are_the_ones_we_meant() -> None:
    """The strategy's leaves really are distinct types (the property above is not vacuous)."""
    array = _object_array(
        [None, 1, 1.5, "s", b"b", 1j, decimal.Decimal(1), datetime.date(2020, 1, 1),
         np.float64(2.5), frozenset({1}), np.array([1, "a"], dtype=object), {"k": (1, 2)}],
        columns=1,
    )  # fmt: skip
    data = pickle.dumps(array, 5)
    got = safepickle.loads(data, policy=_POLICY)
    assert _same(got, array)
    assert len({type(item) for item in got}) == 12


# --- hostile items: refused by the policy, nothing runs ------------------------------------
class _Call:
    """An item that pickles as ``func(*args)``."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.reduced = (func, args)

    def __reduce__(self) -> tuple[Any, ...]:
        return self.reduced


_HOSTILE = {
    "os.system": _Call(os.system, "touch CANARY"),
    "subprocess.call": _Call(subprocess.call, ["touch", "CANARY"]),
    "builtins.exec": _Call(builtins.exec, "open('CANARY', 'w').close()"),
    "builtins.eval": _Call(builtins.eval, "open('CANARY', 'w').close()"),
    "io.open": _Call(io.open, "CANARY", "w"),
    "numpy.save": _Call(np.save, "CANARY", np.arange(2)),
}


@pytest.mark.parametrize("name", sorted(_HOSTILE))
@pytest.mark.parametrize("protocol", [2, 5])
@pytest.mark.parametrize("where", ["flat", "nested-list", "inner-array", "masked", "2d"])
def test_hostile_item_is_refused(name: str, protocol: int, where: str, canary: Path) -> None:
    evil = _HOSTILE[name]
    inner = np.empty(2, dtype=object)
    inner[:] = [1, evil]
    items: Any = {
        "flat": [1, "a", evil],
        "nested-list": [1, [2, [evil]], None],
        "inner-array": [inner, 3, 4],
        "masked": [1, evil, 3],
        "2d": [1, 2, 3, evil],
    }[where]
    array = _object_array(items, 2 if where == "2d" else 1)
    if where == "masked":
        array = np.ma.masked_array(array, mask=[0, 1, 0])
    data = pickle.dumps(array, protocol)
    with pytest.raises(safepickle.ForbiddenGlobal, match=r"is forbidden") as info:
        safepickle.loads(data, policy=_POLICY)
    assert name.rsplit(".", maxsplit=1)[-1] in str(info.value)


def test_hostile_items_are_live(canary: Path) -> None:
    """The same item really creates the canary under plain pickle (so the tests above can
    fail)."""
    array = _object_array([1, _HOSTILE["os.system"]], 1)
    pickle.loads(pickle.dumps(array, 2))  # the point: it runs
    assert canary.exists()
    canary.unlink()
