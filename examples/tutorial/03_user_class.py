"""The tutorial's custom class: a ``User`` pickled to ``user.pkl`` and loaded back.

pickle: ``pickle.load(f)`` loads any class. safepickle: ``safepickle.load(f, allow=[User])``
loads exactly ``User`` (plus plain data); without the entry the load is refused and the error
says what to add. The hostile counterpart: a ``user.pkl`` whose ``User`` carries a payload in
one of its attributes; allowing ``User`` does not let anything else in.
"""

from __future__ import annotations

import os
import pickle

import safepickle


class User:
    def __init__(self, name: str, email: object) -> None:
        self.name = name
        self.email = email
        self._cache = None  # Private attribute

    def __repr__(self) -> str:
        return f"User({self.name!r}, {self.email!r})"


class Malicious:
    """Hidden in a ``User`` attribute: loaded by pickle, it runs ``touch CANARY``."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch CANARY",))


def main() -> None:
    user = User("Alice", "alice@example.com")

    with open("user.pkl", "wb") as f:
        safepickle.dump(user, f)

    # Load it back: User is the one class this load may build.
    with open("user.pkl", "rb") as f:
        loaded_user = safepickle.load(f, allow=[User])

    print(loaded_user)  # User('Alice', 'alice@example.com')
    print(loaded_user.name)  # Alice

    # Without the allow-list entry: refused, and the message spells out the entry.
    try:
        with open("user.pkl", "rb") as f:
            safepickle.load(f)
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)

    # The attack: a User whose email is a payload. Every global of the stream is decided
    # before anything runs, so not even the User is built.
    with open("user.pkl", "wb") as f:
        pickle.dump(User("Mallory", Malicious()), f)
    try:
        with open("user.pkl", "rb") as f:
            safepickle.load(f, allow=[User])
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
