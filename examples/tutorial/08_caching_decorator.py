"""The tutorial's caching decorator: results cached as files in ``.cache/``.

pickle: the cache is read with ``pickle.load``, so anyone who can write to the cache directory
(a shared disk, a CI cache restored from elsewhere) runs code in the next process that reads
it. safepickle: ``safepickle.load`` reads the cached values. The hostile counterpart: a cache
file replaced by a payload; the refusal propagates, so the tampering is not mistaken for a
cache miss and silently overwritten.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

import safepickle

P = ParamSpec("P")
R = TypeVar("R")


def cached_computation(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator to cache function results in files (read back through safepickle)."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # Create unique cache key (these bytes are only hashed, never loaded)
        key_data = pickle.dumps((func.__name__, args, sorted(kwargs.items())))
        cache_key = hashlib.sha256(key_data).hexdigest()
        cache_file = f".cache/{cache_key}.pkl"

        # Check cache
        if os.path.exists(cache_file):
            with open(cache_file, "rb") as f:
                print("Loading from cache...")
                return cast(R, safepickle.load(f))

        # Compute and cache
        result = func(*args, **kwargs)

        os.makedirs(".cache", exist_ok=True)
        with open(cache_file, "wb") as f:
            safepickle.dump(result, f)

        return result

    return wrapper


class Malicious:
    """What an attacker writes over a cache entry: loaded by pickle, it runs ``touch CANARY``."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch CANARY",))


@cached_computation
def expensive_calculation(n: int) -> int:
    """Simulates expensive computation."""
    print("Computing...")
    return sum(range(n))


def main() -> None:
    # First call: computed
    result1 = expensive_calculation(1000000)

    # Second call: from the cache
    result2 = expensive_calculation(1000000)
    assert result1 == result2
    print("result:", result2)

    # The attack: every cache entry replaced by a payload.
    for name in os.listdir(".cache"):
        with open(os.path.join(".cache", name), "wb") as f:
            pickle.dump(Malicious(), f)
    try:
        expensive_calculation(1000000)
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
