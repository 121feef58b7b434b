"""The torch allow-list: exact names, each with the reason it is safe with any arguments.

This module is the ``torch`` entry point (``Policy(plugins=["torch"])``). It admits only what a
tensor, a ``Parameter``, a state dict or an optimizer state needs, never a module wildcard:
``torch.*`` would admit ``torch.load`` and ``torch.storage._load_from_bytes``, which unpickle
without restriction. Functions that would trust the stream's sizes are handed out as the
checked versions in :mod:`safepickle_torch.rebuild` (``Decision.substitute``), and storage
classes as inert tags (:class:`~safepickle_torch.rebuild.StorageTag`): constructing a storage
from a pickle (``torch.FloatStorage(10**12)``) would allocate whatever the stream asks for.

Two names torch pickles are on safepickle's floor, which no plugin can lift; this plugin
*replaces* them (``REPLACED``), so the real functions are never imported or called:
``torch.storage._load_from_bytes`` (in every plain ``pickle.dumps`` of a tensor; torch's
version runs an unrestricted ``torch.load``) by
:class:`~safepickle_torch.from_bytes.NestedStorageLoader`, which reads the bytes through
safepickle under the same policy; and ``torch.serialization._get_layout`` by a lookup of the
real layout names.

Everything torch's own weights-only unpickler admits was considered; what is left out, and why,
is in ``LEFT_OUT``.
"""

from __future__ import annotations

import types
from typing import Any

import torch
from safepickle import Decision, GlobalRef, Policy, UnsafeOpcode, hookimpl
from safepickle.verify import Verified

from . import rebuild, sparse
from .errors import CheckpointError
from .from_bytes import NestedStorageLoader
from .persistent import parse_storage_id

__all__ = ["ALLOWED", "LEFT_OUT", "REPLACED", "safepickle_decide", "safepickle_inspect_stream"]

_RULE = "torch"


def _dtype_names() -> dict[str, str]:
    """Every ``torch.<name>`` that is a dtype object (pickle writes dtypes by name)."""
    names = {}
    for name in dir(torch):
        if not name.startswith("_") and isinstance(getattr(torch, name, None), torch.dtype):
            names[f"torch.{name}"] = "a dtype constant: data, not callable"
    return names


def _qscheme_names() -> dict[str, str]:
    names = {}
    for name in dir(torch):
        if not name.startswith("_") and isinstance(getattr(torch, name, None), torch.qscheme):
            names[f"torch.{name}"] = "a quantization scheme constant: data, not callable"
    return names


_SUBSTITUTES: dict[str, tuple[Any, str]] = {
    "torch.Size": (
        rebuild.size,
        "narrowed: a tuple of ints from a tuple or list (never from a range, which it would "
        "materialise)",
    ),
    "torch._utils._rebuild_tensor_v2": (
        rebuild.rebuild_tensor_v2,
        "narrowed: a view of a storage the checkpoint holds, bounds-checked before set_; "
        "no hooks, metadata limited to the conj/neg bits",
    ),
    "torch._utils._rebuild_tensor_v3": (
        rebuild.rebuild_tensor_v3,
        "narrowed: as _rebuild_tensor_v2, with the dtype given separately (uint16, float8 ...)",
    ),
    "torch._utils._rebuild_tensor": (
        rebuild.rebuild_tensor,
        "narrowed: as _rebuild_tensor_v2 (older checkpoints)",
    ),
    "torch._utils._rebuild_parameter": (
        rebuild.rebuild_parameter,
        "narrowed: Parameter(tensor, requires_grad) of a tensor the stream rebuilt; no hooks",
    ),
    "torch._utils._rebuild_parameter_with_state": (
        rebuild.rebuild_parameter_with_state,
        "narrowed: as _rebuild_parameter; the state may only add plain attributes that the "
        "Parameter class does not define (no descriptors, no dunders)",
    ),
    "torch._utils._rebuild_qtensor": (
        rebuild.rebuild_qtensor,
        "narrowed: bounds-checked against its storage before anything is allocated; "
        "per-tensor and per-channel affine schemes only",
    ),
    "torch._utils._rebuild_meta_tensor_no_storage": (
        rebuild.rebuild_meta_tensor,
        "narrowed: a meta tensor holds no data (no allocation); sizes and strides checked",
    ),
    "torch._utils._rebuild_sparse_tensor": (
        sparse.rebuild_sparse_tensor,
        "narrowed: COO/CSR/CSC/BSR/BSC from dense tensors the stream rebuilt, with torch's "
        "invariant checks on (indices inside size, nnz, ordering, coalesced claim) before the "
        "tensor exists",
    ),
}


def _storage_tags() -> dict[str, tuple[Any, str]]:
    tags: dict[str, tuple[Any, str]] = {}
    reason = (
        "replaced by an inert tag: only the type field of a storage persistent id; "
        "calling it is refused (it would allocate what the stream asks)"
    )
    for name, dtype in rebuild.LEGACY_STORAGE_DTYPES.items():
        tags[f"torch.{name}"] = (rebuild.StorageTag(f"torch.{name}", dtype), reason)
        if dtype not in (torch.qint8, torch.quint8, torch.qint32):  # old CUDA checkpoints
            cuda = f"torch.cuda.{name}"
            tags[cuda] = (rebuild.StorageTag(cuda, dtype), reason)
    untyped = rebuild.StorageTag("torch.storage.UntypedStorage", torch.uint8)
    tags["torch.storage.UntypedStorage"] = (untyped, reason)
    tags["torch.UntypedStorage"] = (untyped, reason)
    return tags


def _plain() -> dict[str, str]:
    return {
        "torch.device": "parses a device string or (type, index); touches no device",
        **_dtype_names(),
        **_qscheme_names(),
    }


#: canonical name -> (object handed out instead, or None for the real one; why it is safe)
ALLOWED: types.MappingProxyType[str, tuple[Any, str]] = types.MappingProxyType(
    {
        **{name: (None, reason) for name, reason in _plain().items()},
        **_SUBSTITUTES,
        **_storage_tags(),
    }
)

_TENSOR_TYPES = (
    "BFloat16",
    "Bool",
    "Byte",
    "Char",
    "Double",
    "Float",
    "Half",
    "Int",
    "Long",
    "Short",
)
_LEGACY_CONSTRUCTORS = {
    f"{module}.{kind}Tensor": "a legacy tensor constructor: FloatTensor(n) allocates n "
    "elements from one int of the stream (sparse ones build unvalidated tensors)"
    for module in ("torch", "torch.cuda", "torch.sparse", "torch.cuda.sparse")
    for kind in _TENSOR_TYPES
}

#: names torch's weights-only unpickler admits that this plugin does not, and why
LEFT_OUT: types.MappingProxyType[str, str] = types.MappingProxyType(
    {
        **_LEGACY_CONSTRUCTORS,
        "torch.QUInt4x2Storage": "packed 4-bit quantized storage: two elements per byte, which "
        "the bounds checks do not model",
        "torch.QUInt2x4Storage": "packed 2-bit quantized storage: four elements per byte",
        "torch._tensor._rebuild_from_type_v2": "calls any callable of the stream and sets "
        "arbitrary attributes; only tensor subclasses and tensors with Python attributes "
        "need it",
        "torch._utils._rebuild_wrapper_subclass": "instantiates any tensor subclass the stream "
        "names (DTensor and friends need their own review)",
        "torch._utils._rebuild_device_tensor_from_numpy": "moves data to a device the stream "
        "names, which may initialise a backend; needs numpy arrays",
        "torch._utils._rebuild_device_tensor_from_cpu_tensor": "moves data to a device the "
        "stream names, which may initialise a backend",
        "torch._utils._rebuild_nested_tensor": "views a buffer through sizes/strides/offsets "
        "that torch does not bounds-check",
        "torch.Tensor": "only used by _rebuild_from_type_v2",
        "torch.nn.parameter.Parameter": "only used by NEWOBJ in hand-written streams; "
        "Parameters arrive through _rebuild_parameter",
        "torch.storage.TypedStorage": "never in a checkpoint's persistent ids",
    }
)


#: floor names this plugin replaces (never allows): name -> why the replacement is safe. The
#: core accepts only an allow with a substitute for a floor name, and any deny brings the floor
#: back.
REPLACED: types.MappingProxyType[str, str] = types.MappingProxyType(
    {
        "torch.storage._load_from_bytes": "replaced: the bytes (a legacy torch.save file) are "
        "read by safepickle_torch's legacy loader through safepickle under the same policy; "
        "one CPU storage, no nesting, no more memory than the bytes hold",
        "torch.serialization._get_layout": "replaced: a lookup of the real layout names "
        "(torch.sparse_coo ...), nothing else",
    }
)


def _replacement(dotted: str, policy: Policy) -> object:
    if dotted == "torch.storage._load_from_bytes":
        return NestedStorageLoader(policy)  # one per policy: the decision is cached
    return sparse.layout


@hookimpl
def safepickle_decide(ref: GlobalRef, policy: Policy) -> Decision | None:
    """Allow exactly the names in :data:`ALLOWED`, replace those in :data:`REPLACED`;
    abstain on everything else."""
    dotted = ref.dotted
    entry = ALLOWED.get(dotted)
    if entry is not None:
        substitute, reason = entry
        return Decision.allow(reason, rule=_RULE, substitute=substitute)
    replaced = REPLACED.get(dotted)
    if replaced is not None:
        return Decision.allow(replaced, rule=_RULE, substitute=_replacement(dotted, policy))
    return None


@hookimpl
def safepickle_inspect_stream(verified: Verified) -> None:
    """Refuse a stream that changes (``BUILD``, ``SETITEM`` ...) a value one of this plugin's
    names returned, before anything runs. torch.save never does; and ``BUILD`` on a tensor is
    ``Tensor.__setstate__``, which calls ``set_`` with the stream's sizes (growing a storage
    to whatever they say, past every check of :mod:`.rebuild`) or sets backward hooks."""
    for use in verified.globals:
        if use.mutated and (use.ref.dotted in ALLOWED or use.ref.dotted in REPLACED):
            raise UnsafeOpcode(
                f"the stream changes a value '{use.ref.dotted}' returned (BUILD, SETITEM, "
                "APPEND ...); torch.save never does, and Tensor.__setstate__ would resize its "
                "storage to the stream's sizes",
                opcode="BUILD",
                offset=use.offset,
            )


@hookimpl(trylast=True)
def safepickle_persistent_load(pid: Any) -> Any:
    """The last resort for a storage persistent id: a clear error.

    ``torch.save`` refers to every storage by a persistent id; :func:`safepickle_torch.load`
    resolves them from the checkpoint's own members (its resolver is asked first). Declaring
    this hook tells the verifier that a policy naming ``torch`` expects persistent ids, so
    ``safepickle scan --plugin torch`` verifies and decides a checkpoint's ``data.pkl`` instead
    of refusing its first ``BINPERSID``. A ``data.pkl`` loaded on its own has no storages.
    """
    parse_storage_id(pid)  # anything but a storage id is named as such
    raise CheckpointError(
        "a storage persistent id can only be resolved from its checkpoint: load the file with "
        "safepickle_torch.load(path), which reads the storages it refers to"
    )
