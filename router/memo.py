"""Values worked out once per object and kept by the object's identity.

The routing hot path derives the same things call after call from objects that a directory load
creates once (a plan's steps, a Dial of its schedule): keyed by `id()`, with the object itself
kept beside the value so that its id cannot be reused by another object while the entry lives.
Bounded: past `limit` entries it starts again (a directory has a handful of distinct plans).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityMemo(Generic[K, V]):
    def __init__(self, make: Callable[[K], V], limit: int = 256) -> None:
        self._make = make
        self._limit = limit
        self._kept: dict[int, tuple[K, V]] = {}

    def __call__(self, key: K) -> V:
        kept = self._kept.get(id(key))
        if kept is not None and kept[0] is key:
            return kept[1]
        value = self._make(key)
        if len(self._kept) >= self._limit:
            self._kept.clear()
        self._kept[id(key)] = (key, value)
        return value
