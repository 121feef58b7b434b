"""Sparse tensors (COO, CSR, CSC, BSR, BSC), validated before they are handed back.

torch pickles a sparse tensor as ``_rebuild_sparse_tensor(_get_layout("torch.sparse_coo"),
(indices, values, size, is_coalesced))``. torch's own ``_rebuild_sparse_tensor`` builds it with
``check_invariants=False`` and validates only after the whole load
(``torch._utils._validate_loaded_sparse_tensors``, and only when the global sparse-invariants
switch is on); until then an index may point anywhere, and any kernel that reads it reads out
of bounds. Here every tensor is built with ``check_invariants=True``: torch checks that every
index lies inside ``size``, that ``nnz`` agrees, that compressed indices are monotonic and end
at ``nnz``, and that a claim of ``is_coalesced`` is true, before the tensor exists. Those checks
cost time in ``nnz``, never in ``size``: a sparse tensor of a huge declared size holds only the
elements its components hold, which the checkpoint's bytes already paid for.

A legacy file (and so the bytes of a plain pickle's ``_load_from_bytes``) stores the storages'
bytes *after* the pickle that uses them, so at rebuild time the indices are still zeros. Inside
such a load (:func:`checked_after`) a sparse tensor is built unchecked, as torch builds it, and
torch's checks run on every one once the bytes are in, before the load returns; the unchecked
tensor is reachable by nothing but the pickle's own rebuild functions until then, and none of
them reads a sparse tensor's data.

``torch.serialization._get_layout`` (a name lookup; its module is on safepickle's floor) is
replaced by :func:`layout`, which knows only the real layout names.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from contextvars import ContextVar
from typing import NamedTuple, NoReturn

import torch

from .errors import CheckpointError

__all__ = ["LAYOUTS", "checked_after", "layout", "rebuild_sparse_tensor"]

#: every public ``torch.layout`` by the name pickle writes (``str(torch.sparse_coo)``)
LAYOUTS: types.MappingProxyType[str, torch.layout] = types.MappingProxyType(
    {
        str(value): value
        for name, value in vars(torch).items()
        if isinstance(value, torch.layout) and not name.startswith("_")
    }
)
_COMPRESSED = frozenset({torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc})
#: most dimensions a sparse tensor may declare (batch + sparse + dense)
_MAX_DIMS = 64
_TORCH_ERRORS = (RuntimeError, ValueError, TypeError, IndexError)


def _fail(what: str) -> NoReturn:
    raise CheckpointError(f"refused sparse tensor: {what}")


def layout(name: object) -> torch.layout:
    """``torch.serialization._get_layout``: the layout called ``name``, nothing else."""
    if type(name) is not str or name not in LAYOUTS:
        raise CheckpointError(f"{name!r} is not a torch layout (known: {sorted(LAYOUTS)})")
    return LAYOUTS[name]


def _component(value: object, what: str) -> torch.Tensor:
    if type(value) is not torch.Tensor or value.layout is not torch.strided:
        _fail(f"{what} must be a dense tensor, got {type(value).__name__}")
    return value


def _size(value: object) -> tuple[int, ...]:
    if (
        not isinstance(value, (tuple, list))
        or len(value) > _MAX_DIMS
        or not all(type(n) is int and n >= 0 for n in value)
    ):
        _fail(f"size must be a tuple of at most {_MAX_DIMS} non-negative ints, got {value!r}")
    return tuple(value)


class _Coo(NamedTuple):
    indices: torch.Tensor
    values: torch.Tensor
    size: tuple[int, ...]
    is_coalesced: bool | None

    def build(self, check: bool) -> torch.Tensor:
        return torch.sparse_coo_tensor(
            self.indices,
            self.values,
            self.size,
            check_invariants=check,
            is_coalesced=self.is_coalesced,
        )

    def validate(self) -> None:
        torch._validate_sparse_coo_tensor_args(
            self.indices, self.values, self.size, self.is_coalesced, check_pinning=False
        )


class _Compressed(NamedTuple):
    layout: torch.layout
    compressed: torch.Tensor
    plain: torch.Tensor
    values: torch.Tensor
    size: tuple[int, ...]

    def build(self, check: bool) -> torch.Tensor:
        return torch.sparse_compressed_tensor(
            self.compressed,
            self.plain,
            self.values,
            self.size,
            layout=self.layout,
            check_invariants=check,
        )

    def validate(self) -> None:
        torch._validate_sparse_compressed_tensor_args(
            self.compressed, self.plain, self.values, self.size, self.layout, check_pinning=False
        )


#: the components of the tensors built unchecked in the current legacy load
_PENDING: ContextVar[list[_Coo | _Compressed] | None] = ContextVar(
    "safepickle_torch_sparse_pending", default=None
)


def rebuild_sparse_tensor(layout: object, data: object) -> torch.Tensor:
    """``torch._utils._rebuild_sparse_tensor``, with torch's invariant checks on."""
    if not isinstance(layout, torch.layout) or (
        layout is not torch.sparse_coo and layout not in _COMPRESSED
    ):
        _fail(f"layout {layout!r} is not a sparse layout")
    if type(data) is not tuple:
        _fail(f"the components must be a tuple, got {type(data).__name__}")
    parts = _coo(data) if layout is torch.sparse_coo else _compressed(layout, data)
    pending = _PENDING.get()
    # meta tensors hold no data: nothing to check, nothing to read out of bounds
    meta = all(t.device.type == "meta" for t in parts if isinstance(t, torch.Tensor))
    try:
        tensor = parts.build(check=pending is None and not meta)
    except _TORCH_ERRORS as exc:
        # torch's invariant checks: an index outside size, nnz disagreeing, a false coalesced
        # claim, compressed indices out of order ...
        _fail(f"torch's checks failed: {exc}")
    if pending is not None:
        pending.append(parts)
    return tensor


@contextlib.contextmanager
def checked_after() -> Iterator[None]:
    """Sparse tensors rebuilt inside are checked when the block ends without an error (once
    a legacy load has read the storages' bytes)."""
    pending: list[_Coo | _Compressed] = []
    token = _PENDING.set(pending)
    try:
        yield
    finally:
        _PENDING.reset(token)
    for parts in pending:
        try:
            parts.validate()
        except _TORCH_ERRORS as exc:
            _fail(f"torch's checks failed: {exc}")


def _coo(data: tuple[object, ...]) -> _Coo:
    if len(data) == 3:  # torch < 2.1 did not save is_coalesced
        indices, values, size = data
        coalesced = None
    elif len(data) == 4:
        indices, values, size, coalesced = data
    else:
        _fail(f"a COO tensor has (indices, values, size[, is_coalesced]), got {len(data)} items")
    if coalesced is not None and type(coalesced) is not bool:
        _fail(f"is_coalesced must be a bool, got {coalesced!r}")
    return _Coo(
        _component(indices, "indices"), _component(values, "values"), _size(size), coalesced
    )


def _compressed(layout: torch.layout, data: tuple[object, ...]) -> _Compressed:
    if len(data) != 4:
        _fail(f"a {layout} tensor has (compressed, plain, values, size), got {len(data)} items")
    compressed, plain, values, size = data
    return _Compressed(
        layout,
        _component(compressed, "compressed indices"),
        _component(plain, "plain indices"),
        _component(values, "values"),
        _size(size),
    )
