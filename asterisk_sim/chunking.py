"""Chunking policies: how one AMI block is cut into TCP writes."""

from __future__ import annotations

import random
from collections.abc import Callable

Splitter = Callable[[bytes], list[bytes]]


def whole(data: bytes) -> list[bytes]:
    return [data]


def every_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def split_at(*offsets: int) -> Splitter:
    """Cut every block at the given byte offsets (those beyond the block are ignored)."""

    def split(data: bytes) -> list[bytes]:
        cuts = sorted({o for o in offsets if 0 < o < len(data)})
        bounds = [0, *cuts, len(data)]
        return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]

    return split


def random_splitter(seed: int, max_parts: int = 4) -> Splitter:
    rng = random.Random(seed)

    def split(data: bytes) -> list[bytes]:
        if len(data) < 2:
            return [data]
        n = rng.randint(0, min(max_parts - 1, len(data) - 1))
        return split_at(*rng.sample(range(1, len(data)), n))(data)

    return split
