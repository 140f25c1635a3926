"""Routing decisions within a time budget, from a cached directory when the database lags.

The hot path never waits for the database longer than `RoutingSettings.decision_budget_ms`.
The directory is loaded once, then refreshed in the background; a call whose lookup is too slow
(or fails) gets the default plan from the last directory loaded: the department first.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from agi_scripts.env import AgiEnv
from agi_scripts.source import DirectorySource
from callrouter.phones import try_normalize_phone
from callrouter.settings import RoutingSettings
from router.directory import ContactView, Directory
from router.plan import IncomingCall, RoutePlan, plan
from router.policy import policy_from_settings

log = logging.getLogger(__name__)


class DecisionBasis(enum.StrEnum):
    DIRECTORY = "directory"  # fresh contact lookup on a loaded directory
    LAST_DIRECTORY = "last_directory"  # lookup too slow or failed: default plan, cached directory
    FALLBACK_TARGETS = "fallback_targets"  # no directory ever loaded


@dataclass(frozen=True)
class Decision:
    plan: RoutePlan
    basis: DecisionBasis


class NoRouteAvailable(Exception):
    """No directory was ever loaded and there are no fallback targets: the dialplan decides."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def incoming_call(env: AgiEnv, region: str) -> IncomingCall:
    """The call as the router sees it; an unusable caller ID becomes None, never an error."""
    try:
        caller = try_normalize_phone(env.callerid[:64], region)
    except Exception:  # libphonenumber on hostile input: treat the caller as anonymous
        caller = None
    return IncomingCall(
        uniqueid=env.uniqueid[:64],
        caller=caller,
        caller_name=env.calleridname[:80],
        did=(env.dnid if env.dnid not in ("", "unknown") else env.extension)[:32],
    )


class RouteDecider:
    """Turns an AGI environment into a plan, within the budget, whatever the database does."""

    def __init__(
        self,
        source: DirectorySource,
        routing: RoutingSettings,
        region: str = "RU",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._source = source
        self._routing = routing
        self._policy = policy_from_settings(routing)
        self._region = region
        self._clock = clock
        self._budget = routing.decision_budget_ms / 1000
        self._directory: Directory | None = None
        self._phones = list(self._policy.fallback_targets)
        self._loaded_at = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self._abandoned: set[asyncio.Task[tuple[Directory, ContactView | None]]] = set()

    @property
    def directory(self) -> Directory | None:
        return self._directory

    def phones(self) -> list[str]:
        """Every phone a plan could ring now: the last directory's and the fallback targets
        (listed when a directory is loaded, not per call)."""
        return self._phones

    async def refresh(self) -> None:
        """Load the directory now (no budget: for start-up and the background loop)."""
        directory = await self._source.load_directory()
        self._directory = directory
        self._phones = [*(m.endpoint for m in directory.managers), *self._policy.fallback_targets]
        self._loaded_at = time.monotonic()

    async def keep_fresh(self) -> None:
        """Refresh every `directory_refresh_seconds` until cancelled; failures keep the old one."""
        while True:
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("directory refresh failed: %s", exc.__class__.__name__)
            await asyncio.sleep(self._routing.directory_refresh_seconds)

    async def decide(self, env: AgiEnv) -> Decision:
        """A plan for this call; raises NoRouteAvailable only when there is nothing to ring."""
        call = incoming_call(env, self._region)
        self._refresh_if_stale()
        # The lookup runs as its own task and is abandoned, not awaited, when the budget is
        # spent: cancelling a database call can itself block (SQLAlchemy's rollback waits for
        # an aiosqlite thread stuck on a lock), and the caller must not wait for that.
        lookup = asyncio.create_task(self._lookup(call))
        try:
            done, _ = await asyncio.wait({lookup}, timeout=self._budget)
        except asyncio.CancelledError:
            self._abandon(lookup)
            raise
        try:
            if not done:
                self._abandon(lookup)
                raise TimeoutError
            directory, contact = lookup.result()
        except Exception as exc:  # TimeoutError, the database's errors: same answer
            log.warning("routing lookup failed (%s), using the fallback", exc.__class__.__name__)
            return self._fallback(call)
        return Decision(self._plan(call, directory, contact), DecisionBasis.DIRECTORY)

    async def _lookup(self, call: IncomingCall) -> tuple[Directory, ContactView | None]:
        directory = self._directory or await self._first_load()
        return directory, await self._find(call)

    async def settle(self, within: float) -> None:
        """Give abandoned lookups up to `within` seconds to finish cleaning up (call before the
        database engine is disposed: a lookup still stuck in it would never complete)."""
        if self._abandoned:
            await asyncio.wait(set(self._abandoned), timeout=within)

    def _abandon(self, lookup: asyncio.Task[tuple[Directory, ContactView | None]]) -> None:
        """Cancel a lookup and let its cleanup finish in the background."""
        lookup.cancel()
        self._abandoned.add(lookup)
        lookup.add_done_callback(self._forget)

    def _forget(self, lookup: asyncio.Task[tuple[Directory, ContactView | None]]) -> None:
        self._abandoned.discard(lookup)
        if not lookup.cancelled() and lookup.exception() is not None:
            log.debug("abandoned routing lookup ended with %r", lookup.exception())

    async def _first_load(self) -> Directory:
        await self.refresh()
        assert self._directory is not None
        return self._directory

    async def _find(self, call: IncomingCall) -> ContactView | None:
        if call.caller is None:
            return None
        return await self._source.find_contact(call.caller)

    def _plan(
        self, call: IncomingCall, directory: Directory, contact: ContactView | None
    ) -> RoutePlan:
        return plan(call, directory, contact, self._clock(), self._policy)

    def _fallback(self, call: IncomingCall) -> Decision:
        if self._directory is not None:
            return Decision(self._plan(call, self._directory, None), DecisionBasis.LAST_DIRECTORY)
        if self._policy.fallback_targets:
            return Decision(self._plan(call, Directory(), None), DecisionBasis.FALLBACK_TARGETS)
        raise NoRouteAvailable("no directory loaded and no fallback targets")

    def _refresh_if_stale(self) -> None:
        stale = time.monotonic() - self._loaded_at > self._routing.directory_refresh_seconds
        if self._directory is None or not stale:
            return
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._quiet_refresh())

    async def _quiet_refresh(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:
            log.warning("directory refresh failed: %s", exc.__class__.__name__)
