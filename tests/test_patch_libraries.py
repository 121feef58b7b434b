"""``safepickle.patch()`` around real libraries that load pickles: pandas, joblib, shelve,
multiprocessing, numpy, dill.

Each hostile file is first loaded by the library without the patch, in a directory of its
own, and must create its canary there: so the payload is live through that library, and the
patched test (``canary`` fixture: the file must stay absent) cannot pass vacuously.
"""

from __future__ import annotations

import contextlib
import dbm
import io
import multiprocessing
import os
import pickle
import re
import shelve
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dill
import joblib
import numpy as np
import pandas as pd
import pytest
from pandas.compat import pickle_compat

import safepickle
from safepickle import ForbiddenGlobal
from safepickle.testing import CANARY, hostile_payload


def _pickled_name(cls: type) -> str:
    """``module:qualname`` as pickle writes ``cls``: pandas 3 pickles ``pandas:Series``,
    pandas 2 (the newest for Python 3.10) ``pandas.core.series:Series``."""
    return f"{cls.__module__}:{cls.__qualname__}"


SERIES_NAME = _pickled_name(pd.Series)
FRAME_NAME = _pickled_name(pd.DataFrame)
# A Series of ints with its RangeIndex: what a pandas plugin would allow
PANDAS_SERIES = [
    SERIES_NAME,
    "pandas.core.internals.managers:SingleBlockManager",
    "pandas.core.indexes.base:_new_Index",
    _pickled_name(pd.RangeIndex),
    "numpy._core.numeric:_frombuffer",
    "numpy:dtype",
]
PANDAS_FRAME = [
    *PANDAS_SERIES,
    FRAME_NAME,
    "pandas.core.internals.managers:BlockManager",
    "pandas._libs.internals:_unpickle_block",
]


def _pandas_read(path: Path) -> Any:
    return pd.read_pickle(path)


def _pandas_compat(path: Path) -> Any:
    # pandas' own pure-Python unpickler (a pickle._Unpickler subclass made at import time)
    return pickle_compat.loads(path.read_bytes())


def _joblib(path: Path) -> Any:
    return joblib.load(path)


def _shelve(path: Path) -> Any:
    # shelve took ``Unpickler`` from pickle when it was imported; the value is the raw pickle
    with dbm.open(str(path.with_suffix(".db")), "c") as db:
        db[b"key"] = path.read_bytes()
    with shelve.open(str(path.with_suffix(".db"))) as shelf:
        return shelf["key"]


def _multiprocessing(path: Path) -> Any:
    # a Connection's recv(): ForkingPickler.loads, a class attribute taken from pickle
    receiver, sender = multiprocessing.Pipe(duplex=False)
    with receiver, sender:
        sender.send_bytes(path.read_bytes())
        return receiver.recv()


def _numpy(path: Path) -> Any:
    # an object array in a .npy file is a pickle after the header
    npy = path.with_suffix(".npy")
    with npy.open("wb") as f:
        header = {"descr": "|O", "fortran_order": False, "shape": (1,)}
        np.lib.format.write_array_header_1_0(f, header)
        f.write(path.read_bytes())
    return np.load(npy, allow_pickle=True)


def _dill(path: Path) -> Any:
    # dill's Unpickler: a subclass of the C unpickler with its own find_class
    return dill.loads(path.read_bytes())


LOADERS: dict[str, Callable[[Path], Any]] = {
    "pandas.read_pickle": _pandas_read,
    "pandas compat Unpickler": _pandas_compat,
    "joblib.load": _joblib,
    "shelve": _shelve,
    "multiprocessing Connection.recv": _multiprocessing,
    "numpy.load(allow_pickle=True)": _numpy,
    "dill.loads": _dill,
}


@pytest.fixture(params=[2, 4], ids=["protocol2", "protocol4"])
def hostile_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "hostile.pkl"
    path.write_bytes(hostile_payload(protocol=request.param))
    return path


@pytest.mark.parametrize("library", LOADERS)
def test_hostile_file_is_live_without_the_patch(
    library: str, hostile_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "unprotected"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with contextlib.suppress(Exception):  # what it returns after os.system does not matter
        LOADERS[library](hostile_file)
    assert (elsewhere / CANARY).exists(), f"the payload is not live through {library}"


@pytest.mark.parametrize("library", LOADERS)
def test_hostile_file_is_refused_under_the_patch(
    library: str, hostile_file: Path, canary: Path
) -> None:
    with safepickle.patch(), pytest.raises(ForbiddenGlobal) as caught:
        LOADERS[library](hostile_file)
    assert caught.value.module == "posix" and caught.value.name == "system"
    assert "can never be allowed" in str(caught.value)


def test_pandas_read_pickle_loads_a_benign_frame_with_the_right_allow(tmp_path: Path) -> None:
    frame = pd.DataFrame(np.arange(6, dtype="int64").reshape(3, 2))
    series = pd.Series([1.5, 2.5, 4.0])
    frame.to_pickle(tmp_path / "frame.pkl")
    series.to_pickle(tmp_path / "series.pkl")
    with safepickle.patch(allow=PANDAS_FRAME):
        pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / "frame.pkl"), frame)
        pd.testing.assert_series_equal(pd.read_pickle(tmp_path / "series.pkl"), series)
    frame_dotted = re.escape(FRAME_NAME.replace(":", "."))
    with safepickle.patch(), pytest.raises(ForbiddenGlobal, match=frame_dotted):
        pd.read_pickle(tmp_path / "frame.pkl")  # the default policy allows no pandas class


def test_pandas_compat_unpickler_is_gated_by_name(tmp_path: Path) -> None:
    series = pd.Series([1, 2, 3])
    data = pickle.dumps(series, protocol=5)  # what to_pickle writes
    with safepickle.patch(allow=PANDAS_SERIES):
        pd.testing.assert_series_equal(pickle_compat.loads(data), series)
    with safepickle.patch(allow=PANDAS_SERIES[1:]), pytest.raises(ForbiddenGlobal) as caught:
        pickle_compat.loads(data)
    assert "pandas.compat.pickle_compat.Unpickler.find_class" in str(caught.value)
    assert f"allow=['{SERIES_NAME}']" in str(caught.value)


def test_joblib_loads_benign_data_and_says_why_arrays_are_refused(tmp_path: Path) -> None:
    value = {"weights": [0.5, 1.5], "name": "model", "shape": (2, 3)}
    joblib.dump(value, tmp_path / "plain.joblib")
    joblib.dump({"array": np.arange(3)}, tmp_path / "array.joblib")
    with safepickle.patch():
        assert joblib.load(tmp_path / "plain.joblib") == value
        # joblib writes each array as its own NumpyArrayWrapper, and joblib is on the floor
        with pytest.raises(ForbiddenGlobal, match=r"joblib\.numpy_pickle\.NumpyArrayWrapper"):
            joblib.load(tmp_path / "array.joblib")


def test_shelve_and_multiprocessing_load_benign_values(tmp_path: Path) -> None:
    benign = tmp_path / "benign.pkl"
    benign.write_bytes(pickle.dumps({"k": [1, 2, (3, "four")]}, protocol=5))
    with safepickle.patch():
        assert _shelve(benign) == {"k": [1, 2, (3, "four")]}
        assert _multiprocessing(benign) == {"k": [1, 2, (3, "four")]}


def test_numpy_object_array_loads_with_the_right_allow(tmp_path: Path) -> None:
    array = np.array([{"a": 1}, [2, 3]], dtype=object)
    np.save(tmp_path / "objects.npy", array, allow_pickle=True)
    numpy_array = ["numpy._core.multiarray:_reconstruct", "numpy:ndarray", "numpy:dtype"]
    with safepickle.patch(allow=numpy_array):
        loaded = np.load(tmp_path / "objects.npy", allow_pickle=True)
    assert loaded.tolist() == array.tolist()


def test_a_library_imported_under_the_patch_is_protected(canary: Path) -> None:
    # a module that takes ``loads`` from pickle at import time, imported while patched
    module = Path("late_library.py")
    module.write_text("from pickle import loads, Unpickler\n")
    import sys

    sys.path.insert(0, os.getcwd())
    try:
        with safepickle.patch():
            import late_library

            with pytest.raises(ForbiddenGlobal):
                late_library.loads(hostile_payload())
            with pytest.raises(ForbiddenGlobal):
                late_library.Unpickler(io.BytesIO(hostile_payload())).load()
    finally:
        sys.path.remove(os.getcwd())
        sys.modules.pop("late_library", None)


# GLOBAL sample_classes.Plain, then BUILD (None, {"a": "patched"}): setattr(Plain, "a", ...),
# which monkey-patches a class the stream imported
PATCH_CLASS = (
    b"\x80\x02csample_classes\nPlain\nN}X\x01\x00\x00\x00aX\x07\x00\x00\x00patcheds\x86b."
)


@pytest.mark.parametrize("library", ["joblib.load", "pandas compat Unpickler"])
def test_pure_python_library_unpicklers_refuse_changing_an_imported_class(
    library: str, tmp_path: Path
) -> None:
    from sample_classes import Plain

    path = tmp_path / "patch-class.pkl"
    path.write_bytes(PATCH_CLASS)
    try:
        assert LOADERS[library](path) is Plain  # live without the patch
        assert vars(Plain)["a"] == "patched"
    finally:
        if "a" in vars(Plain):
            delattr(Plain, "a")
    with safepickle.patch(allow=[Plain]), pytest.raises(safepickle.UnsafeOpcode, match="BUILD"):
        LOADERS[library](path)
    assert "a" not in vars(Plain)
