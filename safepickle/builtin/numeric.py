"""Narrowed numeric constructors: ``int``, ``float``, ``complex``, ``Decimal``, ``Fraction``.

A number in a pickle is small to write and may be huge to convert: ``Decimal("1e1000000")`` is
13 bytes, and ``int()`` of it computes a million-digit integer for minutes; converting an int
to decimal digits, and the gcd in ``Fraction(p, q)``, are quadratic in the int's size. Each
constructor here bounds what it builds by ``max_int_digits`` (default 4,300, CPython's own
default limit for int/str conversion, which Python 3.10 before 3.10.7 lacks, and which a
program may switch off):

* ``Decimal``: a coefficient of at most ``max_int_digits`` digits, and an adjusted exponent
  (the exponent of the leading digit) ``e`` with ``-max_int_digits <= e < max_int_digits``. So
  ``int(d)`` has at most ``max_int_digits`` digits (and converts back to text under CPython's
  default limit), ``float(d)`` and ``Fraction(d)`` are cheap, and ``format(d, "f")`` writes
  at most about ``3 * max_int_digits`` characters, whatever a program does with it later.
* ``Fraction``: ``"p/q"`` text or ints of at most ``max_int_digits`` digits, no exponents.
* ``int``: from text of at most ``max_int_digits`` digits, from a bounded ``Decimal``.
* ``int``, ``float``, ``complex``: only from numbers and text (a ``UserString`` converts
  whatever state a ``BUILD`` gave it).

Every Decimal and Fraction a load makes comes from here, so their later conversions are bounded
too.
"""

from __future__ import annotations

import decimal
import fractions
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from safepickle.errors import ExecutionError

from .narrowed import charge_work, quadratic, refuse, register, type_name

__all__ = ["numeric_substitutes"]

_Decimal = decimal.Decimal
_Fraction = fractions.Fraction
_NUMBERS = (int, bool, float, _Decimal, _Fraction)


def _too_big(what: str, digits: int) -> ExecutionError:
    # an ExecutionError, as every refusal of a narrowed constructor's arguments (see refuse)
    return ExecutionError(
        f"safepickle refuses {what} past max_int_digits={digits:,} (converting bigger numbers "
        "is quadratic, or unbounded for Decimal exponents); if you trust this input, raise it: "
        "Policy(limits=Limits(max_int_digits=...))"
    )


def _text_digits(text: str | bytes | bytearray) -> int:
    """Digits a number written as ``text`` has at most: its length without the surrounding
    whitespace and the underscores ``int()`` and ``Decimal()`` accept between digits."""
    stripped = text.strip()
    underscore: Any = "_" if isinstance(stripped, str) else b"_"
    return len(stripped) - stripped.count(underscore)


#: the work of parsing one character of number text, in bytes of copying (measured: float and
#: complex about 14, Decimal about 76)
_PARSE = 16
_PARSE_DECIMAL = 80
#: numbers this short convert in about the time the call itself takes, which is not charged
#: for any callable: only the work that grows with the argument is
_SHORT = 64


def _int_digits(value: int) -> int:
    """Decimal digits of ``value``, from its bits (an upper bound)."""
    return value.bit_length() * 30103 // 100000 + 1


@lru_cache(maxsize=16)
def numeric_substitutes(digits: int) -> dict[str, Callable[..., Any]]:
    """The narrowed numeric constructors for ``max_int_digits=digits``, by dotted name."""
    bound = 10**digits  # ints in (-bound, bound) have at most ``digits`` digits
    fraction_text = re.compile(rf"\s*[+-]?[0-9]{{1,{digits}}}(?:/[0-9]{{1,{digits}}})?\s*\Z")

    def small(value: int) -> bool:
        return bool(-bound < value < bound)

    def check_decimal(value: decimal.Decimal, count_digits: bool) -> decimal.Decimal:
        # adjusted() is the exponent of the leading digit (0 for NaN and Infinity); the digits
        # of a Decimal parsed from text are at most the text's characters
        if not -digits <= value.adjusted() < digits or (
            count_digits and len(value.as_tuple().digits) > digits
        ):
            raise _too_big("a Decimal's digits and exponent", digits)
        return value

    def check_fraction(value: fractions.Fraction, what: str) -> int:
        """The digits of the larger part of a Fraction; refuses parts a BUILD made huge (or
        not ints: the slots are state like any other)."""
        try:
            parts: tuple[object, ...] = (value.numerator, value.denominator)
        except AttributeError:
            parts = ()
        found = [part for part in parts if type(part) is int and small(part)]
        if len(found) != 2:
            raise _too_big(f"{what} of a Fraction whose parts", digits)
        return max(map(_int_digits, found))

    def decimal_(value: Any = "0", *rest: Any) -> decimal.Decimal:
        if rest and (len(rest) > 1 or rest[0] is not None):
            raise refuse("decimal.Decimal", "only Decimal(value) is accepted, with no context")
        kind = type(value)
        if kind is str:  # what pickles hold: checked inline, this is the hot path
            size = len(value)
            if size > _SHORT:
                # a sign, a point, an exponent, NaN ...; whitespace and underscores not counted
                if size > 2 * digits + 32 and _text_digits(value) > 2 * digits + 32:
                    raise _too_big("Decimal text", digits)
                charge_work(_PARSE_DECIMAL * size, "Decimal(text) conversion work")
            result = _Decimal(value)
            if not -digits <= result.adjusted() < digits or (
                size > digits and len(result.as_tuple().digits) > digits
            ):
                raise _too_big("a Decimal's digits and exponent", digits)
            return result
        if kind is int or kind is bool:
            if not small(value):
                raise _too_big("Decimal(int)", digits)
            size = _int_digits(value)
            if size > _SHORT:
                charge_work(3 * quadratic(size), "Decimal(int) conversion work")
            return check_decimal(_Decimal(value), False)
        if kind is float or kind is _Decimal:
            return check_decimal(_Decimal(value), True)
        if kind is tuple:  # (sign, digits, exponent), as Decimal.as_tuple() gives it
            if (
                len(value) != 3
                or type(value[1]) is not tuple
                or len(value[1]) > digits
                or not ((type(value[2]) is int and small(value[2])) or type(value[2]) is str)
            ):
                raise refuse(
                    "decimal.Decimal",
                    f"Decimal((sign, digits, exponent)) takes at most {digits:,} digits and an "
                    "int exponent",
                )
            return check_decimal(_Decimal(value), False)
        raise refuse(
            "decimal.Decimal",
            f"Decimal of a {type_name(value)}: only str, int, float, Decimal and "
            "(sign, digits, exponent) are accepted",
        )

    def fraction_(*args: Any) -> fractions.Fraction:
        if len(args) == 1 and type(args[0]) is str:
            if not fraction_text.match(args[0]):
                raise refuse(
                    "fractions.Fraction",
                    f"Fraction text must be 'p/q' with at most {digits:,} digits each (no "
                    "exponents: Fraction('1e999999999') computes a giant power)",
                )
            if len(args[0]) > _SHORT:  # two conversions and a gcd
                charge_work(3 * quadratic(len(args[0])), "Fraction(text) conversion work")
            return _Fraction(args[0])
        if len(args) > 2:
            raise refuse("fractions.Fraction", "Fraction takes at most two arguments")
        work = 0
        for arg in args:
            kind = type(arg)
            if kind is int or kind is bool:
                if not small(arg):
                    raise _too_big("Fraction(int)", digits)
                work = max(work, _int_digits(arg))
            elif kind is _Decimal and len(args) == 1:  # Fraction(Decimal) computes 10**exp
                check_decimal(arg, True)
                work = digits
            elif kind is _Fraction and len(args) == 1:
                work = check_fraction(arg, "Fraction")
            elif not (len(args) == 1 and kind is float):
                raise refuse(
                    "fractions.Fraction",
                    f"Fraction of a {type_name(arg)}: only Fraction('p/q'), Fraction(p, q) of "
                    "ints, and Fraction of one float, Decimal or Fraction are accepted",
                )
        if work > _SHORT:  # the gcd
            charge_work(2 * quadratic(work), "Fraction(...) conversion work")
        return _Fraction(*args)

    def int_(*args: Any) -> int:
        if not args:
            return 0
        value = args[0]
        kind = type(value)
        if len(args) == 2:
            if kind not in (str, bytes, bytearray) or type(args[1]) is not int:
                raise refuse("builtins.int", "int(x, base) takes text and an int base only")
        elif len(args) > 2:
            raise refuse("builtins.int", "int takes at most two arguments")
        elif kind is int or kind is bool or kind is float:
            return int(value)
        elif kind is _Fraction:
            charge_work(quadratic(check_fraction(value, "int()")), "int(Fraction) conversion work")
            return int(value)
        elif kind is _Decimal:
            if value.is_finite():
                if value.adjusted() >= digits:
                    raise _too_big("int(Decimal)", digits)
                charge_work(
                    6 * quadratic(max(value.adjusted() + 1, 0)), "int(Decimal) conversion work"
                )
            return int(value)
        elif kind not in (str, bytes, bytearray):
            raise refuse(
                "builtins.int",
                f"int of a {type_name(value)}: only numbers and text are accepted",
            )
        count = _text_digits(value)
        if count > digits + 2:  # a sign, a 0x prefix
            raise _too_big("int(text)", digits)
        if count > _SHORT:
            charge_work(quadratic(count), "int(text) conversion work")
        return int(*args)

    def real_part(arg: Any, dotted: str) -> None:
        """Checks and charges one number or text that float() or complex() will convert."""
        kind = type(arg)
        if kind is str or kind is bytes or kind is bytearray:
            if len(arg) > _SHORT:
                charge_work(_PARSE * len(arg), "float or complex (text) conversion work")
        elif kind is _Fraction:
            charge_work(
                quadratic(check_fraction(arg, dotted)),
                "float or complex (Fraction) conversion work",
            )
        elif kind is _Decimal:
            check_decimal(arg, False)  # bounded when made; float() formats it as text
            charge_work(_PARSE * 2 * digits, "float or complex (Decimal) conversion work")

    def float_(*args: Any) -> float:
        if not args:
            return 0.0
        if len(args) > 1 or type(args[0]) not in (*_NUMBERS, str, bytes, bytearray):
            raise refuse(
                "builtins.float",
                f"float of a {type_name(args[0])}: only one number or text is accepted",
            )
        real_part(args[0], "float")
        return float(args[0])

    def complex_(*args: Any) -> complex:
        if len(args) > 2 or not all(
            type(arg) in _NUMBERS or type(arg) is complex or (type(arg) is str and len(args) == 1)
            for arg in args
        ):
            raise refuse(
                "builtins.complex",
                "only complex(real[, imag]) of numbers, or complex(text), is accepted",
            )
        for arg in args:
            real_part(arg, "complex")
        return complex(*args)

    return {
        "decimal.Decimal": register(decimal_, _Decimal),
        "fractions.Fraction": register(fraction_, _Fraction),
        "builtins.int": register(int_, int),
        "builtins.float": register(float_, float),
        "builtins.complex": register(complex_, complex),
    }
