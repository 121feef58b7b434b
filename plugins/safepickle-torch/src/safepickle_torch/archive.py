"""The zip container of a ``torch.save`` checkpoint, read defensively.

``zipfile`` parses the central directory; member data is then read straight from the file at
the offset the member's local header gives, after checks that make the zip's own numbers
harmless: only stored (uncompressed, unencrypted) members, as torch writes them, so there is no
decompression bomb; a member's claimed size must fit inside the file before a byte is
allocated; and a member's data must end before the next member begins, so no two members
share a byte and the storages a load allocates together never exceed the file's size.
Members are named ``<top>/<name>``; the top folder is whatever the first member says (torch
uses the file's stem or ``archive``), as torch's own reader does.
"""

from __future__ import annotations

import ctypes
import struct
import zipfile
import zlib
from typing import IO

import torch

from .errors import CheckpointError
from .prefault import prefault

__all__ = ["Archive"]

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_MAGIC = b"PK\x03\x04"


class Archive:
    """Members of one checkpoint zip, whose data never overlap."""

    def __init__(self, file: IO[bytes], source: str) -> None:
        self._file = file
        self.source = source
        file.seek(0, 2)
        self._length = file.tell()
        file.seek(0)
        try:
            archive = zipfile.ZipFile(file)
        except Exception as exc:
            # (BadZipFile, NotImplementedError for unknown versions, ValueError, struct and
            # Unicode errors ... were all seen on damaged checkpoints)
            raise CheckpointError(f"{source}: not a readable zip archive: {exc!r}") from exc
        infos = archive.infolist()
        if not infos or "/" not in infos[0].filename:
            raise CheckpointError(f"{source}: a torch checkpoint's members are in a top folder")
        self.prefix = infos[0].filename.split("/", 1)[0] + "/"
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            if not name.startswith(self.prefix) or name in self._members:
                raise CheckpointError(
                    f"{source}: member {name!r} is not under the top folder {self.prefix!r} "
                    "or appears twice"
                )
            self._members[name[len(self.prefix) :]] = info
        # Each member's data must end before the next member (by offset) starts: then no two
        # members share a byte, whatever order they are read in (O(1) per read).
        self._bound: dict[int, int] = {}
        offsets = sorted(info.header_offset for info in infos)
        for here, after in zip(offsets, [*offsets[1:], self._length], strict=True):
            if here == after:
                raise CheckpointError(f"{source}: two members start at offset {here}")
            self._bound[here] = after

    def has(self, name: str) -> bool:
        return name in self._members

    def size(self, name: str) -> int:
        """The member's size, or -1 when there is no such member."""
        info = self._members.get(name)
        return -1 if info is None else info.file_size

    def read_bytes(self, name: str, limit: int) -> bytes:
        """A small member (the pickle, the byte order ...) whole, its CRC checked."""
        info = self._member(name)
        if info.file_size > limit:
            raise CheckpointError(
                f"{self.source}: member {name!r} is {info.file_size} bytes, over the limit of "
                f"{limit} (the policy's max_input_bytes)"
            )
        start, size = self._claim(info)
        buffer = bytearray(size)
        self._read_into(info, start, buffer)
        if zlib.crc32(buffer) != info.CRC:
            raise CheckpointError(f"{self.source}: member {name!r} fails its CRC check")
        return bytes(buffer)

    def read_storage(self, name: str) -> torch.UntypedStorage:
        """A storage member as an untyped CPU storage.

        The bytes go straight from the file into the storage's memory: one copy, like torch's
        own reader, and no zeroing pass (a bytearray would touch every page first, which cost
        several times the read itself on 200 MB). The CRC is not checked, as torch does not: it
        costs a pass over every byte, and integrity is not a safety property when the attacker
        writes the file anyway. The storage can be resized, like any torch made; the rebuild
        functions (:mod:`.rebuild`) check every view against its size before ``set_``.
        """
        info = self._member(name)
        start, size = self._claim(info)
        tensor = torch.empty(size, dtype=torch.uint8)
        prefault(tensor.data_ptr(), size)  # one call instead of a page fault per 4 KiB
        if size:
            # torch tensors have no buffer protocol: a ctypes array over the tensor's memory
            # (which outlives it: ``tensor`` is held here) is what readinto fills
            view = (ctypes.c_ubyte * size).from_address(tensor.data_ptr())
            self._read_into(info, start, memoryview(view).cast("B"))
        return tensor.untyped_storage()

    # --- internals ----------------------------------------------------------------------
    def _member(self, name: str) -> zipfile.ZipInfo:
        info = self._members.get(name)
        if info is None:
            raise CheckpointError(f"{self.source}: the checkpoint has no member {name!r}")
        return info

    def _claim(self, info: zipfile.ZipInfo) -> tuple[int, int]:
        """Check the member's data lies inside the file and overlaps no member read before."""
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise CheckpointError(
                f"{self.source}: member {info.filename!r} is compressed or encrypted; "
                "torch.save stores members uncompressed"
            )
        if info.compress_size != info.file_size:
            raise CheckpointError(f"{self.source}: member {info.filename!r} has two sizes")
        start = self._data_start(info)
        end = start + info.file_size
        if end > self._length:
            raise CheckpointError(
                f"{self.source}: member {info.filename!r} claims {info.file_size} bytes but "
                f"the file ends {self._length - start} bytes after its start"
            )
        if end > self._bound[info.header_offset]:
            raise CheckpointError(
                f"{self.source}: member {info.filename!r} overlaps another member's data"
            )
        return start, info.file_size

    def _data_start(self, info: zipfile.ZipInfo) -> int:
        if not 0 <= info.header_offset <= self._length - _LOCAL_HEADER.size:
            raise CheckpointError(
                f"{self.source}: member {info.filename!r} starts outside the file"
            )
        file = self._file
        file.seek(info.header_offset)
        header = file.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size:
            raise CheckpointError(f"{self.source}: member {info.filename!r} is truncated")
        fields = _LOCAL_HEADER.unpack(header)
        name_length: int = fields[10]
        extra_length: int = fields[11]
        if fields[0] != _LOCAL_MAGIC or file.read(name_length) != info.orig_filename.encode(
            "utf-8" if info.flag_bits & 0x800 else "cp437"
        ):
            raise CheckpointError(
                f"{self.source}: member {info.filename!r} has a bad local header"
            )
        return info.header_offset + _LOCAL_HEADER.size + name_length + extra_length

    def _read_into(
        self, info: zipfile.ZipInfo, start: int, buffer: bytearray | memoryview
    ) -> None:
        file = self._file
        file.seek(start)
        view = memoryview(buffer)
        done = 0
        while done < len(buffer):
            count = file.readinto(view[done:])  # type: ignore[attr-defined]
            if not count:
                raise CheckpointError(f"{self.source}: member {info.filename!r} is truncated")
            done += count
