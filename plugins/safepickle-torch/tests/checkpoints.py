"""Builders for the tests: real checkpoints, hand-made ones, and a deep comparison.

Hand-made checkpoints are zips laid out as ``torch.save`` writes them, with a pickle written by
a real :class:`pickle.Pickler` whose persistent ids are whatever a test asks for, so a test can
put any hostile field into an otherwise well-formed file.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import torch


def saved(obj: object, protocol: int = 2, *, legacy: bool = False) -> io.BytesIO:
    """``torch.save(obj)`` into memory, rewound; ``legacy``: the pre-1.6 non-zip format."""
    buffer = io.BytesIO()
    torch.save(obj, buffer, pickle_protocol=protocol, _use_new_zipfile_serialization=not legacy)
    buffer.seek(0)
    return buffer


def legacy_file(main: bytes, keys: object, records: list[tuple[int, bytes]]) -> io.BytesIO:
    """A legacy checkpoint laid out by hand: header pickles, ``main``, the key list, then
    each record as (the element count it claims, its bytes)."""
    info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}
    parts = [pickle.dumps(value, 2) for value in (0x1950A86A20F9469CFC6C, 1001, info)]
    parts += [main, pickle.dumps(keys, 2)]
    parts += [count.to_bytes(8, "little", signed=True) + data for count, data in records]
    return io.BytesIO(b"".join(parts))


class PersistentId:
    """Pickled as the persistent id ``fields`` (exactly what the stream will carry)."""

    def __init__(self, *fields: object) -> None:
        self.fields = fields


class Call:
    """Pickled as ``func(*args)``: REDUCE on a global, the shape of every reduce payload."""

    def __init__(self, func: object, *args: object) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.func, self.args


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: object) -> object:
        return obj.fields if isinstance(obj, PersistentId) else None


def stream(obj: object, protocol: int = 2) -> bytes:
    """``obj`` pickled, with PersistentId objects written as persistent ids."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=protocol).dump(obj)
    return buffer.getvalue()


def storage_id(key: str, numel: int, kind: object = torch.FloatStorage, location: str = "cpu"):
    """A storage persistent id as torch.save writes it."""
    return PersistentId("storage", kind, key, location, numel)


def tensor_call(
    pid: PersistentId, offset: int, size: tuple[int, ...], stride: tuple[int, ...]
) -> Call:
    return Call(torch._utils._rebuild_tensor_v2, pid, offset, size, stride, False, OrderedDict())


def checkpoint(
    data_pkl: bytes,
    members: Mapping[str, bytes] | None = None,
    prefix: str = "archive",
    byteorder: str | None = "little",
) -> io.BytesIO:
    """A zip as torch.save lays it out: ``<prefix>/data.pkl``, ``<prefix>/data/<key>`` ..."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{prefix}/data.pkl", data_pkl)
        if byteorder is not None:
            archive.writestr(f"{prefix}/byteorder", byteorder)
        for name, data in (members or {}).items():
            archive.writestr(f"{prefix}/{name}", data)
    buffer.seek(0)
    return buffer


def raw_zip(entries: list[tuple[str, bytes, int | None]]) -> io.BytesIO:
    """A zip written by hand: each entry is (name, bytes written at its local header, the
    central directory's offset for it or None for where it was written). Lets a test point two
    central entries at overlapping data, which no zip writer does."""
    body = io.BytesIO()
    central = []
    for name, data, offset_override in entries:
        raw_name = name.encode()
        offset = body.tell()
        crc = zlib.crc32(data)
        body.write(
            struct.pack(
                "<4s2B4HL2L2H",
                b"PK\x03\x04",
                20,
                0,
                0,
                0,
                0,
                0,
                crc,
                len(data),
                len(data),
                len(raw_name),
                0,
            )
        )
        body.write(raw_name + data)
        central.append(
            (raw_name, crc, len(data), offset if offset_override is None else offset_override)
        )
    start = body.tell()
    for raw_name, crc, size, offset in central:
        body.write(
            struct.pack(
                "<4s4B4HL2L5H2L",
                b"PK\x01\x02",
                20,
                0,
                20,
                0,
                0,
                0,
                0,
                0,
                crc,
                size,
                size,
                len(raw_name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
        )
        body.write(raw_name)
    end = body.tell()
    body.write(
        struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), end - start, start, 0
        )
    )
    body.seek(0)
    return body


def local_entry(name: str, data: bytes) -> bytes:
    """The bytes of one stored local entry (header, name, data), to embed inside another."""
    raw_name = name.encode()
    header = struct.pack(
        "<4s2B4HL2L2H",
        b"PK\x03\x04",
        20,
        0,
        0,
        0,
        0,
        0,
        zlib.crc32(data),
        len(data),
        len(data),
        len(raw_name),
        0,
    )
    return header + raw_name + data


def assert_same(got: Any, want: Any, path: str = "obj") -> None:
    """Deep equality that also compares what ``==`` on tensors does not: type, dtype, shape,
    strides, offset, grad flag, conj/neg bits, exact bytes, and shared storages."""
    assert type(got) is type(want), f"{path}: {type(got)} != {type(want)}"
    if isinstance(want, torch.Tensor):
        _assert_same_tensor(got, want, path)
    elif isinstance(want, dict):
        assert list(got) == list(want), f"{path}: keys {list(got)} != {list(want)}"
        for key in want:
            assert_same(got[key], want[key], f"{path}[{key!r}]")
        assert getattr(got, "__dict__", {}).keys() == getattr(want, "__dict__", {}).keys()
        if hasattr(want, "_metadata"):
            assert got._metadata == want._metadata, f"{path}._metadata"
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), f"{path}: len {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{i}]")
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


def _raw(tensor: torch.Tensor) -> torch.Tensor:
    """The whole storage behind ``tensor`` as uint8 (``bytes(storage)`` goes byte by byte)."""
    return torch.empty(0, dtype=torch.uint8, device=tensor.device).set_(tensor.untyped_storage())


def _assert_same_sparse(got: torch.Tensor, want: torch.Tensor, path: str) -> None:
    """Sparse tensors: the same components (so the same elements, in the same order)."""
    if want.layout == torch.sparse_coo:
        assert got.is_coalesced() == want.is_coalesced(), f"{path}.is_coalesced"
        parts = [(t._indices(), t._values()) for t in (got, want)]
    else:
        compressed, plain = {
            torch.sparse_csr: ("crow_indices", "col_indices"),
            torch.sparse_bsr: ("crow_indices", "col_indices"),
            torch.sparse_csc: ("ccol_indices", "row_indices"),
            torch.sparse_bsc: ("ccol_indices", "row_indices"),
        }[want.layout]
        parts = [(getattr(t, compressed)(), getattr(t, plain)(), t.values()) for t in (got, want)]
    for i, (g, w) in enumerate(zip(*parts, strict=True)):
        _assert_same_tensor(g, w, f"{path}.component{i}")


def _assert_same_tensor(got: torch.Tensor, want: torch.Tensor, path: str) -> None:
    for attribute in ("dtype", "shape", "device", "requires_grad", "is_quantized"):
        assert getattr(got, attribute) == getattr(want, attribute), f"{path}.{attribute}"
    assert got.layout == want.layout, f"{path}.layout"
    if want.device.type == "meta":
        return
    if want.layout != torch.strided:
        _assert_same_sparse(got, want, path)
        return
    if want.is_quantized:
        assert got.qscheme() == want.qscheme(), f"{path}.qscheme"
        assert torch.equal(got.int_repr(), want.int_repr()), f"{path} values"
        return
    assert got.stride() == want.stride(), f"{path}.stride"
    assert got.storage_offset() == want.storage_offset(), f"{path}.storage_offset"
    assert got.is_conj() == want.is_conj() and got.is_neg() == want.is_neg(), f"{path} bits"
    assert torch.equal(_raw(got), _raw(want)), f"{path} bytes"
    if isinstance(want, torch.nn.Parameter):
        assert vars(got).keys() == vars(want).keys(), f"{path} attributes"
