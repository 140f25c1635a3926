"""The decider the FastAGI server holds: the current `RouteDecider`, swappable on reload, timed.

A `Decider` (agi_scripts/decision.py) in its own right: the server is handed it as it is.
"""

from __future__ import annotations

import asyncio
import logging

from agi_scripts.decision import PendingDecision, RouteDecider
from agi_scripts.env import AgiEnv
from callrouter import metrics
from router.directory import Directory

log = logging.getLogger(__name__)


def _observe(basis: str, seconds: float) -> None:
    metrics.DECISION_SECONDS.labels(basis).observe(seconds)


class SwappableDecider:
    """Forwards to one `RouteDecider`; `swap()` makes new calls use another (SIGHUP).

    A call already deciding keeps the decider it started with. Every decision's latency goes to
    `callrouter_routing_decision_seconds`.
    """

    def __init__(self, decider: RouteDecider, refresh_seconds: float) -> None:
        self.current = decider
        self.refresh_seconds = refresh_seconds
        self._retired: list[RouteDecider] = []

    @property
    def directory(self) -> Directory | None:
        return self.current.directory

    def phones(self) -> list[str]:
        return self.current.phones()

    def swap(self, decider: RouteDecider, refresh_seconds: float) -> None:
        self._retired.append(self.current)  # its abandoned lookups still need settling
        self.current, self.refresh_seconds = decider, refresh_seconds

    async def settle(self, within: float) -> None:
        """Let abandoned lookups of every decider used so far finish (before the engine goes)."""
        deciders = [*self._retired, self.current]
        await asyncio.gather(*(decider.settle(within) for decider in deciders))

    def start(self, env: AgiEnv) -> PendingDecision:
        return self.current.start(env, _observe)

    async def refresh(self) -> None:
        await self.current.refresh()

    async def keep_fresh(self) -> None:
        """Refresh whichever decider is current, every `refresh_seconds`, until cancelled."""
        while True:
            try:
                await self.current.refresh()
            except Exception as exc:
                log.warning("directory refresh failed: %s", exc.__class__.__name__)
            await asyncio.sleep(self.refresh_seconds)
