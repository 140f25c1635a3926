"""Clocks for the simulator: wall time or a virtual time that jumps when everyone waits.

VirtualClock rule: time advances only when every simulated party sleeps on the clock and no
request to an external peer (FastAGI connect / reply) is outstanding (``hold()``). Then it jumps to
the earliest deadline. Parties that are merely runnable keep time still, so the outcome depends on
simulated events, not on how fast the host runs.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    async def sleep_until(self, when: float) -> None: ...

    @contextmanager
    def hold(self) -> Iterator[None]: ...


class RealClock:
    """Wall clock; ``hold`` is a no-op."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, when: float) -> None:
        await self.sleep(when - self.now())

    @contextmanager
    def hold(self) -> Iterator[None]:
        yield


class VirtualClock:
    """Simulated epoch time driven by an advancer task bound to the running loop."""

    SETTLE_ROUNDS = 20

    def __init__(self, start: float = 1795746830.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._holds = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + max(0.0, seconds))

    async def sleep_until(self, when: float) -> None:
        self._ensure_running()
        if when <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (when, next(self._seq), fut))
        self._poke()
        await fut

    @contextmanager
    def hold(self) -> Iterator[None]:
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._advance_forever())

    async def _settle(self) -> None:
        for _ in range(self.SETTLE_ROUNDS):
            await asyncio.sleep(0)

    async def _advance_forever(self) -> None:
        assert self._wake is not None
        while True:
            await self._settle()
            self._drop_cancelled()
            if self._holds == 0 and self._heap:
                when = self._heap[0][0]
                self._now = max(self._now, when)
                while self._heap and self._heap[0][0] <= self._now:
                    _, _, fut = heapq.heappop(self._heap)
                    if not fut.done():
                        fut.set_result(None)
                continue
            self._wake.clear()
            await self._wake.wait()

    def _drop_cancelled(self) -> None:
        while self._heap and self._heap[0][2].done():
            heapq.heappop(self._heap)
