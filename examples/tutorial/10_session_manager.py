"""The tutorial's session manager: session state kept in ``session.pkl`` between runs.

pickle: ``pickle.load`` of the session file, and ``except (pickle.PickleError, EOFError)``
starts a fresh session when the file is damaged. safepickle: ``safepickle.load`` (the session
holds plain data and a ``datetime``, so no allow-list is needed). Its errors subclass
``pickle.UnpicklingError``, so the tutorial's ``except pickle.PickleError`` would also swallow
a refusal; catching only :class:`~safepickle.MalformedPickle` (damaged or empty files; it
includes ``TruncatedPickle``, an ``EOFError``) keeps the fresh start for damage and lets an
attack surface. The hostile counterpart: a session file replaced by an attacker.
"""

from __future__ import annotations

import os
import pickle
from datetime import datetime
from typing import Any

import safepickle


class SessionManager:
    def __init__(self, session_file: str = "session.pkl") -> None:
        self.session_file = session_file
        self.data: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        """Load existing session or create new one."""
        if os.path.exists(self.session_file):
            try:
                with open(self.session_file, "rb") as f:
                    loaded: dict[str, Any] = safepickle.load(f)
                    return loaded
            except safepickle.MalformedPickle:
                pass  # a damaged or empty file: start afresh; a refusal is not caught here
        return {"created": datetime.now(), "data": {}}

    def save(self) -> None:
        """Save session to file."""
        with open(self.session_file, "wb") as f:
            safepickle.dump(self.data, f)

    def set(self, key: str, value: Any) -> None:
        self.data["data"][key] = value
        self.save()

    def get(self, key: str, default: Any = None) -> Any:
        return self.data["data"].get(key, default)


class Malicious:
    """What an attacker writes over the session file: loaded by pickle, runs ``touch CANARY``."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch CANARY",))


def main() -> None:
    # Usage
    session = SessionManager()
    session.set("user", "Alice")
    session.set("preferences", {"theme": "dark"})

    # Later, in a new Python session
    session = SessionManager()
    print(session.get("user"))  # Alice
    print("preferences:", session.get("preferences"))
    print("created is a datetime:", isinstance(session.data["created"], datetime))

    # A damaged session file (cut short): a fresh session, as the tutorial intends.
    with open("session.pkl", "r+b") as f:
        f.truncate(10)
    print("after damage, user is:", SessionManager().get("user"))

    # The attack: the session file replaced. The refusal is not taken for damage.
    with open("session.pkl", "wb") as f:
        pickle.dump(Malicious(), f)
    try:
        SessionManager()
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
