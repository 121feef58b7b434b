"""Files written by joblib.dump load through safepickle_numpy.load_joblib, checked; joblib's own
loader is never used (it is only imported here to write the files and as the reference)."""

from __future__ import annotations

import datetime
import io
import os
import pickle
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import safepickle
from numpy_compare import assert_same

from safepickle_numpy import load_joblib


def _objects() -> dict[str, Any]:
    return {
        "floats": np.linspace(0, 1, 50),
        "ints-2d": np.arange(12, dtype="i2").reshape(3, 4),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "big-endian": np.arange(4, dtype=">i4"),
        "0-d": np.array(7.5),
        "empty": np.zeros((0, 2)),
        "structured": np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
        "dates": np.array(["2020-01-01", "NaT"], dtype="M8[D]"),
        "objects": np.array(["a", None, 3, datetime.date(2020, 1, 1)], dtype=object),
        "strings": np.array(["x", "yz"]),
        "masked": np.ma.masked_array([1.0, 2.0], mask=[0, 1]),
        "plain": {"list": [1, 2, {"k": (3, 4)}], "text": "t", "none": None},
        "view": np.arange(10)[::2],
    }


_COMPRESS = [0, 3, ("zlib", 1), ("gzip", 3), ("bz2", 1), ("lzma", 1), ("xz", 1)]


@pytest.mark.parametrize("compress", _COMPRESS, ids=str)
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_round_trip(compress: Any, protocol: int, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(_objects(), path, compress=compress, protocol=protocol)
    assert_same(load_joblib(path), joblib.load(path))


def test_file_object_and_single_array(tmp_path: Path) -> None:
    path = tmp_path / "a.joblib"
    joblib.dump(np.arange(5), path)
    with path.open("rb") as file:
        assert_same(load_joblib(file), np.arange(5))


def test_a_plain_pickle_file_loads_too(tmp_path: Path) -> None:
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps({"a": np.arange(3)}, 4))
    assert_same(load_joblib(path), {"a": np.arange(3)})


class _Evil:
    """Pickles as os.system("touch CANARY")."""

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, ("touch CANARY",)


def test_hostile_global_refused(canary: Path) -> None:
    joblib.dump({"x": np.arange(3), "evil": _Evil()}, "f.joblib")
    with pytest.raises(safepickle.ForbiddenGlobal, match="system"):
        load_joblib("f.joblib")


def test_hostile_item_in_an_object_array_refused(canary: Path) -> None:
    array = np.empty(2, dtype=object)
    array[1] = _Evil()
    joblib.dump({"a": np.arange(3), "o": array}, "f.joblib", compress=3)
    with pytest.raises(safepickle.ForbiddenGlobal, match=r"system.*object array"):
        load_joblib("f.joblib")


@pytest.mark.parametrize(
    ("module", "name"),
    [("joblib", "load"), ("joblib.numpy_pickle", "load"), ("numpy", "load"),
     ("joblib.numpy_pickle", "NumpyUnpickler"), ("safepickle_numpy._joblib", "joblib_array")],
)  # fmt: skip
def test_loaders_refused(module: str, name: str, canary: Path) -> None:
    payload = b"\x80\x02c%s\n%s\nX\x06\x00\x00\x00CANARY\x85R." % (module.encode(), name.encode())
    Path("f.joblib").write_bytes(payload)
    with pytest.raises(safepickle.SafePickleError):
        load_joblib("f.joblib")


def test_truncated_array_data(tmp_path: Path) -> None:
    path = tmp_path / "t.joblib"
    joblib.dump(np.arange(1000.0), path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(safepickle.TruncatedPickle):
        load_joblib(path)


def test_wrapper_claiming_a_huge_array(tmp_path: Path) -> None:
    """The wrapper's shape says 10**12 items, the file holds 3: refused before allocating."""
    buffer = io.BytesIO()
    joblib.dump(np.arange(3.0), buffer)
    data = buffer.getvalue()
    assert b"K\x03\x85" in data
    path = tmp_path / "h.joblib"
    path.write_bytes(data.replace(b"K\x03\x85", b"\x8a\x06\x00\x10\xa5\xd4\xe8\x00\x85", 1))
    tracemalloc.start()
    try:
        with pytest.raises(safepickle.TruncatedPickle):
            load_joblib(path)
        assert tracemalloc.get_traced_memory()[1] < 64 << 20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("method", ["zlib", "gzip"])
def test_decompression_is_bounded(method: str, tmp_path: Path) -> None:
    """A 100 kB file inflating to 200 MB stops at max_input_bytes."""
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31 if method == "gzip" else 15)
    data = bomb.compress(b"\x80\x04" + b"\x00" * (200 << 20)) + bomb.flush()
    assert len(data) < 300_000
    path = tmp_path / "bomb.joblib"
    path.write_bytes(data)
    policy = safepickle.Policy(plugins=["numpy"]).with_limits(max_input_bytes=16 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(safepickle.LimitExceeded):
            load_joblib(path, policy=policy)
        assert tracemalloc.get_traced_memory()[1] < 64 << 20
    finally:
        tracemalloc.stop()


def test_corrupt_compressed_file(tmp_path: Path) -> None:
    path = tmp_path / "c.joblib"
    joblib.dump(np.arange(100), path, compress=("bz2", 1))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(safepickle.MalformedPickle):
        load_joblib(path)


def test_trailing_bytes_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.joblib"
    joblib.dump([1, 2], path)
    path.write_bytes(path.read_bytes() + b"junk")
    with pytest.raises(safepickle.MalformedPickle, match="follow the STOP"):
        load_joblib(path)


def test_allow_argument(tmp_path: Path) -> None:
    path = tmp_path / "f.joblib"
    joblib.dump({"f": np.sum}, path)
    with pytest.raises(safepickle.ForbiddenGlobal, match="allow="):
        load_joblib(path)
    got = load_joblib(path, allow=["numpy.sum"])
    assert got["f"] is np.sum
