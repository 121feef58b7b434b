"""The zip format ``torch.save`` has written since torch 1.6.

``<top>/data.pkl`` is the pickled object; each storage is the member ``<top>/data/<key>``,
exactly ``numel * itemsize`` bytes, read once, when the first persistent id names it.
"""

from __future__ import annotations

import io
import sys
from typing import Any

import torch
from safepickle import Policy

from .archive import Archive
from .errors import CheckpointError
from .locations import Devices
from .persistent import Storages, load_pickle, parse_storage_id

__all__ = ["load_zip"]


class _ZipStorages:
    """Resolves the persistent ids of one zip checkpoint to its members."""

    def __init__(self, archive: Archive, devices: Devices, swap: bool) -> None:
        self.archive = archive
        self.devices = devices
        self.swap = swap
        self.storages = Storages()

    def storage(self, pid: object) -> torch.storage.TypedStorage:
        sid = parse_storage_id(pid)
        made = self.storages.get(sid)
        if made is not None:
            return made
        device = self.devices.resolve(sid.location)  # checked before a byte is read
        name = f"data/{sid.key}"
        size = self.archive.size(name)
        if size != sid.nbytes:
            raise CheckpointError(
                f"storage {sid.key} should hold {sid.numel} x {sid.dtype} ({sid.nbytes} bytes) "
                + ("but the checkpoint has no such member" if size < 0 else f"but has {size}")
            )
        if device.type == "meta":  # no data on meta: nothing is read
            untyped = torch.UntypedStorage(size, device="meta")  # type: ignore[no-untyped-call]
        else:
            untyped = self.archive.read_storage(name)
            if self.swap:
                untyped.byteswap(sid.dtype)  # type: ignore[no-untyped-call]  # torch's untyped
            untyped = self.devices.place(untyped, device)
        return self.storages.add(sid, untyped)


class _WholePickle(io.BytesIO):
    """``data.pkl``, already in memory, for :func:`safepickle.load`: its first read returns
    all of it, even when asked for less.

    safepickle reads a file in doubling chunks (64 KiB first) and verifies each prefix until
    one holds the whole pickle; the compiled verifier gives up on a truncated prefix and the
    pure-Python pass then runs over it, which on a 500 KB ``data.pkl`` (5,000 tensors) cost
    twice the rest of the load. safepickle appends whatever a read returns and seeks back to
    the pickle's end, so handing it everything at once is read exactly once and verified once.
    (``safepickle.loads`` would too, but its audit event cannot name the file.)
    """

    name: str

    def read(self, size: int | None = -1, /) -> bytes:
        return super().read(-1 if self.tell() == 0 else size)


def load_zip(archive: Archive, devices: Devices, policy: Policy) -> Any:
    """The object a zip checkpoint holds."""
    if archive.has("constants.pkl"):
        raise CheckpointError(
            f"{archive.source}: a TorchScript archive; loading one runs its code "
            "(torch.jit.load), which safepickle_torch never does"
        )
    swap = False
    if archive.has("byteorder"):
        order = archive.read_bytes("byteorder", 16)
        if order not in (b"little", b"big"):
            raise CheckpointError(f"{archive.source}: unknown byte order {order!r}")
        swap = order.decode() != sys.byteorder
    elif sys.byteorder != "little":
        swap = True  # torch reads checkpoints without a byte order mark as little-endian
    data = archive.read_bytes("data.pkl", policy.limits.max_input_bytes)
    stream = _WholePickle(data)
    stream.name = f"{archive.source}:{archive.prefix}data.pkl"  # the audit's source
    result = load_pickle(stream, policy, _ZipStorages(archive, devices, swap))
    if stream.tell() != len(data):
        raise CheckpointError(
            f"{archive.source}: {len(data) - stream.tell()} byte(s) follow data.pkl's STOP"
        )
    return result
