"""joblib's format: a pickle with each NumPy array's bytes written in the middle of it.

``joblib.dump`` pickles a ``NumpyArrayWrapper`` (shape, dtype, order, alignment) in place of
each array and writes the array right after that wrapper's ``BUILD``: raw bytes (after one
padding-length byte and the padding, when aligned) or, for object arrays, a whole nested pickle.
``joblib.load`` reads them back as it meets each ``BUILD``. So the layout is only known by
following the pickle: we run pickle's pure-Python unpickler with every global replaced by an
inert stub (nothing is imported, no real callable is ever reached), skip each array exactly as
joblib would, and return the pickle with the array bytes cut out (scanned like any pickle), the
nested pickles of object arrays, and whatever follows the pickle.
"""

from __future__ import annotations

import io
import math
import pickle
import re
from typing import Any, ClassVar

from ..decision import GlobalRef
from ..errors import LimitExceeded, SafePickleError
from ..limits import Limits
from ..verify import verify
from . import ArchiveReads, ContainerError, ContainerStream, Member
from .sniff import names_global

__all__ = ["WRAPPER", "open_joblib"]

WRAPPER = GlobalRef("joblib.numpy_pickle", "NumpyArrayWrapper")
_MARKER = b"NumpyArrayWrapper"
_MAX_GLOBALS = 50_000
_ITEMSIZE = re.compile(r"[A-Za-z](\d+)\Z")


class _Stub:
    """An instance of a stubbed global: records its call arguments and BUILD state."""

    ref: GlobalRef

    def __new__(cls, *args: Any, **kwargs: Any) -> _Stub:
        self = object.__new__(cls)
        self.args = args
        self.state = None
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    args: tuple[Any, ...]
    state: Any


class _Layout(pickle._Unpickler):  # the pure-Python unpickler: its dispatch table is ours
    """Follows a joblib pickle with stubs, noting where array bytes and nested pickles lie."""

    dispatch: ClassVar[dict[int, Any]] = dict(pickle._Unpickler.dispatch)
    stack: list[Any]
    metastack: list[list[Any]]

    def __init__(
        self, file: io.BytesIO, stubs: dict[tuple[str, str], type[_Stub]], work: _Work
    ) -> None:
        super().__init__(file)
        self.file_handle = file
        self.stubs = stubs
        self.work = work
        #: (start, end) of each array's bytes, nested pickles included
        self.cuts: list[tuple[int, int]] = []
        #: (start, end) of each nested pickle (object arrays)
        self.nested: list[tuple[int, int]] = []

    def find_class(self, module: str, name: str) -> type[_Stub]:
        key = (module, name)
        stub = self.stubs.get(key)
        if stub is None:
            if len(self.stubs) >= _MAX_GLOBALS:
                raise pickle.UnpicklingError("too many distinct globals")
            stub = type("Stub", (_Stub,), {"ref": GlobalRef(module, name)})
            self.stubs[key] = stub
        return stub

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not part of joblib's format")

    def load_build(self) -> None:
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
        inst = self.stack[-1]
        if isinstance(inst, _Stub) and type(inst).ref == WRAPPER:
            self._skip_array(inst.state)

    dispatch[pickle.BUILD[0]] = load_build

    def _skip_array(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("a NumpyArrayWrapper without its state")
        fh = self.file_handle
        start = fh.tell()
        dtype = state.get("dtype")
        if _has_object(dtype):
            nested = _Layout(fh, self.stubs, self.work)
            nested.load()
            self.nested.append((start, fh.tell()))
            self.cuts.extend(nested.cuts)
        else:
            shape = state.get("shape")
            if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
                raise pickle.UnpicklingError(f"array shape {shape!r} is not a tuple of sizes")
            size = math.prod(shape) * _itemsize(dtype)
            if state.get("numpy_array_alignment_bytes") is not None:
                padding = fh.read(1)
                if not padding:
                    raise pickle.UnpicklingError("the array's padding byte is missing")
                size += 1 + padding[0]
            end = start + size
            if end > self.work.size:  # (getbuffer() would copy the whole file)
                raise pickle.UnpicklingError("an array runs past the end of the file")
            fh.seek(end)
        self.cuts.append((start, fh.tell()))


class _Work:
    """The policy's limits on what following the pickle may build, counted across nested
    pickles: the pure-Python unpickler makes an object (a list for each MARK) of nearly every
    opcode, so a file of MARKs would otherwise cost some 60 bytes of memory per byte."""

    def __init__(self, limits: Limits, size: int) -> None:
        self.limits = limits
        #: the file's size
        self.size = size
        self.opcodes = 0

    def step(self, layout: _Layout) -> None:
        limits = self.limits
        self.opcodes += 1
        if self.opcodes > limits.max_opcodes:
            raise LimitExceeded.of(
                "max_opcodes", limits.max_opcodes, "the joblib pickle's opcode count"
            )
        if len(layout.metastack) > limits.max_nesting:
            raise LimitExceeded.of(
                "max_nesting", limits.max_nesting, "the MARK nesting of the joblib pickle"
            )
        if len(layout.stack) > limits.max_stack_depth:
            raise LimitExceeded.of(
                "max_stack_depth", limits.max_stack_depth, "the joblib pickle's stack depth"
            )


def _counted(handler: Any) -> Any:
    def step(layout: _Layout) -> None:
        layout.work.step(layout)
        handler(layout)

    return step


_Layout.dispatch = {key: _counted(handler) for key, handler in _Layout.dispatch.items()}


def _dtype_parts(dtype: Any) -> tuple[str, Any]:
    if not isinstance(dtype, _Stub) or not dtype.args or not isinstance(dtype.args[0], str):
        raise pickle.UnpicklingError(f"array dtype {dtype!r} is not a numpy.dtype")
    return dtype.args[0], dtype.state


def _has_object(dtype: Any) -> bool:
    code, state = _dtype_parts(dtype)
    if code.startswith("O"):
        return True
    fields = state[4] if isinstance(state, tuple) and len(state) > 4 else None
    if isinstance(fields, dict):
        return any(
            isinstance(value, tuple) and value and _has_object(value[0])
            for value in fields.values()
        )
    return False


def _itemsize(dtype: Any) -> int:
    code, state = _dtype_parts(dtype)
    if isinstance(state, tuple) and len(state) > 5 and type(state[5]) is int and state[5] > 0:
        return state[5]
    match = _ITEMSIZE.match(code)
    if match is None:
        raise pickle.UnpicklingError(f"cannot tell the item size of dtype {code!r}")
    return int(match.group(1))


def open_joblib(stream: ContainerStream) -> list[Member] | None:
    """The pickle, nested pickles and trailing bytes of a joblib file, or None."""
    data = stream.data
    if bytes(data[:1]) != b"\x80":
        return None
    raw = data if isinstance(data, bytes) else bytes(data)
    if _MARKER not in raw:
        return None
    file = io.BytesIO(raw)
    layout = _Layout(file, {}, _Work(stream.budget.limits, len(raw)))
    try:
        layout.load()
    except LimitExceeded:
        raise
    except (Exception, RecursionError) as exc:
        raise ContainerError(
            f"a joblib file whose layout cannot be followed: {type(exc).__name__}: {exc}",
            offset=file.tell(),
        ) from exc
    end = file.tell()
    cuts = sorted(layout.cuts)
    kept, pos = [], 0
    for start, stop in cuts:
        if start >= pos:
            kept.append(raw[pos:start])
            pos = stop
    kept.append(raw[pos:end])
    members = [
        Member(
            "<pickle without array bytes>",
            b"".join(kept),
            kind="pickle",
            format="joblib",
            format_globals=frozenset({WRAPPER}),
        )
    ]
    members.extend(
        Member(
            f"<object array at offset {start}>", raw[start:stop], kind="pickle", format="joblib"
        )
        for start, stop in layout.nested
    )
    if end < len(raw):
        members.append(Member("<after the pickle>", raw[end:], kind="pickle", format="joblib"))
    _check_plain_reading(raw, cuts, stream.max_bytes)
    # object arrays nested in object arrays are copied once per level: only the bytes past
    # the file's own size count, as for overlapping archive members
    reads = ArchiveReads(stream.budget, len(raw))
    for member in members:
        reads.add(len(member.data), f"{stream.name}!{member.name}", "a joblib part")
    return members


def _check_plain_reading(raw: bytes, cuts: list[tuple[int, int]], max_bytes: int) -> None:
    """Plain :func:`pickle.load` reads array bytes as opcodes: refuse a file whose array bytes
    would run a global that way (a payload hidden from a joblib-aware reading)."""
    if not cuts:
        return
    try:
        verify(raw, 0, limits=Limits(max_input_bytes=max_bytes))
    except SafePickleError as exc:
        failed_at = exc.offset if exc.offset is not None else len(raw)
    else:
        failed_at = len(raw)
    first = cuts[0][0]
    if failed_at > first and names_global(raw[first:failed_at]):
        raise ContainerError(
            "read as a plain pickle, this joblib file's array bytes name a global: a payload "
            "hidden from joblib-aware scanners",
            offset=first,
        )
