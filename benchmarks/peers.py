"""The peers ``bench.py`` times beside safepickle: two static scanners and one restricted loader.

* **picklescan** (``picklescan.scanner.scan_pickle_bytes``): lists the globals a pickle imports
  (``pickletools.genops`` over every opcode) and rates them against its allow- and deny-lists.
  It does not load.
* **fickling** (``fickling.analysis.check_safety(fickling.fickle.Pickled.load(data))``): decodes
  every opcode, interprets the stream symbolically into a Python AST and runs its analyses over
  it. It does not load.
* **torch** (``torch._weights_only_unpickler.load``, what ``torch.load(weights_only=True)`` runs
  on the pickle it finds): a pure-Python unpickler that admits only the opcodes of protocol 2
  and the globals torch allows by default or that are registered with
  ``torch.serialization.safe_globals``. It loads, so it compares with ``safepickle.loads``.

Nothing here imports a peer until :meth:`Peer.setup` runs (torch imports numpy, and the
standard-library payloads must run without it). Each peer's first call on a row is untimed: it
decides whether the row is timed at all, and what the scanner made of the benign payload.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import pickle
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from typing import Any

import payloads

__all__ = ["PEERS", "Peer", "Probe", "by_name"]


def _first_line(text: str, limit: int = 160) -> str:
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."


@dataclass
class Probe:
    """What the untimed first call of a peer on one row found."""

    #: the call to time, or None when this row is not timed for this peer
    call: Callable[[], object] | None
    #: shown in the table instead of a ratio when ``call`` is None: ``n/a`` or an error class
    cell: str = ""
    #: the scanner's verdict on the payload (all payloads are benign), or torch's load outcome
    verdict: str = ""
    #: one line for the notes under the table: why a row is n/a, an error, what was flagged
    note: str | None = None


class Peer:
    """One peer column. Subclasses say how to call it on a pickle and how to read its result."""

    #: the key in ``--peers`` and in the JSON
    name: str = ""
    #: the column header
    title: str = ""
    #: the distribution whose version the header prints
    distribution: str = ""
    #: the module that must be importable
    module: str = ""
    #: True when the peer loads the pickle (compare with ``safepickle.loads``); False when it
    #: only scans it (compare with the verify-only columns)
    loads: bool = False

    def installed(self) -> bool:
        try:
            return find_spec(self.module) is not None
        except (ImportError, ValueError):
            return False

    def version(self) -> str:
        if not self.distribution:
            return "unknown version"
        try:
            return metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return "not installed"

    def setup(self) -> None:
        """Import what the calls need (once, before the first payload)."""

    def call(self, data: bytes, payload: payloads.Payload) -> Callable[[], object]:
        raise NotImplementedError

    def refused(self, exc: BaseException) -> bool:
        """True when ``exc`` is the peer declining the pickle by design (shown as ``n/a``),
        False when it is an error (shown as its class)."""
        return False

    def judge(self, result: object, expected: Callable[[object], bool]) -> tuple[str, str | None]:
        """The verdict cell and an optional note, from the untimed call's result.
        ``expected(obj)`` says whether a loaded object equals what ``pickle.loads`` returned."""
        return "", None

    def probe(
        self, data: bytes, payload: payloads.Payload, expected: Callable[[object], bool]
    ) -> Probe:
        """Call once, untimed; decide whether this row is timed and what the peer said."""
        call = self.call(data, payload)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = call()
            except Exception as exc:  # RecursionError included
                text = _first_line(f"{type(exc).__name__}: {exc}")
                if self.refused(exc):
                    return Probe(None, cell="n/a", verdict="refused", note=text)
                return Probe(None, cell=type(exc).__name__, verdict="error", note=text)
        verdict, note = self.judge(result, expected)
        del result
        if caught:
            extra = f"warned {_first_line(str(caught[0].message), 120)}"
            note = f"{note}; {extra}" if note else extra
        return Probe(call, verdict=verdict, note=note)


class PickleScan(Peer):
    name = "picklescan"
    title = "picklescan"
    distribution = "picklescan"
    module = "picklescan"

    def setup(self) -> None:
        import logging

        from picklescan import scanner

        # picklescan logs every dangerous global it finds (through logging's last-resort handler
        # when nothing is configured): keep the scan, drop the printing, from the timed calls.
        logging.getLogger("picklescan").setLevel(logging.CRITICAL)
        self._scan = scanner.scan_pickle_bytes

    def call(self, data: bytes, payload: payloads.Payload) -> Callable[[], object]:
        scan = self._scan

        def picklescan() -> object:
            return scan(io.BytesIO(data), payload.name)

        return picklescan

    def judge(self, result: Any, expected: Callable[[object], bool]) -> tuple[str, str | None]:
        by_level: dict[str, list[str]] = {}
        for glob in result.globals:
            level = glob.safety.value
            by_level.setdefault(level, []).append(f"{glob.module}.{glob.name}")
        if result.issues_count:
            verdict = "dangerous"
        elif result.suspicious_count:
            verdict = "suspicious"
        else:
            verdict = "clean"
        if result.scan_err:
            verdict += " (scan error)"
        flagged = [
            f"{level} {', '.join(sorted(by_level[level]))}"
            for level in ("dangerous", "suspicious")
            if level in by_level
        ]
        return verdict, ("; ".join(flagged) if flagged else None)


class Fickling(Peer):
    name = "fickling"
    title = "fickling"
    distribution = "fickling"
    module = "fickling"

    def setup(self) -> None:
        from fickling.analysis import check_safety
        from fickling.fickle import Pickled

        self._load = Pickled.load
        self._check = check_safety

    def call(self, data: bytes, payload: payloads.Payload) -> Callable[[], object]:
        load, check = self._load, self._check

        def fickling() -> object:
            # fickling writes a warning to stderr when it gives up interpreting (judge() reads
            # the same from its result): keep it off the report
            with contextlib.redirect_stderr(io.StringIO()):
                return check(load(data))

        return fickling

    def judge(self, result: Any, expected: Callable[[object], bool]) -> tuple[str, str | None]:
        severity = result.severity
        verdict = severity.name.lower().replace("_", " ").replace("overtly ", "")
        pickled = getattr(result, "pickled", None)
        if getattr(pickled, "has_resource_exhaustion", False):
            # past max_opcodes (1,000,000), max_memo_size (100,000) or max_stack_depth (10,000)
            # by default, fickling stops interpreting and analyses an empty AST: the verdict is
            # its "expansion attack" finding, and the time is that of a partial analysis
            verdict += " (gave up)"
        findings: Counter[str] = Counter()
        example: dict[str, str] = {}
        for finding in result.results:
            if not finding.message:
                continue
            name = finding.analysis_name or "?"
            findings[name] += 1
            example.setdefault(name, _first_line(finding.message, 110))
        if not findings:
            return verdict, None
        parts = [f"{name} x{count} ({example[name]!r})" for name, count in findings.most_common()]
        return verdict, "; ".join(parts)


class TorchWeightsOnly(Peer):
    name = "torch"
    title = "torch wo"
    distribution = "torch"
    module = "torch"
    loads = True

    def setup(self) -> None:
        import torch._weights_only_unpickler as weights_only
        from torch.serialization import safe_globals

        self._load = weights_only.load
        self._safe_globals = safe_globals

    def call(self, data: bytes, payload: payloads.Payload) -> Callable[[], object]:
        load, safe_globals = self._load, self._safe_globals
        admitted = torch_globals(payload)

        def torch_weights_only() -> object:
            with safe_globals(admitted):
                return load(io.BytesIO(data))

        return torch_weights_only

    def refused(self, exc: BaseException) -> bool:
        # torch raises pickle.UnpicklingError for an opcode past protocol 2 or a global it was
        # not given: that is the loader declining by design, not a failure
        return isinstance(exc, pickle.UnpicklingError)

    def judge(self, result: object, expected: Callable[[object], bool]) -> tuple[str, str | None]:
        if expected(result):
            return "loaded", None
        return "differs", "torch returned a different object than pickle.loads"


def _resolve(entry: object) -> tuple[object, str]:
    """An allow entry (``"module:qualname"`` or a class) as torch's ``(object, "module.name")``."""
    if isinstance(entry, str):
        module, _, qualname = entry.partition(":")
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj, f"{module}.{qualname}"
    return entry, f"{entry.__module__}.{getattr(entry, '__qualname__', entry)}"


def torch_globals(payload: payloads.Payload) -> list[object]:
    """What ``torch.serialization.safe_globals`` admits for ``payload``: its ``allow`` entries
    (under the names the pickle uses) plus its ``torch_globals`` (see ``payloads.Payload``)."""
    admitted: list[object] = [_resolve(entry) for entry in payload.allow]
    admitted += list(payload.torch_globals)
    return admitted


PEERS: tuple[Peer, ...] = (PickleScan(), Fickling(), TorchWeightsOnly())
NAMES: tuple[str, ...] = tuple(peer.name for peer in PEERS)


def by_name(names: Sequence[str]) -> list[Peer]:
    """The peers named, in table order."""
    return [peer for peer in PEERS if peer.name in names]
