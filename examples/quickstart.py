"""safepickle in one minute: load what you trust, refuse what you did not allow.

Run it with ``python examples/quickstart.py`` after ``pip install .``.
"""

from __future__ import annotations

import datetime
import decimal
import pickle
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import safepickle


@dataclass
class CacheEntry:
    """What an app might keep in a pickle cache."""

    key: str
    value: decimal.Decimal
    stored_at: datetime.datetime


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="safepickle-quickstart-") as tmp:
        return run(Path(tmp))


def run(workdir: Path) -> int:
    cache = workdir / "cache.pkl"
    entries = [
        CacheEntry("price", decimal.Decimal("9.99"), datetime.datetime(2026, 1, 1, 12, 0)),
        CacheEntry("tax", decimal.Decimal("0.20"), datetime.datetime(2026, 1, 2, 8, 30)),
    ]
    with cache.open("wb") as f:
        pickle.dump(entries, f)

    # 1. Plain data and standard-library values load with the default policy.
    print("plain data:", safepickle.loads(pickle.dumps({"users": ["Alice", "Bob"], "n": 2})))

    # 2. Your own classes load once you allow them, exactly and nothing more.
    with cache.open("rb") as f:
        loaded = safepickle.load(f, allow=[CacheEntry])
    assert loaded == entries
    print("cache entries:", loaded)

    # 3. Without the allow-list entry the load is refused, and the error says how to allow it.
    try:
        with cache.open("rb") as f:
            safepickle.load(f)
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)

    # 4. A hostile pickle (it would run `touch CANARY`) is refused before anything runs.
    canary = workdir / "CANARY"
    hostile = f"cos\nsystem\n(S'touch {canary}'\ntR.".encode()
    try:
        safepickle.loads(hostile)
    except safepickle.SafePickleError as err:
        print("refused:", err)
    assert not canary.exists(), "nothing ran"
    print("canary absent: nothing ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
