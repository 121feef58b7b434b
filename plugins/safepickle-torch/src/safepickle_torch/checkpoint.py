"""``safepickle_torch.load``: ``torch.save`` checkpoints through the safepickle verifier.

The pickle inside a checkpoint (see :mod:`.zipformat` and :mod:`.legacy` for the two file
formats) goes through :func:`safepickle.load` under the caller's policy plus the torch
allow-list, so every global is decided before anything runs; its storage persistent ids are
checked field by field (:mod:`.persistent`) and resolved to the file's bytes.

Per-load state (the open file, the devices, the storages read so far) reaches the
persistent-id hook through a :class:`contextvars.ContextVar`, so one derived policy (and its
cache of decisions) serves every load, in any thread.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import IO, Any, Union

from safepickle import Policy

from . import plugin as torch_plugin
from .archive import Archive
from .errors import CheckpointError
from .legacy import load_legacy
from .locations import Devices, MapLocation
from .persistent import PERSISTENT_IDS
from .zipformat import load_zip

__all__ = ["load"]

FileLike = Union[str, "os.PathLike[str]", IO[bytes]]

_PLUGIN_NAMES = frozenset({"torch", torch_plugin.__name__})
_DERIVED: dict[tuple[int, tuple[object, ...]], tuple[Policy, Policy]] = {}
_DEFAULT: list[Policy] = []


def _policy_for(policy: Policy | None, allow: tuple[object, ...]) -> Policy:
    """``policy`` (and ``allow``) plus the torch allow-list, unless the policy names it, and
    the persistent-id plugin; built once and kept, so its decisions are cached across loads."""
    if policy is None:
        if not _DEFAULT:
            _DEFAULT.append(Policy(plugins=[torch_plugin]))
        policy = _DEFAULT[0]
    try:
        key: tuple[int, tuple[object, ...]] | None = (id(policy), allow)
        hit = _DERIVED.get(key)  # type: ignore[arg-type]
    except TypeError:  # an unhashable allow entry: no caching
        key, hit = None, None
    if hit is not None and hit[0] is policy:
        return hit[1]
    extra: list[object] = []
    if not _PLUGIN_NAMES & set(policy.describe()["plugins"]):
        extra.append(torch_plugin)
    derived = (policy.allowing(*allow) if allow else policy).with_plugins(*extra, PERSISTENT_IDS)
    if key is not None:
        if len(_DERIVED) >= 64:
            _DERIVED.clear()
        _DERIVED[key] = (policy, derived)  # the entry keeps policy alive: ids stay unique
    return derived


def load(
    f: FileLike,
    map_location: MapLocation = None,
    *,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
) -> Any:
    """Read a ``torch.save`` checkpoint through the safepickle verifier and policy.

    :param f: a path, or a binary file object that can seek.
    :param map_location: where storages go: ``None`` (where they were saved), a device
        (``"cpu"``, ``torch.device("cuda:0")``) for all of them, or a dict mapping saved
        locations to devices (``{"cuda:0": "cpu"}``). Callables are not accepted.
    :param policy: the safepickle policy; the torch allow-list is added to it. Default:
        the standard-library defaults plus the torch allow-list.
    :param allow: entries to allow on top of ``policy`` for this call, as in
        :func:`safepickle.load` (``allow=["argparse:Namespace"]``).
    :returns: what :func:`torch.load` with ``weights_only=True`` returns for the same file.
    :raises safepickle.SafePickleError: a refused global (:class:`~safepickle.ForbiddenGlobal`,
        naming it and how to allow it), a limit, or a malformed checkpoint
        (:class:`~safepickle_torch.CheckpointError`).

    Checkpoints saved with ``pickle_protocol=4`` or ``5`` load too, and the legacy (non-zip)
    format on the CPU. TorchScript archives are refused: loading one runs its code.

    .. versionadded:: 0.1
    """
    effective = _policy_for(policy, tuple(allow or ()))
    devices = Devices(map_location)
    with _opened(f) as (file, source):
        head = file.read(4)
        file.seek(0)
        if head == b"PK\x03\x04":
            return load_zip(Archive(file, source), devices, effective)
        if head[:1] == b"\x80":  # a pickle first: the legacy format (its magic is checked)
            return load_legacy(file, source, devices, effective)
        raise CheckpointError(f"{source}: not a torch checkpoint (no zip or legacy header)")


@contextlib.contextmanager
def _opened(f: FileLike) -> Iterator[tuple[IO[bytes], str]]:
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        with open(path, "rb") as file:
            yield file, path
        return
    if not (hasattr(f, "read") and hasattr(f, "seek") and hasattr(f, "readinto")):
        raise TypeError(f"expected a path or a seekable binary file, got {type(f).__name__!r}")
    name = getattr(f, "name", None)
    yield f, (os.fsdecode(name) if isinstance(name, (str, bytes)) else "<checkpoint>")
