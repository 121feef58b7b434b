"""The tutorial's security warning: the ``Malicious`` class, refused.

The tutorial says never to unpickle untrusted data, because ``pickle.loads(malicious_data)``
runs the command. ``safepickle.loads(malicious_data)`` refuses it without running anything
(here the command would create the file ``CANARY``), and ``os.system`` is on safepickle's
floor: no policy can allow it, so even a careless ``allow=[os.system]`` is an error.
"""

from __future__ import annotations

import os
import pickle

import safepickle


# DANGEROUS: This could be in a malicious pickle file
class Malicious:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        # This runs when unpickled (by pickle)!
        return (os.system, ("touch CANARY",))


def main() -> None:
    # Creating malicious pickle data
    malicious_data = pickle.dumps(Malicious())

    # pickle.loads(malicious_data) would execute the command; safepickle refuses it.
    try:
        safepickle.loads(malicious_data)
    except safepickle.ForbiddenGlobal as err:
        print("refused:", err)
        print("refused global:", f"{err.module}.{err.name}", f"(rule {err.decision.rule})")

    # The floor cannot be lifted: allowing os.system is refused when the policy is built.
    try:
        safepickle.loads(malicious_data, allow=[os.system])
    except safepickle.PolicyError as err:
        print("policy error:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
