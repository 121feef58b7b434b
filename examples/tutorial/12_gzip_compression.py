"""The tutorial's compression: a pickle written and read through ``gzip``.

pickle: ``pickle.load(gzip.open(...))``. safepickle: ``safepickle.load`` reads from the gzip
file object the same way. Two hostile counterparts: a compressed payload (refused like an
uncompressed one), and a decompression bomb, a small file that inflates to far more than the
application ever stores; ``Limits(max_input_bytes=...)`` stops reading at the limit instead of
inflating it all.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct

import safepickle

# This application's compressed files hold at most a few megabytes once inflated.
POLICY = safepickle.Policy(limits=safepickle.Limits(max_input_bytes=16 * 1024 * 1024))


class Malicious:
    """A compressed payload: loaded by pickle, it runs ``touch CANARY``."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch CANARY",))


def write_bomb(path: str, inflated_size: int) -> None:
    """A gzip file that inflates to one ``bytes`` object of ``inflated_size`` zero bytes."""
    chunk = bytes(1024 * 1024)
    with gzip.open(path, "wb") as f:
        # PROTO 4, BINBYTES8 <size>: then the bytes themselves, then STOP.
        f.write(b"\x80\x04\x8e" + struct.pack("<Q", inflated_size))
        for _ in range(inflated_size // len(chunk)):
            f.write(chunk)
        f.write(b".")


def main() -> None:
    data = {"large": list(range(100000))}

    # Save with compression
    with gzip.open("data.pkl.gz", "wb") as f:
        safepickle.dump(data, f)

    # Load compressed
    with gzip.open("data.pkl.gz", "rb") as f:
        loaded = safepickle.load(f, policy=POLICY)
    assert loaded == data
    print("loaded:", len(loaded["large"]), "items, the last", loaded["large"][-1])

    # Compare sizes
    print(f"Compressed: {os.path.getsize('data.pkl.gz')} bytes")

    # The attacks: a compressed payload, and a bomb that inflates to 64 MiB.
    with gzip.open("payload.pkl.gz", "wb") as f:
        pickle.dump(Malicious(), f)
    try:
        with gzip.open("payload.pkl.gz", "rb") as f:
            safepickle.load(f, policy=POLICY)
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)

    write_bomb("bomb.pkl.gz", 64 * 1024 * 1024)
    print(f"Bomb: {os.path.getsize('bomb.pkl.gz')} bytes compressed")
    try:
        with gzip.open("bomb.pkl.gz", "rb") as f:
            safepickle.load(f, policy=POLICY)
    except safepickle.LimitExceeded as err:
        print("refused:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
