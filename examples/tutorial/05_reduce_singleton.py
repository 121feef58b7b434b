"""The tutorial's ``__reduce__`` singleton: loading it gives back the one instance.

pickle: ``pickle.loads(data)`` calls ``Singleton()``, which returns the shared instance.
safepickle: ``allow=[Singleton]`` lets the stream call exactly that class. Two hostile
streams: one sets attributes on the shared instance (a ``BUILD`` after the call, which
``__setstate__`` refuses: the instance is the whole process's), and one builds a second
instance behind ``__new__``'s back with ``copyreg._reconstructor`` (which this policy denies:
the default policy allows it for ordinary classes).
"""

from __future__ import annotations

import copyreg
import pickle
from typing import Any

import safepickle


class Singleton:
    _instance: Singleton | None = None

    def __new__(cls) -> Singleton:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __reduce__(self) -> tuple[type[Singleton], tuple[()]]:
        """Return a callable and args to recreate the object."""
        return (self.__class__, ())

    def __setstate__(self, state: object) -> None:
        # __reduce__ writes no state, so a stream that carries some was not written by us; it
        # would change the instance every part of the process shares.
        raise ValueError("Singleton takes no state from a pickle")


class SetAttributes:
    """A hostile stream: ``Singleton()`` followed by a BUILD of ``{"is_admin": True}``."""

    def __reduce__(self) -> tuple[object, tuple[()], dict[str, Any]]:
        return (Singleton, (), {"is_admin": True})


class SecondInstance:
    """A hostile stream: ``copyreg._reconstructor(Singleton, object, None)``, which calls
    ``object.__new__(Singleton)`` and so skips ``Singleton.__new__``."""

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # private to copyreg (absent from typeshed), but pickle writes it for protocols 0 and 1
        return (copyreg._reconstructor, (Singleton, object, None))  # type: ignore[attr-defined]


def main() -> None:
    policy = safepickle.Policy(allow=[Singleton], deny=["copyreg._reconstructor"])

    # The singleton pattern is preserved through pickling
    s1 = Singleton()
    data = safepickle.dumps(s1)
    s2 = safepickle.loads(data, policy=policy)

    print(s1 is Singleton._instance)  # True
    print("same instance after loading:", s2 is s1)

    try:
        safepickle.loads(pickle.dumps(SetAttributes()), policy=policy)
    except safepickle.ExecutionError as err:
        print("refused:", err)
    print("shared instance unchanged:", vars(s1) == {})

    try:
        safepickle.loads(pickle.dumps(SecondInstance(), protocol=2), policy=policy)
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
