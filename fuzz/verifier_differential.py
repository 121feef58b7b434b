"""Fuzz harness: the compiled verifier (``safepickle/_speedups.c``) against the Python one.

The contract of ``tests/test_speedups.py``, on coverage-guided inputs:

* ``verify()`` as shipped (compiled pass first, Python when it bails) gives exactly what the
  pure-Python pass gives: the same :class:`~safepickle.verify.Verified`, or the same exception
  class, message, offset and limit;
* ``partial=True`` (a reader with more to read) may only turn an error into a
  :class:`~safepickle.TruncatedPickle` earlier;
* whenever the compiled pass accepts on its own (``_verify_with("c", ...)`` returns a Verified
  rather than None for "bailed"), that Verified is the Python one, for ``bytes`` and
  ``bytearray`` alike;
* nothing raises anything but a :class:`~safepickle.SafePickleError`.

An input that starts with ``0xFE`` carries options first (``fuzz_common.parse_options``): the
flags (``fix_imports``, ``persistent_ids``, bytearray, bytes before the stream) and one byte per
limit, so the fuzzer reaches every limit at and just past its boundary with small values.

Run: ``python fuzz/verifier_differential.py [libFuzzer flags] [corpus folders]``; see
``docs/fuzzing.md``.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import fuzz_common

with fuzz_common.instrument_imports():
    import safepickle
    from safepickle import verify as V

_KNOWN_LIMITS = frozenset(field.name for field in dataclasses.fields(safepickle.Limits))
_HAVE_C = V._c_fast_verify is not None
_DEFAULT = safepickle.Limits()

Outcome = tuple[Any, ...]


def _outcome(run: Any) -> Outcome:
    """What a verifier did: its Verified, or what identifies its exception (anything that is
    not a SafePickleError propagates: a finding)."""
    try:
        return ("ok", run())
    except safepickle.SafePickleError as exc:
        extra = tuple(
            (name, getattr(exc, name))
            for name in ("limit", "maximum", "opcode")
            if hasattr(exc, name)
        )
        return ("error", type(exc), str(exc), exc.offset, extra)


def check(options: fuzz_common.Options) -> None:
    """Both implementations agree on one stream with these options."""
    # the verifier takes bytearrays too (a file read in chunks), though typed for bytes
    data: Any = options.data
    start = options.start
    kwargs: dict[str, Any] = {
        "limits": _DEFAULT.replace(**options.limits) if options.limits else _DEFAULT,
        "fix_imports": options.fix_imports,
        "persistent_ids": options.persistent_ids,
    }
    python = _outcome(lambda: V._verify_with("python", data, start, **kwargs))
    shipped = _outcome(lambda: V.verify(data, start, **kwargs))
    if shipped != python:
        fuzz_common.finding(
            "verify-vs-python",
            f"verify() and the Python pass disagree ({options.describe()}):\n"
            f"  verify(): {shipped}\n  python:   {python}",
        )
    partial = _outcome(lambda: V.verify(data, start, partial=True, **kwargs))
    if partial != python and not (
        partial[0] == python[0] == "error"
        and partial[1] is python[1] is safepickle.TruncatedPickle
    ):
        fuzz_common.finding(
            "partial",
            f"verify(partial=True) says more than 'truncated' ({options.describe()}):\n"
            f"  partial: {partial}\n  python:  {python}",
        )
    if not _HAVE_C:
        return
    for stream in (data, bytearray(data) if isinstance(data, bytes) else bytes(data)):
        compiled = _outcome(lambda stream=stream: V._verify_with("c", stream, start, **kwargs))
        if compiled == ("ok", None):  # bailed: the Python pass decides, nothing to compare
            continue
        if compiled != python:
            fuzz_common.finding(
                "compiled-alone",
                f"the compiled pass accepted alone and disagrees ({options.describe()}, "
                f"{type(stream).__name__}):\n  compiled: {compiled}\n  python:   {python}",
            )


def TestOneInput(data: bytes) -> None:
    with fuzz_common.quiet():
        check(fuzz_common.parse_options(data, _KNOWN_LIMITS))


def main() -> None:
    atheris = fuzz_common.atheris
    if atheris is None:
        sys.exit("atheris is not installed: pip install atheris (see docs/fuzzing.md)")
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
