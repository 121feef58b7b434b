"""Fuzz harness: ``safepickle.loads`` on any bytes is safe.

For every input, under the default policy and under a policy that also allows a few harmless
classes (``fuzz_common.HARMLESS_CLASSES``):

* ``loads`` returns, or raises a :class:`~safepickle.SafePickleError` subclass; any other
  exception (a ``RecursionError``, a ``MemoryError``, an ``AttributeError`` from inside
  safepickle) is a finding and propagates;
* it leaves nothing behind in the directory it runs in (a fresh temporary directory: the
  hostile catalogue's payloads only ever try to create ``CANARY`` in the current directory);
* it imports no module the policy did not allow: ``sys.modules`` gains nothing. Every module
  the policies may import (the standard library's value types, the harmless classes' module)
  and every module safepickle imports lazily on first use are imported once at start-up.

Run: ``python fuzz/loads_safety.py [libFuzzer flags] [corpus folders]``; see
``docs/fuzzing.md``.
"""

from __future__ import annotations

import contextlib
import importlib
import sys

import fuzz_common
import make_corpus

with fuzz_common.instrument_imports():
    import safepickle
    import safepickle.builtin.stdlib

POLICIES = (
    safepickle.Policy(),
    safepickle.Policy(allow=fuzz_common.HARMLESS_CLASSES),
)
_SANDBOX = fuzz_common.Sandbox()
#: modules that may appear after start-up: none. (A module an allowed constructor imports
#: lazily would show up here as a finding to look at, and then be added to the warm-up.)
_MAY_APPEAR: frozenset[str] = frozenset()


def _warm_up() -> None:
    """Import what the policies may import, and run each kind of load once."""
    for dotted in getattr(safepickle.builtin.stdlib, "SAFE_GLOBALS", ()):
        module = dotted.rpartition(".")[0]
        while module:
            try:
                importlib.import_module(module)
                break
            except ImportError:  # pathlib._local on 3.11, _codecs.encode's parent ...
                module = module.rpartition(".")[0]
    # every value the seeds pickle (stdlib value types, the harmless classes), at every protocol
    warm = [data for _, data in make_corpus.common_seeds(hypothesis=False)]
    # codecs that pickle's own text opcodes look up (raw-unicode-escape for UNICODE ...)
    warm += [b"Va\\u20ac\n.", b"S'\\x41'\n.", b"U\x01\xff.", b"\x80\x02X\x02\x00\x00\x00\xc3\xa9."]
    warm += [b'{"a": [1, 2.5, null, true]}', b"not a pickle", b"\x80\x05N."]
    with fuzz_common.quiet():
        for data in warm:
            for policy in POLICIES:
                with contextlib.suppress(safepickle.SafePickleError):
                    safepickle.loads(data, policy=policy)


_warm_up()


def TestOneInput(data: bytes) -> None:
    before = set(sys.modules)
    with fuzz_common.quiet(), _SANDBOX.inside():
        for policy in POLICIES:
            try:
                safepickle.loads(data, policy=policy)
            except safepickle.SafePickleError:
                pass
            except Exception as exc:
                fuzz_common.finding(
                    "foreign-exception", f"loads raised {type(exc).__name__}: {exc}", exc
                )
    appeared = set(sys.modules) - before - _MAY_APPEAR
    if appeared:
        for name in appeared:  # so that the next input is judged on its own
            del sys.modules[name]
        fuzz_common.finding("new-modules", f"loading imported modules: {sorted(appeared)}")


def main() -> None:
    atheris = fuzz_common.atheris
    if atheris is None:
        sys.exit("atheris is not installed: pip install atheris (see docs/fuzzing.md)")
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
