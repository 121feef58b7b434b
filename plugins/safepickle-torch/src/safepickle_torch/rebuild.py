"""Checked stand-ins for torch's tensor rebuild functions.

torch's own ``_rebuild_tensor_v2`` calls ``tensor.set_(storage, offset, size, stride)`` with the
stream's numbers: on a resizable storage ``set_`` *grows* the storage to fit, so a stream of a
few bytes could ask for gigabytes. These versions check every argument's type and that the view
lies inside the storage the checkpoint holds before torch sees them, then build the same tensor
torch would. They accept only what ``torch.save`` writes (no backward hooks: torch never
serialises them).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import NoReturn

import torch

from .errors import CheckpointError

__all__ = [
    "LEGACY_STORAGE_DTYPES",
    "StorageTag",
    "rebuild_meta_tensor",
    "rebuild_parameter",
    "rebuild_parameter_with_state",
    "rebuild_qtensor",
    "rebuild_tensor",
    "rebuild_tensor_v2",
    "rebuild_tensor_v3",
    "size",
]

#: the legacy storage class names torch.save writes in persistent ids, by their dtype
LEGACY_STORAGE_DTYPES: dict[str, torch.dtype] = {
    "BFloat16Storage": torch.bfloat16,
    "BoolStorage": torch.bool,
    "ByteStorage": torch.uint8,
    "CharStorage": torch.int8,
    "ComplexDoubleStorage": torch.complex128,
    "ComplexFloatStorage": torch.complex64,
    "DoubleStorage": torch.float64,
    "FloatStorage": torch.float32,
    "HalfStorage": torch.float16,
    "IntStorage": torch.int32,
    "LongStorage": torch.int64,
    "QInt32Storage": torch.qint32,
    "QInt8Storage": torch.qint8,
    "QUInt8Storage": torch.quint8,
    "ShortStorage": torch.int16,
}

#: most dimensions a tensor may have (torch's own limit is 64 for many kernels)
MAX_DIMS = 64
_METADATA_KEYS = frozenset({"conj", "neg"})
_QUANTIZED = frozenset({torch.qint8, torch.quint8, torch.qint32})


class StorageTag:
    """Stands in for a storage class (``torch.FloatStorage``) in a stream: it carries the
    dtype a persistent id needs, and refuses to be called, because ``FloatStorage(n)``
    would allocate n elements."""

    __slots__ = ("dtype", "name")

    def __init__(self, name: str, dtype: torch.dtype) -> None:
        self.name = name
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"<storage type {self.name}>"

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        raise CheckpointError(
            f"the stream calls {self.name}(...); safepickle_torch accepts storage types only "
            "inside a storage persistent id (constructing one would allocate what the stream "
            "asks for)"
        )


def _fail(what: str) -> NoReturn:
    raise CheckpointError(f"refused tensor: {what}")


def _int(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        _fail(f"{what} must be a non-negative int, got {value!r}")
    return value


def _shape(size: object, stride: object) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if not isinstance(size, (tuple, list)) or not isinstance(stride, (tuple, list)):
        _fail(
            f"size and stride must be tuples, got {type(size).__name__} and "
            f"{type(stride).__name__}"
        )
    if len(size) != len(stride) or len(size) > MAX_DIMS:
        _fail(f"size {tuple(size)!r} and stride {tuple(stride)!r} do not match")
    return (
        tuple(_int(s, "a size") for s in size),
        tuple(_int(s, "a stride") for s in stride),
    )


def _elements_needed(offset: int, size: Sequence[int], stride: Sequence[int]) -> int:
    """How many elements from the storage's start the view touches (0 for an empty view)."""
    if 0 in size:
        return 0
    return offset + 1 + sum((n - 1) * s for n, s in zip(size, stride, strict=True))


def _untyped(storage: object, dtype: torch.dtype) -> tuple[torch.UntypedStorage, int]:
    """The checkpoint's storage behind ``storage`` and how many ``dtype`` elements it holds."""
    if not isinstance(storage, torch.storage.TypedStorage):
        _fail(f"expected a storage from the checkpoint, got {type(storage).__name__}")
    untyped = storage._untyped_storage
    return untyped, untyped.nbytes() // dtype.itemsize


def _check_view(
    storage: object, dtype: torch.dtype, offset: object, size: object, stride: object
) -> tuple[torch.UntypedStorage, int, tuple[int, ...], tuple[int, ...]]:
    untyped, available = _untyped(storage, dtype)
    start = _int(offset, "storage_offset")
    sizes, strides = _shape(size, stride)
    needed = _elements_needed(start, sizes, strides)
    if needed > available:
        _fail(
            f"size {sizes} stride {strides} offset {start} reaches element {needed} of a "
            f"storage of {available} {dtype} elements"
        )
    return untyped, start, sizes, strides


def _check_hooks(backward_hooks: object) -> None:
    if not isinstance(backward_hooks, dict) or backward_hooks:
        _fail("backward hooks must be an empty dict (torch.save never writes hooks)")


def _check_bool(value: object, what: str) -> bool:
    if type(value) is not bool:
        _fail(f"{what} must be a bool, got {value!r}")
    return value


def _apply_metadata(tensor: torch.Tensor, metadata: object) -> None:
    if metadata is None:
        return
    if (
        not isinstance(metadata, dict)
        or not set(metadata) <= _METADATA_KEYS
        or not all(type(v) is bool for v in metadata.values())
    ):
        _fail(f"tensor metadata must map 'conj'/'neg' to bools, got {metadata!r}")
    if metadata:
        torch._utils.set_tensor_metadata(tensor, metadata)  # type: ignore[no-untyped-call]  # torch leaves it untyped


def _view(
    untyped: torch.UntypedStorage,
    dtype: torch.dtype,
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
) -> torch.Tensor:
    tensor = torch.empty((0,), dtype=dtype, device=untyped.device)
    return tensor.set_(untyped, offset, size, stride)


def rebuild_tensor_v2(
    storage: object,
    storage_offset: object,
    size: object,
    stride: object,
    requires_grad: object,
    backward_hooks: object,
    metadata: object = None,
) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2``, bounds-checked."""
    dtype = _storage_dtype(storage)
    untyped, offset, sizes, strides = _check_view(storage, dtype, storage_offset, size, stride)
    grad = _check_bool(requires_grad, "requires_grad")
    _check_hooks(backward_hooks)
    tensor = _view(untyped, dtype, offset, sizes, strides)
    tensor.requires_grad = grad
    _apply_metadata(tensor, metadata)
    return tensor


def rebuild_tensor_v3(
    storage: object,
    storage_offset: object,
    size: object,
    stride: object,
    requires_grad: object,
    backward_hooks: object,
    dtype: object,
    metadata: object = None,
) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v3`` (dtypes without a legacy storage class)."""
    if not isinstance(dtype, torch.dtype) or dtype in _QUANTIZED:
        _fail(f"dtype must be a plain torch dtype, got {dtype!r}")
    untyped, offset, sizes, strides = _check_view(storage, dtype, storage_offset, size, stride)
    grad = _check_bool(requires_grad, "requires_grad")
    _check_hooks(backward_hooks)
    tensor = _view(untyped, dtype, offset, sizes, strides)
    tensor.requires_grad = grad
    _apply_metadata(tensor, metadata)
    return tensor


def rebuild_tensor(
    storage: object, storage_offset: object, size: object, stride: object
) -> torch.Tensor:
    """``torch._utils._rebuild_tensor`` (checkpoints from before requires_grad was saved)."""
    dtype = _storage_dtype(storage)
    untyped, offset, sizes, strides = _check_view(storage, dtype, storage_offset, size, stride)
    return _view(untyped, dtype, offset, sizes, strides)


def _storage_dtype(storage: object) -> torch.dtype:
    if not isinstance(storage, torch.storage.TypedStorage):
        _fail(f"expected a storage from the checkpoint, got {type(storage).__name__}")
    dtype = storage.dtype
    if dtype in _QUANTIZED:
        _fail(f"a {dtype} storage can only back a quantized tensor (_rebuild_qtensor)")
    return dtype


def rebuild_parameter(
    data: object, requires_grad: object, backward_hooks: object
) -> torch.nn.Parameter:
    """``torch._utils._rebuild_parameter``: a Parameter around a tensor the stream rebuilt."""
    if type(data) is not torch.Tensor:
        _fail(f"a Parameter wraps a tensor, got {type(data).__name__}")
    grad = _check_bool(requires_grad, "requires_grad")
    _check_hooks(backward_hooks)
    return torch.nn.Parameter(data, grad)


def rebuild_parameter_with_state(
    data: object, requires_grad: object, backward_hooks: object, state: object
) -> torch.nn.Parameter:
    """``torch._utils._rebuild_parameter_with_state``: plain extra attributes only."""
    param = rebuild_parameter(data, requires_grad, backward_hooks)
    parts = state if isinstance(state, tuple) else (state,)
    if len(parts) > 2:
        _fail(f"a Parameter's state is a dict or (dict, slots), got {len(parts)} items")
    for part in parts:
        if part is None:
            continue
        if not isinstance(part, dict):
            _fail(f"a Parameter's state must be a dict, got {type(part).__name__}")
        for name, value in part.items():
            _check_attribute(name)
            setattr(param, name, value)
    return param


def _check_attribute(name: object) -> None:
    """Only new, plain attributes: nothing the class defines (data, grad, descriptors),
    nothing private or special, so setting one only stores a value in the instance dict."""
    if (
        type(name) is not str
        or not name.isidentifier()
        or name.startswith("_")
        or hasattr(torch.nn.Parameter, name)
    ):
        _fail(f"a Parameter's state may only add plain public attributes, got {name!r}")


def rebuild_qtensor(
    storage: object,
    storage_offset: object,
    size: object,
    stride: object,
    quantizer_params: object,
    requires_grad: object,
    backward_hooks: object,
) -> torch.Tensor:
    """``torch._utils._rebuild_qtensor``, with the view checked before torch allocates it."""
    if not isinstance(storage, torch.storage.TypedStorage) or storage.dtype not in _QUANTIZED:
        _fail("a quantized tensor needs a qint8, quint8 or qint32 storage")
    dtype = storage.dtype
    untyped, offset, sizes, strides = _check_view(storage, dtype, storage_offset, size, stride)
    if _elements_needed(0, sizes, _contiguous(sizes)) > untyped.nbytes() // dtype.itemsize:
        _fail(f"size {sizes} holds more elements than its storage")  # torch allocates size
    grad = _check_bool(requires_grad, "requires_grad")
    _check_hooks(backward_hooks)
    _check_quantizer(quantizer_params, sizes)
    result: torch.Tensor = torch._utils._rebuild_qtensor(  # type: ignore[no-untyped-call]
        storage, offset, sizes, strides, quantizer_params, grad, OrderedDict()
    )
    return result


def _contiguous(size: tuple[int, ...]) -> tuple[int, ...]:
    strides = []
    step = 1
    for n in reversed(size):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _check_quantizer(params: object, size: tuple[int, ...]) -> None:
    if not isinstance(params, tuple) or not params:
        _fail(f"quantizer parameters must be a tuple, got {params!r}")
    scheme = params[0]
    if scheme is torch.per_tensor_affine:
        if len(params) != 3 or type(params[1]) is not float or type(params[2]) is not int:
            _fail("per_tensor_affine takes (scheme, scale: float, zero_point: int)")
        return
    if scheme in (torch.per_channel_affine, torch.per_channel_affine_float_qparams):
        if len(params) != 4 or type(params[3]) is not int or not 0 <= params[3] < len(size):
            _fail("per-channel schemes take (scheme, scales, zero_points, axis in range)")
        for values in params[1:3]:
            # dense only: torch reads them, and a sparse one's indices may be unchecked yet
            if (
                type(values) is not torch.Tensor
                or values.layout is not torch.strided
                or values.numel() != size[params[3]]
            ):
                _fail("per-channel scales and zero points must be dense tensors of size[axis]")
        return
    _fail(f"quantization scheme {scheme!r} is not supported")


def size(dims: object = ()) -> torch.Size:
    """``torch.Size`` from a tuple or list of ints only: ``torch.Size(range(10**10))`` would
    materialise the range (a few bytes of pickle, gigabytes of memory)."""
    if not isinstance(dims, (tuple, list)) or not all(type(n) is int for n in dims):
        _fail(f"torch.Size takes a tuple of ints, got {type(dims).__name__}")
    return torch.Size(dims)


def rebuild_meta_tensor(
    dtype: object, size: object, stride: object, requires_grad: object
) -> torch.Tensor:
    """``torch._utils._rebuild_meta_tensor_no_storage``: a meta tensor holds no data."""
    if not isinstance(dtype, torch.dtype):
        _fail(f"dtype must be a torch dtype, got {dtype!r}")
    sizes, strides = _shape(size, stride)
    grad = _check_bool(requires_grad, "requires_grad")
    return torch.empty_strided(sizes, strides, dtype=dtype, device="meta", requires_grad=grad)
