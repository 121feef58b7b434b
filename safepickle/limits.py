"""Resource limits the verifier enforces before the C unpickler sees a byte."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import PolicyError

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """Upper bounds on one pickle stream; each is checked statically by the verifier.

    The defaults sit far above what a benign payload needs (a list of a million ints is about a
    million opcodes and a stack of a thousand; a 10,000-deep nested list a stack of 10,000) and
    far below what exhausts a machine. Override per policy: ``Limits(max_input_bytes=8 << 30)``
    or ``policy.with_limits(max_opcodes=...)``.

    .. versionadded:: 0.1
    """

    #: bytes read for one pickle; a file is never read past this, whatever a length prefix says
    max_input_bytes: int = 2 << 30
    #: opcodes executed for one pickle (each can allocate an object: this bounds memory)
    max_opcodes: int = 20_000_000
    #: values on the unpickler stack at once, marks included: nesting depth and open tuples
    max_stack_depth: int = 2_000_000
    #: MARKs open at once: tuples, batches and containers nested inside each other's MARK
    max_nesting: int = 100_000
    #: memo entries; an index is also never beyond the entries the stream has written so far
    max_memo_entries: int = 10_000_000
    #: items one opcode adds to a container or tuple at once (APPENDS, SETITEMS, TUPLE ...)
    max_container_items: int = 2_000_000
    #: distinct globals one stream names (each is decided, imported and resolved once)
    max_globals: int = 50_000
    #: total length of the distinct globals' names: many long names would make megabytes of
    #: refs and decisions out of kilobytes of pickle
    max_global_name_bytes: int = 1 << 20
    #: digits of a protocol-0 INT/LONG (CPython's own default ``int`` max str digits is 4300)
    max_int_digits: int = 4300
    #: nesting depth of anything the stream builds (containers, tuples, call results), counted
    #: through shared references and later mutation. CPython hashes tuples and frees slices and
    #: deques recursively in C with no guard; 10,000 admits everything CPython 3.10-3.13's own
    #: pickler writes under its default recursion limit (3.13: tuples 9,998 deep) and stays
    #: within a 1 MiB thread stack
    max_depth: int = 10_000
    #: bytes one load may allocate, as estimated by the verifier before anything runs plus what
    #: narrowed constructors charge at run time (copies); see :meth:`result_bound`
    max_result_bytes: int = 4 << 30
    #: ... and at most this many times the stream's own size (or ``result_bytes_floor`` for a
    #: small stream): a 10 MB input may allocate at most 1,000 MB by default
    max_result_ratio: int = 100
    #: the allowance of any stream, however small
    result_bytes_floor: int = 64 << 20
    #: objects hashed in one load, counted unfolded (a tuple built from itself with DUP has
    #: 2**n leaves after n opcodes, and hashing it walks every one in C)
    max_hash_work: int = 50_000_000
    #: distinct keys with one hash value in one dict or set; hashes of ints, floats, Decimals,
    #: tuples ... are not randomized, so colliding keys make building a dict quadratic
    max_hash_collisions: int = 64
    #: bytes of a stream that uses something only the pure-Python verifier handles (protocol
    #: 0-1 text opcodes, Python 2 strings in an encoding other than ASCII, Latin-1 or
    #: ``bytes``, calls of ``range``, the ``getattr`` shape of nested classes, ints of more than
    #: 256 bytes, memo indexes far past the memo: ``docs/threat-model.md``), counted from its
    #: start. That pass takes up to a few microseconds a byte (a dense stream of new
    #: containers), where the compiled one takes a few nanoseconds: this bounds it to about a
    #: second and 100 MB (a 10 MB stream would take half a minute)
    max_slow_path_bytes: int = 512 << 10
    #: bytes a container (gzip, bz2, xz, zlib, zip, joblib) may expand to, across nesting
    max_decompressed_bytes: int = 2 << 30
    #: ... and at most this many times the compressed input's size (the deflate format's own
    #: maximum is about 1,032:1)
    max_expansion_ratio: int = 1100

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if type(value) is not int or value < 1:
                raise PolicyError(f"limit {field.name} must be a positive int, got {value!r}")

    def result_bound(self, stream_bytes: int) -> int:
        """The bytes one load of a ``stream_bytes`` long stream may allocate."""
        proportional = max(self.result_bytes_floor, self.max_result_ratio * stream_bytes)
        return min(self.max_result_bytes, proportional)

    def replace(self, **changes: Any) -> Limits:
        """A copy with some limits changed; unknown names are a :class:`PolicyError`."""
        known = {field.name for field in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise PolicyError(f"unknown limit(s) {unknown}; known: {sorted(known)}")
        return replace(self, **changes)
