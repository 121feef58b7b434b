"""The tutorial's first use case: a dict saved to ``data.pkl`` and loaded back.

pickle: ``pickle.dump(data, f)`` / ``pickle.load(f)``. safepickle: the same calls on
``safepickle``; plain data needs no allow-list at all. ``safepickle.dump`` stores plain data
as JSON; ``format="pickle"`` keeps a pickle for readers that still use ``pickle.load``. The
hostile counterpart: someone replaced ``data.pkl`` with a pickle that runs a command;
``safepickle.load`` refuses it before anything runs.
"""

from __future__ import annotations

import os
import pickle

import safepickle


class Malicious:
    """What an attacker writes into ``data.pkl``: loaded by pickle, it runs ``touch CANARY``."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch CANARY",))


def main() -> None:
    data = {
        "users": ["Alice", "Bob", "Charlie"],
        "scores": [95, 87, 92],
        "metadata": {"version": 1, "created": "2024-01-25"},
    }

    with open("data.pkl", "wb") as f:
        safepickle.dump(data, f)
    print("Data saved successfully")

    # Plain data (dicts, lists, str, numbers ...) loads with the default policy.
    with open("data.pkl", "rb") as f:
        loaded_data = safepickle.load(f)
    assert loaded_data == data
    print("loaded:", loaded_data)

    # safepickle.dump stores plain data like this as JSON, which pickle.load cannot read. For a
    # program that still reads the file with pickle.load, ask for a pickle.
    with open("for_pickle.pkl", "wb") as f:
        safepickle.dump(data, f, format="pickle")
    with open("for_pickle.pkl", "rb") as f:
        print("pickle.load reads format='pickle':", pickle.load(f) == data)  # we wrote it

    # The attack: data.pkl replaced by a pickle that calls os.system.
    with open("data.pkl", "wb") as f:
        pickle.dump(Malicious(), f)
    try:
        with open("data.pkl", "rb") as f:
            safepickle.load(f)
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
