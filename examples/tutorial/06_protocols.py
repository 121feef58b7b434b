"""The tutorial's protocol versions: files written with protocols 0 to 5 all load.

pickle: ``pickle.dump(data, f, protocol=N)`` and ``pickle.load(f)``. safepickle reads every
protocol, 0 to 5, with the same policy, so files your application wrote over the years keep
loading. The hostile counterpart: a protocol 0 stream spelled the Python 2 way
(``__builtin__ eval``); safepickle decides on the canonical name (``builtins.eval``), so old
spellings are no way around the policy.
"""

from __future__ import annotations

import pickle

import safepickle

# Protocol 0 text, as Python 2 wrote it: eval("__import__('os').system('touch CANARY')").
PYTHON2_EVAL = b'c__builtin__\neval\n(S\'__import__("os").system("touch CANARY")\'\ntR.'


def main() -> None:
    data = {"key": "value", "numbers": (1, 2.5, 3 + 4j), "raw": b"\x00\xff"}

    print(f"Highest protocol: {pickle.HIGHEST_PROTOCOL}")
    print(f"Default protocol: {pickle.DEFAULT_PROTOCOL}")

    # Files written by plain pickle at every protocol, as older code or other tools wrote them.
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        path = f"data_v{protocol}.pkl"
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=protocol)
        with open(path, "rb") as f:
            loaded = safepickle.load(f)
        assert loaded == data
        print(f"protocol {protocol}: loaded {loaded}")

    # safepickle.dump takes pickle's protocol argument. format="pickle" makes sure the file is
    # a pickle, for readers on older Pythons: plain JSON data would otherwise be stored as JSON.
    for path, protocol in [("compatible.pkl", 2), ("fast.pkl", pickle.HIGHEST_PROTOCOL)]:
        with open(path, "wb") as f:
            safepickle.dump(data, f, protocol=protocol, format="pickle")
        with open(path, "rb") as f:
            assert safepickle.load(f) == data
        with open(path, "rb") as f:
            print(f"{path}: protocol {f.read(2)[1]}")  # the PROTO opcode: 0x80, protocol

    try:
        safepickle.loads(PYTHON2_EVAL)
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
