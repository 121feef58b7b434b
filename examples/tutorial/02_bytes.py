"""The tutorial's bytes use case: ``dumps`` to bytes (network, databases), ``loads`` back.

pickle: ``pickle.dumps(data)`` / ``pickle.loads(serialized)``. safepickle: the same calls on
``safepickle``. The hostile counterpart: the bytes come back from a cache server or a message
queue that someone else can write to, and now hold a pickle that runs a program.
"""

from __future__ import annotations

import pickle
import subprocess

import safepickle


class RunProgram:
    """What an attacker puts in the queue: loaded by pickle, it runs ``touch CANARY``."""

    def __reduce__(self) -> tuple[object, tuple[list[str]]]:
        return (subprocess.check_call, (["touch", "CANARY"],))


def main() -> None:
    data = [1, 2, 3, {"key": "value"}]

    serialized = safepickle.dumps(data)
    print(type(serialized))  # <class 'bytes'>

    restored = safepickle.loads(serialized)
    assert restored == data
    print("restored:", restored)

    # The attack: the bytes read back from the queue are not the bytes that were sent.
    received = pickle.dumps(RunProgram())
    try:
        safepickle.loads(received)
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
