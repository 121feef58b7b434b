"""The legacy format of ``torch.save`` (torch < 1.6, or ``_use_new_zipfile_serialization=False``).

Five pickles in a row, then the storages' bytes: the magic number, the format version (1001),
a dict of system info, the object (storages as persistent ids with a sixth field,
``view_metadata``), and the sorted list of storage keys; then, for each key in that order, an
8-byte element count and the storage's bytes. The same format is what a tensor pickled with
plain :mod:`pickle` carries inside ``torch.storage._load_from_bytes``.

The storages' bytes come after the pickle that uses them, so each persistent id gets an
all-zero storage of its declared size, charged against the bytes the file has left (a stream
cannot ask for more memory than the file holds), and the storages are filled in place once
the key list has been read and matched against them. Storages load on the CPU only.
"""

from __future__ import annotations

import sys
from typing import IO, Any

import torch
from safepickle import Policy

from .errors import CheckpointError
from .locations import Devices
from .persistent import NO_STORAGES, StorageId, Storages, load_pickle, parse_storage_id
from .sparse import checked_after

__all__ = ["MAGIC", "load_legacy", "read_header"]

MAGIC = 0x1950A86A20F9469CFC6C
_VERSION = 1001
#: the most storages a legacy file may declare (each costs a pickle entry anyway)
_MAX_KEYS = 1_000_000


class _LegacyStorages:
    """Zero-filled storages of the declared sizes, within the bytes the file has left."""

    def __init__(self, devices: Devices, budget: int) -> None:
        self.devices = devices
        self.budget = budget
        self.storages = Storages()
        self.buffers: dict[str, tuple[StorageId, bytearray]] = {}

    def storage(self, pid: object) -> torch.storage.TypedStorage:
        sid = parse_storage_id(pid, legacy=True)
        made = self.storages.get(sid)
        if made is not None:
            return made
        device = self.devices.resolve(sid.location)
        if device.type != "cpu":
            raise CheckpointError(
                f"a legacy checkpoint loads on the CPU only; the storage was saved on "
                f"{sid.location!r} (pass map_location='cpu')"
            )
        if sid.nbytes > self.budget:
            raise CheckpointError(
                f"storage {sid.key} declares {sid.nbytes} bytes but the file has only "
                f"{self.budget} left"
            )
        self.budget -= sid.nbytes
        buffer = bytearray(sid.nbytes)
        self.buffers[sid.key] = (sid, buffer)
        untyped = (
            torch.frombuffer(buffer, dtype=torch.uint8).untyped_storage()
            if buffer
            else torch.UntypedStorage(0)  # type: ignore[no-untyped-call]  # torch's untyped
        )
        return self.storages.add(sid, untyped)

    def fill(self, file: IO[bytes], keys: object, source: str) -> None:
        """Read every storage's bytes, in the order of the key list, into its buffer."""
        if (
            type(keys) is not list
            or len(keys) > _MAX_KEYS
            or not all(type(key) is str for key in keys)
            or len(set(keys)) != len(keys)
            or set(keys) != set(self.buffers)
        ):
            raise CheckpointError(
                f"{source}: the storage key list does not match the storages the object uses"
            )
        for key in keys:
            sid, buffer = self.buffers[key]
            count = file.read(8)
            if len(count) != 8 or int.from_bytes(count, "little", signed=True) != sid.numel:
                raise CheckpointError(f"{source}: storage {key}'s record is not {sid.numel} long")
            view = memoryview(buffer)
            done = 0
            while done < len(buffer):
                got = file.readinto(view[done:])  # type: ignore[attr-defined]
                if not got:
                    raise CheckpointError(f"{source}: storage {key} is truncated")
                done += got
        if file.read(1):
            raise CheckpointError(f"{source}: bytes follow the last storage")


def read_header(file: IO[bytes], source: str, policy: Policy) -> None:
    """Read and check the three header pickles (magic number, version, system info)."""
    if sys.byteorder != "little":
        raise CheckpointError(f"{source}: legacy checkpoints load on little-endian hosts only")
    header = [load_pickle(file, policy, NO_STORAGES) for _ in range(3)]
    magic, version, info = header
    if magic != MAGIC or version != _VERSION:
        raise CheckpointError(f"{source}: not a legacy torch checkpoint (magic or version)")
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise CheckpointError(f"{source}: only little-endian legacy checkpoints are read")


def load_legacy(
    file: IO[bytes], source: str, devices: Devices, policy: Policy, *, header_read: bool = False
) -> Any:
    """The object a legacy checkpoint holds (``header_read``: the file is past a header the
    caller has read and checked, with :func:`read_header`)."""
    if not header_read:
        read_header(file, source, policy)
    start = file.tell()
    file.seek(0, 2)
    budget = file.tell() - start
    file.seek(start)
    storages = _LegacyStorages(devices, budget)
    with checked_after():  # sparse tensors: their indices are zeros until fill()
        result = load_pickle(file, policy, storages)
        keys = load_pickle(file, policy, NO_STORAGES)
        storages.fill(file, keys, source)
    return result
