"""Signing pickles with HMAC, and a policy as well: what each one stops.

The tutorial's advice for untrusted data is not to unpickle it. A common middle way is to sign
pickles with a secret key (``hmac``) and refuse any file whose signature does not match. That
stops a file changed by someone without the key. It does not help when the key leaks, or when
the signer itself was handed a hostile object (a worker that pickles what it received), because
then the payload carries a valid signature. A safepickle policy still refuses it. Use both: the
signature says who wrote the file, the policy bounds what any file can do.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import secrets
from dataclasses import dataclass
from typing import Any

import safepickle

KEY = secrets.token_bytes(32)  # in an application: from a secret store, never in the code
TAG_SIZE = hashlib.sha256().digest_size


@dataclass
class Job:
    """A task-queue message."""

    name: str
    args: list[int]


class Malicious:
    """A hostile job: loaded by pickle, it runs ``touch CANARY``."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch CANARY",))


class BadSignature(Exception):
    """The file was not signed with our key."""


def sign(payload: bytes, key: bytes = KEY) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest() + payload


def load_signed(message: bytes, key: bytes = KEY) -> Any:
    """Check the signature, then load through the policy: both, in that order."""
    tag, payload = message[:TAG_SIZE], message[TAG_SIZE:]
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(tag, expected):
        raise BadSignature("signature mismatch: the message was not signed with our key")
    return safepickle.loads(payload, allow=[Job])


def main() -> None:
    message = sign(safepickle.dumps(Job("resize", [640, 480])))
    print("loaded:", load_signed(message))

    # Attack 1: the payload changed by someone without the key. The signature catches it.
    tampered = message[:TAG_SIZE] + pickle.dumps(Malicious())
    try:
        load_signed(tampered)
    except BadSignature as err:
        print("refused:", err)

    # Attack 2: the key leaked (or the signer pickled a hostile object it was handed). The
    # signature is valid; the policy refuses the payload anyway.
    leaked_key = KEY
    forged = sign(pickle.dumps(Malicious()), key=leaked_key)
    try:
        load_signed(forged)
    except safepickle.ForbiddenGlobal as err:
        print("refused despite a valid signature:", err)


if __name__ == "__main__":
    # Work in a scratch directory that is checked for CANARY, then removed.
    from _scratch import scratch_directory

    with scratch_directory():
        main()
