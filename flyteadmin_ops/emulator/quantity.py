"""Kubernetes resource quantities (`k8s.io/apimachinery/pkg/api/resource`), as flyteadmin's task validation
parses, compares and prints them.

A quantity keeps the format it was written in: binary suffixes (`Ki` ... `Ei`), a decimal exponent (`1e3`)
or decimal SI (none, `n u m k M G T P E`). Precision finer than nano is rounded up. `value()` is the
integer value rounded up (`Quantity.Value()`: `1500m` compares as 2), and `canonical()` is
`Quantity.String()`: binary quantities stay binary when whole and at least 1024 (`2048Mi` -> `2Gi`,
`1.5Gi` -> `1536Mi`), else decimal with the exponent made a multiple of three (`0.5` -> `500m`, `1500m`).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from fractions import Fraction

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {exponent: suffix for suffix, exponent in _DECIMAL.items()}
_BINARY_SUFFIX = {power // 10: suffix for suffix, power in _BINARY.items()}
_SHAPE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)")
_NANO = Fraction(1, 10**9)

FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
BAD_SUFFIX = "unable to parse quantity's suffix"


class QuantityError(ValueError):
    """`resource.ParseQuantity` refused the text; the message is Go's error text."""


@dataclass(frozen=True)
class Quantity:
    amount: Fraction
    binary: bool  # written with a binary suffix
    exponent_form: bool  # written as a decimal exponent (`1e3`)

    def value(self) -> int:
        """`Quantity.Value()`: the integer value, rounded up."""
        return math.ceil(self.amount)

    def canonical(self) -> str:
        """`Quantity.String()`."""
        amount = self.amount
        if amount == 0:
            return "0"
        binary = self.binary and not (-1024 < amount < 1024) and amount.denominator == 1
        if binary:
            number, power = int(amount), 0
            while number % 1024 == 0:
                number //= 1024
                power += 1
            return f"{number}{_BINARY_SUFFIX.get(power, '')}"
        exponent = 0
        while amount.denominator != 1:
            amount *= 10
            exponent -= 1
        number = int(amount)
        while number % 10 == 0:
            number //= 10
            exponent += 1
        shift = exponent % 3
        number *= 10**shift
        exponent -= shift
        if self.exponent_form:
            return f"{number}e{exponent}" if exponent else str(number)
        return f"{number}{_DECIMAL_SUFFIX.get(exponent, '')}"


@functools.lru_cache(maxsize=1024)
def parse_quantity(text: str) -> Quantity:
    """`resource.ParseQuantity`. Cached: a pure function of the text (a Quantity is immutable), asked again
    for every task of a registration (the same few requests, limits and platform ceilings)."""
    match = _SHAPE.fullmatch(text)
    if not text or match is None:
        raise QuantityError(FORMAT_WRONG)
    sign, whole, fraction, suffix = match.groups()
    if not whole and not fraction:
        raise QuantityError(FORMAT_WRONG)
    number = Fraction(int(whole or "0")) + (Fraction(int(fraction), 10 ** len(fraction)) if fraction else 0)
    binary = exponent_form = False
    if suffix in _BINARY:
        number *= 2 ** _BINARY[suffix]
        binary = True
    elif suffix in _DECIMAL:
        number *= Fraction(10) ** _DECIMAL[suffix]
    elif re.fullmatch(r"[eE][+-]?[0-9]+", suffix):
        number *= Fraction(10) ** int(suffix[1:])
        exponent_form = True
    elif re.fullmatch(r"[eEinumkKMGTP]*[-+]?[0-9]*", suffix):
        raise QuantityError(BAD_SUFFIX)
    else:
        raise QuantityError(FORMAT_WRONG)
    number = Fraction(math.ceil(number / _NANO)) * _NANO  # finer than nano rounds up
    return Quantity(-number if sign == "-" else number, binary, exponent_form)
