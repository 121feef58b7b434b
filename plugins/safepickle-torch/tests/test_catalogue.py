"""The catalogue: real torch objects saved by torch.save at pickle protocols 2, 4 and 5 come
back from safepickle_torch.load equal, and equal to what torch.load returns for the file."""

from __future__ import annotations

import io
import pickle
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pytest
import safepickle
import torch
from checkpoints import assert_same, checkpoint, saved, storage_id, stream, tensor_call
from hypothesis import given
from hypothesis import strategies as st

import safepickle_torch
from safepickle_torch.rebuild import LEGACY_STORAGE_DTYPES

PROTOCOLS = (2, 4, 5)
#: (zip or legacy, pickle protocol): every way torch.save writes a file
FORMATS = [("zip", 2), ("zip", 4), ("zip", 5), ("legacy", 2), ("legacy", 5)]


def _savable(dtype: torch.dtype) -> bool:
    """torch.save can write a tensor of it (not torch.int1 ... torch.uint7: sub-byte dtypes
    that exist as names only)."""
    try:
        torch.save(torch.zeros(2, dtype=dtype), io.BytesIO())
    except (RuntimeError, TypeError, KeyError):
        return False
    return True


#: every dtype torch.save can write a plain CPU tensor of (quantized ones have their own cases)
_QUANTIZED = {torch.qint8, torch.quint8, torch.qint32, torch.quint4x2, torch.quint2x4}
DTYPES = sorted(
    {value for name in dir(torch) if isinstance(value := getattr(torch, name), torch.dtype)}
    - _QUANTIZED,
    key=str,
)
DTYPES = [dtype for dtype in DTYPES if _savable(dtype)]


def _filled(dtype: torch.dtype, shape: tuple[int, ...] = (3, 4)) -> torch.Tensor:
    """Distinct bytes in every element, whatever the dtype (random bits, reinterpreted)."""
    count = int(torch.Size(shape).numel()) * dtype.itemsize
    raw = torch.randint(0, 256, (count,), dtype=torch.uint8, generator=_GEN)
    if dtype == torch.bool:
        raw = raw % 2
    return raw.view(dtype).reshape(shape)


_GEN = torch.Generator().manual_seed(1234)


def _model_states() -> dict[str, object]:
    torch.manual_seed(0)
    modules = {
        "linear": torch.nn.Linear(5, 3),
        "conv": torch.nn.Conv2d(2, 4, 3),
        "batchnorm": torch.nn.BatchNorm1d(4),
        "lstm": torch.nn.LSTM(4, 6, num_layers=2),
        "embedding": torch.nn.Embedding(10, 3, padding_idx=0),
        "transformer": torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16),
        "layernorm": torch.nn.LayerNorm(7),
    }
    return {name: module.state_dict() for name, module in modules.items()}


def _optimizer_states() -> dict[str, object]:
    states: dict[str, object] = {}
    makers: dict[str, Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]] = {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        "adam": lambda p: torch.optim.Adam(p, lr=1e-3),
        "adamw": lambda p: torch.optim.AdamW(p, amsgrad=True),
        "rmsprop": lambda p: torch.optim.RMSprop(p, centered=True),
        "adagrad": torch.optim.Adagrad,
    }
    for name, make in makers.items():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
        optimizer = make(list(model.parameters()))
        for _ in range(2):
            optimizer.zero_grad()
            model(torch.randn(8, 4)).pow(2).mean().backward()
            optimizer.step()
        states[name] = optimizer.state_dict()
    return states


def _parameter_with_attributes() -> torch.nn.Parameter:
    param = torch.nn.Parameter(torch.arange(4.0))
    param.tied_to = "decoder.weight"  # a plain attribute: saved through the state path
    return param


def _sparse() -> dict[str, torch.Tensor]:
    """Every sparse layout, hybrid (dense dims) and uncoalesced COO too."""
    dense = torch.tensor([[0, 1.5, 0, 0], [2, 0, 0, 0], [0, 0, 3, 4], [0, 0, 0, 5]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "sparse CSR tensor support is in beta"
        return {
            "sparse-coo": dense.to_sparse(),
            "sparse-coo-hybrid": torch.randn(3, 2, generator=_GEN).to_sparse(1),
            "sparse-coo-uncoalesced": torch.sparse_coo_tensor(
                torch.tensor([[1, 0, 1]]), torch.tensor([1.0, 2, 3]), (2,)
            ),
            "sparse-csr": dense.to_sparse_csr(),
            "sparse-csc": dense.to_sparse_csc(),
            "sparse-bsr": dense.to_sparse_bsr((2, 2)),
            "sparse-bsc": dense.to_sparse_bsc((2, 2)),
            "sparse-csr-int32": torch.sparse_csr_tensor(
                torch.tensor([0, 1, 2], dtype=torch.int32),
                torch.tensor([1, 0], dtype=torch.int32),
                torch.tensor([1.0, 2.0]),
                (2, 2),
            ),
        }


def _catalogue() -> dict[str, object]:
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.arange(10, dtype=torch.int64)
    cases: dict[str, object] = {f"dtype-{dtype}": _filled(dtype) for dtype in DTYPES}
    cases.update(_sparse())
    cases.update(
        {
            "scalar": torch.tensor(3.5),
            "empty": torch.empty(0, 5),
            "transposed": base.t(),
            "sliced-offset": base[1:, 2:5],
            "strided": base[:, ::2],
            "expanded": torch.ones(3, 1).expand(3, 4),
            "conj": torch.tensor([1 + 2j, 3 - 1j]).conj(),
            "neg": torch.tensor([1 + 2j]).conj().imag,
            "requires-grad": torch.ones(3, requires_grad=True),
            "shared-storage": {"whole": shared, "view": shared[2:7], "again": shared},
            "parameter": torch.nn.Parameter(torch.randn(2, 3, generator=_GEN)),
            "parameter-frozen": torch.nn.Parameter(torch.ones(2), requires_grad=False),
            "parameter-attributes": _parameter_with_attributes(),
            "quantized-per-tensor": torch.quantize_per_tensor(
                torch.tensor([-1.0, 0.0, 1.0, 2.0]), 0.1, 10, torch.quint8
            ),
            "quantized-per-channel": torch.quantize_per_channel(
                torch.randn(3, 2, generator=_GEN),
                torch.tensor([0.1, 0.2, 0.3], dtype=torch.double),
                torch.tensor([0, 1, 2]),
                0,
                torch.qint8,
            ),
            "meta": torch.empty(2, 3, device="meta"),
            "sizes-devices-dtypes": [torch.Size([2, 3]), torch.device("cpu"), torch.float16],
            "model-states": _model_states(),
            "optimizer-states": _optimizer_states(),
            "training-checkpoint": {
                "epoch": 7,
                "model": torch.nn.Linear(3, 2).state_dict(),
                "best": {"loss": 0.25, "at": (3, 4)},
                "tags": {"a", "b"},
                "note": b"bytes too",
            },
        }
    )
    return cases


CATALOGUE = _catalogue()


def _torch_load(buffer: io.BytesIO, protocol: int) -> object:
    """torch's own result: weights-only where torch can (protocol 2), else unrestricted (our
    own objects, so trusted): its weights-only loader refuses protocols 4 and 5."""
    buffer.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's TypedStorage and protocol notices
        result = torch.load(buffer, weights_only=protocol == 2)
    buffer.seek(0)
    return result


LEGACY_DTYPES = set(LEGACY_STORAGE_DTYPES.values())
ROUND_TRIPS = [
    (case, layout, protocol) for case in sorted(CATALOGUE) for layout, protocol in FORMATS
]


@pytest.mark.parametrize(("case", "layout", "protocol"), ROUND_TRIPS)
def test_catalogue_round_trips(case: str, layout: str, protocol: int) -> None:
    original = CATALOGUE[case]
    buffer = saved(original, protocol, legacy=layout == "legacy")
    try:
        want = _torch_load(buffer, protocol)
    except AttributeError:
        # torch's legacy reader cannot read what its legacy writer writes for dtypes without a
        # legacy storage class (uint16, float8 ...: "UntypedStorage has no attribute dtype")
        assert layout == "legacy" and CATALOGUE[case].dtype not in LEGACY_DTYPES  # type: ignore[attr-defined]
        want = original
    buffer.seek(0)
    got = safepickle_torch.load(buffer)
    assert_same(got, want)
    assert_same(got, original)


def _torch_unpickled(data: bytes) -> object | None:
    """What plain pickle (torch's own _load_from_bytes) returns, or None where torch cannot
    read what it wrote (dtypes without a legacy storage class: uint16, float8 ...)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pickle.loads(data)  # our own bytes, so trusted
    except AttributeError:
        return None


@pytest.mark.parametrize(
    ("case", "protocol"), [(case, protocol) for case in sorted(CATALOGUE) for protocol in (2, 5)]
)
def test_catalogue_round_trips_through_plain_pickle(
    case: str, protocol: int, torch_policy: safepickle.Policy
) -> None:
    """pickle.dumps of tensors, Parameters, state dicts, optimizer states: their storages are
    torch.storage._load_from_bytes calls, which the plugin replaces with its checked loader."""
    original = CATALOGUE[case]
    data = pickle.dumps(original, protocol)
    got = safepickle.loads(data, policy=torch_policy)
    assert_same(got, original)
    want = _torch_unpickled(data)
    if want is None:
        assert isinstance(original, torch.Tensor) and original.dtype not in LEGACY_DTYPES
    else:
        assert_same(got, want)


def test_plain_pickles_share_what_pickle_shares(torch_policy: safepickle.Policy) -> None:
    """pickle writes each tensor's storage anew (torch's reduce), so a view comes back as a
    copy, as with pickle.loads; the same tensor twice is one object (pickle's memo)."""
    data = pickle.dumps(CATALOGUE["shared-storage"])
    for got in (safepickle.loads(data, policy=torch_policy), pickle.loads(data)):
        got["view"][0] = 100
        assert got["whole"][2] == 2 and got["again"] is got["whole"]


def test_catalogue_covers_every_plain_dtype() -> None:
    assert len(DTYPES) >= 25  # float, int, uint, bool, complex, bfloat16, float8 ...
    assert {torch.float8_e4m3fn, torch.uint16, torch.complex32, torch.bool} <= set(DTYPES)


@pytest.mark.parametrize("protocol", [4, 5])
def test_torch_weights_only_refuses_what_we_load(protocol: int) -> None:
    """pytorch issue 118092: torch's weights-only loader rejects protocols 4 and 5."""
    buffer = saved({"w": torch.ones(2)}, protocol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(pickle.UnpicklingError):
            torch.load(buffer, weights_only=True)
    buffer.seek(0)
    assert torch.equal(safepickle_torch.load(buffer)["w"], torch.ones(2))


def test_views_keep_sharing_one_storage() -> None:
    got = safepickle_torch.load(saved(CATALOGUE["shared-storage"]))
    got["view"][0] = 100
    assert got["whole"][2] == 100  # a view of the same memory, as torch.load gives
    assert got["again"] is got["whole"]


def test_paths_and_files(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(CATALOGUE["model-states"], path)
    assert_same(safepickle_torch.load(path), CATALOGUE["model-states"])
    assert_same(safepickle_torch.load(str(path)), CATALOGUE["model-states"])
    with path.open("rb") as file:
        assert_same(safepickle_torch.load(file), CATALOGUE["model-states"])


@pytest.mark.parametrize(
    "map_location",
    ["cpu", torch.device("cpu"), {"cpu": "cpu"}, {"cuda:0": "cpu"}, None],
)
def test_map_location_to_cpu(map_location: object) -> None:
    got = safepickle_torch.load(saved({"w": torch.ones(3)}), map_location=map_location)
    assert got["w"].device.type == "cpu" and torch.equal(got["w"], torch.ones(3))


def test_map_location_meta() -> None:
    got = safepickle_torch.load(saved({"w": torch.ones(3)}), map_location="meta")
    assert got["w"].device.type == "meta" and got["w"].shape == (3,)
    sparse = CATALOGUE["sparse-coo"]
    got = safepickle_torch.load(saved(sparse), map_location="meta")  # no data: not checked
    assert got.device.type == "meta" and got.layout == torch.sparse_coo and got.shape == (4, 4)


@pytest.mark.parametrize("order", ["big", "little", None])
def test_byte_order_record(order: str | None) -> None:
    """A checkpoint written on a big-endian machine says so; its storages are swapped on load
    (and one without the record is little-endian, as torch reads it)."""
    values = torch.tensor([1.5, -2.25, 3.0e9], dtype=torch.float64)
    raw = bytes(values.untyped_storage())
    if order == "big":
        raw = b"".join(raw[i : i + 8][::-1] for i in range(0, len(raw), 8))
    pid = storage_id("0", 3, torch.DoubleStorage)
    data = stream(tensor_call(pid, 0, (3,), (1,)))
    got = safepickle_torch.load(checkpoint(data, {"data/0": raw}, byteorder=order))
    assert torch.equal(got, values)


def test_cuda_checkpoints_load_on_the_cpu() -> None:
    """A checkpoint saved on a GPU (location "cuda:0"; very old ones also name
    torch.cuda.FloatStorage) loads with map_location="cpu"."""
    values = torch.arange(4.0)
    for kind in (torch.FloatStorage, torch.cuda.FloatStorage):
        pid = storage_id("0", 4, kind, location="cuda:0")
        data = checkpoint(
            stream(tensor_call(pid, 0, (4,), (1,))), {"data/0": bytes(values.untyped_storage())}
        )
        assert torch.equal(safepickle_torch.load(data, map_location="cpu"), values)
        data.seek(0)
        assert torch.equal(safepickle_torch.load(data, map_location={"cuda:0": "cpu"}), values)


def test_plain_pickles_of_storage_free_objects(torch_policy: safepickle.Policy) -> None:
    """Objects without storages pickle with plain pickle and load with the plugin named."""
    values = [torch.Size([2, 3]), torch.device("cuda", 1), torch.device("cpu"), *DTYPES]
    for protocol in (2, 5):
        data = pickle.dumps(values, protocol)
        assert safepickle.loads(data, policy=torch_policy) == values
        with pytest.raises(safepickle.ForbiddenGlobal):
            safepickle.loads(data)  # nothing torch without the plugin


@given(
    dtype=st.sampled_from(DTYPES),
    shape=st.lists(st.integers(0, 5), min_size=0, max_size=4),
    data=st.data(),
    protocol=st.sampled_from(PROTOCOLS),
)
def test_any_view_round_trips(
    dtype: torch.dtype, shape: list[int], data: st.DataObject, protocol: int
) -> None:
    tensor = _filled(dtype, tuple(shape))
    for dim, n in enumerate(shape):  # a random slice of every dimension: offsets and strides
        start = data.draw(st.integers(0, n))
        step = data.draw(st.integers(1, 3))
        tensor = tensor.narrow(dim, start, n - start)[
            (slice(None),) * dim + (slice(None, None, step),)
        ]
    if data.draw(st.booleans()) and tensor.dim() >= 2:
        tensor = tensor.transpose(0, 1)
    box = OrderedDict(t=tensor)
    assert_same(safepickle_torch.load(saved(box, protocol)), box)
    policy = safepickle.Policy(plugins=["torch"])
    assert_same(safepickle.loads(pickle.dumps(box, protocol), policy=policy), box)
