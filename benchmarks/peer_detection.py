"""How many known attacks each tool catches, and how many benign files it wrongly flags.

Inputs: every payload of the bypass catalogue (``tests/hostile_payloads.py``) and a benign
corpus (plain data at protocols 0-5, standard-library values, a dataclass, numpy arrays, a fitted
scikit-learn estimator, a torch ``state_dict`` checkpoint). Contenders: safepickle's scan
(verify and decide, as ``safepickle scan`` does; the stream is never executed), with and
without the allow a user gives, and ``safepickle.loads``; picklescan (default and
``--strict``), fickling, modelscan and ``torch.load(weights_only=True)``. A contender whose
package is missing is reported as "not installed".

Every check runs in a forked child (POSIX only) with a fresh temporary directory as its cwd, a
memory budget and a per-payload timeout; after it the parent looks for a ``CANARY`` file in
that directory. The scanners never execute the payload; the two loaders do (that is what they
are for), so for them a payload is *missed* when the load returned, or when ``CANARY`` appeared.

Run ``python benchmarks/peer_detection.py --help``; ``docs/comparison.md`` shows a run.
"""

from __future__ import annotations

import argparse
import contextlib
import copyreg
import datetime
import io
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "tests", ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import hostile_payloads  # noqa: E402 - needs the sys.path entries above

#: what a check returns: ``flagged`` (the tool says do not load), ``parse-error`` (the tool
#: says it could not read the stream, and its CLI exits non-zero), ``clean`` (loaded or passed)
Verdict = tuple[str, str]

# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One file given to every contender."""

    id: str
    hostile: bool
    category: str
    filename: str
    data: bytes
    #: the allow-list entries / plugins a user gives safepickle for this file (benign), or the
    #: catalogue's ``allow`` under which the attack must still be refused (hostile)
    allow: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()
    limits: tuple[tuple[str, int], ...] = ()
    modules: tuple[tuple[str, str], ...] = ()
    extension: tuple[str, str, int] | None = None
    fix_imports: bool = True
    live: bool = False
    what: str = ""


def _categories(source: str) -> dict[str, str]:
    """Payload id -> the catalogue section it is written under (its banner comment)."""
    lines = [line.strip() for line in source.splitlines()]
    section, out = "", {}
    for number, stripped in enumerate(lines):
        # a banner is a comment of one or two lines between two "# ---" rules
        if stripped.startswith("# ---"):
            for end in (number + 2, number + 3):
                if end < len(lines) and lines[end].startswith("# ---"):
                    section = _short_title(lines[number + 1].lstrip("#").strip())
                    break
        match = re.match(r'id="([^"]+)"', stripped)
        if match:
            out[match.group(1)] = section
    return out


def _short_title(title: str) -> str:
    """The banner up to its first ':' or ',' outside parentheses, without a trailing '(...'."""
    depth = 0
    for index, char in enumerate(title):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char in ":," and title[index + 1 : index + 2] == " ":
            title = title[:index]
            break
    return re.sub(r"\s+\([^)]*$|\s+\([^()]*\)$", "", title)


def hostile_samples(lowered_limits: bool = False) -> list[Sample]:
    """The catalogue; without ``lowered_limits``, not the entries that attack a limit the
    catalogue lowers for the test (``limits=``): no peer has such a setting to lower."""
    source = Path(hostile_payloads.__file__).read_text(encoding="utf-8")
    categories = _categories(source)
    return [
        Sample(
            id=entry.id,
            hostile=True,
            category=categories.get(entry.id, "uncategorised"),
            filename="payload.pkl",
            data=entry.data,
            allow=entry.allow,
            limits=entry.limits,
            modules=entry.modules,
            extension=entry.extension,
            fix_imports=entry.fix_imports,
            live=entry.live,
            what=entry.technique,
        )
        for entry in hostile_payloads.CATALOGUE
        if lowered_limits or not entry.limits
    ]


_PLAIN = {"name": "run-7", "values": [1, -2, 3.5, None, True], "nested": {"t": (1, "ü")}}


def _stdlib_values() -> object:
    import collections
    import decimal
    import uuid

    utc = datetime.timezone.utc
    return {
        "when": [
            datetime.datetime(2026, 1, 2, 3, 4, 5),
            datetime.datetime(2026, 1, 2, tzinfo=utc),
        ],
        "day": datetime.date(2026, 1, 2),
        "price": decimal.Decimal("12.50"),
        "id": uuid.UUID(int=0x1234),
        "ordered": collections.OrderedDict(a=1, b=2),
        "set": {1, 2},
        "frozen": frozenset({"x"}),
        "complex": 1 + 2j,
        "raw": (b"\x00\xff", bytearray(b"abc")),
    }


def _records() -> object:
    from payloads import Record

    return [Record(1, "a", 0.5, 3), Record(2, "b", 1.5, 4)]


def _arrays() -> object:
    import numpy as np

    return {"f": np.arange(6, dtype=np.float64).reshape(2, 3), "i": np.arange(4, dtype=np.int32)}


def _estimator() -> object:
    from sklearn.linear_model import LogisticRegression

    features = [[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.8, 0.1]]
    return LogisticRegression().fit(features, [0, 1, 0, 1])


def _torch_checkpoint() -> bytes:
    import torch

    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.save(torch.nn.Linear(4, 2).state_dict(), buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class Benign:
    id: str
    what: str
    needs: str  # the package the builder imports ("" for the standard library)
    build: Callable[[], bytes]
    filename: str = "data.pkl"
    allow: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()


def _pickled(make: Callable[[], object], protocol: int) -> Callable[[], bytes]:
    import pickle

    return lambda: pickle.dumps(make(), protocol=protocol)


BENIGN: tuple[Benign, ...] = (
    *(
        Benign(
            f"plain-p{p}",
            "dict of str, int, float, None, bool, list, tuple",
            "",
            _pickled(lambda: _PLAIN, p),
        )
        for p in range(6)
    ),
    *(
        Benign(
            f"stdlib-p{p}",
            "datetime, date, Decimal, UUID, OrderedDict, set, frozenset, "
            "complex, bytes, bytearray",
            "",
            _pickled(_stdlib_values, p),
        )
        for p in (2, 5)
    ),
    *(
        Benign(
            f"dataclass-p{p}",
            "list of a plain @dataclass",
            "",
            _pickled(_records, p),
            allow=("payloads:Record",),
        )
        for p in (2, 5)
    ),
    *(
        Benign(
            f"numpy-p{p}",
            "dict of two numpy arrays",
            "numpy",
            _pickled(_arrays, p),
            plugins=("numpy",),
        )
        for p in (2, 5)
    ),
    Benign(
        "sklearn-p5",
        "fitted LogisticRegression",
        "sklearn",
        _pickled(_estimator, 5),
        plugins=("numpy", "sklearn"),
    ),
    Benign(
        "torch-state-dict",
        "torch.save of a Linear layer's state_dict (zip checkpoint)",
        "torch",
        _torch_checkpoint,
        filename="model.pt",
        plugins=("torch",),
    ),
)


def benign_samples(wanted: Sequence[str] = ()) -> tuple[list[Sample], list[str]]:
    """The benign corpus, and the ids skipped because their package is not installed."""
    samples, skipped = [], []
    for item in BENIGN:
        if wanted and item.id not in wanted:
            continue
        if item.needs and find_spec(item.needs) is None:
            skipped.append(f"{item.id} ({item.needs} not installed)")
            continue
        samples.append(
            Sample(
                item.id,
                False,
                "benign",
                item.filename,
                item.build(),
                item.allow,
                item.plugins,
                what=item.what,
            )
        )
    return samples, skipped


# --------------------------------------------------------------------------------------------
# The contenders (each check runs in a forked child: see run_isolated)
# --------------------------------------------------------------------------------------------


def _first_line(text: str, limit: int = 140) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


class Contender:
    name = ""
    distribution = ""
    module = ""
    #: how its verdict is read, for the report
    rule = ""

    def installed(self) -> bool:
        try:
            return find_spec(self.module) is not None
        except (ImportError, ValueError):
            return False

    def version(self) -> str:
        try:
            return metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return "not installed"

    def setup(self) -> None:
        """Import what the checks need, once, in the parent (children are forked from it)."""

    def check(self, sample: Sample) -> Verdict:
        raise NotImplementedError


class SafePickle(Contender):
    name = "safepickle"
    distribution = "safepickle-core"
    module = "safepickle"
    rule = (
        "`Scanner(policy).scan_bytes` as `safepickle scan` runs it (verify, decide, resolve the "
        "allowed globals; nothing executed); the catalogue's `allow`/`limits` for an attack, the "
        "allow or plugins a user gives for a benign file; flagged = status refused or error"
    )
    with_allow = True

    def setup(self) -> None:
        from safepickle.scan.engine import Scanner

        self._scanner = Scanner

    def policy(self, sample: Sample) -> Any:
        from safepickle import Limits, Policy

        policy = Policy(limits=Limits(**dict(sample.limits)) if sample.limits else None)
        if self.with_allow:
            if sample.allow:
                policy = policy.allowing(*sample.allow)
            if sample.plugins:
                policy = policy.with_plugins(*sample.plugins)
        return policy

    def check(self, sample: Sample) -> Verdict:
        from safepickle import PolicyError

        try:
            policy = self.policy(sample)
        except PolicyError as exc:  # the allow entry itself is refused: "_pyio:*" is floor
            return "flagged", _first_line(f"policy refused: {exc}")
        result = self._scanner(policy).scan_bytes(sample.data, sample.filename)
        if result.status in ("refused", "error"):
            stream = next(s for s in result.streams if s.status in ("refused", "error"))
            refused = [f"{g.module}.{g.qualname}" for g in stream.refused_globals]
            detail = f"refused {', '.join(refused)}" if refused else ""
            if stream.problem is not None:
                detail = stream.problem.rule + (f"; {detail}" if detail else "")
            return "flagged", _first_line(detail)
        return "clean", ""


class SafePickleNoAllow(SafePickle):
    name = "safepickle (no allow)"
    rule = "the same under the default policy alone: no allow, no plugins"
    with_allow = False


class SafePickleLoads(SafePickle):
    name = "safepickle.loads"
    rule = (
        "`safepickle.loads(data, policy=...)` with the same policy, EXECUTED (a torch checkpoint: "
        "`safepickle_torch.load`); flagged = a SafePickleError; any other exception is an error"
    )

    def setup(self) -> None:
        import safepickle

        self._safepickle = safepickle

    def check(self, sample: Sample) -> Verdict:
        safepickle = self._safepickle
        try:
            policy = self.policy(sample)
            if zipfile.is_zipfile(io.BytesIO(sample.data)) and "torch" in sample.plugins:
                import safepickle_torch

                safepickle_torch.load(io.BytesIO(sample.data))
            else:
                safepickle.loads(sample.data, policy=policy, fix_imports=sample.fix_imports)
        except safepickle.SafePickleError as exc:
            return "flagged", _first_line(f"{type(exc).__name__}: {exc}")
        return "clean", "loaded"


class PickleScan(Contender):
    name = "picklescan"
    distribution = "picklescan"
    module = "picklescan"
    rule = (
        "`scanner.scan_bytes`: flagged = a global rated dangerous (CLI exit 1); parse-error = "
        "`scan_err` (exit 2); a global rated only suspicious is clean (exit 0)"
    )
    strict = False

    def setup(self) -> None:
        import logging

        from picklescan import scanner

        logging.getLogger("picklescan").setLevel(logging.CRITICAL)
        self._scan = scanner.scan_bytes

    def check(self, sample: Sample) -> Verdict:
        ext = os.path.splitext(sample.filename)[1]
        result = self._scan(io.BytesIO(sample.data), sample.filename, ext, strict=self.strict)
        names = {
            level: sorted(
                f"{g.module}.{g.name}" for g in result.globals if g.safety.value == level
            )
            for level in ("dangerous", "suspicious")
        }
        if result.issues_count:
            return "flagged", _first_line("dangerous " + ", ".join(names["dangerous"]))
        if result.scan_err:
            return "parse-error", "scan error"
        return "clean", ("suspicious " + ", ".join(names["suspicious"])) if names[
            "suspicious"
        ] else ""


class PickleScanStrict(PickleScan):
    name = "picklescan --strict"
    rule = "the same with `strict=True`: every global not on its safe list counts as dangerous"
    strict = True


class Fickling(Contender):
    name = "fickling"
    distribution = "fickling"
    module = "fickling"
    rule = (
        "what `fickling.is_likely_safe` does, on bytes: `Pickled.load(fail_on_decode_error="
        "False)`; parse-error = `has_invalid_opcode`; flagged = `check_safety` severity above "
        "LIKELY_SAFE; a zip checkpoint: every `.pkl` member"
    )

    def setup(self) -> None:
        from fickling.analysis import Severity, check_safety
        from fickling.fickle import Pickled

        self._load, self._check, self._safe = Pickled.load, check_safety, Severity.LIKELY_SAFE

    def check(self, sample: Sample) -> Verdict:
        streams = [sample.data]
        if zipfile.is_zipfile(io.BytesIO(sample.data)):
            with zipfile.ZipFile(io.BytesIO(sample.data)) as archive:
                pkls = [n for n in archive.namelist() if n.endswith(".pkl")]
                streams = [archive.read(n) for n in pkls]
        for data in streams:
            pickled = self._load(data, fail_on_decode_error=False)
            if pickled.has_invalid_opcode:
                return "parse-error", "invalid opcode"
            severity = self._check(pickled).severity
            if severity != self._safe:
                return "flagged", severity.name
        return "clean", ""


class ModelScan(Contender):
    name = "modelscan"
    distribution = "modelscan"
    module = "modelscan"
    rule = (
        "`ModelScan().scan(path)` on the file: flagged = an issue (CLI exit 1); parse-error = "
        "a scan error (exit 2); nothing scanned (exit 3) is clean"
    )

    def setup(self) -> None:
        import logging

        from modelscan.modelscan import ModelScan as Scan

        logging.getLogger("modelscan").setLevel(logging.CRITICAL)
        self._scan = Scan

    def check(self, sample: Sample) -> Verdict:
        path = Path(sample.filename)
        path.write_bytes(sample.data)
        scan = self._scan()
        scan.scan(path)
        if scan.issues.all_issues:
            found = sorted(
                {f"{i.details.module}.{i.details.operator}" for i in scan.issues.all_issues}
            )
            return "flagged", _first_line(
                f"{scan.issues.all_issues[0].severity.name} " + ", ".join(found)
            )
        if scan.errors:
            return "parse-error", _first_line(str(scan.errors[0].to_dict().get("description", "")))
        return "clean", "" if scan.scanned else "not scanned"


class _RawPickler:
    """A pickle module for ``torch.save`` that writes the payload bytes as ``data.pkl``."""

    def __init__(self, file: io.BytesIO, protocol: int | None = None, **_: object) -> None:
        self.file = file

    def dump(self, obj: bytes) -> None:
        self.file.write(obj)


class Torch(Contender):
    name = "torch weights_only"
    distribution = "torch"
    module = "torch"
    rule = (
        "`torch.load(BytesIO(checkpoint), weights_only=True)`, EXECUTED; a raw pickle is first "
        "written as the `data.pkl` of a checkpoint by `torch.save`; flagged = the load raised; "
        "clean = it returned (or CANARY appeared)"
    )

    def setup(self) -> None:
        import warnings

        import torch

        warnings.simplefilter("ignore")  # "Detected pickle protocol 5 ..." on every p3+ stream
        self._torch = torch
        self._module = type("RawPickle", (), {"Pickler": _RawPickler})

    def check(self, sample: Sample) -> Verdict:
        data = sample.data
        if not data.startswith(b"PK"):
            buffer = io.BytesIO()
            self._torch.save(data, buffer, pickle_module=self._module)
            data = buffer.getvalue()
        try:
            self._torch.load(io.BytesIO(data), weights_only=True)
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:
            # torch wraps the unpickler's message in a long explanation: keep its own words
            text = str(exc)
            cause = re.search(r"WeightsUnpickler error:\s*(\S.*)", text)
            return "flagged", _first_line(f"{type(exc).__name__}: {cause[1] if cause else text}")
        return "clean", "loaded"


CONTENDERS: tuple[Contender, ...] = (
    SafePickle(),
    SafePickleNoAllow(),
    SafePickleLoads(),
    PickleScan(),
    PickleScanStrict(),
    Fickling(),
    ModelScan(),
    Torch(),
)


# --------------------------------------------------------------------------------------------
# Running one check in a forked child
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    #: caught / missed / error (hostile); flagged / passed / error (benign)
    outcome: str
    verdict: str  # flagged, parse-error, clean, timeout, crash
    detail: str
    seconds: float
    canary: bool = False


def _arrange(sample: Sample, directory: str) -> None:
    """In the child: the modules and extension the catalogue entry expects to exist."""
    for name, source in sample.modules:
        Path(directory, f"{name}.py").write_text(source, encoding="utf-8")
    if sample.modules:
        sys.path.insert(0, directory)
    if sample.extension is not None:
        copyreg.add_extension(*sample.extension)


def _child(contender: Contender, sample: Sample, directory: str, memory: int, out: int) -> None:
    try:
        os.chdir(directory)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        statm = Path("/proc/self/statm").read_text().split()
        used = int(statm[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + memory, used + memory))
        _arrange(sample, directory)
        report = contender.check(sample)
    except BaseException as exc:  # a crash of the tool: reported, never raised
        report = ("crash", _first_line(f"{type(exc).__name__}: {exc}"))
    with contextlib.suppress(BaseException):
        os.write(out, json.dumps(report).encode())
    os._exit(0)


def run_isolated(contender: Contender, sample: Sample, timeout: float, memory: int) -> Outcome:
    directory = tempfile.mkdtemp(prefix="peer-detection-")
    started = time.perf_counter()
    read, write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        os.close(read)
        _child(contender, sample, directory, memory, write)
    os.close(write)
    chunks, deadline, timed_out = [], started + timeout, False
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read], [], [], left)
        if ready:
            chunk = os.read(read, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(read)
    seconds = time.perf_counter() - started
    canary = Path(directory, "CANARY").exists()
    shutil.rmtree(directory, ignore_errors=True)
    if timed_out:
        verdict, detail = "timeout", f"no answer in {timeout:g} s"
    elif not chunks:
        verdict, detail = "crash", f"child died ({_status_text(status)})"
    else:
        verdict, detail = json.loads(b"".join(chunks))
    return Outcome(_classify(sample, verdict, canary), verdict, detail, seconds, canary)


def _status_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit {os.WEXITSTATUS(status)}"


def _classify(sample: Sample, verdict: str, canary: bool) -> str:
    if canary:
        return "missed" if sample.hostile else "error"
    if verdict in ("timeout", "crash"):
        return "error"
    said_no = verdict in ("flagged", "parse-error")
    if sample.hostile:
        return "caught" if said_no else "missed"
    return "flagged" if said_no else "passed"


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


@dataclass
class Column:
    contender: Contender
    version: str
    results: dict[str, Outcome] = field(default_factory=dict)

    @property
    def installed(self) -> bool:
        return self.version != "not installed"

    def ids(self, samples: Sequence[Sample], outcome: str, hostile: bool) -> list[str]:
        return [
            s.id
            for s in samples
            if s.hostile == hostile
            and s.id in self.results
            and self.results[s.id].outcome == outcome
        ]


def _md(text: str) -> str:
    """Text from a tool or the catalogue, shown literally in Markdown (MyST): ``__builtin__``
    must not turn bold, a truncated message must not open a code span, ``<global>`` is no tag."""
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


def _mark(samples: dict[str, Sample], ident: str) -> str:
    return f"`{ident}`" + ("*" if samples[ident].live else "")


def render_markdown(
    columns: Sequence[Column], samples: Sequence[Sample], env: dict[str, Any]
) -> str:
    by_id = {s.id: s for s in samples}
    hostile = [s for s in samples if s.hostile]
    benign = [s for s in samples if not s.hostile]
    out = [
        f"Measured {env['date']} with Python {env['python']}, {len(hostile)} attacks of the "
        f"catalogue ({sum(s.live for s in hostile)} proven live under plain pickle) and "
        f"{len(benign)} benign files; per-payload timeout {env['timeout']:g} s.",
        "",
        "| tool | version | attacks caught | of which as a parse error | missed | of which live "
        "| errors | benign flagged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for col in columns:
        if not col.installed:
            out.append(f"| {col.contender.name} | not installed | | | | | | |")
            continue
        caught = col.ids(hostile, "caught", True)
        parse = [i for i in caught if col.results[i].verdict == "parse-error"]
        missed = col.ids(hostile, "missed", True)
        errors = [
            s.id for s in samples if col.results.get(s.id) and col.results[s.id].outcome == "error"
        ]
        flagged = col.ids(benign, "flagged", False)
        out.append(
            f"| {col.contender.name} | {col.version} | {len(caught)}/{len(hostile)} "
            f"| {len(parse)} | {len(missed)} | {sum(by_id[i].live for i in missed)} "
            f"| {len(errors)} | {len(flagged)}/{len(benign)} |"
        )
    categories = list(dict.fromkeys(s.category for s in hostile))
    installed = [c for c in columns if c.installed]
    if categories and installed:
        out += ["", "Attacks caught, per section of the catalogue:", ""]
        out.append("| section | n | " + " | ".join(c.contender.name for c in installed) + " |")
        out.append("|---|---|" + "---|" * len(installed))
        for category in categories:
            group = [s for s in hostile if s.category == category]
            cells = [str(len(c.ids(group, "caught", True))) for c in installed]
            out.append(f"| {_md(category)} | {len(group)} | " + " | ".join(cells) + " |")
    for col in installed:
        missed = col.ids(hostile, "missed", True)
        errors = [
            s.id for s in samples if col.results.get(s.id) and col.results[s.id].outcome == "error"
        ]
        flagged = col.ids(benign, "flagged", False)
        out += ["", f"**{col.contender.name}** ({col.contender.rule}).", ""]
        lines = []
        if missed:
            canaries = [i for i in missed if col.results[i].canary]
            text = ", ".join(_mark(by_id, i) for i in missed)
            lines.append(f"- missed ({len(missed)}): {text}")
            if canaries:
                lines.append(
                    f"- CANARY created ({len(canaries)}): " + ", ".join(f"`{i}`" for i in canaries)
                )
        if errors:
            text = "; ".join(f"`{i}`: {_md(col.results[i].detail)}" for i in errors)
            lines.append(f"- errors ({len(errors)}): {text}")
        if flagged:
            text = "; ".join(f"`{i}` ({_md(col.results[i].detail)})" for i in flagged)
            lines.append(f"- benign flagged ({len(flagged)}): {text}")
        out += lines or ["- nothing missed, no errors, no benign file flagged"]
    out += ["", "`*` proven live: the test suite runs it under plain `pickle` and sees `CANARY`."]
    if env["left_out"]:
        out.append(
            "Not counted (they attack a limit the catalogue lowers for the test, a setting no "
            "peer has; `--lowered-limits` runs them): "
            + ", ".join(f"`{i}`" for i in env["left_out"])
            + "."
        )
    if env["skipped"]:
        out.append("Benign files skipped: " + ", ".join(env["skipped"]) + ".")
    return "\n".join(out) + "\n"


def to_json(
    columns: Sequence[Column], samples: Sequence[Sample], env: dict[str, Any]
) -> dict[str, Any]:
    return {
        "environment": env,
        "samples": [
            {
                "id": s.id,
                "hostile": s.hostile,
                "category": s.category,
                "live": s.live,
                "what": s.what,
                "bytes": len(s.data),
                "allow": list(s.allow),
                "plugins": list(s.plugins),
            }
            for s in samples
        ],
        "contenders": [
            {
                "name": c.contender.name,
                "version": c.version,
                "rule": c.contender.rule,
                "results": {
                    ident: {
                        "outcome": o.outcome,
                        "verdict": o.verdict,
                        "detail": o.detail,
                        "seconds": round(o.seconds, 4),
                        "canary": o.canary,
                    }
                    for ident, o in c.results.items()
                },
            }
            for c in columns
        ],
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = ", ".join(dict.fromkeys(c.name.split()[0] for c in CONTENDERS))
    parser.add_argument(
        "--peers",
        default="all",
        help=f"comma-separated contenders to run ({names}; "
        "'picklescan' includes --strict, 'safepickle' the no-allow column); "
        "default all",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="ID",
        help="run only this payload or benign id (repeatable)",
    )
    parser.add_argument(
        "--lowered-limits",
        action="store_true",
        help="also run the catalogue entries that attack a limit the "
        "catalogue lowers (limits=); no peer has such a setting",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per check")
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=2048,
        help="address space a check may add to the process (MB)",
    )
    parser.add_argument("--json", metavar="PATH", help="write every result as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="write the tables as Markdown")
    return parser


def select_contenders(spec: str) -> list[Contender]:
    if spec == "all":
        return list(CONTENDERS)
    wanted = {part.strip() for part in spec.split(",") if part.strip()}
    unknown = wanted - {c.name.split()[0] for c in CONTENDERS}
    if unknown:
        raise SystemExit(f"peer_detection: unknown contender(s): {', '.join(sorted(unknown))}")
    return [c for c in CONTENDERS if c.name.split()[0] in wanted]


def run(
    contenders: Sequence[Contender],
    samples: Sequence[Sample],
    timeout: float,
    memory: int,
    progress: bool = False,
) -> list[Column]:
    columns = []
    for contender in contenders:
        column = Column(
            contender, contender.version() if contender.installed() else "not installed"
        )
        columns.append(column)
        if not column.installed:
            continue
        contender.setup()
        for sample in samples:
            column.results[sample.id] = run_isolated(contender, sample, timeout, memory)
        if progress:
            print(f"  {contender.name}: {len(samples)} checks done", file=sys.stderr)
    return columns


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    contenders = select_contenders(args.peers)
    every = hostile_samples(lowered_limits=True)
    unknown = sorted(set(args.only) - {s.id for s in every} - {b.id for b in BENIGN})
    if unknown:
        raise SystemExit(f"peer_detection: unknown id(s): {', '.join(unknown)}")
    chosen = {s.id for s in hostile_samples(args.lowered_limits)}
    left_out = [s.id for s in every if s.id not in chosen and (not args.only or s.id in args.only)]
    hostile = [s for s in every if s.id in chosen and (not args.only or s.id in args.only)]
    benign_ids = [i for i in args.only if i in {b.id for b in BENIGN}]
    benign, skipped = benign_samples(benign_ids) if (benign_ids or not args.only) else ([], [])
    samples = hostile + benign
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "timeout": args.timeout,
        "memory_mb": args.memory_mb,
        "skipped": skipped,
        "left_out": left_out,
    }
    columns = run(contenders, samples, args.timeout, args.memory_mb << 20, progress=True)
    env["versions"] = {column.contender.name: column.version for column in columns}
    text = render_markdown(columns, samples, env)
    sys.stdout.write(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(columns, samples, env), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
