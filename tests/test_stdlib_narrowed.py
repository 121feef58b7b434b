"""The default policy's narrowed constructors, class by class (issue 13).

Every hostile payload here is assembled from opcodes (or built from values by hand) and must be
refused with a safepickle error, quickly, importing nothing; where it is cheap, the test also
shows what plain :func:`pickle.loads` does with the same shape at a small size (how it grows).
The classes:

1. numbers whose conversion costs what the attacker chooses (``int(Decimal("1e1000000"))``);
2. imports the policy never allowed (codec modules, ``tzdata``, ``importlib.resources``);
3. rendering of shared-reference graphs (``str()``, an enum's ``%r``, ``IPv4Address(x)``);
4. copies of one memoized value (the load's allocation budget);
5. hashing: unfolded hash work, and hash flooding (:mod:`safepickle.hashguard`).

Then: benign values of every default type still load as :func:`pickle.loads` loads them.
"""

from __future__ import annotations

import array
import collections
import contextlib
import datetime
import decimal
import fractions
import ipaddress
import os
import pathlib
import pickle
import subprocess
import sys
import textwrap
import time
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import safepickle
from safepickle import ExecutionError, LimitExceeded, SafePickleError
from safepickle import budget as budget_module
from safepickle.budget import LoadBudget
from safepickle.builtin import narrowed
from safepickle.builtin.stdlib import SAFE_GLOBALS, substitutes
from safepickle.hashguard import CollisionCounter, check_collisions, guard_keys, hash_cost
from safepickle.limits import Limits

_LIMITS = Limits()
#: the narrowed stand-ins of the default policy, by dotted name
SUBS = substitutes(_LIMITS.max_int_digits, _LIMITS.max_container_items)
P = sys.hash_info.modulus  # ints equal modulo P hash alike
#: the array typecode of str characters ('u' is deprecated from 3.13, which adds 'w')
UNICODE = "w" if sys.version_info >= (3, 13) else "u"

# --- a small pickle assembler ----------------------------------------------------------------

PROTO = b"\x80\x03"
STOP = b"."
MARK = b"("
TUPLE = b"t"
TUPLE2 = b"\x86"
REDUCE = b"R"
BUILD = b"b"
NEWOBJ = b"\x81"
EMPTY_LIST = b"]"
EMPTY_TUPLE = b")"
EMPTY_DICT = b"}"
APPENDS = b"e"
SETITEM = b"s"
DUP = b"2"
POP = b"0"


def glob(dotted: str) -> bytes:
    module, _, name = dotted.rpartition(".")
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def text(value: str) -> bytes:
    data = value.encode("utf-8", "surrogatepass")
    return b"X" + len(data).to_bytes(4, "little") + data


def raw(value: bytes) -> bytes:
    return b"B" + len(value).to_bytes(4, "little") + value


def integer(value: int) -> bytes:
    if -(2**31) <= value < 2**31:
        return b"J" + value.to_bytes(4, "little", signed=True)
    data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8b" + len(data).to_bytes(4, "little") + data  # LONG4


def put(index: int) -> bytes:
    return b"r" + index.to_bytes(4, "little")


def get(index: int) -> bytes:
    return b"j" + index.to_bytes(4, "little")


def call(dotted: str, *args: bytes) -> bytes:
    """``dotted(*args)``: the global, a MARK ... TUPLE of the argument ops, REDUCE."""
    return glob(dotted) + MARK + b"".join(args) + TUPLE + REDUCE


def stream(*ops: bytes) -> bytes:
    return PROTO + b"".join(ops) + STOP


def list_graph(depth: int, memo: int = 1000) -> bytes:
    """x0 = [], x(k+1) = [xk, xk]: ``depth`` lists, 2**depth empty lists unfolded."""
    ops = EMPTY_LIST + put(memo) + POP
    for k in range(depth):
        ops += EMPTY_LIST + MARK + get(memo + k) * 2 + APPENDS + put(memo + k + 1) + POP
    return ops + get(memo + depth)


def tuple_graph(depth: int, memo: int = 1000) -> bytes:
    """x0 = (), x(k+1) = (xk, xk): ``depth`` tuples, 2**depth leaves unfolded."""
    ops = EMPTY_TUPLE + put(memo) + POP
    for k in range(depth):
        ops += get(memo + k) + DUP + TUPLE2 + put(memo + k + 1) + POP
    return ops + get(memo + depth)


def dict_graph(depth: int, memo: int = 1000) -> bytes:
    ops = EMPTY_DICT + put(memo) + POP
    for k in range(depth):
        ops += EMPTY_DICT + text("a") + get(memo + k) + SETITEM + text("b") + get(memo + k)
        ops += SETITEM + put(memo + k + 1) + POP
    return ops + get(memo + depth)


def make_tuple_graph(depth: int) -> tuple[Any, ...]:
    value: tuple[Any, ...] = ()
    for _ in range(depth):
        value = (value, value)
    return value


def make_list_graph(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value, value]
    return value


GRAPHS = {"list": list_graph, "tuple": tuple_graph, "dict": dict_graph}

# --- what every refusal must be --------------------------------------------------------------

#: the default policy's modules, imported up front so that any module a load imports is new
_ALLOWED_MODULES = (array, collections, datetime, decimal, fractions, ipaddress, pathlib, uuid)


def refused(
    data: bytes,
    expect: type[SafePickleError] = SafePickleError,
    *,
    seconds: float = 5.0,
    policy: safepickle.Policy | None = None,
) -> SafePickleError:
    """Assert ``safepickle.loads(data)`` raises ``expect`` within ``seconds``, importing
    nothing; return the error."""
    before = set(sys.modules)
    started = time.perf_counter()
    with pytest.raises(expect) as info:
        safepickle.loads(data, policy=policy)
    elapsed = time.perf_counter() - started
    assert elapsed < seconds, f"refused, but only after {elapsed:.1f} s"
    assert set(sys.modules) == before, f"imported {set(sys.modules) - before}"
    assert isinstance(info.value, pickle.UnpicklingError)
    return info.value


def refused_call(dotted: str, *args: Any, expect: type[Exception] = SafePickleError) -> None:
    """The narrowed stand-in itself (outside a load) refuses ``args`` quickly."""
    started = time.perf_counter()
    with pytest.raises(expect):
        SUBS[dotted](*args)
    assert time.perf_counter() - started < 5.0


def plain(data: bytes) -> Any:
    """What plain pickle does with ``data`` (a value, or the exception it raised)."""
    try:
        return pickle.loads(data)
    except Exception as exc:
        return exc


# === 1. numbers with attacker-controlled cost =================================================


def test_int_of_a_huge_exponent_decimal_is_refused() -> None:
    """``int(Decimal("1e1000000"))``: 53 bytes of pickle, minutes under plain pickle."""
    data = stream(call("builtins.int", call("decimal.Decimal", text("1e1000000"))))
    assert len(data) < 80
    error = refused(data, ExecutionError)
    assert "max_int_digits=4,300" in str(error)


@pytest.mark.parametrize(
    "value",
    [
        "1e1000000",  # int() of it takes minutes
        "1e-1000000",  # format(d, 'f') writes a million zeros
        "0E-1000000",
        "0E+5000",
        "1" * 4301,  # 4,301 digits
        "NaN" + "9" * 4301,  # a NaN's payload
        "1e999999999999999999",
        " 1_0" * 3000,
    ],
)
def test_decimal_text_is_bounded(value: str) -> None:
    refused(stream(call("decimal.Decimal", text(value))))
    refused_call("decimal.Decimal", value)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("1e4299", True),  # int() of it: 4,300 digits, convertible back to text
        ("1e4300", False),
        ("9.99e4299", True),
        ("1e-4300", True),
        ("1e-4301", False),
        ("1" * 4300, True),
        ("1" * 4300 + "e-8599", True),  # adjusted exponent -4300
        ("1" * 4300 + "e-8600", False),
        ("0." + "0" * 4299 + "1", True),
        ("NaN" + "9" * 4300, True),
        ("-Infinity", True),
        ("sNaN", True),
    ],
)
def test_decimal_bounds_are_exact(value: str, accepted: bool) -> None:
    """Digits of the coefficient <= 4,300; adjusted exponent in [-4,300, 4,300)."""
    data = stream(call("decimal.Decimal", text(value)))
    if accepted:
        loaded = safepickle.loads(data)
        assert loaded.as_tuple() == decimal.Decimal(value).as_tuple()
        if loaded.is_finite():
            assert len(str(int(loaded))) <= 4301  # sign included: int() stays small
    else:
        refused(data, ExecutionError)


@pytest.mark.parametrize(
    "args",
    [
        ((0, (1,), 1_000_000),),  # the tuple form accepts any exponent too
        ((0, (1,) * 5000, 0),),
        ((0, (1,), "F", "extra"),),
        (10**4300,),  # Decimal(int): converting is quadratic
        ("1", decimal.Context()),  # a context
        (make_tuple_graph(30),),
        (collections.UserString("1e1000000"),),
    ],
)
def test_decimal_other_forms_are_bounded(args: tuple[Any, ...]) -> None:
    refused_call("decimal.Decimal", *args)


def test_a_larger_max_int_digits_admits_bigger_decimals() -> None:
    data = stream(call("decimal.Decimal", text("1e5000")))
    refused(data, ExecutionError)
    policy = safepickle.Policy(limits=Limits(max_int_digits=6000))
    assert safepickle.loads(data, policy=policy) == decimal.Decimal("1e5000")


@pytest.mark.parametrize(
    "args",
    [
        ("1e999999999",),
        ("1/" + "9" * 5000,),
        (10**4300, 3),
        (1, 10**4300),
        (decimal.Decimal("1"), 3),
        (decimal.Decimal("1e1000000"),),  # only the real Decimal makes one: 10**1000000
        (collections.UserString("1/2"),),
        (make_list_graph(30),),
    ],
)
def test_fraction_is_bounded(args: tuple[Any, ...]) -> None:
    refused_call("fractions.Fraction", *args)


def test_fraction_exponent_in_a_stream() -> None:
    refused(stream(call("fractions.Fraction", text("1e999999999"))))
    refused(stream(call("builtins.int", call("fractions.Fraction", text("1e999999")))))


@pytest.mark.parametrize(
    "args",
    [
        ("9" * 4303,),  # CPython 3.10 before 3.10.7 has no limit of its own
        (b"9" * 4303,),
        (bytearray(b"9" * 4303), 10),
        ("1" * 5000, 2),
        (decimal.Decimal("1e4300"),),
        (collections.UserString("9" * 10),),  # UserString.__int__ converts BUILD-set state
        (make_list_graph(30),),
        (1, 2, 3),
    ],
)
def test_int_is_bounded(args: tuple[Any, ...]) -> None:
    refused_call("builtins.int", *args)


def test_int_text_is_bounded_even_without_cpythons_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A program may switch CPython's own limit off (or run 3.10 before 3.10.7)."""
    if hasattr(sys, "set_int_max_str_digits"):
        monkeypatch.setattr(sys, "set_int_max_str_digits", sys.set_int_max_str_digits)
        old = sys.get_int_max_str_digits()
        sys.set_int_max_str_digits(0)
        try:
            refused(stream(call("builtins.int", text("9" * 100_000))), ExecutionError)
        finally:
            sys.set_int_max_str_digits(old)
    refused(stream(call("builtins.int", text("9" * 100_000))), ExecutionError)


@pytest.mark.parametrize(
    ("dotted", "args"),
    [
        ("builtins.float", (collections.UserString("1"),)),  # UserString.__float__
        ("builtins.float", (make_list_graph(30),)),
        ("builtins.float", (1.0, 2.0)),
        ("builtins.complex", (collections.UserString("1"),)),
        ("builtins.complex", ("1", "2")),
        ("builtins.complex", (make_tuple_graph(30),)),
        ("builtins.str", (10**5000,)),  # str of an int: quadratic
        ("builtins.str", (1.5,)),
    ],
)
def test_other_numeric_conversions_take_numbers_and_text_only(
    dotted: str, args: tuple[Any, ...]
) -> None:
    refused_call(dotted, *args)


def _repeated(call_ops: bytes, argument: bytes, times: int) -> bytes:
    """``times`` calls of one callable on one memoized argument, each result POPped: six bytes
    of stream a call, whatever the call costs."""
    head = call_ops + put(1) + POP + argument + put(2) + POP
    one = get(1) + MARK + get(2) + TUPLE + REDUCE + POP
    return stream(head + one * times + glob("builtins.object") + EMPTY_TUPLE + REDUCE)


@pytest.mark.parametrize(
    ("dotted", "argument"),
    [
        ("fractions.Fraction", text("7" * 4300 + "/" + "3" * 4299)),  # 0.3 ms a call
        ("builtins.int", text("9" * 4300)),  # 0.12 ms a call: CPython's own maximum
        ("builtins.float", text("1" * 100_000)),  # a linear parse of the text a call
        ("builtins.complex", text("1" * 100_000 + "j")),
        ("decimal.Decimal", text("7" * 4300)),
        ("builtins.int", call("decimal.Decimal", text("9" * 4300))),
    ],
    ids=["fraction-text", "int-text", "float-text", "complex-text", "decimal-text", "int-dec"],
)
def test_repeated_conversions_are_charged_as_work(dotted: str, argument: bytes) -> None:
    """One allowed conversion, repeated through the memo for six bytes a call: each call's
    work is charged to the load's budget (as the copying it takes as long as), so the stream
    is refused after a bounded amount of work instead of running for minutes."""
    data = _repeated(glob(dotted), argument, 200_000)
    error = refused(data, LimitExceeded, seconds=30)
    assert isinstance(error, LimitExceeded) and error.limit == "max_result_bytes"
    assert "conversion work" in str(error)
    few = _repeated(glob(dotted), argument, 3)  # a few are fine
    assert safepickle.loads(few) is not None


def test_a_fraction_built_with_huge_parts_is_not_converted() -> None:
    """BUILD sets a Fraction's slots (it has no __setstate__): huge parts, then int(F)."""
    state = EMPTY_DICT + text("_numerator") + integer(7**40_000) + SETITEM
    state += text("_denominator") + integer(3**40_000) + SETITEM
    fraction = call("fractions.Fraction", text("1/3")) + b"N" + state + TUPLE2 + BUILD
    refused(stream(call("builtins.int", fraction)), ExecutionError)
    refused(stream(call("builtins.float", fraction)), ExecutionError)
    refused(stream(call("fractions.Fraction", fraction)), ExecutionError)
    built = pickle.loads(stream(fraction))
    assert built.numerator == 7**40_000  # what plain pickle makes of it


def test_numeric_constructors_still_convert() -> None:
    assert SUBS["builtins.int"]("12_345") == 12345
    assert SUBS["builtins.int"](b" ff ", 16) == 255
    assert SUBS["builtins.int"](decimal.Decimal("1e4299")) == 10**4299
    assert SUBS["builtins.int"](fractions.Fraction(7, 2)) == 3
    assert SUBS["builtins.float"]("1e308") == 1e308
    assert SUBS["builtins.float"](decimal.Decimal("1e4299")) == float("inf")
    assert SUBS["builtins.complex"](1.5, -2) == complex(1.5, -2)
    assert SUBS["builtins.complex"]("1+2j") == 1 + 2j
    assert SUBS["fractions.Fraction"](" -3/4 ") == fractions.Fraction(-3, 4)
    assert SUBS["fractions.Fraction"](decimal.Decimal("1.25")) == fractions.Fraction(5, 4)
    assert SUBS["decimal.Decimal"]((1, (2, 5), -1)) == decimal.Decimal("-2.5")
    assert SUBS["decimal.Decimal"](0.5) == decimal.Decimal("0.5")


# === 2. nothing the policy did not allow is imported ==========================================

_IMPORT_PROBE = textwrap.dedent(
    """
    import pickle, sys
    sys.path.insert(0, {path!r})
    import safepickle
    safepickle.loads(pickle.dumps([1, "x"]))
    cases, watched = {cases!r}, {watched!r}
    assert not [m for m in watched if m in sys.modules], "imported at start"
    for name, data, expect_ok in cases:
        try:
            safepickle.loads(data)
            outcome = "loaded"
        except safepickle.SafePickleError as exc:
            outcome = type(exc).__name__
        new = [m for m in watched if m in sys.modules]
        assert not new, (name, outcome, new)
        assert (outcome == "loaded") == expect_ok, (name, outcome)
        try:
            pickle.loads(data)  # plain pickle, for contrast: it imports
        except Exception:
            pass
        imported = [m for m in watched if m in sys.modules]
        print(name, outcome, ",".join(imported) or "-")
        for m in imported:
            del sys.modules[m]
    """
)

_CODEC_MODULES = (
    "encodings.latin_1",
    "encodings.ascii",
    "encodings.bz2_codec",
    "encodings.hex_codec",
    "encodings.rot_13",
    "encodings.idna",
    "encodings.utf_16",
    "encodings.cp1252",
    "encodings.zlib_codec",
    "unicodedata",
    "stringprep",
)
_ZONE_MODULES = ("tzdata", "tzdata.zoneinfo", "tzdata.zoneinfo.Nowhere")


def _probe(
    cases: list[tuple[str, bytes, bool]], watched: tuple[str, ...], path: str = ""
) -> dict[str, list[str]]:
    """Load ``cases`` in a fresh interpreter (``path`` first on sys.path): none of the
    ``watched`` modules may be imported by safepickle. Returns, per case, the outcome and what
    plain pickle then imported."""
    script = _IMPORT_PROBE.format(cases=cases, watched=watched, path=path)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}


def test_codec_names_import_nothing() -> None:
    data = b"caf\xe9"
    cases = [
        # refused: any codec but UTF-8, ASCII, Latin-1 would be looked up (and imported)
        ("str-bz2", stream(call("builtins.str", raw(b"x"), text("bz2_codec"))), False),
        ("str-rot13", stream(call("builtins.str", raw(b"x"), text("rot13"))), False),
        ("str-cp1252", stream(call("builtins.str", raw(data), text("cp1252"))), False),
        ("bytes-hex", stream(call("builtins.bytes", text("78"), text("hex_codec"))), False),
        ("bytearray-idna", stream(call("builtins.bytearray", text("x"), text("idna"))), False),
        ("bytes-zlib", stream(call("builtins.bytes", text("x"), text("zlib_codec"))), False),
        ("encode-utf16", stream(call("_codecs.encode", text("x"), text("utf-16"))), False),
        ("encode-bz2", stream(call("_codecs.encode", text("x"), text("bz2_codec"))), False),
        # namereplace imports unicodedata
        (
            "bytes-namereplace",
            stream(call("builtins.bytes", text("\u20ac"), text("latin-1"), text("namereplace"))),
            False,
        ),
        # accepted: aliases are normalised here, the call made with the canonical name
        ("str-l1", stream(call("builtins.str", raw(data), text("l1"))), True),
        ("str-latin", stream(call("builtins.str", raw(data), text("ISO-8859-1"))), True),
        ("str-us-ascii", stream(call("builtins.str", raw(b"x"), text("US-ASCII"))), True),
        ("str-646", stream(call("builtins.str", raw(b"x"), text("646"))), True),
        ("bytes-u8", stream(call("builtins.bytes", text("\u20ac"), text("U8"))), True),
        ("bytearray-cp819", stream(call("builtins.bytearray", text("\xe9"), text("cp819"))), True),
        (
            "str-backslash",
            stream(call("builtins.str", raw(b"\xff"), text("ascii"), text("backslashreplace"))),
            True,
        ),
    ]
    outcomes = _probe(cases, _CODEC_MODULES)
    # plain pickle imports the codec modules the narrowed ones never look up
    assert "encodings.bz2_codec" in outcomes["str-bz2"][1]
    assert "encodings.latin_1" in outcomes["str-l1"][1]
    assert "encodings.hex_codec" in outcomes["bytes-hex"][1]


def test_codec_aliases_decode_like_the_real_codecs() -> None:
    str_ = SUBS["builtins.str"]
    for name in ("utf8", "UTF-8", "u8", "cp65001", "Latin-1", "L1", "iso8859_1", "ascii", "646"):
        assert str_(b"abc", name) == str(b"abc", name)
    assert str_(b"\xe9", "latin") == "\xe9"
    assert SUBS["builtins.bytes"]("\u20ac", "utf8") == "\u20ac".encode()
    assert SUBS["_codecs.encode"]("\xe9", "latin1") == b"\xe9"
    for name in ("utf-16", "cp1252", "mbcs", "utf-8-sig", "idna", "x" * 100, b"utf-8", None):
        refused_call("builtins.str", b"abc", name)


def test_zone_keys_import_nothing(tmp_path: pathlib.Path) -> None:
    """A key missing from TZPATH makes zoneinfo import ``tzdata.zoneinfo.<region>``: a
    package of the key's choosing, whose code runs (here, a planted one)."""
    region = tmp_path / "tzdata" / "zoneinfo" / "Nowhere"
    region.mkdir(parents=True)
    for package in (region.parent.parent, region.parent, region):
        (package / "__init__.py").write_text("")

    def unpickle(key: bytes, flag: int = 1) -> bytes:
        return stream(
            glob("builtins.getattr")
            + MARK
            + glob("zoneinfo.ZoneInfo")
            + text("_unpickle")
            + TUPLE
            + REDUCE
            + MARK
            + key
            + integer(flag)
            + TUPLE
            + REDUCE
        )

    have_paris = any(
        os.path.isfile(os.path.join(root, "Europe", "Paris")) for root in zoneinfo.TZPATH
    )
    cases = [
        ("missing", unpickle(text("Nowhere/Atlantis")), False),
        ("missing-nocache", unpickle(text("Nowhere/Else"), 0), False),
        ("dotdot", unpickle(text("../../etc/passwd")), False),
        ("absolute", unpickle(text("/etc/localtime")), False),
        ("nul", unpickle(text("Europe/Paris\x00")), False),
        ("not-text", unpickle(integer(1)), False),
        ("flag", unpickle(text("UTC"), 7), False),
    ]
    if have_paris:
        cases.append(("paris", unpickle(text("Europe/Paris")), True))
    outcomes = _probe(cases, _ZONE_MODULES, str(tmp_path))
    # plain pickle looks a key that is not under TZPATH up in the tzdata package
    assert "tzdata.zoneinfo.Nowhere" in outcomes["missing"][1]
    assert "tzdata.zoneinfo.Nowhere" in outcomes["missing-nocache"][1]


def test_a_graph_as_zone_key_is_never_hashed() -> None:
    refused_call("zoneinfo.ZoneInfo._unpickle", make_tuple_graph(40), 1)
    refused_call("zoneinfo.ZoneInfo._unpickle", "UTC", make_tuple_graph(40))


# === 3. rendering ==============================================================================


@pytest.mark.parametrize("graph", sorted(GRAPHS))
@pytest.mark.parametrize(
    "dotted",
    [
        "builtins.str",
        "builtins.bytes",
        "builtins.bytearray",
        "builtins.int",
        "builtins.float",
        "builtins.complex",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
        "uuid.SafeUUID",
        "ipaddress.IPv4Address",
        "ipaddress.IPv6Address",
        "ipaddress.IPv4Network",
        "ipaddress.IPv6Network",
        "ipaddress.IPv4Interface",
        "ipaddress.IPv6Interface",
        "collections.UserString",
        "pathlib.PurePosixPath",
        "pathlib.PureWindowsPath",
        "array.array",
    ],
)
def test_no_graph_is_ever_rendered(dotted: str, graph: str) -> None:
    """A 2**40-element graph as the argument: refused before anything renders it."""
    argument = GRAPHS[graph](40)
    if dotted == "array.array":
        argument = text(UNICODE) + argument
        if graph == "dict":  # array('u', {'a': ..., 'b': ...}) takes the keys: nothing renders
            assert safepickle.loads(stream(call(dotted, argument))) == array.array(UNICODE, "ab")
            return
    refused(stream(call(dotted, argument)))


@pytest.mark.parametrize(
    ("dotted", "rendered"),
    [
        ("builtins.str", len),
        ("uuid.SafeUUID", lambda exc: len(str(exc))),  # ValueError('%r is not a valid ...')
        ("ipaddress.IPv4Address", lambda exc: len(str(exc))),  # str(x), then %r of it
        ("collections.UserString", lambda result: len(result.data)),
    ],
)
def test_plain_pickle_renders_the_graph(dotted: str, rendered: Callable[[Any], int]) -> None:
    """What the refusal prevents: plain pickle renders every unfolded element (shown at a
    size it survives: 2**12 lists make a 10,000-character text)."""
    result = plain(stream(call(dotted, list_graph(12))))
    assert rendered(result) > 4 * 2**12


def test_uuid_state_is_checked_before_safeuuid_sees_it() -> None:
    """NEWOBJ uuid.UUID + BUILD {'int': 1, 'is_safe': graph}: UUID.__setstate__ calls
    SafeUUID(graph), which hashes the graph, then formats %r of it."""
    state = EMPTY_DICT + text("int") + integer(1) + SETITEM + text("is_safe") + tuple_graph(40)
    data = stream(glob("uuid.UUID") + EMPTY_TUPLE + NEWOBJ + state + SETITEM + BUILD)
    refused(data, ExecutionError)
    small = stream(
        glob("uuid.UUID")
        + EMPTY_TUPLE
        + NEWOBJ
        + EMPTY_DICT
        + text("int")
        + integer(1)
        + SETITEM
        + text("is_safe")
        + list_graph(12)
        + SETITEM
        + BUILD
    )
    assert len(str(plain(small))) > 4 * 2**12
    for bad in ({"int": -1}, {"int": 1 << 128}, {"int": "1"}, {}, {"int": 1, "x": 2}, [1]):
        blank = SUBS["uuid.UUID"]()
        with pytest.raises(ExecutionError):
            blank.__setstate__(bad)


@pytest.mark.parametrize(
    "args",
    [
        (make_list_graph(40),),
        ("x" * 100,),
        (None, b"\x00" * 15),
        (None, None, None, (1, 2, 3, 4, 5, make_tuple_graph(40))),
        (None, None, None, None, 1 << 128),
        (None, None, None, None, 5, make_list_graph(40)),
        ("12345678123456781234567812345678", b"\x00" * 16),
    ],
)
def test_uuid_arguments_are_typed(args: tuple[Any, ...]) -> None:
    refused_call("uuid.UUID", *args)


@pytest.mark.parametrize(
    ("dotted", "args"),
    [
        ("ipaddress.IPv4Address", (1 << 100_000,)),  # "%d (>2**32-1)" of a huge int
        ("ipaddress.IPv4Address", (b"\x00" * 5,)),
        ("ipaddress.IPv4Address", (ipaddress.IPv4Address(1),)),
        ("ipaddress.IPv4Address", ("1" * 100_000,)),
        ("ipaddress.IPv6Network", (("::", make_tuple_graph(40)),)),
        ("ipaddress.IPv4Network", (("1.0.0.0", 8), make_list_graph(40))),
        ("ipaddress.IPv4Interface", (("1.0.0.0", 8, 9),)),
        ("uuid.SafeUUID", (1,)),
        ("uuid.SafeUUID", ("0",)),
        ("collections.UserString", (b"x",)),
        ("collections.UserString", (collections.UserString("x"),)),
        ("pathlib.PurePosixPath", ("a", b"b")),
        ("pathlib.PurePosixPath", (pathlib.PurePosixPath("a"),)),
    ],
)
def test_value_constructors_take_their_pickled_argument_types_only(
    dotted: str, args: tuple[Any, ...]
) -> None:
    refused_call(dotted, *args)


def test_newobj_of_a_narrowed_builtin_is_refused() -> None:
    """copyreg.__newobj__(str, graph) is str.__new__(str, graph): the graph rendered."""
    refused(stream(call("copyreg.__newobj__", glob("builtins.str"), list_graph(40))))
    refused(stream(glob("builtins.str") + MARK + list_graph(40) + TUPLE + NEWOBJ))
    refused(
        stream(
            call(
                "copyreg._reconstructor",
                glob("builtins.str"),
                glob("builtins.str"),
                list_graph(40),
            )
        )
    )


# === 4. copies of shared values ================================================================


def _copies(dotted: str, times: int, argument: bytes) -> bytes:
    """A list of ``times`` calls ``dotted(argument)`` of one memoized argument."""
    calls = b"".join(glob(dotted) + MARK + get(0) + TUPLE + REDUCE for _ in range(times))
    return stream(argument + put(0) + POP + EMPTY_LIST + MARK + calls + APPENDS)


_MIB = 1 << 20
#: dotted name -> (one argument of about a MiB, what copying it once allocates at least)
COPIERS: dict[str, bytes] = {
    "builtins.bytearray": raw(b"x" * _MIB),
    "builtins.bytes": call("builtins.bytearray", raw(b"x" * _MIB)),  # bytes(bytearray) copies
    "builtins.list": EMPTY_LIST + MARK + integer(7) * 100_000 + APPENDS,
    "builtins.tuple": EMPTY_LIST + MARK + integer(7) * 100_000 + APPENDS,
    "builtins.set": EMPTY_LIST + MARK + b"".join(integer(i) for i in range(20_000)) + APPENDS,
    "builtins.frozenset": EMPTY_LIST
    + MARK
    + b"".join(integer(i) for i in range(20_000))
    + APPENDS,
    "builtins.dict": EMPTY_DICT + MARK + b"".join(integer(i) * 2 for i in range(20_000)) + b"u",
    "collections.OrderedDict": EMPTY_DICT
    + MARK
    + b"".join(integer(i) * 2 for i in range(20_000))
    + b"u",
    "collections.Counter": EMPTY_LIST
    + MARK
    + b"".join(integer(i) for i in range(20_000))
    + APPENDS,
    "collections.deque": EMPTY_LIST + MARK + integer(7) * 100_000 + APPENDS,
    "collections.UserList": EMPTY_LIST + MARK + integer(7) * 100_000 + APPENDS,
    "collections.UserDict": EMPTY_DICT
    + MARK
    + b"".join(integer(i) * 2 for i in range(20_000))
    + b"u",
}


def _call_repeatedly(function: Callable[..., object], args: tuple[Any, ...]) -> None:
    """Call ``function(*args)`` a thousand times, as a stream of memo references would."""
    for _ in range(1000):
        function(*args)


@pytest.mark.parametrize("dotted", sorted(COPIERS))
def test_copies_are_charged_before_they_are_made(dotted: str) -> None:
    """Each narrowed constructor charges the budget before it copies: a small budget refuses
    the fiftieth copy of one memoized argument (substitute called as the loader would)."""
    # the argument, built by plain pickle from the same opcodes (no call in them)
    argument = pickle.loads(PROTO + COPIERS[dotted] + STOP)
    with budget_module.opened(LoadBudget(max_result=8 * _MIB, max_hash_work=10**9)) as opened:
        with pytest.raises(LimitExceeded) as info:
            _call_repeatedly(SUBS[dotted], (argument,))
        assert info.value.limit == "max_result_bytes"
        assert opened.bytes_left < 0


@pytest.mark.parametrize(
    ("dotted", "args"),
    [
        ("builtins.str", (b"x" * _MIB, "utf-8")),
        ("builtins.str", (b"x" * _MIB, "latin-1", "strict")),
        ("builtins.str", (b"x" * _MIB,)),
        ("builtins.bytes", ("x" * _MIB, "ascii")),
        ("builtins.bytearray", ("x" * _MIB, "latin-1")),
        ("_codecs.encode", ("x" * _MIB, "latin1")),
        ("array.array", ("b", b"x" * _MIB)),
        ("array.array", ("q", list(range(100_000)))),
        ("array.array", (UNICODE, "x" * _MIB)),
        ("array._array_reconstructor", (array.array, "b", 1, b"x" * _MIB)),
        ("collections.defaultdict", (None, dict.fromkeys(range(20_000)))),
        ("pathlib.PurePosixPath", ("x" * _MIB, "y")),
        ("builtins.list", ("\u20ac" * 100_000,)),  # non-latin-1 characters are new objects
        ("builtins.list", (range(100_000),)),
    ],
)
def test_more_copies_are_charged(dotted: str, args: tuple[Any, ...]) -> None:
    opened = budget_module.opened(LoadBudget(max_result=8 * _MIB, max_hash_work=10**9))
    with opened, pytest.raises(LimitExceeded):
        _call_repeatedly(SUBS[dotted], args)


def test_a_copy_that_fits_the_budget_is_made() -> None:
    with budget_module.opened(LoadBudget(max_result=64 * _MIB)) as opened:
        assert SUBS["builtins.bytearray"](b"x" * _MIB) == bytearray(b"x" * _MIB)
        assert SUBS["builtins.list"]((1, 2, 3)) == [1, 2, 3]
    assert _MIB < opened.max_result - opened.bytes_left < 2 * _MIB


def test_nothing_is_charged_outside_a_load() -> None:
    assert budget_module.active() is None
    assert len(SUBS["builtins.bytearray"](b"x" * _MIB)) == _MIB


def test_plain_pickle_amplifies_one_memoized_value() -> None:
    """What the budget prevents: 1 MiB of pickle, 100 MiB of copies under plain pickle
    (shown at 20 copies)."""
    data = _copies("builtins.bytearray", 20, raw(b"x" * _MIB))
    assert sum(map(len, pickle.loads(data))) >= 20 * len(data) * 0.99


def _budget_is_wired() -> bool:
    """Whether safepickle.loads opens a budget around execution (safepickle/api.py)."""
    seen: list[object] = []
    original = narrowed.charge

    def spy(nbytes: int, what: str) -> None:
        seen.append(budget_module.active())
        original(nbytes, what)

    narrowed_charge_users = [
        module
        for module in sys.modules.values()
        if getattr(module, "__name__", "").startswith("safepickle.builtin.")
        and getattr(module, "charge", None) is original
    ]
    for module in narrowed_charge_users:
        module.charge = spy  # type: ignore[attr-defined]
    try:
        safepickle.loads(stream(call("builtins.bytearray", raw(b"x"))))
    finally:
        for module in narrowed_charge_users:
            module.charge = original  # type: ignore[attr-defined]
    return bool(seen) and seen[0] is not None


@pytest.mark.skipif(not _budget_is_wired(), reason="safepickle.loads does not open a budget yet")
@pytest.mark.parametrize("dotted", ["builtins.bytearray", "builtins.list", "builtins.tuple"])
def test_copies_are_refused_end_to_end(dotted: str) -> None:
    """Through safepickle.loads: one memoized argument of about 1 MiB copied 300 times (the
    default result bound of a stream that size is 100 MiB)."""
    argument = raw(b"x" * _MIB) if dotted == "builtins.bytearray" else COPIERS[dotted]
    error = refused(_copies(dotted, 300, argument), LimitExceeded)
    assert isinstance(error, LimitExceeded) and error.limit == "max_result_bytes"


# === 5. hashing ================================================================================

HASHERS = [
    "builtins.set",
    "builtins.frozenset",
    "collections.Counter",
]
PAIR_HASHERS = [
    "builtins.dict",
    "collections.OrderedDict",
    "collections.UserDict",
]


@pytest.mark.parametrize("dotted", HASHERS)
def test_hash_work_of_a_tuple_graph_is_refused(dotted: str) -> None:
    """set([g]) of g = (g', g') built 40 times: hashing it visits 2**40 leaves in C."""
    argument = EMPTY_LIST + MARK + tuple_graph(40) + APPENDS
    error = refused(stream(call(dotted, argument)))
    assert isinstance(error, LimitExceeded) and error.limit in ("max_hash_work", "max_depth")
    refused_call(dotted, [make_tuple_graph(40)], expect=LimitExceeded)
    refused_call(dotted, make_tuple_graph(40), expect=LimitExceeded)


@pytest.mark.parametrize("dotted", PAIR_HASHERS)
def test_hash_work_of_a_tuple_graph_key_is_refused(dotted: str) -> None:
    pair = MARK + tuple_graph(40) + integer(1) + TUPLE
    refused(stream(call(dotted, EMPTY_LIST + MARK + pair + APPENDS)))
    refused_call(dotted, [(make_tuple_graph(40), 1)], expect=LimitExceeded)


def test_defaultdict_items_are_hashed_under_the_guard() -> None:
    refused_call(
        "collections.defaultdict", None, [(make_tuple_graph(40), 1)], expect=LimitExceeded
    )
    refused_call("collections.defaultdict", list, [(1, 2, 3)])


def _colliding(count: int) -> list[int]:
    """``count`` distinct ints with one hash value."""
    return [5 + i * P for i in range(count)]


@pytest.mark.parametrize(
    "keys",
    [
        _colliding(1000),
        [(k,) for k in _colliding(1000)],  # tuple hashes combine their items' hashes
        [decimal.Decimal(k) for k in _colliding(200)],
        [fractions.Fraction(k) for k in _colliding(200)],
        [uuid.UUID(int=k) for k in _colliding(200)],
        ["a", 1.5, None, *_colliding(100)],
    ],
    ids=["ints", "tuples", "decimals", "fractions", "uuids", "mixed"],
)
@pytest.mark.parametrize("dotted", ["builtins.set", "builtins.frozenset", "collections.Counter"])
def test_hash_flooding_is_refused(dotted: str, keys: list[Any]) -> None:
    started = time.perf_counter()
    with pytest.raises(LimitExceeded) as info:
        SUBS[dotted](keys)
    assert info.value.limit == "max_hash_collisions"
    assert time.perf_counter() - started < 2.0


def test_hash_flooding_in_a_stream_is_refused() -> None:
    items = b"".join(integer(k) for k in _colliding(2000))
    refused(stream(call("builtins.set", EMPTY_LIST + MARK + items + APPENDS)), LimitExceeded)
    pairs = b"".join(MARK + integer(k) + integer(1) + TUPLE for k in _colliding(2000))
    refused(stream(call("builtins.dict", EMPTY_LIST + MARK + pairs + APPENDS)), LimitExceeded)


def test_the_collision_check_is_not_quadratic() -> None:
    """200,000 colliding keys: refused in a C pass and limit + 1 comparisons per key."""
    keys = _colliding(200_000)
    started = time.perf_counter()
    with pytest.raises(LimitExceeded):
        check_collisions(keys, 64)
    assert time.perf_counter() - started < 3.0


def test_equal_keys_are_not_collisions() -> None:
    check_collisions([5] * 100_000, 64)
    check_collisions([(1, "a")] * 1000 + [tuple([1, "a"]) for _ in range(1000)], 64)
    check_collisions(_colliding(64), 64)
    with pytest.raises(LimitExceeded):
        check_collisions(_colliding(65), 64)
    assert SUBS["builtins.set"]([7] * 10_000) == {7}


def test_hash_cost_counts_unfolded() -> None:
    assert hash_cost(5, 10) == 1
    assert hash_cost((1, "a", (2.5, None)), 10) == 6
    assert hash_cost(make_tuple_graph(10), 10**6) == 2**11 - 1
    assert hash_cost(1 << 4096, 100) == 1 + 4097 // 256
    shared = frozenset(range(1000))
    assert hash_cost((shared, shared, shared), 10**6) == 4 + 1000  # its hash is cached
    assert hash_cost(slice(1, (2, 3), None), 10) == 6
    assert hash_cost(uuid.UUID(int=5), 10) == 2
    with pytest.raises(LimitExceeded):
        hash_cost(make_tuple_graph(60), 10**7)
    started = time.perf_counter()
    with pytest.raises(LimitExceeded):
        hash_cost(make_tuple_graph(60), 50_000_000)
    assert time.perf_counter() - started < 2.0


def test_guard_keys_charges_the_budget() -> None:
    with budget_module.opened(LoadBudget(max_result=1 << 30, max_hash_work=10_000)) as opened:
        guard_keys(list(range(5000)), "set(...)")
        assert opened.hash_left == 5000
        guard_keys([(i, i) for i in range(1000)], "set(...)")
        assert opened.hash_left < 5000 - 3000
        with pytest.raises(LimitExceeded) as info:
            guard_keys([(i, i) for i in range(3000)], "set(...)")
        assert info.value.limit == "max_hash_work"
    with budget_module.opened(
        LoadBudget(max_result=1 << 30, max_hash_work=10**9, max_hash_collisions=3)
    ):
        with pytest.raises(LimitExceeded):
            guard_keys(_colliding(4), "set(...)")
        guard_keys(_colliding(3), "set(...)")


def test_collision_counter() -> None:
    counter = CollisionCounter(limit=8)
    big = [k for k in _colliding(8) if k >= P]  # 7 distinct keys past the modulus
    for key in big[:6] * 2 + ["a", b"b", 5, 6, -1, -2] + list(range(100_000)):
        counter.add(1, key)  # duplicates, strs, small ints: nothing stored for most
    for key in big[:6]:
        counter.add(2, key)  # another container
    with pytest.raises(LimitExceeded) as info:  # the 7th: 7 + 2 possible small ints > 8
        counter.add(1, big[6])
    assert info.value.limit == "max_hash_collisions"
    counter.forget(1)
    counter.add(1, big[6])
    exact = CollisionCounter(limit=1)  # below 3, small ints are counted too
    exact.add(1, -1)
    with pytest.raises(LimitExceeded):
        exact.add(1, -2)  # hash(-1) == hash(-2)
    pairs = CollisionCounter(limit=2)
    pairs.add(1, 5)
    pairs.add(1, 5 + P)
    with pytest.raises(LimitExceeded):
        pairs.add(1, 5 + 2 * P)


def test_keys_with_stored_hashes_are_not_rehashed() -> None:
    """set(a set), dict(a dict) reuse the stored hashes: no guard walk, whatever the keys."""
    big = {make_tuple_graph(20)}  # built once, outside
    assert SUBS["builtins.set"](big) == big
    assert SUBS["builtins.frozenset"](big) == frozenset(big)


# === 6. benign values load as pickle loads them ===============================================


class MyList(list):  # type: ignore[type-arg]
    pass


class MyStr(str):
    __slots__ = ()


class MyInt(int):
    pass


class MyDict(dict):  # type: ignore[type-arg]
    pass


class MyTuple(tuple):  # type: ignore[type-arg]
    __slots__ = ()


class MyFrozenset(frozenset):  # type: ignore[type-arg]
    __slots__ = ()


class MyBytes(bytes):
    __slots__ = ()


class MyFloat(float):
    __slots__ = ()


class MySet(set):  # type: ignore[type-arg]
    pass


class MyArray(array.array):  # type: ignore[type-arg]
    """array is a heap type: copyreg's rule picks it as the base by its own __new__."""


class MyDeque(collections.deque):  # type: ignore[type-arg]
    pass


def _benign() -> Iterator[Any]:
    yield {1, 2, (3, "x")}
    yield frozenset({1, frozenset({2})})
    yield b"ab"
    yield b""
    yield bytearray(b"ab\xff")
    yield 1 + 2j
    yield slice(1, 2, None)
    yield range(3, 30, 2)
    yield collections.OrderedDict(a=1, b=[2])
    yield collections.defaultdict(set, a={1})
    yield collections.defaultdict(list, a=[1])
    yield collections.defaultdict(int)
    yield collections.deque([1, 2], 3)
    yield collections.Counter("abracadabra")
    yield collections.ChainMap({1: 2}, {3: 4})
    yield collections.UserDict(a=1)
    yield collections.UserList([1, [2]])
    yield array.array("i", [1, -2])
    yield array.array("d", [1.5])
    yield array.array("B", b"xyz")
    yield datetime.datetime(2020, 1, 1, 12, tzinfo=datetime.timezone.utc)
    yield datetime.date(2020, 2, 29)
    yield datetime.time(1, 2, 3, 4)
    yield datetime.timedelta(days=-3, microseconds=7)
    yield datetime.timezone(datetime.timedelta(hours=-5), "EST")
    yield decimal.Decimal("-1.5E+10")
    yield decimal.Decimal("NaN12")
    yield decimal.Decimal("-Infinity")
    yield decimal.Decimal("1e4299")
    yield fractions.Fraction(-1, 3)
    yield uuid.UUID(int=5, is_safe=uuid.SafeUUID.safe)
    yield uuid.UUID("12345678-1234-5678-1234-567812345678")
    yield uuid.SafeUUID.unknown
    yield ipaddress.IPv4Address("10.0.0.1")
    yield ipaddress.IPv6Address("fe80::1%eth0")
    yield ipaddress.IPv4Network("10.0.0.0/8")
    yield ipaddress.IPv6Network("2001:db8::/32")
    yield ipaddress.IPv4Interface("10.1.2.3/24")
    yield ipaddress.IPv6Interface("::1/64")
    yield pathlib.PurePosixPath("/a/b")
    yield pathlib.PureWindowsPath("c:/x/y")
    yield ...
    yield NotImplemented
    yield {(1, 2): "x", 3.5: None, "s": b"b"}
    yield object()


def _same(loaded: Any, expected: Any) -> None:
    assert type(loaded) is type(expected)
    if isinstance(expected, collections.UserDict | collections.UserList | collections.ChainMap):
        assert vars(loaded) == vars(expected)
    elif isinstance(expected, decimal.Decimal):
        assert loaded.as_tuple() == expected.as_tuple()
    elif type(expected) is object:
        pass
    else:
        assert loaded == expected
    if isinstance(expected, collections.defaultdict):
        assert loaded.default_factory is expected.default_factory
    if isinstance(expected, uuid.UUID):
        assert loaded.is_safe is expected.is_safe


@pytest.mark.parametrize("value", list(_benign()), ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_benign_values_load_as_pickle_loads_them(value: Any, protocol: int) -> None:
    data = pickle.dumps(value, protocol)
    _same(safepickle.loads(data), pickle.loads(data))


def test_zone_infos_load_as_pickle_loads_them() -> None:
    try:
        zone = zoneinfo.ZoneInfo("Europe/Paris")
    except zoneinfo.ZoneInfoNotFoundError:  # pragma: no cover - no tz data here
        pytest.skip("no time-zone data")
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert safepickle.loads(pickle.dumps(zone, protocol)) is zone
        moment = datetime.datetime(2024, 7, 1, tzinfo=zone)
        assert safepickle.loads(pickle.dumps(moment, protocol)) == moment


@pytest.mark.parametrize(
    "value",
    [
        MyList([1, 2]),
        MyStr("abc"),
        MyInt(5),
        MyDict(a=1),
        MyTuple((1, 2)),
        MyFrozenset({3}),
        MyBytes(b"ab"),
        MyFloat(1.5),
        MySet({1, (2, 3)}),
        MyArray("b", b"xy"),
        MyDeque([1, 2]),
    ],
    ids=lambda v: type(v).__name__,
)
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_subclasses_of_narrowed_builtins_still_load(value: Any, protocol: int) -> None:
    """Protocols 0-1 write copyreg._reconstructor(cls, base, state): the state goes through
    the base's narrowed constructor, and the instance is still built."""
    data = pickle.dumps(value, protocol)
    loaded = safepickle.loads(data, allow=[type(value)])
    assert type(loaded) is type(value) and loaded == value


def test_every_default_name_is_accounted_for() -> None:
    """Each allowed callable is either narrowed or listed here as safe with any arguments."""
    real = {
        "builtins.slice",
        "builtins.bool",
        "builtins.object",
        "builtins.Ellipsis",
        "builtins.NotImplemented",
        "datetime.date",
        "datetime.time",
        "datetime.datetime",
        "datetime.timedelta",
        "datetime.timezone",
        "datetime.tzinfo",
        "collections.ChainMap",
    }
    assert set(SAFE_GLOBALS) == set(SUBS) | real
    assert not set(SUBS) & real


@pytest.mark.parametrize(
    "dotted",
    [
        "datetime.date",
        "datetime.time",
        "datetime.datetime",
        "datetime.timedelta",
        "datetime.timezone",
        "builtins.slice",
        "builtins.bool",
        "collections.ChainMap",
    ],
)
@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_the_real_ones_never_render_a_graph(dotted: str, graph: str) -> None:
    """The callables handed out as they are: a graph argument fails fast, or is stored."""
    data = stream(call(dotted, GRAPHS[graph](40)))
    started = time.perf_counter()
    with contextlib.suppress(SafePickleError):
        safepickle.loads(data)
    assert time.perf_counter() - started < 5.0


@pytest.mark.parametrize("opcode", [REDUCE, NEWOBJ], ids=["REDUCE", "NEWOBJ"])
@pytest.mark.parametrize("graph", sorted(GRAPHS))
@pytest.mark.parametrize("dotted", sorted(SAFE_GLOBALS))
def test_every_default_name_is_bounded_with_a_graph_argument(
    dotted: str, graph: str, opcode: bytes
) -> None:
    """Every name the default policy allows, called (REDUCE) or instantiated (NEWOBJ, which
    calls ``cls.__new__`` directly, bypassing a metaclass) with a 2**40-element graph: a
    safepickle error or a value, quickly, never a render or a hash of the graph."""
    data = stream(glob(dotted) + MARK + GRAPHS[graph](40) + TUPLE + opcode)
    started = time.perf_counter()
    with contextlib.suppress(SafePickleError):
        safepickle.loads(data)
    assert time.perf_counter() - started < 5.0


def test_newobj_of_safeuuid_never_looks_the_graph_up() -> None:
    """An enum's own __new__ hashes its value (and formats %r of it when that fails)."""
    refused(stream(glob("uuid.SafeUUID") + MARK + tuple_graph(40) + TUPLE + NEWOBJ))
    refused(stream(call("copyreg.__newobj__", glob("uuid.SafeUUID"), list_graph(40))))
    member = stream(glob("uuid.SafeUUID") + MARK + integer(0) + TUPLE + NEWOBJ)
    assert safepickle.loads(member) is uuid.SafeUUID.safe


def test_narrowing_errors_name_what_was_refused() -> None:
    """A refused call is an ExecutionError, as the real constructor's own rejection of its
    arguments would be (only running the stream shows them: docs/scanning.md), and it says
    which global, what was refused and what is accepted."""
    error = refused(stream(call("builtins.str", list_graph(5))), ExecutionError)
    assert type(error) is ExecutionError
    assert "'builtins.str'" in str(error) and "str of a list" in str(error)
    assert "str(bytes, encoding" in str(error)
    assert error.__cause__ is None  # nothing ran: refused before the real constructor


@pytest.mark.parametrize(
    "allow",
    [["builtins.bytes"], ["builtins:*"], ["builtins.bytearray", "builtins.bytes"]],
    ids=["exact", "wildcard", "two-entries"],
)
@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x30\x85R.",  # bytes(805,306,368)
        b"\x80\x02c__builtin__\nbytearray\nJ\x00\x00\x00\x30\x85R.",
        b"\x80\x04\x8c\x08builtins\x8c\x05bytes\x93J\x00\x00\x00\x30\x85R.",
    ],
    ids=["bytes-p2", "bytearray-p2", "bytes-p4"],
)
def test_a_user_allow_of_a_narrowed_global_keeps_it_narrowed(
    allow: list[str], data: bytes
) -> None:
    """Allowing ``builtins.bytes`` by name admits the type, not a 30-byte pickle that
    allocates 800 MB: the narrowed stand-in stays, whoever allowed the name."""
    with pytest.raises(ExecutionError) as refused:
        safepickle.loads(data, allow=allow)
    assert "narrowed" in str(refused.value)
    assert safepickle.loads(pickle.dumps([b"ab", bytearray(b"x")]), allow=allow) == [
        b"ab",
        bytearray(b"x"),
    ]
