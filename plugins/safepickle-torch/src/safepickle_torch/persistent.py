"""Storage persistent ids, checked field by field before anything is read or allocated.

``torch.save`` writes ``("storage", <storage type>, key, location, numel)`` (the legacy format
adds a sixth field, ``view_metadata``, always ``None`` since torch 1.0). Every field is stream
data: the type must be one of the inert tags the allow-list hands out, the key a decimal
number (it names a zip member or a legacy record), the location a device name, numel a count.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import IO, Any, NamedTuple, Protocol

import safepickle
import torch
from safepickle import Policy, hookimpl

from .errors import CheckpointError
from .rebuild import StorageTag

__all__ = [
    "NO_STORAGES",
    "PERSISTENT_IDS",
    "StorageId",
    "StoragePersistentIds",
    "StorageSource",
    "Storages",
    "load_pickle",
    "parse_storage_id",
]

_KEY = re.compile(r"[0-9]{1,20}\Z")


class StorageId(NamedTuple):
    dtype: torch.dtype
    key: str
    location: str
    numel: int

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize


def parse_storage_id(pid: object, *, legacy: bool = False) -> StorageId:
    """The checked fields of a storage persistent id; a :class:`CheckpointError` otherwise."""
    size = 6 if legacy else 5
    if type(pid) is not tuple or len(pid) != size or pid[0] != "storage":
        shape = "('storage', type, key, location, numel" + (", None)" if legacy else ")")
        raise CheckpointError(f"persistent id {_short(pid)} is not {shape}")
    kind, key, location, numel = pid[1:5]
    if legacy and pid[5] is not None:
        raise CheckpointError("storage views (view_metadata) of torch < 1.0 are not supported")
    if not isinstance(kind, StorageTag):
        raise CheckpointError(f"persistent id names {_short(kind)}, not a storage type")
    if type(key) is not str or not _KEY.match(key):
        raise CheckpointError(f"persistent id key {_short(key)} is not a storage key")
    if type(location) is not str:
        raise CheckpointError(f"storage location {_short(location)} is not a device name")
    if type(numel) is not int or numel < 0:
        raise CheckpointError(f"persistent id numel {_short(numel)} is not a count")
    return StorageId(kind.dtype, key, location, numel)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class StorageSource(Protocol):
    """What one load resolves storage persistent ids against (a zip, a legacy file)."""

    def storage(self, pid: object) -> torch.storage.TypedStorage: ...


class Storages:
    """The storages one load made, by key: a key is read once, and every persistent id that
    names it must agree on its dtype and size."""

    def __init__(self) -> None:
        self._made: dict[str, tuple[StorageId, torch.storage.TypedStorage]] = {}

    def get(self, sid: StorageId) -> torch.storage.TypedStorage | None:
        made = self._made.get(sid.key)
        if made is None:
            return None
        if (made[0].dtype, made[0].numel) != (sid.dtype, sid.numel):
            raise CheckpointError(
                f"storage {sid.key} is referred to as {made[0].numel} x {made[0].dtype} and as "
                f"{sid.numel} x {sid.dtype}"
            )
        return made[1]

    def add(self, sid: StorageId, untyped: torch.UntypedStorage) -> torch.storage.TypedStorage:
        # what torch.load returns for a storage, and what the rebuild functions take
        typed = torch.storage.TypedStorage(  # type: ignore[no-untyped-call]
            wrap_storage=untyped, dtype=sid.dtype, _internal=True
        )
        self._made[sid.key] = (sid, typed)
        return typed

    def keys(self) -> set[str]:
        return set(self._made)


_CURRENT: ContextVar[StorageSource | None] = ContextVar("safepickle_torch_load", default=None)


class StoragePersistentIds:
    """The plugin :func:`safepickle_torch.load` adds to the policy: resolves storage
    persistent ids against the checkpoint being loaded, and nothing outside such a call (the
    ``torch`` entry point alone resolves no persistent id, so the verifier refuses them)."""

    @hookimpl
    def safepickle_persistent_load(self, pid: Any) -> Any:
        source = _CURRENT.get()
        if source is None:
            return None
        return source.storage(pid)


#: the one instance loads add to their policy (a stable name: derived policies are cached)
PERSISTENT_IDS = StoragePersistentIds()


class _NoStorages:
    """For pickles that hold no storage (a legacy file's header and key list)."""

    def storage(self, pid: object) -> torch.storage.TypedStorage:
        raise CheckpointError(f"persistent id {_short(pid)} where no storage belongs")


NO_STORAGES: StorageSource = _NoStorages()


def load_pickle(
    file: IO[bytes], policy: Policy, source: StorageSource, encoding: str = "utf-8"
) -> Any:
    """One pickle from ``file`` through safepickle, its storages resolved by ``source``."""
    token = _CURRENT.set(source)
    try:
        return safepickle.load(file, encoding=encoding, policy=policy)
    finally:
        _CURRENT.reset(token)
