"""Containers: every pickle inside compressed files, zip archives and PyTorch checkpoints,
``.npy``/``.npz`` object arrays and joblib files is scanned; a container that cannot be read
is an error, never clean. Fixtures are made by the real libraries."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import joblib
import lz4.frame
import numpy as np
import pytest

if sys.version_info[:2] == (3, 11):
    import torch

import safepickle
from safepickle import Limits, Policy
from safepickle.containers import MAX_DEPTH, ContainerError, ContainerStream, Member
from safepickle.hookspecs import hookimpl
from safepickle.scan import FileResult, Scanner
from safepickle.testing import CANARY, hostile_payload

NUMPY_NAMES = ["numpy._core.multiarray:_reconstruct", "numpy:ndarray", "numpy:dtype"]
TORCH_NAMES = ["torch._utils:_rebuild_tensor_v2", "torch:FloatStorage", "collections:OrderedDict"]


class TouchCanary:
    """Pickles as os.system('touch CANARY')."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch {CANARY}",)


class PersistentIds:
    """Resolves torch's persistent ids (so that the verifier accepts them); never called by a
    scan, which executes nothing."""

    @hookimpl
    def safepickle_persistent_load(self, pid: Any) -> Any:
        raise AssertionError("a scan never resolves a persistent id")


def statuses(result: FileResult) -> list[tuple[str, str]]:
    return [(stream.location, stream.status) for stream in result.streams]


def refused_names(result: FileResult) -> set[str]:
    return {g.name for s in result.streams for g in s.refused_globals}


def scan(path: str | Path, policy: Policy | None = None) -> FileResult:
    return Scanner(policy or Policy()).scan_file(path)


# --- compression ----------------------------------------------------------------------------

COMPRESSORS = {
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "lzma": lambda data: lzma.compress(data, format=lzma.FORMAT_ALONE),
    "zlib": zlib.compress,
    "lz4": lz4.frame.compress,
}


@pytest.mark.parametrize("fmt", sorted(COMPRESSORS))
def test_compressed_pickles(fmt: str, canary: Path) -> None:
    compress = COMPRESSORS[fmt]
    Path("good").write_bytes(compress(pickle.dumps({"a": [1, 2, 3]})))
    Path("evil").write_bytes(compress(hostile_payload()))
    good = scan("good")
    assert statuses(good) == [(f"<{fmt}>", "clean")]
    assert good.streams[0].formats == (fmt,)
    evil = scan("evil")
    assert statuses(evil) == [(f"<{fmt}>", "refused")]
    assert refused_names(evil) == {"posix.system"}


@pytest.mark.parametrize("fmt", sorted(COMPRESSORS))
def test_truncated_compression_is_an_error(fmt: str, canary: Path) -> None:
    data = COMPRESSORS[fmt](pickle.dumps(list(range(1000))))
    Path("cut").write_bytes(data[: len(data) // 2])
    result = scan("cut")
    assert result.status == "error"
    assert result.streams[-1].problem is not None


def test_concatenated_gzip_members(canary: Path) -> None:
    Path("two.gz").write_bytes(gzip.compress(pickle.dumps(1)) + gzip.compress(hostile_payload()))
    assert statuses(scan("two.gz")) == [("<gzip>", "clean"), ("<gzip>#1", "refused")]


@pytest.mark.parametrize("fmt", ["gzip", "bz2", "xz", "zlib"])
def test_decompression_bomb_hits_the_limit(fmt: str, canary: Path) -> None:
    """64 MB of zeros in a few kilobytes, under a 1 MB limit: stops after inflating 1 MB."""
    bomb = COMPRESSORS[fmt](b"\0" * (64 << 20))
    assert len(bomb) < 200_000
    Path("bomb").write_bytes(bomb)
    policy = Policy(limits=Limits(max_input_bytes=1 << 20))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = scan("bomb", policy)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2.0
    assert peak < 24 << 20
    (stream,) = result.streams
    assert stream.status == "error"
    assert stream.problem is not None and stream.problem.rule == "limit:max_input_bytes"


def test_containers_nest_but_not_forever(canary: Path) -> None:
    data = hostile_payload()
    for _ in range(3):
        data = gzip.compress(data)
    Path("three.gz").write_bytes(data)
    assert statuses(scan("three.gz")) == [("<gzip>!<gzip>!<gzip>", "refused")]
    for _ in range(MAX_DEPTH):
        data = gzip.compress(data)
    Path("deep.gz").write_bytes(data)
    result = scan("deep.gz")
    assert result.status == "error"
    assert "nested more than" in str(result.streams[0].problem)


# --- zip archives and PyTorch checkpoints ----------------------------------------------------


def torch_policy() -> Policy:
    return Policy(allow=TORCH_NAMES, plugins=[PersistentIds()])


# Not a quiet skip: the test extra installs torch on 3.11 only (pyproject.toml says why), and
# CI runs 3.11.
_TORCH_PYTHON = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11),
    reason="torch 2.13.0's CPU wheel is on the project's machines for CPython 3.11 only",
)


@_TORCH_PYTHON
def test_torch_checkpoint(canary: Path) -> None:
    torch.save({"w": torch.ones(3, 3), "b": torch.zeros(3)}, "model.pt")
    # the default policy: no plugin resolves persistent ids, so the pickle is refused
    default = scan("model.pt")
    assert default.status == "refused"
    (pkl,) = [s for s in default.streams if s.status != "skipped"]
    assert pkl.location == "model/data.pkl"
    assert pkl.problem is not None and pkl.problem.rule == "opcode:BINPERSID"
    # a policy that allows what torch writes: clean, and the storages are skipped as data
    result = scan("model.pt", torch_policy())
    assert result.status == "clean", result
    kinds = {s.location: s.status for s in result.streams}
    assert kinds["model/data.pkl"] == "clean"
    assert kinds["model/data/0"] == "skipped"
    assert {g.name for g in result.streams[0].globals} == {
        "torch._utils._rebuild_tensor_v2",
        "torch.FloatStorage",
        "collections.OrderedDict",
    }


@_TORCH_PYTHON
def test_torch_checkpoint_with_a_payload(canary: Path) -> None:
    torch.save({"w": torch.ones(2), "x": TouchCanary()}, "evil.pt")
    result = scan("evil.pt", torch_policy())
    assert result.status == "refused"
    assert refused_names(result) == {"posix.system"}


def _zip(members: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_pickle_member_whatever_its_name(canary: Path) -> None:
    Path("a.zip").write_bytes(
        _zip([("arc/data.pkl", pickle.dumps(1)), ("arc/data/0", hostile_payload(protocol=0))])
    )
    result = scan("a.zip")
    assert statuses(result) == [("arc/data.pkl", "clean"), ("arc/data/0", "refused")]


def test_mismatched_local_and_central_names(canary: Path) -> None:
    """The central directory says data.pkl, the local header data.bin: Python's zipfile
    refuses the archive, PyTorch's reader does not; the member is scanned either way."""
    data = bytearray(_zip([("arc/data.pkl", hostile_payload())]))
    local_name = data.index(b"arc/data.pkl")
    data[local_name : local_name + 12] = b"arc/data.bin"
    Path("trick.zip").write_bytes(data)
    with pytest.raises(zipfile.BadZipFile), zipfile.ZipFile("trick.zip") as archive:
        archive.read("arc/data.pkl")
    result = scan("trick.zip")
    assert statuses(result) == [("arc/data.pkl", "refused")]
    assert "its local header names it 'arc/data.bin'" in result.streams[0].notes


def test_encrypted_flag_and_bad_crc(canary: Path) -> None:
    data = bytearray(_zip([("x.pkl", hostile_payload())]))
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature)
        flags = struct.unpack_from("<H", data, at + flags_at)[0]
        struct.pack_into("<H", data, at + flags_at, flags | 1)
    crc_at = data.index(b"PK\x03\x04") + 14
    data[crc_at : crc_at + 4] = b"\0\0\0\0"
    Path("flags.zip").write_bytes(data)
    with pytest.raises(RuntimeError), zipfile.ZipFile("flags.zip") as archive:
        archive.read("x.pkl")  # "File is encrypted, password required"
    result = scan("flags.zip")
    assert statuses(result) == [("x.pkl", "refused")]
    assert any("encrypted" in note for note in result.streams[0].notes)


def _local_header(name: bytes, data: bytes) -> bytes:
    size, crc = len(data), zlib.crc32(data)
    fields = (b"PK\x03\x04", 20, 0, 0, 0, 0, crc, size, size, len(name), 0)
    return struct.pack("<4sHHHHHIIIHH", *fields) + name + data


def _handmade_zip(members: list[tuple[bytes, bytes, bool]], gap: bytes = b"") -> bytes:
    """Stored members one after the other (``gap`` after each), and a central directory that
    lists only the members marked True."""
    body = b""
    central = b""
    listed = 0
    for name, data, in_directory in members:
        offset = len(body)
        body += _local_header(name, data) + gap
        if in_directory:
            listed += 1
            size, crc = len(data), zlib.crc32(data)
            fields = (b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, size, size, len(name), 0, 0, 0, 0)
            central += struct.pack("<4sHHHHHHIIIHHHHHII", *fields, 0, offset) + name
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, listed, listed, len(central), len(body), 0
    )
    return body + central + end


@pytest.mark.parametrize("where", [0, 1, 2])
@pytest.mark.parametrize("gap", [b"", b"\0" * 7])
def test_member_missing_from_the_central_directory(where: int, gap: bytes, canary: Path) -> None:
    members = [(b"one.pkl", pickle.dumps(1), True), (b"two.pkl", pickle.dumps(2), True)]
    members.insert(where, (b"hidden.bin", hostile_payload(), False))
    Path("hidden.zip").write_bytes(_handmade_zip(members, gap))
    with zipfile.ZipFile("hidden.zip") as check:
        assert check.namelist() == ["one.pkl", "two.pkl"]
        assert check.read("two.pkl") == pickle.dumps(2)
    result = scan("hidden.zip")
    assert sorted(statuses(result)) == [
        ("hidden.bin", "refused"),
        ("one.pkl", "clean"),
        ("two.pkl", "clean"),
    ]
    hidden = next(s for s in result.streams if s.location == "hidden.bin")
    assert any("central directory does not list it" in note for note in hidden.notes)


def test_deflated_members_and_unknown_methods(canary: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.pkl", pickle.dumps(list(range(500))))
        archive.writestr("b.pkl", hostile_payload())
    Path("d.zip").write_bytes(buffer.getvalue())
    assert statuses(scan("d.zip")) == [("a.pkl", "clean"), ("b.pkl", "refused")]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_LZMA) as archive:
        archive.writestr("c.pkl", hostile_payload())
    Path("l.zip").write_bytes(buffer.getvalue())
    result = scan("l.zip")
    assert result.status == "error"
    assert "compression method 14" in str(result.streams[0].problem)


def test_truncated_zip_is_an_error(canary: Path) -> None:
    data = _zip([("a.pkl", pickle.dumps(list(range(2000))))])
    Path("cut.zip").write_bytes(data[:200])
    result = scan("cut.zip")
    assert result.status == "error", result


# --- numpy -----------------------------------------------------------------------------------


def test_npy_object_array(canary: Path) -> None:
    np.save("objects.npy", np.array([1, "two", None], dtype=object), allow_pickle=True)
    np.save("numbers.npy", np.arange(10.0))
    np.save("evil.npy", np.array([TouchCanary()], dtype=object), allow_pickle=True)
    assert scan("numbers.npy").status == "clean"
    assert scan("numbers.npy").streams[0].notes == ("holds no pickle",)
    assert refused_names(scan("objects.npy")) == {
        "numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
    }  # fmt: skip
    assert scan("objects.npy", Policy(allow=NUMPY_NAMES)).status == "clean"
    evil = scan("evil.npy", Policy(allow=NUMPY_NAMES))
    assert statuses(evil) == [("<object array>", "refused")]
    assert refused_names(evil) == {"posix.system"}


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz(save: Any, canary: Path) -> None:
    save("a.npz", numbers=np.arange(4), objects=np.array([{"k": 1}], dtype=object))
    save("b.npz", numbers=np.arange(4), evil=np.array([TouchCanary()], dtype=object))
    good = scan("a.npz", Policy(allow=NUMPY_NAMES))
    assert statuses(good) == [
        ("numbers.npy", "skipped"),
        ("objects.npy!<object array>", "clean"),
    ]
    evil = scan("b.npz", Policy(allow=NUMPY_NAMES))
    assert ("evil.npy!<object array>", "refused") in statuses(evil)


def test_bad_npy_header_is_an_error(canary: Path) -> None:
    Path("bad.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': __import__}")
    result = scan("bad.npy")
    assert result.status == "error"
    assert result.streams[0].problem is not None
    assert result.streams[0].problem.rule == "container"


# --- joblib ----------------------------------------------------------------------------------

JOBLIB_COMPRESSORS = [None, "zlib", "gzip", "bz2", "xz", "lzma", "lz4"]


@pytest.mark.parametrize("compressor", JOBLIB_COMPRESSORS)
def test_joblib_files(compressor: str | None, canary: Path) -> None:
    value = {"x": np.arange(20.0).reshape(4, 5), "o": np.array([1, "a"], dtype=object), "n": 3}
    compress: Any = (compressor, 3) if compressor else 0
    joblib.dump(value, "good.joblib", compress=compress)
    evil_value = {"x": np.arange(3), "o": np.array([TouchCanary()], dtype=object)}
    joblib.dump(evil_value, "evil.joblib", compress=compress)
    good = scan("good.joblib", Policy(allow=NUMPY_NAMES))
    assert good.status == "clean", good
    wrappers = [g for s in good.streams for g in s.globals if g.rule == "container-format"]
    assert {g.name for g in wrappers} == {"joblib.numpy_pickle.NumpyArrayWrapper"}
    assert scan("good.joblib").status == "refused"  # numpy is not in the default policy
    evil = scan("evil.joblib", Policy(allow=NUMPY_NAMES))
    assert evil.status == "refused"
    assert refused_names(evil) == {"posix.system"}


def test_joblib_payload_hidden_in_array_padding(canary: Path) -> None:
    """joblib skips the padding before an array; plain pickle reads it as opcodes. A file
    whose padding holds a payload loads fine with joblib and runs the payload under
    pickle.load: it is an error for the scan, never clean."""
    joblib.dump({"x": np.arange(4.0)}, "plain.joblib")
    raw = Path("plain.joblib").read_bytes()
    # the wrapper's state ends "...alignment_bytes", BININT1 16, SETITEMS, BUILD: then padding
    start = raw.index(b"K\x10ub", raw.index(b"numpy_array_alignment_bytes")) + 4
    padding = raw[start]
    payload = b"cos\nsystem\n(S'touch CANARY'\ntR"
    hidden = bytes([ord("(")]) + payload.ljust(ord("("), b"0")
    array_bytes = raw[start + 1 + padding : start + 1 + padding + 32]
    Path("hidden.joblib").write_bytes(raw[:start] + hidden + raw[start + 1 + padding :])
    assert np.array_equal(joblib.load("hidden.joblib")["x"], np.arange(4.0))
    assert array_bytes == np.arange(4.0).tobytes()
    result = scan("hidden.joblib", Policy(allow=NUMPY_NAMES))
    assert result.status == "error"
    assert "hidden" in str(result.streams[0].problem)
    # the payload is live under plain pickle (in a subprocess, in its own temp dir)
    subprocess.run(
        [sys.executable, "-c", "import pickle; pickle.load(open('hidden.joblib', 'rb'))"],
        capture_output=True,
        check=False,
    )
    assert canary.exists()
    canary.unlink()


# --- the hook --------------------------------------------------------------------------------


class Envelope:
    """A third-party format: ``SPK1`` then a pickle."""

    @hookimpl
    def safepickle_open_container(self, stream: ContainerStream) -> list[Member] | None:
        if bytes(stream.data[:4]) != b"SPK1":
            return None
        return [Member("payload", stream.data[4:], kind="pickle", format="spk")]


class Broken:
    @hookimpl
    def safepickle_open_container(self, stream: ContainerStream) -> list[Member] | None:
        raise ValueError("boom")


class Unreadable:
    @hookimpl
    def safepickle_open_container(self, stream: ContainerStream) -> list[Member] | None:
        raise ContainerError("a container this plugin recognised but cannot read")


def test_plugin_opens_its_format(canary: Path) -> None:
    Path("x.spk").write_bytes(b"SPK1" + hostile_payload())
    assert scan("x.spk").status == "error"  # nobody knows the format: not a pickle
    result = scan("x.spk", Policy(plugins=[Envelope()]))
    assert statuses(result) == [("payload", "refused")]
    assert result.streams[0].formats == ("spk",)
    # the built-ins still run after a plugin that abstains
    Path("y.gz").write_bytes(gzip.compress(hostile_payload()))
    assert statuses(scan("y.gz", Policy(plugins=[Envelope()]))) == [("<gzip>", "refused")]


@pytest.mark.parametrize("plugin", [Broken(), Unreadable()])
def test_plugin_failure_is_an_error(plugin: object, canary: Path) -> None:
    Path("a.pkl").write_bytes(pickle.dumps(1))
    result = scan("a.pkl", Policy(plugins=[plugin]))
    assert result.status == "error"


def test_loading_agrees_on_a_member(canary: Path) -> None:
    """What the scan says about a member is what loads says about its bytes."""
    data = hostile_payload()
    Path("m.zip").write_bytes(_zip([("m.pkl", data)]))
    assert scan("m.zip").status == "refused"
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle.loads(data)


def test_an_unreadable_member_does_not_hide_the_others(canary: Path) -> None:
    members = [(b"bad.pkl", pickle.dumps(1), True), (b"evil.pkl", hostile_payload(), True)]
    data = bytearray(_handmade_zip(members))
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 20, 1 << 30)  # bad.pkl's size: past the end
    Path("broken.zip").write_bytes(data)
    result = scan("broken.zip")
    assert ("evil.pkl", "refused") in statuses(result)
    assert ("", "error") in statuses(result)
    assert "runs past the end" in str(result.streams[-1].problem)
