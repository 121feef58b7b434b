"""``safepickle.patch()``: what it replaces, how patches stack, and how it restores.

The library-level tests (pandas, joblib, shelve, multiprocessing, numpy, dill) are in
``test_patch_libraries.py``; the ``safepickle run`` command in ``test_run.py``.
"""

from __future__ import annotations

import _pickle
import io
import multiprocessing.reduction
import os
import pickle
import shelve
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sample_classes import Plain

import safepickle
from safepickle import ForbiddenGlobal
from safepickle._unpickler import SafeUnpickler
from safepickle.patching import PatchError
from safepickle.testing import hostile_payload

BENIGN = pickle.dumps({"a": [1, 2.5, "x"], "b": (None, True)}, protocol=4)
PLAIN = pickle.dumps(Plain(1, [2]), protocol=4)


# Unpickler classes defined before any patch, as libraries define theirs at import time.
class OldPyUnpickler(pickle._Unpickler):
    """A library's pure-Python unpickler that changes nothing about globals."""


class OldPyRenaming(pickle._Unpickler):
    """A library's own find_class that imports by itself (never calls pickle's)."""

    calls: list[tuple[str, str]] = []  # noqa: RUF012 - a record of every call, shared

    def find_class(self, module: str, name: str) -> Any:
        self.calls.append((module, name))
        __import__(module)
        return getattr(__import__(module, fromlist=[name]), name)


class OldCUnpickler(pickle.Unpickler):
    """A library's subclass of the C unpickler that inherits its find_class."""


class OldCOverride(pickle.Unpickler):
    """A library's subclass of the C unpickler with a find_class calling pickle's."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(module, name)


# pickle's attributes as they are before any patch (in a dict: a patch replaces module
# globals that hold them, as it must for ``from pickle import loads`` in a library)
ORIGINALS = {
    (module.__name__, name): getattr(module, name)
    for module in (pickle, _pickle)
    for name in ("load", "loads", "_load", "_loads", "Unpickler", "_Unpickler")
    if hasattr(module, name)
}


def _snapshot() -> dict[str, Any]:
    """Every attribute a patch may change, read from the owners' own namespaces."""
    state: dict[str, Any] = {
        f"{module}.{name}": vars(pickle if module == "pickle" else _pickle).get(name)
        for module, name in ORIGINALS
    }
    state["shelve.Unpickler"] = vars(shelve).get("Unpickler")
    state["ForkingPickler.loads"] = vars(multiprocessing.reduction.ForkingPickler).get("loads")
    py_unpickler = ORIGINALS[("pickle", "_Unpickler")]
    for opcode in (pickle.BUILD, pickle.SETITEMS, pickle.APPEND, pickle.ADDITEMS):
        state[f"dispatch[{opcode!r}]"] = py_unpickler.dispatch[opcode[0]]
    state["_Unpickler.load_build"] = vars(py_unpickler)["load_build"]
    for cls in (
        py_unpickler,
        OldPyRenaming,
        OldCUnpickler,
        OldCOverride,
        SafeUnpickler,
    ):
        state[f"{cls.__qualname__}.find_class"] = vars(cls).get("find_class", "<absent>")
    return state


def test_patch_routes_every_entry_point_and_restores_exactly(canary: Path) -> None:
    before = _snapshot()
    hostile = hostile_payload()
    with safepickle.patch() as active:
        during = _snapshot()
        changed = {key for key in before if during[key] is not before[key]}
        # SafeUnpickler is safepickle's own: never gated
        assert changed == set(before) - {"SafeUnpickler.find_class"}
        entry_points: list[Callable[[bytes], Any]] = [
            pickle.loads,
            pickle._loads,  # type: ignore[attr-defined]
            _pickle.loads,
            lambda b: pickle.load(io.BytesIO(b)),
            lambda b: pickle._load(io.BytesIO(b)),  # type: ignore[attr-defined]
            lambda b: _pickle.load(io.BytesIO(b)),
            lambda b: pickle.Unpickler(io.BytesIO(b)).load(),
            lambda b: pickle._Unpickler(io.BytesIO(b)).load(),
            # captured at shelve's import
            lambda b: shelve.Unpickler(io.BytesIO(b)).load(),  # type: ignore[attr-defined]
            multiprocessing.reduction.ForkingPickler.loads,  # captured as a class attribute
            lambda b: OldPyUnpickler(io.BytesIO(b)).load(),  # gated by name
            lambda b: OldCUnpickler(io.BytesIO(b)).load(),  # gated by name
            lambda b: OldCOverride(io.BytesIO(b)).load(),  # its own find_class, gated
        ]
        for loader in entry_points:
            assert loader(BENIGN) == {"a": [1, 2.5, "x"], "b": (None, True)}
            with pytest.raises(ForbiddenGlobal, match=r"posix\.system"):
                loader(hostile)
    assert not active.active
    after = _snapshot()
    assert all(after[key] is before[key] for key in before), "not restored exactly"


def test_restored_after_an_exception_inside() -> None:
    before = _snapshot()
    with pytest.raises(KeyError), safepickle.patch():
        raise KeyError("boom")
    after = _snapshot()
    assert all(after[key] is before[key] for key in before)


def test_plain_call_and_idempotent_undo() -> None:
    applied = safepickle.patch(allow=[Plain])
    try:
        assert pickle.loads is not ORIGINALS[("pickle", "loads")]
        assert isinstance(pickle.loads(PLAIN), Plain)
    finally:
        applied.undo()
    applied.undo()  # a second undo does nothing
    assert pickle.loads is ORIGINALS[("pickle", "loads")]
    with pytest.raises(PatchError, match="undone"), applied:
        pass


def test_nested_patches_stack_and_the_innermost_decides() -> None:
    with safepickle.patch():
        with pytest.raises(ForbiddenGlobal):
            pickle.loads(PLAIN)
        with safepickle.patch(allow=[Plain]):
            assert pickle.loads(PLAIN).b == [2]
        with pytest.raises(ForbiddenGlobal):  # the outer policy again
            pickle.loads(PLAIN)
        assert pickle.loads is not ORIGINALS[("pickle", "loads")]
    assert pickle.loads is ORIGINALS[("pickle", "loads")]


def test_undo_out_of_order_is_an_error_and_changes_nothing() -> None:
    outer = safepickle.patch()
    inner = safepickle.patch(allow=[Plain])
    try:
        with pytest.raises(PatchError, match="later patch"):
            outer.undo()
        assert outer.active and inner.active
        assert isinstance(pickle.loads(PLAIN), Plain)  # inner still decides
    finally:
        inner.undo()
        outer.undo()
    assert pickle.loads is ORIGINALS[("pickle", "loads")]


def test_threads_use_their_own_patch_else_the_innermost() -> None:
    applied = threading.Event()
    done = threading.Event()
    results: dict[str, object] = {}

    def widening_thread() -> None:
        with safepickle.patch(allow=[Plain]):
            results["own"] = type(pickle.loads(PLAIN)).__name__
            applied.set()
            done.wait(10)

    def bystander() -> None:  # applied no patch: uses the process's innermost
        results["bystander"] = type(pickle.loads(PLAIN)).__name__

    with safepickle.patch():
        worker = threading.Thread(target=widening_thread)
        worker.start()
        assert applied.wait(10)
        try:
            with pytest.raises(ForbiddenGlobal):  # this thread's own patch decides
                pickle.loads(PLAIN)
            other = threading.Thread(target=bystander)
            other.start()
            other.join(10)
        finally:
            done.set()
            worker.join(10)
        # the worker's patch ended while the main thread's is still active
        assert pickle.loads is not ORIGINALS[("pickle", "loads")]
    assert results == {"own": "Plain", "bystander": "Plain"}
    assert pickle.loads is ORIGINALS[("pickle", "loads")]


def test_a_reference_taken_during_a_patch_stays_safe(canary: Path) -> None:
    with safepickle.patch(allow=[Plain]):
        captured_loads = pickle.loads
        captured_unpickler = pickle.Unpickler
    assert pickle.loads is ORIGINALS[("pickle", "loads")]
    assert captured_loads(BENIGN)["a"][0] == 1
    with pytest.raises(ForbiddenGlobal):  # the default policy, not the patch's
        captured_loads(PLAIN)
    with pytest.raises(ForbiddenGlobal):
        captured_unpickler(io.BytesIO(hostile_payload())).load()


def test_refusal_says_how_to_allow_under_a_patch() -> None:
    with safepickle.patch(), pytest.raises(ForbiddenGlobal) as caught:
        pickle.loads(PLAIN)
    message = str(caught.value)
    assert "safepickle.patch()" in message
    assert "allow=['sample_classes:Plain']" in message
    assert "--allow sample_classes:Plain" in message
    with safepickle.patch(), pytest.raises(ForbiddenGlobal) as gated:
        OldPyUnpickler(io.BytesIO(PLAIN)).load()
    assert "OldPyUnpickler.find_class" in str(gated.value)
    assert "allow=['sample_classes:Plain']" in str(gated.value)


def test_floor_refusal_never_suggests_allowing(canary: Path) -> None:
    loaders: list[Callable[[bytes], Any]] = [
        lambda b: pickle.loads(b),  # noqa: PLW0108 - pickle.loads looked up under the patch
        lambda b: OldCUnpickler(io.BytesIO(b)).load(),
    ]
    for loader in loaders:
        with safepickle.patch(allow=["sample_classes:*"]), pytest.raises(ForbiddenGlobal) as e:
            loader(hostile_payload())
        assert "can never be allowed" in str(e.value)
        assert "allow=[" not in str(e.value)


def test_gate_decides_before_a_library_find_class_runs(canary: Path) -> None:
    OldPyRenaming.calls.clear()
    with safepickle.patch(), pytest.raises(ForbiddenGlobal):
        OldPyRenaming(io.BytesIO(hostile_payload(protocol=4))).load()
    assert OldPyRenaming.calls == []  # refused before its own find_class imported anything
    with safepickle.patch(allow=[Plain]):
        assert OldPyRenaming(io.BytesIO(PLAIN)).load().a == 1
    assert OldPyRenaming.calls == [("sample_classes", "Plain")]


def test_gate_checks_what_a_find_class_returns() -> None:
    class Redirecting(pickle._Unpickler):  # maps an allowed name onto a floor item
        def find_class(self, module: str, name: str) -> Any:
            return os.system

    with safepickle.patch(allow=[Plain]), pytest.raises(ForbiddenGlobal, match="floor"):
        Redirecting(io.BytesIO(PLAIN)).load()


class _Tagged:
    """A persistent id stands for this object."""

    def __init__(self, pid: object) -> None:
        self.pid = pid


def _with_persistent_id() -> bytes:
    class Tagging(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            return "tag-7" if obj == "TAG" else None

    buffer = io.BytesIO()
    Tagging(buffer, protocol=4).dump(["TAG", 1])
    return buffer.getvalue()


def test_replacement_unpickler_honours_persistent_load() -> None:
    data = _with_persistent_id()
    with safepickle.patch():

        class Resolving(pickle.Unpickler):  # defined under the patch: subclasses ours
            def persistent_load(self, pid: object) -> object:
                return _Tagged(pid)

        loaded = Resolving(io.BytesIO(data)).load()
        assert isinstance(loaded[0], _Tagged) and loaded[0].pid == "tag-7"
        plain = pickle.Unpickler(io.BytesIO(data))
        plain.persistent_load = _Tagged  # type: ignore[method-assign]
        assert plain.load()[0].pid == "tag-7"
        with pytest.raises(safepickle.UnsafeOpcode):  # nobody resolves it
            pickle.Unpickler(io.BytesIO(data)).load()


def test_replacement_unpickler_find_class_narrows_and_redirects_never_widens() -> None:
    with safepickle.patch(allow=[Plain]):

        class Refusing(pickle.Unpickler):
            def find_class(self, module: str, name: str) -> Any:
                raise pickle.UnpicklingError(f"{module}.{name}: not in my list")

        class Redirecting(pickle.Unpickler):
            def find_class(self, module: str, name: str) -> Any:
                if (module, name) == ("sample_classes", "Plain"):
                    return _Tagged
                return super().find_class(module, name)

        class Widening(pickle.Unpickler):
            def find_class(self, module: str, name: str) -> Any:
                return getattr(__import__(module), name)

        with pytest.raises(ForbiddenGlobal, match="not in my list"):
            Refusing(io.BytesIO(PLAIN)).load()
        assert Refusing(io.BytesIO(BENIGN)).load()["a"][0] == 1  # no global, not asked
        assert type(Redirecting(io.BytesIO(PLAIN)).load()) is _Tagged
        with pytest.raises(ForbiddenGlobal, match=r"posix\.system"):
            Widening(io.BytesIO(hostile_payload())).load()
        assert pickle.Unpickler(io.BytesIO(PLAIN)).find_class("sample_classes", "Plain") is Plain
        with pytest.raises(ForbiddenGlobal):
            pickle.Unpickler(io.BytesIO(b"")).find_class("os", "system")


def test_unpickler_reads_several_pickles_from_one_file() -> None:
    stream = io.BytesIO(BENIGN + pickle.dumps([3], protocol=2) + b"trailing")
    with safepickle.patch():
        unpickler = pickle.Unpickler(stream)
        assert unpickler.load()["b"] == (None, True)
        assert unpickler.load() == [3]
        assert stream.read() == b"trailing"  # left just past the second STOP, as pickle does


def test_old_subclasses_calling_base_methods_by_a_replaced_name() -> None:
    # joblib and dill call ``Unpickler.__init__(self, f)`` through a module global holding
    # pickle's class; under a patch that global is our replacement.
    namespace: dict[str, Any] = {"Unpickler": pickle.Unpickler, "PyUnpickler": pickle._Unpickler}
    exec(  # defines classes the way a library module does, before the patch
        "class C(Unpickler):\n"
        "    def __init__(self, f):\n"
        "        Unpickler.__init__(self, f)\n"
        "class P(PyUnpickler):\n"
        "    def __init__(self, f):\n"
        "        PyUnpickler.__init__(self, f)\n"
        "    def load(self):\n"
        "        return PyUnpickler.load(self)\n",
        namespace,
    )
    namespace["__name__"] = "library_module"
    with safepickle.patch():
        namespace["Unpickler"] = pickle.Unpickler
        namespace["PyUnpickler"] = pickle._Unpickler
        for cls in (namespace["C"], namespace["P"]):
            assert cls(io.BytesIO(BENIGN)).load()["a"][1] == 2.5
            with pytest.raises(ForbiddenGlobal):
                cls(io.BytesIO(hostile_payload())).load()


# GLOBAL sample_classes.Plain, then BUILD (None, {"a": "patched"}): setattr(Plain, "a", ...),
# monkey-patching an imported class (the state half of the threat model)
PATCH_CLASS = (
    b"\x80\x02csample_classes\nPlain\nN}X\x01\x00\x00\x00aX\x07\x00\x00\x00patcheds\x86b."
)
# a created dict changed by SETITEM: allowed (only what find_class handed out is protected)
CREATED_DICT = b"\x80\x02csample_classes\nPlain\n}X\x01\x00\x00\x00kK\x01s\x86."


def test_the_payload_changes_an_imported_class_under_plain_pickle() -> None:
    try:
        assert OldPyUnpickler(io.BytesIO(PATCH_CLASS)).load() is Plain
        assert vars(Plain)["a"] == "patched"
    finally:
        if "a" in vars(Plain):
            delattr(Plain, "a")


@pytest.mark.parametrize("cls", [OldPyUnpickler, OldPyRenaming])
def test_gated_pure_python_unpickler_refuses_changing_an_imported_global(cls: type) -> None:
    with safepickle.patch(allow=[Plain]), pytest.raises(safepickle.UnsafeOpcode, match="BUILD"):
        cls(io.BytesIO(PATCH_CLASS)).load()
    assert "a" not in vars(Plain)
    with safepickle.patch(allow=[Plain]):
        assert cls(io.BytesIO(PLAIN)).load().b == [2]
        assert cls(io.BytesIO(CREATED_DICT)).load()[1] == {"k": 1}


def test_patch_is_exported() -> None:
    assert "patch" in safepickle.__all__
    assert safepickle.patch is safepickle.patching.patch


def test_property_patched_entry_points_return_what_pickle_returns() -> None:
    from hypothesis import given
    from hypothesis import strategies as st
    from strategies import small_values
    from test_properties import assert_same

    plain_loads = ORIGINALS[("pickle", "loads")]
    loaders: dict[str, Callable[[bytes], Any]] = {
        "pickle.loads": lambda b: pickle.loads(b),  # noqa: PLW0108 - looked up when called
        "pickle.Unpickler": lambda b: pickle.Unpickler(io.BytesIO(b)).load(),
        "pickle._Unpickler": lambda b: pickle._Unpickler(io.BytesIO(b)).load(),
        "gated pure-Python": lambda b: OldPyUnpickler(io.BytesIO(b)).load(),
        "gated C": lambda b: OldCUnpickler(io.BytesIO(b)).load(),
    }

    @given(value=small_values, protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
    def check(value: Any, protocol: int) -> None:
        data = pickle.dumps(value, protocol=protocol)
        expected = plain_loads(data)
        for loader in loaders.values():
            assert_same(loader(data), expected)

    with safepickle.patch():  # applied once: the examples run under it
        check()
