"""The tutorial's incremental pickler: several objects in one file, loaded one at a time.

pickle: one ``pickle.dump`` per object, read back by calling ``pickle.load`` until
``EOFError``. safepickle: ``safepickle.load_all(f)`` yields every object in order (the
``EOFError`` loop works too: ``safepickle.load`` leaves the file just past each object). The
hostile counterpart: a record appended by an attacker; the records before it are yielded, and
the iteration stops with the refusal before the bad record runs.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable, Iterator
from typing import Any

import safepickle


class IncrementalPickler:
    """Pickle multiple objects to a single file."""

    def __init__(self, filepath: str) -> None:
        self.filepath = filepath

    def save_objects(self, objects: Iterable[Any]) -> None:
        """Save multiple objects."""
        with open(self.filepath, "wb") as f:
            for obj in objects:
                safepickle.dump(obj, f)

    def load_objects(self) -> Iterator[Any]:
        """Load all objects as a generator."""
        with open(self.filepath, "rb") as f:
            yield from safepickle.load_all(f)


class Malicious:
    """An appended record: loaded by pickle, it runs ``touch CANARY``."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch CANARY",))


def main() -> None:
    # Usage
    pickler = IncrementalPickler("objects.pkl")

    # Save multiple objects
    objects = [
        {"type": "user", "name": "Alice"},
        {"type": "user", "name": "Bob"},
        {"type": "config", "setting": "value"},
    ]
    pickler.save_objects(objects)

    # Load objects one at a time (memory efficient)
    loaded = []
    for obj in pickler.load_objects():
        print(obj)
        loaded.append(obj)
    assert loaded == objects

    # The attack: a record appended to the file.
    with open("objects.pkl", "ab") as f:
        pickle.dump(Malicious(), f)
    try:
        for obj in pickler.load_objects():
            print("loaded before the refusal:", obj)
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
