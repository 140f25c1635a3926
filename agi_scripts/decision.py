"""Routing decisions within a time budget, from a cached directory when the database lags.

The hot path never waits for the database longer than `RoutingSettings.decision_budget_ms`.
The directory is loaded once, then refreshed in the background; a call whose lookup is too slow
(or fails) gets the default plan from the last directory loaded: the department first.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from agi_scripts.env import AgiEnv
from agi_scripts.source import DirectorySource
from core.phones import prepare as prepare_phone_numbers
from core.phones import try_normalize_phone
from router.directory import ContactView, Directory
from router.plan import IncomingCall, Planner, RoutePlan
from router.settings import RoutingSettings, policy_from_settings

log = logging.getLogger(__name__)


class DecisionBasis(enum.StrEnum):
    DIRECTORY = "directory"  # fresh contact lookup on a loaded directory
    LAST_DIRECTORY = "last_directory"  # lookup too slow or failed: default plan, cached directory
    FALLBACK_TARGETS = "fallback_targets"  # no directory ever loaded
    # The database unreachable: the directory and the caller's manager from the snapshot on disk
    # (a source that says `serving_snapshot`, callrouter/service/degraded.py).
    SNAPSHOT = "snapshot"


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
        did=dialled_number(env, region),
    )


_DID_ARGUMENT = "did="
_MAX_ARGS = 8
_ARG_KEYS = tuple(f"agi_arg_{n}" for n in range(1, _MAX_ARGS + 1))


def dialled_number(env: AgiEnv, region: str) -> str:
    """The number the caller dialled, which picks the department: the dialplan's explicit
    `AGI(…,did=${EXTEN})` argument when given, else Asterisk's DNID, else the extension
    (they agree in every recorded call: the request URI's user, `7000`). E.164 when it is a
    phone number, as departments' lines are stored; else as sent, cut to 32 characters."""
    raw = ""
    values = env.values
    for key in _ARG_KEYS:
        argument = values.get(key, "")
        if argument.startswith(_DID_ARGUMENT):
            raw = argument[len(_DID_ARGUMENT) :]
            break
    if not raw:
        raw = env.dnid if env.dnid not in ("", "unknown") else env.extension
    return _as_line(raw[:64], region)


@functools.lru_cache(maxsize=256)
def _as_line(raw: str, region: str) -> str:
    """A company has a few lines: each spelling is parsed once, not once per call."""
    try:
        return try_normalize_phone(raw, region) or raw[:32]
    except Exception:  # libphonenumber on hostile input: keep the text, it matches no line
        return raw[:32]


class Decider(Protocol):
    """What the FastAGI server, the classic script and the route handler ask of a decider.

    `RouteDecider` is one; the service's `SwappableDecider` (reloaded on SIGHUP) is another.
    """

    @property
    def directory(self) -> Directory | None:
        """The directory plans are made from now; None until one was loaded."""
        ...

    def phones(self) -> list[str]:
        """Every phone a plan could ring now (to ask their device states early)."""
        ...

    def start(self, env: AgiEnv) -> PendingDecision:
        """Begin deciding for this call; the time budget runs from now."""
        ...

    async def refresh(self) -> None:
        """Load the directory now."""
        ...

    async def keep_fresh(self) -> None:
        """Refresh the directory periodically until cancelled."""
        ...

    async def settle(self, within: float) -> None:
        """Give abandoned lookups up to `within` seconds to finish (before the engine goes)."""
        ...


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
        # libphonenumber is imported on first use: here, not inside the first caller's budget.
        prepare_phone_numbers(region)
        self._clock = clock
        self._budget = routing.decision_budget_ms / 1000
        self._directory: Directory | None = None
        self._planner: Planner | None = None  # for self._directory: its steps worked out once
        self._phones = list(self._policy.fallback_targets)
        self._loaded_at = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self._abandoned: set[asyncio.Future[ContactView | None]] = set()

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
        self._directory, self._planner = directory, Planner(directory, self._policy)
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

    def start(self, env: AgiEnv, observe: DecisionObserver | None = None) -> PendingDecision:
        """Begin deciding for this call; the budget runs from now. The lookup goes on while the
        caller's channel is asked other things, and `PendingDecision.result()` collects it;
        `observe(basis, seconds)` then learns how long the decision took."""
        started = time.perf_counter()
        call = incoming_call(env, self._region)
        self._refresh_if_stale()
        deadline = asyncio.get_running_loop().time() + self._budget
        directory = self._directory
        lookup = None if call.caller is None and directory is not None else self._start_lookup(call)
        return PendingDecision(self, call, directory, lookup, deadline, observe, started)

    async def decide(self, env: AgiEnv) -> Decision:
        """A plan for this call; raises NoRouteAvailable only when there is nothing to ring."""
        return await self.start(env).result()

    def _start_lookup(self, call: IncomingCall) -> asyncio.Future[ContactView | None]:
        """The contact lookup as a future of its own: the source's future when it hands one
        over (no task, no extra turn of the loop), a task for a coroutine. It is abandoned, not
        awaited, when the budget is spent: cancelling a database call can itself block
        (SQLAlchemy's rollback waits for an aiosqlite thread stuck on a lock)."""
        try:
            if self._directory is None:
                return asyncio.ensure_future(self._first_load_then_find(call))
            assert call.caller is not None  # start() plans an anonymous caller without one
            return asyncio.ensure_future(self._source.find_contact(call.caller))
        except Exception as exc:  # a source that fails before it even starts
            failed: asyncio.Future[ContactView | None] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed

    async def _first_load_then_find(self, call: IncomingCall) -> ContactView | None:
        await self._first_load()
        return None if call.caller is None else await self._source.find_contact(call.caller)

    async def settle(self, within: float) -> None:
        """Give abandoned lookups up to `within` seconds to finish cleaning up (call before the
        database engine is disposed: a lookup still stuck in it would never complete)."""
        if self._abandoned:
            await asyncio.wait(set(self._abandoned), timeout=within)

    def abandon(self, lookup: asyncio.Future[ContactView | None]) -> None:
        """Cancel a lookup nobody will collect; its cleanup finishes in the background and
        `settle()` waits for it."""
        lookup.cancel()
        self._abandoned.add(lookup)
        lookup.add_done_callback(self._forget)

    def _forget(self, lookup: asyncio.Future[ContactView | None]) -> None:
        self._abandoned.discard(lookup)
        if not lookup.cancelled() and lookup.exception() is not None:
            log.debug("abandoned routing lookup ended with %r", lookup.exception())

    async def _first_load(self) -> Directory:
        await self.refresh()
        assert self._directory is not None
        return self._directory

    def fresh_basis(self) -> DecisionBasis:
        """DIRECTORY, or SNAPSHOT while the source answers from its snapshot on disk."""
        if getattr(self._source, "serving_snapshot", False):
            return DecisionBasis.SNAPSHOT
        return DecisionBasis.DIRECTORY

    def plan_for(
        self, call: IncomingCall, directory: Directory, contact: ContactView | None
    ) -> RoutePlan:
        """The plan for `call` now, under this decider's policy."""
        planner = self._planner
        if planner is None or planner.directory is not directory:
            planner = Planner(directory, self._policy)
        return planner.plan(call, contact, self._clock())

    def fallback(self, call: IncomingCall) -> Decision:
        """The decision when the caller could not be looked up: the default plan from the last
        directory, else the fallback targets; NoRouteAvailable when there are neither."""
        if self._directory is not None:
            return Decision(
                self.plan_for(call, self._directory, None), DecisionBasis.LAST_DIRECTORY
            )
        if self._policy.fallback_targets:
            return Decision(self.plan_for(call, Directory(), None), DecisionBasis.FALLBACK_TARGETS)
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


DecisionObserver = Callable[[str, float], None]  # (the decision's basis or "none", seconds)


class PendingDecision:
    """A decision under way: its lookup runs (None: nothing to look up); `result()` waits for
    it until the deadline."""

    def __init__(
        self,
        decider: RouteDecider,
        call: IncomingCall,
        directory: Directory | None,
        lookup: asyncio.Future[ContactView | None] | None,
        deadline: float,
        observe: DecisionObserver | None = None,
        started: float = 0.0,
    ) -> None:
        self._decider = decider
        self._call = call
        self._directory = directory  # the one loaded when the call came in, if any
        self._lookup = lookup
        self._deadline = deadline
        self._observe = observe
        self._started = started

    async def result(self) -> Decision:
        """The plan, by the deadline whatever the database does; raises NoRouteAvailable only
        when there is nothing to ring."""
        if self._observe is None:
            return await self._result()
        basis = "none"
        try:
            decision = await self._result()
            basis = decision.basis.value
            return decision
        finally:
            self._observe(basis, time.perf_counter() - self._started)

    async def _result(self) -> Decision:
        decider, call, lookup = self._decider, self._call, self._lookup
        if lookup is None:
            assert self._directory is not None
            return Decision(decider.plan_for(call, self._directory, None), decider.fresh_basis())
        if not lookup.done():
            try:
                await _done_by(lookup, self._deadline)
            except asyncio.CancelledError:
                self.cancel()
                raise
        try:
            if not lookup.done():
                self.cancel()
                raise TimeoutError
            contact = lookup.result()
        except Exception as exc:  # TimeoutError, the database's errors: same answer
            log.warning("routing lookup failed (%s), using the fallback", exc.__class__.__name__)
            return decider.fallback(call)
        directory = self._directory or decider.directory
        assert directory is not None  # the lookup loaded one when there was none
        return Decision(decider.plan_for(call, directory, contact), decider.fresh_basis())

    def cancel(self) -> None:
        """Nobody will collect this decision: let its lookup go."""
        lookup = self._lookup
        if lookup is None:
            return
        if not lookup.done():
            self._decider.abandon(lookup)
        elif not lookup.cancelled():
            lookup.exception()  # retrieved: a failed lookup nobody waits for is not an error


async def _done_by(future: asyncio.Future[ContactView | None], deadline: float) -> None:
    """Wait until `future` is done or the loop's clock reaches `deadline`, whichever is first;
    never cancels `future` (asyncio.wait's job, without its sets and closures)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    timer = loop.call_at(deadline, _release, waiter)
    on_done = functools.partial(_release_when_done, waiter)
    future.add_done_callback(on_done)
    try:
        await waiter
    finally:
        timer.cancel()
        future.remove_done_callback(on_done)


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _release_when_done(waiter: asyncio.Future[None], _future: object) -> None:
    _release(waiter)
