"""What stands in for ``torch.storage._load_from_bytes`` in plain pickles of tensors.

``pickle.dumps(tensor)`` writes the tensor's storage as ``_load_from_bytes(b"...")``, the bytes
being a whole legacy ``torch.save`` file; torch's function runs ``torch.load(weights_only=False)``
on them, an unrestricted unpickler, so the name is on safepickle's floor. The floor can never
be lifted, but a plugin may *replace* a floor item (``Decision.allow(..., substitute=f)``): the
real function is then never imported or called. :class:`NestedStorageLoader` reads the bytes
with the plugin's own legacy loader (:func:`.legacy.load_legacy`), whose pickles go through
safepickle under the policy that was loading the outer stream, so every global inside is
decided by the same rules as the outer ones.

Bounds: the bytes are part of the outer stream, so the policy's ``max_input_bytes`` bounds
them, and the legacy loader allocates no more than they hold. The result must be one storage
(what torch ever writes there), and no nesting: a ``_load_from_bytes`` inside the bytes is
refused, so a stream cannot recurse. Storages load on the CPU: there is no ``map_location`` in
:func:`safepickle.loads`, and a location in the stream must not make torch initialise a device.
"""

from __future__ import annotations

import io
from contextvars import ContextVar

import torch
from safepickle import Policy

from .errors import CheckpointError
from .legacy import load_legacy, read_header
from .locations import Devices
from .persistent import PERSISTENT_IDS

__all__ = ["NestedStorageLoader"]

#: the name pickle writes, which this loader replaces
NAME = "torch.storage._load_from_bytes"
_INSIDE: ContextVar[bool] = ContextVar("safepickle_torch_from_bytes", default=False)
_PERSISTENT_IDS_NAME = f"{type(PERSISTENT_IDS).__module__}.{type(PERSISTENT_IDS).__qualname__}"


class NestedStorageLoader:
    """``torch.storage._load_from_bytes``, read through safepickle under ``policy``.

    One per policy (the policy caches the decision that hands it out); it derives, once, the
    policy that also resolves storage persistent ids.
    """

    __slots__ = ("_header", "_nested", "_policy")

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._nested: Policy | None = None
        # The header pickles (magic, version, system info) are the same bytes in every storage
        # torch pickles on one machine: once they passed the checks under this policy, the same
        # bytes are skipped rather than read again (three of the five pickles per tensor).
        self._header = b"\x00"  # matches no legacy file

    def __repr__(self) -> str:
        return f"<safepickle_torch's checked replacement for {NAME}>"

    def _nested_policy(self) -> Policy:
        nested = self._nested
        if nested is None:
            nested = self._policy
            if _PERSISTENT_IDS_NAME not in nested.describe()["plugins"]:
                nested = nested.with_plugins(PERSISTENT_IDS)
            self._nested = nested
        return nested

    def __call__(self, data: object) -> torch.storage.TypedStorage:
        if type(data) is not bytes:
            raise CheckpointError(f"{NAME} takes bytes, got {type(data).__name__}")
        if _INSIDE.get():
            raise CheckpointError(f"{NAME} inside the bytes of another: torch never nests them")
        source = f"{NAME}(<{len(data)} bytes>)"
        if not data.startswith(b"\x80"):
            raise CheckpointError(f"{source}: not a legacy torch.save file (no pickle header)")
        file = io.BytesIO(data)
        file.name = source  # the audit events' source
        policy = self._nested_policy()
        token = _INSIDE.set(True)
        try:
            header = self._header
            if data.startswith(header):
                file.seek(len(header))
            else:
                read_header(file, source, policy)
                header = data[: file.tell()]
            # a Devices per call: it caches the locations it saw, which the stream chooses
            result = load_legacy(file, source, Devices("cpu"), policy, header_read=True)
        finally:
            _INSIDE.reset(token)
        self._header = header  # only after a whole load succeeded
        if not isinstance(result, torch.storage.TypedStorage):
            raise CheckpointError(
                f"{source}: holds {type(result).__name__}, not a storage (torch writes one here)"
            )
        return result
