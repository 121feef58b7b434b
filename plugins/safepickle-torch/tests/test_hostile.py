"""torch's dangerous members stay refused with the plugin enabled, in plain pickles and inside
checkpoints; hostile checkpoints (fields, sizes, zip tricks) fail with a safepickle error, in
bounded memory, and the canary stays absent."""

from __future__ import annotations

import argparse
import io
import pickle
import pickletools
import warnings
import zipfile
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
    local_entry,
    raw_zip,
    saved,
    storage_id,
    stream,
    tensor_call,
)
from safepickle.testing import CANARY

import safepickle_torch
from safepickle_torch import CheckpointError


def _call(module: str, name: str, *args: object) -> bytes:
    """A protocol-2 stream calling ``module.name(*args)``, the name spelled exactly (pickle
    could not write most of these by reference: it would follow re-exports)."""
    arguments = pickle.dumps(args, protocol=2)[2:-1]  # the tuple without PROTO and STOP
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + arguments + b"R."


TOUCH = f"touch {CANARY}"
#: torch members that load, run or import code, touch files or change process state; each is
#: called with arguments that would create the canary (or read it) if it ran. (The floor names
#: the plugin replaces, torch.storage._load_from_bytes and torch.serialization._get_layout, and
#: the checked _rebuild_sparse_tensor are attacked in test_replaced.py.)
HOSTILE: dict[str, tuple[str, str, tuple[object, ...]]] = {
    # unpicklers: each unpickles without our checks
    "torch.load": ("torch", "load", (CANARY,)),
    "torch.serialization.load": ("torch.serialization", "load", (CANARY,)),
    "torch.serialization._legacy_load": ("torch.serialization", "_legacy_load", (None,) * 3),
    "torch._weights_only_unpickler.load": ("torch._weights_only_unpickler", "load", (None,)),
    # TorchScript, packages, hub, extensions: run code by design
    "torch.jit.load": ("torch.jit", "load", (CANARY,)),
    "torch.jit._serialization.load": ("torch.jit._serialization", "load", (CANARY,)),
    "torch.jit.script": ("torch.jit", "script", (TOUCH,)),
    "torch.jit.CompilationUnit": ("torch.jit", "CompilationUnit", (TOUCH,)),
    "torch.package.PackageImporter": ("torch.package", "PackageImporter", (CANARY,)),
    "torch.hub.load": ("torch.hub", "load", (CANARY, "x")),
    "torch.utils.cpp_extension.load_inline": (
        "torch.utils.cpp_extension",
        "load_inline",
        ("x", TOUCH),
    ),
    "torch._C._import_ir_module_from_package": (
        "torch._C",
        "_import_ir_module_from_package",
        (CANARY,),
    ),
    "torch.ops.load_library": ("torch.ops", "load_library", (CANARY,)),
    "torch.classes.load_library": ("torch.classes", "load_library", (CANARY,)),
    "torch.fx.graph_module.reduce_graph_module": (
        "torch.fx.graph_module",
        "reduce_graph_module",
        ({}, TOUCH),
    ),
    "torch.fx.graph_module._forward_from_src": (
        "torch.fx.graph_module",
        "_forward_from_src",
        (TOUCH, {}),
    ),
    "torch.compile": ("torch", "compile", (TOUCH,)),
    # files and shared memory
    "torch.save": ("torch", "save", ({}, CANARY)),
    "torch.from_file": ("torch", "from_file", (CANARY, True, 8)),
    "torch.UntypedStorage.from_file": ("torch", "UntypedStorage.from_file", (CANARY, True, 8)),
    "torch.storage.UntypedStorage.from_file": (
        "torch.storage",
        "UntypedStorage.from_file",
        (CANARY, True, 8),
    ),
    "torch.multiprocessing.reductions.rebuild_storage_filename": (
        "torch.multiprocessing.reductions",
        "rebuild_storage_filename",
        (torch.UntypedStorage, b"/" + CANARY.encode(), 8, 0),
    ),
    "torch.multiprocessing.reductions.rebuild_storage_fd": (
        "torch.multiprocessing.reductions",
        "rebuild_storage_fd",
        (None, 0, 8),
    ),
    # reflection and generic rebuilders that call what the stream names
    "torch._tensor._rebuild_from_type_v2": (
        "torch._tensor",
        "_rebuild_from_type_v2",
        (print, torch.Tensor, (TOUCH,), None),
    ),
    "torch._utils._import_dotted_name": ("torch._utils", "_import_dotted_name", ("os.system",)),
    "torch._utils._rebuild_wrapper_subclass": (
        "torch._utils",
        "_rebuild_wrapper_subclass",
        (None,) * 8,
    ),
    "torch._utils._rebuild_device_tensor_from_numpy": (
        "torch._utils",
        "_rebuild_device_tensor_from_numpy",
        (None, None, "cuda", False),
    ),
    "torch._utils._rebuild_nested_tensor": (
        "torch._utils",
        "_rebuild_nested_tensor",
        (None,) * 4,
    ),
    "torch.nn.Module": ("torch.nn", "Module", ()),
    "torch.Tensor": ("torch", "Tensor", ()),
    "torch.tensor": ("torch", "tensor", ([1],)),
    "torch.empty": ("torch", "empty", (1 << 40,)),
    "torch.FloatStorage._new_shared_filename": (
        "torch",
        "FloatStorage._new_shared_filename",
        (CANARY,),
    ),
    # process state
    "torch.manual_seed": ("torch", "manual_seed", (0,)),
    "torch.set_num_threads": ("torch", "set_num_threads", (1,)),
    "torch.set_default_dtype": ("torch", "set_default_dtype", (torch.float64,)),
    "torch.set_default_device": ("torch", "set_default_device", ("meta",)),
    "torch.backends.cudnn.flags": ("torch.backends.cudnn", "flags", ()),
    "torch.autograd.set_detect_anomaly": ("torch.autograd", "set_detect_anomaly", (True,)),
    "torch.distributed.rpc.rpc_sync": ("torch.distributed.rpc", "rpc_sync", ("w", print)),
    "torch._dynamo.reset": ("torch._dynamo", "reset", ()),
    "torch.utils.data.DataLoader": ("torch.utils.data", "DataLoader", ([],)),
    # a module wildcard would have admitted these; exact names do not
    "torch.functional.einsum": ("torch.functional", "einsum", ("i->", [])),
    "torch.os.system": ("torch", "os.system", (TOUCH,)),
    "torch._utils.os.system": ("torch._utils", "os.system", (TOUCH,)),
}


def _payload(name: str) -> bytes:
    module, qualname, args = HOSTILE[name]
    return _call(module, qualname, *args)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_member_refused_in_plain_pickles(
    name: str, canary: Path, torch_policy: safepickle.Policy
) -> None:
    with pytest.raises(safepickle.ForbiddenGlobal) as caught:
        safepickle.loads(_payload(name), policy=torch_policy)
    module, qualname, _ = HOSTILE[name]
    assert caught.value.module == module and caught.value.name == qualname
    assert f"'{module}.{qualname}'" in str(caught.value)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_member_refused_inside_checkpoints(name: str, canary: Path) -> None:
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle_torch.load(checkpoint(_payload(name)))


def test_refused_members_are_all_refused() -> None:
    """100% of the hostile catalogue: every name is refused by the plugin's policy."""
    policy = safepickle.Policy(plugins=["torch"])
    refused = 0
    for name in HOSTILE:
        try:
            safepickle.loads(_payload(name), policy=policy)
        except safepickle.ForbiddenGlobal:
            refused += 1
    assert refused == len(HOSTILE) >= 45


def test_unknown_global_message_says_how_to_allow(canary: Path) -> None:
    checkpoint_with_args = saved({"w": torch.ones(2), "args": argparse.Namespace(lr=0.1)})
    with pytest.raises(safepickle.ForbiddenGlobal) as caught:
        safepickle_torch.load(checkpoint_with_args)
    assert "allow=['argparse:Namespace']" in str(caught.value)
    checkpoint_with_args.seek(0)
    policy = safepickle.Policy(allow=["argparse:Namespace"])  # the caller's own allow-list
    got = safepickle_torch.load(checkpoint_with_args, policy=policy)
    assert got["args"] == argparse.Namespace(lr=0.1) and torch.equal(got["w"], torch.ones(2))
    checkpoint_with_args.seek(0)
    got = safepickle_torch.load(checkpoint_with_args, allow=["argparse:Namespace"])
    assert got["args"] == argparse.Namespace(lr=0.1)


def test_classic_os_system_in_data_pkl(canary: Path) -> None:
    good = saved({"w": torch.ones(2)})
    archive = zipfile.ZipFile(good)
    members = {
        info.filename.split("/", 1)[1]: archive.read(info)
        for info in archive.infolist()
        if not info.filename.endswith(("data.pkl", "byteorder"))
    }
    hostile = checkpoint(_call("os", "system", TOUCH), members)
    with pytest.raises(safepickle.ForbiddenGlobal, match="floor"):
        safepickle_torch.load(hostile)


def test_plain_pickled_tensors_need_the_plugin() -> None:
    """A tensor pickled with plain pickle carries torch.storage._load_from_bytes (an
    unrestricted torch.load of nested bytes): on the floor without the plugin, which replaces
    it (test_replaced.py)."""
    with pytest.raises(safepickle.ForbiddenGlobal) as caught:
        safepickle.loads(pickle.dumps(torch.ones(2)))
    refused = {(error.module, error.name): error for error in caught.value.refused}
    assert refused[("torch.storage", "_load_from_bytes")].decision.rule == "floor"


def test_persistent_ids_outside_a_checkpoint(canary: Path) -> None:
    """The entry-point plugin resolves no persistent ids: only load() reads storages; a
    data.pkl on its own gets an error that says so, and a malformed id is named as such."""
    data = stream(tensor_call(storage_id("0", 4), 0, (4,), (1,)))
    with pytest.raises(CheckpointError, match=r"safepickle_torch\.load\(path\)"):
        safepickle.loads(data, policy=safepickle.Policy(plugins=["torch"]))
    with pytest.raises(CheckpointError, match="is not \\('storage'"):
        safepickle.loads(stream(PersistentId("nope")), policy=safepickle.Policy(plugins=["torch"]))
    without_plugin = safepickle.Policy()
    with pytest.raises(safepickle.UnsafeOpcode, match="persistent id"):
        safepickle.loads(data, policy=without_plugin)


def test_scan_with_the_plugin_vouches_for_checkpoints(canary: Path) -> None:
    """`safepickle scan --plugin torch`: a torch.save checkpoint is clean (its persistent ids
    are expected), one whose data.pkl calls os.system is refused, whatever the archive."""
    from safepickle.scan.engine import Scanner

    policy = safepickle.Policy(plugins=["torch"])
    Path("good.pt").write_bytes(saved({"w": torch.ones(2), "b": torch.zeros(3)}).getvalue())
    assert Scanner(policy).scan_file("good.pt").status == "clean"
    assert Scanner(safepickle.Policy()).scan_file("good.pt").status == "refused"
    hostile = checkpoint(_call("os", "system", TOUCH), FOUR_FLOATS)
    Path("bad.pt").write_bytes(hostile.getvalue())
    assert Scanner(policy).scan_file("bad.pt").status == "refused"


# --- hostile checkpoints: sizes, persistent ids and the zip ------------------------------------
FOUR_FLOATS = {"data/0": bytes(16)}


def _load(data: object, members: dict[str, bytes] | None = None, **kwargs: object) -> object:
    return safepickle_torch.load(
        checkpoint(stream(data), FOUR_FLOATS if members is None else members), **kwargs
    )


def test_well_formed_hand_made_checkpoint_loads() -> None:
    got = _load(tensor_call(storage_id("0", 4), 0, (2, 2), (2, 1)))
    assert torch.equal(got, torch.zeros(2, 2))


@pytest.mark.parametrize(
    ("offset", "size", "stride"),
    [
        (0, (1 << 20, 1 << 20), (1 << 20, 1)),  # a terabyte view of 16 bytes
        (0, (5,), (1,)),
        (4, (1,), (1,)),
        (1, (2, 2), (2, 1)),
        (0, (2, 3), (3, 1)),
        (0, (2,), (4,)),
        (0, (2,), (-1,)),
        (-1, (1,), (1,)),
        (0, (2.0,), (1,)),
        (0, (True,), (1,)),
        (0, (2, 2), (1,)),
        (0, "abcd", "abcd"),
        (0, (1,) * 65, (1,) * 65),
    ],
)
def test_view_outside_its_storage_refused(
    offset: object, size: object, stride: object, canary: Path
) -> None:
    with pytest.raises(CheckpointError, match="refused tensor"):
        _load(tensor_call(storage_id("0", 4), offset, size, stride))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "rebuild",
    [
        torch._utils._rebuild_tensor_v3,
        torch._utils._rebuild_tensor,
        torch._utils._rebuild_qtensor,
    ],
)
def test_every_rebuilder_checks_bounds(rebuild: object, canary: Path) -> None:
    big = (1 << 20, 1 << 20)
    args: dict[object, tuple[object, ...]] = {
        torch._utils._rebuild_tensor_v3: (
            0,
            big,
            (1 << 20, 1),
            False,
            OrderedDict(),
            torch.float32,
        ),
        torch._utils._rebuild_tensor: (0, big, (1 << 20, 1)),
        torch._utils._rebuild_qtensor: (
            0,
            big,
            (1 << 20, 1),
            (torch.per_tensor_affine, 0.1, 0),
            False,
            OrderedDict(),
        ),
    }
    kind = torch.QUInt8Storage if rebuild is torch._utils._rebuild_qtensor else torch.ByteStorage
    pid = storage_id("0", 16, kind)
    with pytest.raises(CheckpointError, match="refused tensor"):
        _load(Call(rebuild, pid, *args[rebuild]))


def test_quantized_size_beyond_storage_refused_before_allocation(canary: Path) -> None:
    """torch allocates a quantized tensor of ``size`` before it sets the storage: a
    zero-stride view of one byte must not make it allocate a terabyte."""
    pid = storage_id("0", 16, torch.QUInt8Storage)
    call = Call(
        torch._utils._rebuild_qtensor,
        pid,
        0,
        (1 << 20, 1 << 20),
        (0, 0),
        (torch.per_tensor_affine, 0.1, 0),
        False,
        OrderedDict(),
    )
    with pytest.raises(CheckpointError, match="more elements than its storage"):
        _load(call)


@pytest.mark.parametrize(
    ("pid", "match"),
    [
        (storage_id("0", 5), "should hold 5"),  # more elements than the member has
        (storage_id("0", 3), "should hold 3"),
        (storage_id("0", 1 << 60), "should hold"),
        (storage_id("1", 4), "no such member"),
        (storage_id("../0", 4), "not a storage key"),
        (storage_id("0/../0", 4), "not a storage key"),
        (storage_id(0, 4), "not a storage key"),  # type: ignore[arg-type]
        (storage_id("0", -4), "not a count"),
        (storage_id("0", 4.0), "not a count"),  # type: ignore[arg-type]
        (storage_id("0", True), "not a count"),  # type: ignore[arg-type]
        (storage_id("0", 4, "FloatStorage"), "not a storage type"),
        (storage_id("0", 4, torch.float32), "not a storage type"),
        (storage_id("0", 4, location="gpu?"), "not a device name"),
        (storage_id("0", 4, location="xla:0"), "device type"),
        (storage_id("0", 4, location="cuda:0"), "map_location='cpu'"),
        (storage_id("0", 4, location=b"cpu"), "not a device name"),  # type: ignore[arg-type]
    ],
)
def test_bad_persistent_ids_refused(pid: object, match: str, canary: Path) -> None:
    with pytest.raises(CheckpointError, match=match):
        _load(tensor_call(pid, 0, (1,), (1,)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        ("storage", torch.FloatStorage, "0", "cpu", 4, None),  # the legacy six fields
        ("storage", torch.FloatStorage, "0", "cpu"),
        ("module", torch.FloatStorage, "0", "cpu", 4),
        ["storage", torch.FloatStorage, "0", "cpu", 4],
        "0",
        7,
    ],
)
def test_persistent_id_shapes_refused(fields: object, canary: Path) -> None:
    pid = PersistentId()
    pid.fields = fields  # written as is: a list, a str or an int too
    with pytest.raises(CheckpointError, match="is not"):
        _load(tensor_call(pid, 0, (1,), (1,)))


def test_one_key_two_dtypes_refused() -> None:
    first = tensor_call(storage_id("0", 4), 0, (1,), (1,))
    second = tensor_call(storage_id("0", 16, torch.ByteStorage), 0, (1,), (1,))
    with pytest.raises(CheckpointError, match="referred to as"):
        _load([first, second])


def test_storage_is_read_once_and_shared() -> None:
    views = [tensor_call(storage_id("0", 4), i, (1,), (1,)) for i in range(4)]
    got = _load(views)
    assert len({t.untyped_storage().data_ptr() for t in got}) == 1


def test_calling_a_storage_type_refused(canary: Path) -> None:
    """torch.FloatStorage(2**40) would allocate four terabytes."""
    with pytest.raises(CheckpointError, match="constructing one would allocate"):
        _load(Call(torch.FloatStorage, 1 << 40))


@pytest.mark.parametrize("protocol", [2, 5])
def test_size_from_a_range_refused(protocol: int, torch_policy: safepickle.Policy) -> None:
    """torch.Size(range(n)) would materialise n ints from a few bytes. The core refuses ranges
    over its max_container_items; below that the plugin refuses any range."""
    for length, match in [(10**10, "max_container_items"), (10**6, "takes a tuple of ints")]:
        data = pickle.dumps(Call(torch.Size, range(length)), protocol)
        with pytest.raises(safepickle.SafePickleError, match=match):
            safepickle.loads(data, policy=torch_policy)
        with pytest.raises(safepickle.SafePickleError, match=match):
            _load(Call(torch.Size, range(length)))


def test_backward_hooks_refused(canary: Path) -> None:
    hooks = OrderedDict(h=OrderedDict())
    call = Call(torch._utils._rebuild_tensor_v2, storage_id("0", 4), 0, (4,), (1,), False, hooks)
    with pytest.raises(CheckpointError, match="backward hooks"):
        _load(call)


@pytest.mark.parametrize(
    "state",
    [
        {"data": OrderedDict()},
        {"requires_grad": True},
        {"__class__": OrderedDict()},
        {"_backward_hooks": OrderedDict()},
        {"grad": OrderedDict()},
        {"not an identifier": 1},
        ({}, {"__dict__": {}}),
        ({}, {}, {}),
    ],
)
def test_parameter_state_limited_to_new_attributes(state: object, canary: Path) -> None:
    tensor = tensor_call(storage_id("0", 4), 0, (4,), (1,))
    call = Call(torch._utils._rebuild_parameter_with_state, tensor, True, OrderedDict(), state)
    with pytest.raises(CheckpointError, match="state"):
        _load(call)


def test_metadata_limited_to_conj_and_neg(canary: Path) -> None:
    call = Call(
        torch._utils._rebuild_tensor_v2,
        storage_id("0", 4),
        0,
        (4,),
        (1,),
        False,
        OrderedDict(),
        {"conj": True, "python_attr": 1},
    )
    with pytest.raises(CheckpointError, match="metadata"):
        _load(call)


def test_member_size_claim_beyond_the_file_refused() -> None:
    """The central directory says data/0 holds 4 GB in a file of a few hundred bytes: refused
    before anything is allocated."""
    claimed = 0xFFFF_FFF0
    data = stream(tensor_call(storage_id("0", claimed // 4), 0, (1,), (1,)))
    raw = bytearray(checkpoint(data, {"data/0": bytes(16)}).getvalue())
    record = raw.rindex(b"PK\x01\x02")  # the last central record: data/0's
    assert raw[record + 46 : record + 46 + 14] == b"archive/data/0"
    raw[record + 20 : record + 28] = claimed.to_bytes(4, "little") * 2  # both sizes
    with pytest.raises(CheckpointError, match="claims"):
        safepickle_torch.load(io.BytesIO(bytes(raw)))


def test_overlapping_members_refused() -> None:
    """Two central entries whose data overlap (the overlapping-file zip bomb): data/1's local
    header and data lie inside data/0's data, so one region would back two storages."""
    inner = local_entry("archive/data/1", bytes(16))
    data = stream(
        [
            tensor_call(storage_id("0", len(inner), torch.ByteStorage), 0, (1,), (1,)),
            tensor_call(storage_id("1", 4), 0, (1,), (1,)),
        ]
    )
    data0_at = len(local_entry("archive/data.pkl", data))
    inner_at = data0_at + 30 + len("archive/data/0")
    entries: list[tuple[str, bytes, int | None]] = [
        ("archive/data.pkl", data, None),
        ("archive/data/0", inner, None),
        ("archive/data/1", bytes(16), inner_at),
    ]
    with pytest.raises(CheckpointError, match="overlaps"):
        safepickle_torch.load(raw_zip(entries))


def test_compressed_members_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "archive/data.pkl", stream(tensor_call(storage_id("0", 4), 0, (4,), (1,)))
        )
        archive.writestr("archive/data/0", bytes(16))
    buffer.seek(0)
    with pytest.raises(CheckpointError, match="compressed"):
        safepickle_torch.load(buffer)


def test_data_pkl_over_the_input_limit_refused() -> None:
    policy = safepickle.Policy(plugins=["torch"]).with_limits(max_input_bytes=64)
    with pytest.raises(CheckpointError, match="max_input_bytes"):
        safepickle_torch.load(saved({"w": torch.ones(100)}), policy=policy)


def test_torchscript_archives_refused(canary: Path) -> None:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script is deprecated
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), buffer)
    buffer.seek(0)
    with pytest.raises(CheckpointError, match="TorchScript"):
        safepickle_torch.load(buffer)


# --- hostile legacy checkpoints ----------------------------------------------------------------
def _legacy_main(numel: int = 4, key: str = "7", location: str = "cpu") -> bytes:
    pid = PersistentId("storage", torch.FloatStorage, key, location, numel, None)
    return stream(tensor_call(pid, 0, (numel,), (1,)))


def test_hand_made_legacy_checkpoint_loads() -> None:
    data = torch.arange(4.0)
    got = safepickle_torch.load(
        legacy_file(_legacy_main(), ["7"], [(4, bytes(data.untyped_storage()))])
    )
    assert torch.equal(got, data)


@pytest.mark.parametrize(
    ("main", "keys", "records", "match"),
    [
        (_legacy_main(1 << 40), ["7"], [(4, bytes(16))], "file has only"),  # 4 TB declared
        (_legacy_main(), ["8"], [(4, bytes(16))], "key list"),
        (_legacy_main(), ["7", "7"], [(4, bytes(16))] * 2, "key list"),
        (_legacy_main(), "7", [(4, bytes(16))], "key list"),
        (_legacy_main(), ["7"], [(5, bytes(16))], "not 4 long"),
        (_legacy_main(), ["7"], [(4, bytes(12))], "truncated"),
        (_legacy_main(), ["7"], [(4, bytes(20))], "bytes follow"),
        (_legacy_main(location="cuda:0"), ["7"], [(4, bytes(16))], "map_location='cpu'"),
        (_legacy_main(key="../7"), ["../7"], [(4, bytes(16))], "not a storage key"),
        (_legacy_main()[:-1], ["7"], [(4, bytes(16))], "."),  # no STOP
    ],
    ids=[
        "huge",
        "other-key",
        "key-twice",
        "keys-str",
        "count",
        "short",
        "trailing",
        "cuda",
        "key-path",
        "no-stop",
    ],
)
def test_hostile_legacy_checkpoints_refused(
    main: bytes, keys: object, records: list[tuple[int, bytes]], match: str, canary: Path
) -> None:
    with pytest.raises(safepickle.SafePickleError, match=match):
        safepickle_torch.load(legacy_file(main, keys, records))


def test_legacy_view_metadata_refused() -> None:
    pid = PersistentId("storage", torch.FloatStorage, "7", "cpu", 4, ("8", 0, 2))
    main = stream(tensor_call(pid, 0, (1,), (1,)))
    with pytest.raises(CheckpointError, match="view_metadata"):
        safepickle_torch.load(legacy_file(main, ["7"], [(4, bytes(16))]))


def test_legacy_header_checked() -> None:
    buffer = io.BytesIO(pickle.dumps(12345, 2) + pickle.dumps(1001, 2) + pickle.dumps({}, 2))
    with pytest.raises(CheckpointError, match="magic"):
        safepickle_torch.load(buffer)


def test_the_bytes_inside_a_plain_pickled_tensor_load() -> None:
    """What torch.storage._load_from_bytes would unpickle without restriction is a legacy
    checkpoint: read statically out of the plain pickle, it loads through the verifier."""
    original = torch.arange(6.0).reshape(2, 3)
    nested = [
        arg
        for opcode, arg, _ in pickletools.genops(pickle.dumps(original, 2))
        if opcode.name == "BINUNICODE" and isinstance(arg, str) and len(arg) > 100
    ]
    (storage,) = [safepickle_torch.load(io.BytesIO(text.encode("latin-1"))) for text in nested]
    assert isinstance(storage, torch.storage.TypedStorage)
    assert torch.equal(torch.tensor([], dtype=storage.dtype).set_(storage).reshape(2, 3), original)


@pytest.mark.parametrize(
    "data", [b"", b"PK", b"not a checkpoint at all", b"PK\x03\x04" + bytes(40)]
)
def test_garbage_refused(data: bytes) -> None:
    with pytest.raises(CheckpointError):
        safepickle_torch.load(io.BytesIO(data))


def test_map_location_callables_refused() -> None:
    with pytest.raises(TypeError, match="callables"):
        safepickle_torch.load(saved({}), map_location=lambda storage, location: storage)


class _CallThenBuild(Call):
    """Pickled as ``func(*args)`` followed by BUILD with ``state``."""

    def __init__(self, func: object, args: tuple[object, ...], state: object) -> None:
        super().__init__(func, *args)
        self.state = state

    def __reduce__(self) -> tuple[object, tuple[object, ...], object]:  # type: ignore[override]
        return self.func, self.args, self.state


@pytest.mark.parametrize(
    "state",
    [
        (PersistentId("storage", torch.FloatStorage, "0", "cpu", 4), 0, (1 << 38,), (1,)),
        (True, None, OrderedDict(h=OrderedDict)),  # requires_grad, _, a backward hook
    ],
    ids=["set_-a-terabyte", "backward-hooks"],
)
def test_changing_a_rebuilt_tensor_refused(state: object, canary: Path) -> None:
    """BUILD on a tensor is Tensor.__setstate__: set_ with the stream's sizes (which grows a
    resizable storage to a terabyte, past every bounds check) or backward hooks. Refused
    before anything runs, in checkpoints and in plain pickles."""
    tensor = _CallThenBuild(
        torch._utils._rebuild_tensor_v2,
        (storage_id("0", 4), 0, (4,), (1,), False, OrderedDict()),
        state,
    )
    with pytest.raises(safepickle.UnsafeOpcode, match="changes a value"):
        _load(tensor)
    plain = _CallThenBuild(
        torch._utils._rebuild_tensor_v2,
        (Call(torch.storage._load_from_bytes, saved_storage()), 0, (4,), (1,), False, {}),
        (torch.ones(2), 0, (1 << 38,), (1,)),
    )
    with pytest.raises(safepickle.UnsafeOpcode, match="changes a value"):
        safepickle.loads(pickle.dumps(plain), policy=safepickle.Policy(plugins=["torch"]))


def saved_storage() -> bytes:
    """The bytes torch passes to _load_from_bytes for a storage of four floats."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage is deprecated
        _, (data,) = torch.zeros(4).storage().__reduce__()
    return data  # type: ignore[no-any-return]


def test_sparse_quantizer_parameters_refused(
    canary: Path, torch_policy: safepickle.Policy
) -> None:
    """torch reads per-channel scales; a sparse one could still be unchecked (legacy files)."""
    quantized = torch.quantize_per_channel(
        torch.randn(3, 2), torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0, 1, 2]), 0, torch.qint8
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage is deprecated
        func, args = quantized.__reduce_ex__(2)[:2]
    scheme, scales, zero_points, axis = args[4]
    args = (*args[:4], (scheme, scales.to_sparse(), zero_points, axis), *args[5:])
    with pytest.raises(CheckpointError, match="dense tensors"):
        safepickle.loads(pickle.dumps(Call(func, *args)), policy=torch_policy)
