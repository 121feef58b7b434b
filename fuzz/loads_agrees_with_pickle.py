"""Fuzz harness: whatever ``safepickle.loads`` returns, the reference decoder returns too.

For every input that ``safepickle.loads`` accepts (under a policy that allows the standard
library's value types and ``fuzz_common.HARMLESS_CLASSES``), the same bytes through
:func:`pickle.loads` (or :func:`json.loads`, for an input that safepickle read as JSON) return
an equal value: compared by ``fuzz_common.first_difference`` (types all the way down, NaN equal
to NaN, ``-0.0`` apart from ``0.0``, objects without ``__eq__`` by their state, sharing and
cycles alike). A reference decoder that raises where safepickle returned is a finding as well.

Plain ``pickle.loads`` runs only on inputs safepickle accepted, so only on globals the policy
allowed: it cannot execute anything harmful. Both run in a sandbox directory all the same.

Run: ``python fuzz/loads_agrees_with_pickle.py [libFuzzer flags] [corpus folders]``; see
``docs/fuzzing.md``.
"""

from __future__ import annotations

import json
import pickle
import sys
from typing import Any

import fuzz_common

with fuzz_common.instrument_imports():
    import safepickle
    from safepickle._json import JSON_FIRST_BYTES

POLICY = safepickle.Policy(allow=fuzz_common.HARMLESS_CLASSES)
_SANDBOX = fuzz_common.Sandbox()


def _reference(data: bytes) -> Any:
    """What the reference decoder makes of ``data``: JSON or pickle, by the first byte, as
    safepickle tells them apart (``docs/json.md``)."""
    if data and data[0] in JSON_FIRST_BYTES:
        return json.loads(data)
    return pickle.loads(data)


def TestOneInput(data: bytes) -> None:
    with fuzz_common.quiet(), _SANDBOX.inside():
        try:
            mine = safepickle.loads(data, policy=POLICY)
        except safepickle.SafePickleError:
            return  # refused or failed: nothing to compare (loads_safety.py checks the rest)
        try:
            theirs = _reference(data)
        except Exception as exc:
            fuzz_common.finding(
                "reference-raised",
                f"safepickle.loads returned {fuzz_common.short(mine)} but the reference "
                f"decoder raised {type(exc).__name__}: {exc}",
                exc,
            )
            return
        problem = fuzz_common.first_difference(mine, theirs)
        if problem is not None:
            known = fuzz_common.NARROWED_STAND_IN in problem
            fuzz_common.finding(
                "narrowed-global-as-value" if known else "values-differ",
                f"safepickle.loads and the reference decoder disagree {problem}\n"
                f"  safepickle: {fuzz_common.short(mine)}\n"
                f"  reference:  {fuzz_common.short(theirs)}",
            )


def main() -> None:
    atheris = fuzz_common.atheris
    if atheris is None:
        sys.exit("atheris is not installed: pip install atheris (see docs/fuzzing.md)")
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
