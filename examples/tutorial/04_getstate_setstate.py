"""The tutorial's ``__getstate__``/``__setstate__``: a connection that reconnects on load.

pickle: ``pickle.loads(serialized)`` runs ``__setstate__``, which reconnects. safepickle:
``safepickle.loads(serialized, allow=[DatabaseConnection])`` runs it too: allowing a class
means trusting its reconstruction code, with whatever state the file holds. So
``__setstate__`` checks the state before acting on it. The hostile counterpart: a file edited
to point the connection at the attacker's host; the class refuses it, and safepickle reports
that as an :class:`~safepickle.ExecutionError`.
"""

from __future__ import annotations

from typing import Any

import safepickle

#: the hosts this application may connect to; the state in a file is not trusted to decide
KNOWN_HOSTS = frozenset({"localhost", "db.internal"})


class DatabaseConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._connection = self._connect()  # Not picklable

    def _connect(self) -> str:
        # Simulate database connection
        print(f"Connecting to {self.host}:{self.port}")
        return f"Connection to {self.host}"

    def __getstate__(self) -> dict[str, Any]:
        """Define what to pickle."""
        state = self.__dict__.copy()
        # Remove non-picklable attributes
        del state["_connection"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Define how to restore from pickle: check the state, then reconnect."""
        # The state comes from the file: whoever wrote it chose these values.
        if set(state) != {"host", "port"}:
            raise ValueError(f"unexpected state keys {sorted(state)}")
        host, port = state["host"], state["port"]
        if host not in KNOWN_HOSTS or type(port) is not int or not 0 < port < 65536:
            raise ValueError(f"refusing to connect to {host!r}:{port!r}")
        self.__dict__.update(state)
        # Reconnect after unpickling
        self._connection = self._connect()


def main() -> None:
    conn = DatabaseConnection("localhost", 5432)
    # Output: Connecting to localhost:5432

    serialized = safepickle.dumps(conn)
    restored = safepickle.loads(serialized, allow=[DatabaseConnection])
    # Output: Connecting to localhost:5432 (reconnects automatically)

    print(restored.host)  # localhost

    # The attack: the stored connection now points at a host the attacker runs. safepickle
    # allows the class, so only the class itself can tell this state is wrong.
    conn.host = "attacker.example"
    tampered = safepickle.dumps(conn)
    try:
        safepickle.loads(tampered, allow=[DatabaseConnection])
    except safepickle.ExecutionError as err:
        print("refused:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
