"""The floor names the plugin replaces (never allows): torch.storage._load_from_bytes and
torch.serialization._get_layout; and the checked _rebuild_sparse_tensor. Hostile bytes, layouts
and sparse components fail with a safepickle error, in bounded memory; the canary stays absent."""

from __future__ import annotations

import io
import json
import pickle
import tracemalloc
import warnings
from collections import OrderedDict
from pathlib import Path

import pytest
import safepickle
import torch
from checkpoints import (
    Call,
    PersistentId,
    checkpoint,
    legacy_file,
    saved,
    stream,
)
from safepickle import GlobalRef
from safepickle.floor import floor_reason
from safepickle.testing import CANARY

import safepickle_torch
from safepickle_torch import CheckpointError
from safepickle_torch.plugin import REPLACED

LOAD_FROM_BYTES = torch.storage._load_from_bytes
TOUCH = f"touch {CANARY}"


def _legacy_bytes(main: object, keys: object = (), records: object = ()) -> bytes:
    """A legacy torch.save file whose object is ``main`` (pickled as is)."""
    data = main if isinstance(main, bytes) else stream(main)
    return legacy_file(data, list(keys), list(records)).getvalue()  # type: ignore[call-overload]


def _storage_bytes(numel: int = 4, key: str = "7", data: bytes | None = None) -> bytes:
    """What torch writes for a float storage: the persistent id, then its record."""
    pid = PersistentId("storage", torch.FloatStorage, key, "cpu", numel, None)
    record = bytes(4 * numel) if data is None else data
    return _legacy_bytes(stream(pid), [key], [(numel, record)])


def _from_bytes(data: object, protocol: int = 2) -> bytes:
    """A plain pickle calling torch.storage._load_from_bytes(data)."""
    return pickle.dumps(Call(LOAD_FROM_BYTES, data), protocol)


def test_replaced_names_are_on_the_floor_and_replaced(torch_policy: safepickle.Policy) -> None:
    for dotted in REPLACED:
        ref = GlobalRef(*dotted.rsplit(".", 1))
        assert floor_reason(ref) is not None, dotted
        decision = torch_policy.decide(ref)
        assert decision.allowed and decision.rule == "floor-substitute", dotted
        assert "never imported" in decision.reason and decision.plugin == "torch"
        assert decision.substitute is not LOAD_FROM_BYTES
        assert decision.substitute is not torch.serialization._get_layout
        assert not safepickle.Policy().decide(ref).allowed  # the floor without the plugin


@pytest.mark.parametrize("protocol", [2, 5])
def test_a_deny_brings_the_floor_back(protocol: int, canary: Path) -> None:
    policy = safepickle.Policy(plugins=["torch"], deny=["torch.storage:_load_from_bytes"])
    with pytest.raises(safepickle.ForbiddenGlobal, match="floor"):
        safepickle.loads(pickle.dumps(torch.ones(2), protocol), policy=policy)


def test_the_nested_load_runs_under_the_same_policy(torch_policy: safepickle.Policy) -> None:
    """A deny of the storage type applies inside the bytes too."""
    policy = safepickle.Policy(plugins=["torch"], deny=["torch:FloatStorage"])
    with pytest.raises(safepickle.ForbiddenGlobal, match=r"torch\.FloatStorage"):
        safepickle.loads(pickle.dumps(torch.ones(2)), policy=policy)
    assert torch.equal(
        safepickle.loads(pickle.dumps(torch.ones(2, dtype=torch.int64)), policy=policy),
        torch.ones(2, dtype=torch.int64),
    )


@pytest.mark.parametrize("protocol", [2, 5])
@pytest.mark.parametrize(
    ("main", "module"),
    [
        (Call(__import__("os").system, TOUCH), "posix"),  # the floor
        (Call(__import__("subprocess").call, ["touch", CANARY]), "subprocess"),
        (Call(LOAD_FROM_BYTES, b"nested"), "torch.storage"),  # denied by name inside: see below
        (Call(torch.load, CANARY), "torch"),
    ],
    ids=["os.system", "subprocess.call", "nested", "torch.load"],
)
def test_hostile_bytes_refused(
    main: object, module: str, protocol: int, canary: Path, torch_policy: safepickle.Policy
) -> None:
    data = _from_bytes(_legacy_bytes(main), protocol)
    with pytest.raises(safepickle.SafePickleError) as caught:
        safepickle.loads(data, policy=torch_policy)
    if module == "torch.storage":  # replaced, so allowed by name; nesting is refused
        assert isinstance(caught.value, CheckpointError)
        assert "never nests" in str(caught.value)
    else:
        assert isinstance(caught.value, safepickle.ForbiddenGlobal)
        assert caught.value.module.startswith(module)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "not a legacy torch.save file"),
        (b"not a torch file", "not a legacy torch.save file"),
        (saved(torch.ones(2)).getvalue(), "not a legacy torch.save file"),  # the zip format
        (pickle.dumps(12345, 2) + pickle.dumps(1001, 2) + pickle.dumps({}, 2), "magic"),
        (_legacy_bytes({"not": "a storage"}), "not a storage"),
        (_storage_bytes()[:-3], "truncated"),
        (_storage_bytes() + b"x", "bytes follow"),
        ("a str", "takes bytes"),
        (bytearray(_storage_bytes()), "takes bytes"),
        (7, "takes bytes"),
    ],
    ids=[
        "empty",
        "text",
        "zip",
        "bad-magic",
        "not-storage",
        "truncated",
        "trailing",
        "str",
        "bytearray",
        "int",
    ],
)
def test_bytes_that_are_not_a_legacy_storage_refused(
    data: object, match: str, canary: Path, torch_policy: safepickle.Policy
) -> None:
    with pytest.raises(CheckpointError, match=match):
        safepickle.loads(_from_bytes(data, 5), policy=torch_policy)


def _torch_legacy_bytes(tensor: torch.Tensor) -> tuple[bytes, bytes]:
    """(the bytes torch passes to _load_from_bytes for ``tensor``, their three header pickles)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage is deprecated
        _, (data,) = tensor.storage().__reduce__()
    file = io.BytesIO(data)
    for _ in range(3):
        pickle.load(file)
    return data, data[: file.tell()]


def test_a_header_read_before_is_skipped_but_the_rest_is_checked(canary: Path) -> None:
    """The header pickles (the same bytes for every tensor) are read once per policy; what
    follows the same header is loaded and checked every time."""
    policy = safepickle.Policy(plugins=["torch"])
    real, header = _torch_legacy_bytes(torch.arange(3.0))
    assert torch.equal(
        safepickle.loads(pickle.dumps(torch.arange(3.0)), policy=policy), torch.arange(3.0)
    )
    hostile = header + stream(Call(__import__("os").system, TOUCH)) + pickle.dumps([], 2)
    with pytest.raises(safepickle.ForbiddenGlobal, match="floor"):
        safepickle.loads(_from_bytes(hostile), policy=policy)
    with pytest.raises(CheckpointError, match="not a storage"):
        safepickle.loads(
            _from_bytes(header + pickle.dumps(7, 2) + pickle.dumps([], 2)), policy=policy
        )
    storage = safepickle.loads(_from_bytes(real), policy=policy)
    assert isinstance(storage, torch.storage.TypedStorage) and storage.tolist() == [0.0, 1.0, 2.0]


def test_a_persistent_id_in_the_header_refused(torch_policy: safepickle.Policy) -> None:
    header_pid = stream(PersistentId("storage", torch.FloatStorage, "7", "cpu", 4, None))
    data = header_pid + _storage_bytes()[len(pickle.dumps(0x1950A86A20F9469CFC6C, 2)) :]
    with pytest.raises(CheckpointError, match="where no storage belongs"):
        safepickle.loads(_from_bytes(data), policy=torch_policy)


def test_bounded_memory(torch_policy: safepickle.Policy) -> None:
    """A storage declaring a terabyte in a few hundred bytes is refused before allocation."""
    data = _legacy_bytes(
        stream(PersistentId("storage", torch.FloatStorage, "7", "cpu", 1 << 38, None)),
        ["7"],
        [(1 << 38, b"")],
    )
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="file has only"):
            safepickle.loads(_from_bytes(data), policy=torch_policy)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_storages_load_on_the_cpu(torch_policy: safepickle.Policy) -> None:
    """A tensor pickled on a GPU names cuda:0; it comes back on the CPU (no backend is
    initialised by a location in the stream)."""
    values = torch.arange(4.0)
    pid = PersistentId("storage", torch.FloatStorage, "7", "cuda:0", 4, None)
    storage = _legacy_bytes(stream(pid), ["7"], [(4, bytes(values.untyped_storage()))])
    data = pickle.dumps(
        Call(
            torch._utils._rebuild_tensor_v2,
            Call(LOAD_FROM_BYTES, storage),
            0,
            (4,),
            (1,),
            False,
            OrderedDict(),
        )
    )
    got = safepickle.loads(data, policy=torch_policy)
    assert got.device.type == "cpu" and torch.equal(got, values)


def test_plain_pickle_bytes_inside_a_checkpoint_load() -> None:
    """data.pkl may itself hold _load_from_bytes (torch.save of an object whose reduce pickles
    a tensor): loaded under the same derived policy, storages and all."""
    original = {"w": torch.arange(3.0)}
    got = safepickle_torch.load(checkpoint(pickle.dumps(original, 2)))
    assert torch.equal(got["w"], original["w"])
    hostile = checkpoint(_from_bytes(_legacy_bytes(Call(__import__("os").system, TOUCH))))
    with pytest.raises(safepickle.ForbiddenGlobal, match="floor"):
        safepickle_torch.load(hostile)


# --- _get_layout and sparse tensors --------------------------------------------------------
GET_LAYOUT = torch.serialization._get_layout
REBUILD_SPARSE = torch._utils._rebuild_sparse_tensor


@pytest.mark.parametrize("name", ["os.system", "torch.load", "sparse_coo", b"torch.sparse_coo", 7])
def test_get_layout_knows_only_layout_names(
    name: object, canary: Path, torch_policy: safepickle.Policy
) -> None:
    with pytest.raises(CheckpointError, match="not a torch layout"):
        safepickle.loads(pickle.dumps(Call(GET_LAYOUT, name)), policy=torch_policy)


def test_get_layout_returns_the_layouts(torch_policy: safepickle.Policy) -> None:
    for layout in (torch.strided, torch.sparse_coo, torch.sparse_csr, torch.sparse_bsc):
        data = pickle.dumps(Call(GET_LAYOUT, str(layout)))
        assert safepickle.loads(data, policy=torch_policy) is layout


def _sparse_call(layout: torch.layout, *components: torch.Tensor, size: tuple[int, ...]) -> Call:
    """What torch pickles for a sparse tensor, with whatever components a test gives (torch
    itself refuses to build most of these, even unchecked)."""
    coalesced = (False,) if layout == torch.sparse_coo else ()
    return Call(REBUILD_SPARSE, layout, (*components, torch.Size(size), *coalesced))


LONG = torch.int64
INVALID_SPARSE = {
    "index-beyond-size": (
        torch.sparse_coo,
        (torch.tensor([[5], [0]]), torch.tensor([1.0])),
        (2, 2),
    ),
    "index-far-beyond-size": (
        torch.sparse_coo,
        (torch.tensor([[1 << 40], [0]]), torch.tensor([1.0])),
        (2, 2),
    ),
    "negative-index": (torch.sparse_coo, (torch.tensor([[-1], [0]]), torch.tensor([1.0])), (2, 2)),
    "nnz-mismatch": (torch.sparse_coo, (torch.tensor([[0], [0]]), torch.tensor([1.0, 2])), (2, 2)),
    "csr-unsorted": (
        torch.sparse_csr,
        (torch.tensor([0, 2, 1]), torch.tensor([0, 1]), torch.tensor([1.0, 2])),
        (2, 2),
    ),
    "csr-column-beyond": (
        torch.sparse_csr,
        (torch.tensor([0, 1, 2]), torch.tensor([0, 9]), torch.tensor([1.0, 2])),
        (2, 2),
    ),
    "csc-end-not-nnz": (
        torch.sparse_csc,
        (torch.tensor([0, 1, 5]), torch.tensor([0, 1]), torch.tensor([1.0, 2])),
        (2, 2),
    ),
    "bsr-block-beyond": (
        torch.sparse_bsr,
        (torch.tensor([0, 1, 2]), torch.tensor([0, 3]), torch.ones(2, 2, 2)),
        (4, 4),
    ),
}


@pytest.mark.parametrize("how", ["zip", "legacy", "plain"])
@pytest.mark.parametrize("case", sorted(INVALID_SPARSE))
def test_invalid_sparse_tensors_refused(
    case: str, how: str, canary: Path, torch_policy: safepickle.Policy
) -> None:
    """Invalid components are refused whatever the format: in a legacy file the storages'
    bytes arrive after the pickle, so the check runs once they are in, before the load
    returns (torch's global sparse-invariants switch is off here, as by default)."""
    assert not torch.sparse.check_sparse_tensor_invariants.is_enabled()
    layout, components, size = INVALID_SPARSE[case]
    tensor = _sparse_call(layout, *components, size=size)
    if how == "plain":
        data = pickle.dumps(tensor)
        with pytest.raises(CheckpointError, match="torch's checks failed"):
            safepickle.loads(data, policy=torch_policy)
    else:
        file = saved(tensor, legacy=how == "legacy")
        with pytest.raises(CheckpointError, match="torch's checks failed"):
            safepickle_torch.load(file)


def test_a_false_coalesced_claim_refused(canary: Path) -> None:
    components = (torch.tensor([[1, 0]]), torch.tensor([1.0, 2]), torch.Size([2]), True)
    tensor = Call(REBUILD_SPARSE, torch.sparse_coo, components)
    for legacy in (False, True):
        with pytest.raises(CheckpointError, match="coalesced"):
            safepickle_torch.load(saved(tensor, legacy=legacy))


@pytest.mark.parametrize(
    ("layout", "data", "match"),
    [
        (torch.strided, (), "not a sparse layout"),
        ("torch.sparse_coo", (), "not a sparse layout"),
        (torch.sparse_coo, [], "must be a tuple"),
        (torch.sparse_coo, (1, 2), "got 2 items"),
        (torch.sparse_csr, (1, 2, 3), "got 3 items"),
        (torch.sparse_coo, ([[0]], torch.ones(1), (1,)), "dense tensor"),
        (torch.sparse_coo, (torch.zeros(1, 1, dtype=LONG), torch.ones(1), (-1,)), "size must"),
        (torch.sparse_coo, (torch.zeros(1, 1, dtype=LONG), torch.ones(1), (1,) * 65), "size must"),
        (torch.sparse_coo, (torch.zeros(1, 1, dtype=LONG), torch.ones(1), (1,), 1), "a bool"),
    ],
)
def test_sparse_arguments_checked(
    layout: object, data: object, match: str, canary: Path, torch_policy: safepickle.Policy
) -> None:
    payload = pickle.dumps(Call(REBUILD_SPARSE, layout, data))
    with pytest.raises(CheckpointError, match=match):
        safepickle.loads(payload, policy=torch_policy)


def test_a_huge_declared_size_costs_nothing(torch_policy: safepickle.Policy) -> None:
    """A sparse tensor's size is a shape, not an allocation: a 2**40 x 2**20 COO tensor of
    one element loads in a few bytes, as torch.load gives it."""
    tensor = torch.sparse_coo_tensor(
        torch.tensor([[3], [1]]), torch.tensor([2.0]), (1 << 40, 1 << 20), check_invariants=True
    )
    got = safepickle.loads(pickle.dumps(tensor), policy=torch_policy)
    assert got.shape == (1 << 40, 1 << 20) and got._nnz() == 1


def test_sparse_inside_plain_pickles_is_checked_against_real_bytes(
    torch_policy: safepickle.Policy,
) -> None:
    """The components' storages come from _load_from_bytes, complete before the rebuild."""
    dense = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    for tensor in (dense.to_sparse(), dense.to_sparse_csr()):
        got = safepickle.loads(pickle.dumps(tensor), policy=torch_policy)
        assert torch.equal(got.to_dense(), dense)


def test_nested_loads_are_audited_under_the_same_policy(tmp_path: Path) -> None:
    """The pickles inside the bytes are loads of the same policy: its audit sink sees them,
    named after the replaced call, and the outer load last."""
    log = tmp_path / "audit.jsonl"
    policy = safepickle.Policy(plugins=["torch"], audit=str(log))
    safepickle.loads(pickle.dumps(torch.ones(2)), policy=policy)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    nested = [event for event in events if "_load_from_bytes(<" in json.dumps(event)]
    assert len(nested) == 5 and len(events) == 6  # header (3), object, key list; the outer
