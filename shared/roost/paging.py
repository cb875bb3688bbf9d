"""Answers cut to a byte budget: a method takes as many items as fit and says where the
next page starts, so no answer outgrows the broker's packet limit however much is stored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic_core import to_json

T = TypeVar("T")


def json_size(value: object) -> int:
    """Bytes of `value` as compact JSON."""
    return len(to_json(value))


def fitting(items: Sequence[T], budget: int, size: Callable[[T], int]) -> int:
    """How many of `items`, from the first, fit in `budget` bytes together (at least one,
    so a page always makes progress; a single item over the whole budget is the node's
    `too_large` answer)."""
    used = 0
    for count, item in enumerate(items):
        used += size(item) + 1  # and its comma
        if used > budget:
            return max(count, 1)
    return len(items)
