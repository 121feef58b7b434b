"""The built-in container openers, as one ordinary plugin module.

Formats are told apart by their bytes, never by file names. Order matters only where magics
could overlap, and they do not: compression (gzip, bz2, xz, lzma, zlib, lz4), zip (PyTorch
checkpoints, ``.npz``), ``.npy`` (``\\x93NUMPY``), joblib (a pickle naming its array wrapper).
"""

from __future__ import annotations

from collections.abc import Iterable

from safepickle.hookspecs import hookimpl

from . import ContainerStream, Member
from .compressed import open_compressed
from .joblibfile import open_joblib
from .npyfile import open_npy
from .ziparchive import open_zip

__all__ = ["OPENERS", "safepickle_open_container"]

OPENERS = (open_compressed, open_zip, open_npy, open_joblib)


@hookimpl(trylast=True)
def safepickle_open_container(stream: ContainerStream) -> Iterable[Member] | None:
    for opener in OPENERS:
        members = opener(stream)
        if members is not None:
            return members
    return None
