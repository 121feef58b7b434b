"""Records the organisation pickles: plain fields, reviewed and allowed."""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field


@dataclass
class Customer:
    name: str
    email: str


@dataclass
class Order:
    number: int
    customer: Customer
    total: decimal.Decimal
    lines: list[str] = field(default_factory=list)


@dataclass
class Invoice:
    """Never reviewed: the settings in the tests leave it out on purpose."""

    order: Order
