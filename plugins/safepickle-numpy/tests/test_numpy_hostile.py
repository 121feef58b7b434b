"""numpy's dangerous members stay refused with the plugin enabled; nothing runs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safepickle
from safepickle.testing import hostile_payload


def _call(module: str, name: str, *args: Any, protocol: int = 2) -> bytes:
    """A pickle of ``module.name(*args)``, written by hand so that any callable can be named."""
    body = pickle.dumps(args, protocol)[2:-1]  # the argument tuple's opcodes
    return b"\x80\x02c%s\n%s\n" % (module.encode(), name.encode()) + body + b"R."


def _run_snippet() -> str:
    return "open('CANARY', 'w').close()"


# (module, name, args): each would create the canary (or read/write files) if it ran
DANGEROUS: list[tuple[str, str, tuple[Any, ...]]] = [
    ("numpy.testing._private.utils", "runstring", (_run_snippet(), {})),
    ("numpy.testing", "runstring", (_run_snippet(), {})),
    ("numpy", "load", ("CANARY",)),
    ("numpy", "save", ("CANARY", [1])),
    ("numpy", "loadtxt", ("CANARY",)),
    ("numpy", "genfromtxt", ("CANARY",)),
    ("numpy", "fromfile", ("CANARY",)),
    ("numpy", "memmap", ("CANARY",)),
    ("numpy", "savetxt", ("CANARY", [1])),
    ("numpy", "tofile", ("CANARY",)),
    ("numpy.lib.npyio", "load", ("CANARY",)),
    ("numpy.lib.format", "open_memmap", ("CANARY", "w+")),
    ("numpy.f2py", "compile", ("x",)),
    ("numpy.f2py", "run_main", (["-c", "CANARY"],)),
    ("numpy.ctypeslib", "load_library", ("CANARY", ".")),
    ("numpy.distutils.exec_command", "exec_command", ("touch CANARY",)),
    ("numpy._core._internal", "_ctypes", (None,)),
    ("numpy", "vectorize", (os.system,)),
    ("numpy", "frompyfunc", (os.system, 1, 1)),
    ("numpy", "apply_along_axis", (os.system, 0, ["touch CANARY"])),
    ("numpy", "piecewise", ([1], [True], [os.system])),
    ("numpy._core._ufunc_config", "seterrcall", (os.system,)),
    ("numpy", "seterr", ("call",)),
    ("numpy.lib._utils_impl", "_opt_info", ()),
    ("numpy", "show_config", ()),
    ("numpy._core.multiarray", "set_typeDict", ({},)),
    ("numpy._core._ufunc_reconstruct", "", ()),
    ("numpy._core", "_ufunc_reconstruct", ("os", "system")),
    ("numpy.core", "_ufunc_reconstruct", ("os", "system")),
    ("numpy._pytesttester", "PytestTester", ("os",)),
    ("numpy.random._pickle", "__bit_generator_ctor", (os.system,)),
]


@pytest.mark.parametrize(
    ("module", "name", "args"),
    [pytest.param(m, n, a, id=f"{m}.{n}") for m, n, a in DANGEROUS if n],
)
def test_dangerous_member_refused(
    module: str, name: str, args: tuple[Any, ...], canary: Path, numpy_policy: safepickle.Policy
) -> None:
    try:
        payload = _call(module, name, *args)
    except Exception:
        payload = _call(module, name, "touch CANARY")
    with pytest.raises(safepickle.SafePickleError) as info:
        safepickle.loads(payload, policy=numpy_policy)
    assert module in str(info.value) or "os" in str(info.value)


class _Evil:
    """An item that pickles as os.system("touch CANARY")."""

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, ("touch CANARY",)


def test_os_system_inside_an_object_array(canary: Path, numpy_policy: safepickle.Policy) -> None:
    array = np.empty(2, dtype=object)
    array[0] = 1
    array[1] = _Evil()
    payload = pickle.dumps(array, 2)
    with pytest.raises(safepickle.ForbiddenGlobal, match=r"(posix|os)\.system"):
        safepickle.loads(payload, policy=numpy_policy)

    assert pickle.loads(hostile_payload()) == 0 and canary.exists()  # the payload is live
    canary.unlink()


def test_error_names_the_global_and_how_to_allow(numpy_policy: safepickle.Policy) -> None:
    with pytest.raises(safepickle.ForbiddenGlobal) as info:
        safepickle.loads(pickle.dumps(np.arange), policy=numpy_policy)
    message = str(info.value)
    assert "numpy.arange" in message or "numpy._core" in message
    assert "allow=" in message


# --- amplification: a tiny pickle must not allocate much more than itself -----------------------

_BUDGET = 64 << 20


def _peak_while_loading(payload: bytes, policy: safepickle.Policy) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(safepickle.SafePickleError):
            safepickle.loads(payload, policy=policy)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


_HUGE = (10**6, 10**6)
AMPLIFIERS = {
    # ndarray((10**6, 10**6), object): 8 TB of None pointers
    "ndarray-call": _call("numpy", "ndarray", _HUGE, "O"),
    "reconstruct-shape": _call("numpy._core.multiarray", "_reconstruct", np.ndarray, _HUGE, "O"),
    "reconstruct-1x": _call("numpy.core.multiarray", "_reconstruct", np.ndarray, _HUGE, "b"),
    "mareconstruct-shape": _call(
        "numpy.ma.core", "_mareconstruct", np.ma.MaskedArray, np.ndarray, _HUGE, "O"
    ),
    "maskedarray-range": _call("numpy.ma", "MaskedArray", range(10**12)),
    "recarray-call": _call("numpy.rec", "recarray", _HUGE),
    "record-call": _call("numpy", "record", 10**10),
    "void-scalar": _call("numpy._core.multiarray", "scalar", np.dtype("V1000000000"), b"x"),
    "dtype-range": _call("numpy", "dtype", range(10**12)),
    "seed-sequence-range": _call("numpy.random.bit_generator", "SeedSequence", range(10**12)),
    "pcg64-range": _call("numpy.random._pcg64", "PCG64", range(10**12)),
    "frombuffer-shape": _call(
        "numpy._core.numeric", "_frombuffer", b"x" * 8, np.dtype("f8"), _HUGE, "C"
    ),
}


@pytest.mark.parametrize("name", sorted(AMPLIFIERS))
def test_amplification_bounded(name: str, numpy_policy: safepickle.Policy) -> None:
    payload = AMPLIFIERS[name]
    assert len(payload) < 1000
    assert _peak_while_loading(payload, numpy_policy) < _BUDGET


_SHORT_LIST_SCRIPT = """
import pickle, numpy as np, safepickle
good = pickle.dumps(np.zeros(3, dtype=object), 2)
bad = good.replace(b"K\\x01K\\x03\\x85", b"K\\x01J\\x00\\xe1\\xf5\\x05\\x85", 1)  # shape (10**8,)
assert bad != good
try:
    safepickle.loads(bad, policy=safepickle.Policy(plugins=["numpy"]))
except safepickle.SafePickleError as exc:
    print(type(exc).__name__, exc)
"""


def test_short_object_list_is_an_error_not_a_crash() -> None:
    """numpy 2.4's ndarray.__setstate__ reads past a short object list (a segfault under plain
    pickle); run in a child process so a regression fails this test, not the whole run."""
    done = subprocess.run(
        [sys.executable, "-c", _SHORT_LIST_SCRIPT], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("UnsafeOpcode") and "item list holds 3" in done.stdout


def test_value_only_marker_refuses_calls() -> None:
    from safepickle_numpy.allowlist import NUMPY_SUBSTITUTES

    with pytest.raises(ValueError, match="never call"):
        NUMPY_SUBSTITUTES["numpy.ndarray"]((2,))


def test_dtype_is_always_a_copy(numpy_policy: safepickle.Policy) -> None:
    """dtype('f8', False, False) is numpy's shared float64; a BUILD must not reach it."""
    payload = (
        b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x89\x87R"
        b"(K\x03X\x01\x00\x00\x00>NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb."
    )
    got = safepickle.loads(payload, policy=numpy_policy)
    assert got is not np.dtype("f8")
    assert np.dtype("f8").byteorder == "="
