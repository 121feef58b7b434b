"""Write the fuzz harnesses' seed corpora (``fuzz/corpus/<harness>/``, git-ignored).

The seeds are made, not stored: deterministic for one Python version with
``PYTHONHASHSEED=0`` (up to the order of NaNs in a few drawn sets), so that a fixed ``-seed=``
run of the tox env ``fuzz`` repeats. Each harness's folder gets

* every payload of the hostile catalogue (``tests/hostile_payloads.py``) up to 16 KiB;
* ``pickle.dumps`` of a range of plain, standard-library and harmless-class values at every
  protocol, and odd streams: frames (nested, too short, running past STOP), bytes after STOP,
  several pickles in a row, persistent ids, EXT and out-of-band buffer opcodes, JSON;
* about 100 examples drawn (derandomized) from the strategies of ``tests/strategies.py``
  (valid, mutated and hostile pickles, opcode soups, data-only streams), when hypothesis is
  installed;
* for ``verifier_differential``, option-header variants (small limits, ``fix_imports`` off,
  persistent ids allowed, a bytearray, bytes before the stream: ``fuzz_common.encode_options``);
* the saved findings of ``fuzz/findings/<harness>/`` (regressions) and ``fuzz/findings/all/``.

Usage: ``python fuzz/make_corpus.py [--out DIR] [--crashes DIR]`` (defaults ``fuzz/corpus``
and ``fuzz/crashes``, both git-ignored); each harness's folder is emptied first. :func:`seeds`
is what ``tests/test_fuzz_harnesses.py`` runs the harnesses over.
"""

from __future__ import annotations

import argparse
import array
import collections
import datetime
import decimal
import fractions
import hashlib
import importlib
import ipaddress
import pathlib
import pickle
import shutil
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import fuzz_common

HERE = pathlib.Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
FINDINGS = HERE / "findings"
HARNESSES = (
    "verifier_differential",
    "loads_safety",
    "loads_agrees_with_pickle",
    "scan_agrees_with_load",
)
#: larger catalogue payloads (resource bombs of megabytes) stay out: libFuzzer sizes its
#: inputs after the largest seed, and mutating megabytes is slow
MAX_SEED_BYTES = 16 << 10
#: examples drawn from each hypothesis strategy
HYPOTHESIS_EXAMPLES = 25


# --- values to pickle ------------------------------------------------------------------------


# array's "u" typecode warns from 3.13 (removed in 3.16); "w" is its replacement there.
_WIDE_CHARS = "w" if sys.version_info >= (3, 13) else "u"


def _recursive_list() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


def _recursive_dict() -> dict[str, Any]:
    value: dict[str, Any] = {}
    value["self"] = value
    return value


def _recursive_tuple() -> tuple[Any, ...]:
    inner: list[Any] = []
    outer = (inner, 2)
    inner.append(outer)
    return outer


def _shared() -> list[Any]:
    item = [1, 2]
    pair = (item, "x")
    return [item, item, pair, pair, {"k": item}]


def plain_values() -> list[Any]:
    """Values every policy of the harnesses allows (and some it does not: range, slice ...)."""
    nan = float("nan")
    values: list[Any] = [
        None, True, False, 0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -(2**31), 2**63,
        -(2**100), 10**50, 0.0, -0.0, 1.5, nan, float("inf"), -float("inf"), 1e308,
        "", "a", "é€😀", "\x00\n\\'\"", "x" * 300, b"", b"\x00\xff", b"y" * 300,
        bytearray(b"ba"), (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [1, [2, [3]]],
        {}, {"a": 1, 2: [3]}, {1, 2, "three"}, frozenset({(1, 2)}), set(), {nan: nan},
        [nan, nan], (nan,), 3 + 4j, complex(nan, -0.0), Ellipsis, NotImplemented,
        range(3, 10, 2), slice(1, None, -1),
        datetime.date(2026, 1, 1), datetime.time(12, 30, 5, 7),
        datetime.datetime(2026, 2, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc),
        datetime.datetime(2026, 11, 1, 1, 30, fold=1),
        datetime.timedelta(days=-1, seconds=5), datetime.timezone(datetime.timedelta(hours=5)),
        decimal.Decimal("1.10"), decimal.Decimal("-NaN"), decimal.Decimal("sNaN12"),
        decimal.Decimal("-Infinity"), fractions.Fraction(3, 4), uuid.UUID(int=2**127 + 5),
        collections.OrderedDict(a=1, b=[2]), collections.defaultdict(list, {"k": [1]}),
        collections.deque([1, 2], maxlen=5), collections.Counter("abracadabra"),
        collections.ChainMap({"a": 1}, {"b": 2}), collections.UserList([1]),
        collections.UserDict({"u": 1}), collections.UserString("us"),
        array.array("i", [1, -2]), array.array("d", [0.5]), array.array(_WIDE_CHARS, "hé"),
        ipaddress.ip_address("10.1.2.3"), ipaddress.ip_address("::1"),
        ipaddress.ip_network("192.168.0.0/16"), ipaddress.ip_interface("fe80::1/64"),
        pathlib.PurePosixPath("/a/b"), pathlib.PureWindowsPath("C:/x"),
        _recursive_list(), _recursive_dict(), _recursive_tuple(), _shared(),
        [[[[[[[[[[["deep"]]]]]]]]]]], {"n": {"e": {"s": {"t": ({1: (2,)},)}}}},
        fuzz_common.Point(1, [2]), fuzz_common.Plain("a", fuzz_common.Point()),
        fuzz_common.Slots((1,), None), fuzz_common.Stateful({"s": 1}),
        fuzz_common.Reduced(1, "two", [3]), fuzz_common.Color.RED, fuzz_common.Color.GREEN,
        [fuzz_common.Color.RED, fuzz_common.Color.RED], fuzz_common.Point,
        fuzz_common.Blob(b"blob"),
    ]  # fmt: skip
    try:
        zoneinfo = importlib.import_module("zoneinfo")
        values.append(zoneinfo.ZoneInfo("Europe/Paris"))
    except Exception:  # no time zone data on this machine
        pass
    return values


def _dumps_all(value: Any) -> Iterator[tuple[str, bytes]]:
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        try:
            yield f"p{protocol}", pickle.dumps(value, protocol)
        except Exception:  # a slots class at protocols 0-1, a class pickle cannot name
            continue


# --- hand-made odd streams -------------------------------------------------------------------


def _frame(body: bytes, size: int | None = None) -> bytes:
    return b"\x95" + (len(body) if size is None else size).to_bytes(8, "little") + body


def odd_streams() -> Iterator[tuple[str, bytes]]:
    """Frames, trailing bytes, several pickles, and opcodes pickle.dumps never writes."""
    p4 = pickle.dumps([1, "two", (3.0,)], 4)  # \x80\x04 FRAME ...
    p2 = pickle.dumps({"a": 1}, 2)
    p0 = pickle.dumps(("x", 1), 0)
    body = b"]\x94(K\x01K\x02e."
    yield "frame-one", b"\x80\x04" + _frame(body)
    yield "frame-two", b"\x80\x05" + _frame(b"]\x94(K\x01") + _frame(b"K\x02e.")
    yield "frame-nested", b"\x80\x04" + _frame(_frame(body))
    yield "frame-nested-short", b"\x80\x04" + _frame(b"]" + _frame(b"N."), 3)
    yield "frame-too-short", b"\x80\x04" + _frame(body, len(body) - 2)
    yield "frame-too-long", b"\x80\x04" + _frame(body, len(body) + 3)
    yield "frame-past-stop", b"\x80\x04" + _frame(body + b"xyz")
    yield "frame-empty", b"\x80\x04" + _frame(b"") + b"N."
    yield "frame-before-proto", _frame(b"\x80\x04N.")
    yield "frame-huge-length", b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7fN."
    yield "after-stop-byte", p4 + b"x"
    yield "after-stop-nul", p2 + b"\x00"
    yield "two-pickles", p4 + p2
    yield "three-pickles", p0 + p2 + p4
    yield "pickle-then-json", p2 + b'{"a": 1}\n'
    yield "json-then-pickle", b"[1, 2]\n" + p2
    yield "json-object", b'{"a": [1, 2.5, null, true, false, "\\u20ac"]}'
    yield "json-bom", b'\xef\xbb\xbf{"bom": 1}'
    yield "json-number", b"-12.5e3"
    yield "json-two-docs", b'{"a": 1}\n{"b": 2}\n'
    yield "json-bad", b'{"a": }'
    yield "json-nan", b"[NaN, Infinity]"
    yield "persid-p0", b"(lp0\nPid-1\na."
    yield "binpersid-p2", b"\x80\x02]q\x00X\x01\x00\x00\x00aQa."
    yield "ext1", b"\x80\x02\x82\x01."
    yield "ext2", b"\x80\x02\x83\x01\x02."
    yield "next-buffer", b"\x80\x05\x97."
    yield "readonly-buffer", b"\x80\x05\x97\x98."
    yield "bytearray8", b"\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00ab."
    yield "stack-global", b"\x80\x04\x8c\x08builtins\x8c\x03set\x93)R."
    yield "stack-global-memo", b"\x80\x04\x8c\x08builtins\x94\x8c\x03set\x94h\x00h\x01\x93)R."
    yield (
        "getattr-shape",
        (
            b"\x80\x04\x8c\x08builtins\x8c\x07getattr\x93\x8c\x0bfuzz_common\x8c\x05Color\x93"
            b"\x8c\x03RED\x86R."
        ),
    )
    yield "build-on-global", b"cbuiltins\nset\n}b."
    yield "inst", b"(ifuzz_common\nPlain\n(dS'a'\nI1\nsb."
    yield "obj", b"(cfuzz_common\nPlain\no."
    yield "newobj-ex", b"\x80\x04\x8c\x0bfuzz_common\x8c\x05Point\x93)}\x92."
    yield "memo-long", b"\x80\x02N\x94r\x05\x00\x00\x00j\x05\x00\x00\x00\x86."
    yield "pop-mark", b"(K\x01K\x021N."
    yield "dup", b"K\x012\x86."
    yield "long4", b"\x80\x02\x8b\x03\x00\x00\x00\x01\x02\x80."
    yield "int-text", b"I0012\n."
    yield "long-text", b"L123456789012345678901234567890L\n."
    yield "float-text", b"F-1.5e10\n."
    yield "string-escapes", b"S'a\\x41\\n\\''\n."
    yield "unicode-escapes", b"V\\u20ac\\U0001f600\n."
    yield "proto-6", b"\x80\x06N."
    yield "empty", b""
    yield "stop-only", b"."


# --- hypothesis examples ---------------------------------------------------------------------


def hypothesis_examples(per_strategy: int = HYPOTHESIS_EXAMPLES) -> Iterator[tuple[str, bytes]]:
    """Examples of tests/strategies.py's byte strategies; none when hypothesis is missing."""
    try:
        hypothesis = importlib.import_module("hypothesis")
    except ImportError:
        print("make_corpus: hypothesis is not installed; no examples from tests/strategies.py")
        return
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    strategies = importlib.import_module("strategies")
    for name in ("valid_pickles", "mutated_pickles", "opcode_soup", "data_only_streams"):
        drawn: list[bytes] = []
        strategy = getattr(strategies, name)()

        def keep(data: bytes) -> None:
            drawn.append(data)  # noqa: B023 (run at once, in this iteration)

        collect = hypothesis.settings(
            database=None,
            derandomize=True,
            max_examples=per_strategy,
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
            deadline=None,
        )(hypothesis.given(strategy)(keep))
        collect()
        for index, data in enumerate(drawn):
            yield f"hyp-{name}-{index}", data


# --- option headers (verifier_differential) --------------------------------------------------

_SMALL_LIMITS: tuple[dict[str, int], ...] = (
    dict.fromkeys(fuzz_common.LIMIT_FIELDS, 1),
    dict.fromkeys(fuzz_common.LIMIT_FIELDS, 3),
    dict.fromkeys(fuzz_common.LIMIT_FIELDS, 12),
    {"max_opcodes": 5},
    {"max_stack_depth": 4},
    {"max_nesting": 2},
    {"max_memo_entries": 2},
    {"max_container_items": 2},
    {"max_globals": 1},
    {"max_global_name_bytes": 11},
    {"max_input_bytes": 20},
    {"max_int_digits": 3},
    {"max_depth": 3},
    {"max_hash_work": 4},
    {"max_result_bytes": 200, "result_bytes_floor": 100, "max_result_ratio": 2},
)


def option_variants(streams: list[tuple[str, bytes]]) -> Iterator[tuple[str, bytes]]:
    for index, (name, data) in enumerate(streams):
        limits = _SMALL_LIMITS[index % len(_SMALL_LIMITS)]
        yield f"opt-limits-{name}", fuzz_common.encode_options(data, limits)
        if index % 4 == 0:
            yield f"opt-nofix-{name}", fuzz_common.encode_options(data, fix_imports=False)
        if index % 4 == 1:
            yield f"opt-persistent-{name}", fuzz_common.encode_options(data, persistent_ids=True)
        if index % 4 == 2:
            yield f"opt-bytearray-{name}", fuzz_common.encode_options(data, as_bytearray=True)
        if index % 4 == 3:
            yield f"opt-prefix-{name}", fuzz_common.encode_options(data, prefix=b"\x80\x02N.")
        if index % 3 == 0:
            yield f"opt-slow-{name}", fuzz_common.encode_options(data, short_slow_path=True)


# --- everything ------------------------------------------------------------------------------


def _catalogue() -> Iterator[tuple[str, bytes]]:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    hostile = importlib.import_module("hostile_payloads")
    for payload in hostile.CATALOGUE:
        if len(payload.data) <= MAX_SEED_BYTES:
            yield f"hostile-{payload.id}", payload.data


def open_items() -> dict[tuple[str, str], str]:
    """``fuzz/findings/OPEN``: (harness, ``finding:<file>`` or ``seed:<name>``) -> why."""
    found: dict[tuple[str, str], str] = {}
    path = FINDINGS / "OPEN"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                harness, item, why = line.split(None, 2)
                found[(harness, item)] = why
    return found


def finding_files(harness: str) -> Iterator[pathlib.Path]:
    """Saved findings: ``fuzz/findings/<harness>/`` and ``fuzz/findings/all/``."""
    for folder in (FINDINGS / harness, FINDINGS / "all"):
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_file() and not path.name.startswith(("README", ".")):
                    yield path


def common_seeds(*, hypothesis: bool = True) -> list[tuple[str, bytes]]:
    """Every harness's seeds, as (name, bytes), without duplicates."""
    out: list[tuple[str, bytes]] = list(_catalogue())
    for index, value in enumerate(plain_values()):
        for protocol, data in _dumps_all(value):
            out.append((f"value-{index}-{type(value).__name__}-{protocol}", data))
    out.extend(odd_streams())
    if hypothesis:
        out.extend(hypothesis_examples())
    return _unique(out)


def seeds(
    harness: str,
    *,
    hypothesis: bool = True,
    common: list[tuple[str, bytes]] | None = None,
    with_findings: bool = True,
    with_open: bool = False,
) -> list[tuple[str, bytes]]:
    """The seed corpus of one harness, as (name, bytes); ``common``: :func:`common_seeds`
    when the caller made them already; ``with_findings``: the saved findings too (named
    ``finding-<file>``); ``with_open``: also what ``fuzz/findings/OPEN`` lists."""
    if harness not in HARNESSES:
        raise ValueError(f"unknown harness {harness!r}; known: {HARNESSES}")
    out = list(common if common is not None else common_seeds(hypothesis=hypothesis))
    if harness == "verifier_differential":
        out += list(option_variants(out[::3]))
    if with_findings:
        out += [(f"finding-{path.name}", path.read_bytes()) for path in finding_files(harness)]
    if not with_open:
        listed = open_items()
        out = [
            (name, data)
            for name, data in out
            if (harness, f"seed:{name}") not in listed
            and (harness, f"finding:{name.removeprefix('finding-')}") not in listed
        ]
    return _unique(out)


def _unique(items: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    seen: set[bytes] = set()
    out = []
    for name, data in items:
        if data not in seen:
            seen.add(data)
            out.append((name, data))
    return out


def write(out: pathlib.Path, harnesses: tuple[str, ...] = HARNESSES) -> dict[str, int]:
    """Write each harness's seeds into ``out/<harness>/`` (emptied first); file names are
    content hashes (libFuzzer's own naming), so a rerun writes the same files."""
    common = common_seeds()
    counts: dict[str, int] = {}
    for harness in harnesses:
        folder = out / harness
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        items = seeds(harness, common=common)
        for _, data in items:
            (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
        counts[harness] = len(items)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "corpus")
    parser.add_argument(
        "--crashes",
        type=pathlib.Path,
        default=HERE / "crashes",
        help="folder created for libFuzzer's crash files (-artifact_prefix=DIR/)",
    )
    args = parser.parse_args(argv)
    args.crashes.mkdir(parents=True, exist_ok=True)
    for harness, count in write(args.out).items():
        print(f"{args.out / harness}: {count} seeds")


if __name__ == "__main__":
    main()
