"""The listener's sink as the service runs it: the database sink, timed and counted."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ami_listener.calls import CompletedCall
from ami_listener.sink import CallRefused
from callrouter import metrics
from crm.call_sink import DbCallSink
from models.db import Database
from models.tables import Call

log = logging.getLogger(__name__)


class LostCallsToday:
    """Inbound calls nobody answered since midnight in the company's time zone."""

    def __init__(self, timezone: str) -> None:
        self.tz = ZoneInfo(timezone)
        self._day = self._today()
        self._count = 0

    def _today(self) -> str:
        return datetime.now(self.tz).date().isoformat()

    @property
    def count(self) -> int:
        if self._today() != self._day:
            self._day, self._count = self._today(), 0
        return self._count

    def add(self, call: CompletedCall) -> None:
        if call.direction != "inbound" or call.disposition == "ANSWERED":
            return
        if call.started_at.astimezone(self.tz).date().isoformat() != self._today():
            return
        self.count  # noqa: B018 - rolls the day over first
        self._count += 1

    async def load(self, db: Database) -> None:
        """Start from what the database already holds for today (after a restart)."""
        local_midnight = datetime.now(self.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        since = local_midnight.astimezone(UTC)
        query = select(func.count()).where(
            Call.direction == "inbound",
            Call.disposition != "ANSWERED",
            Call.started_at >= since,
            Call.started_at < since + timedelta(days=1),
        )
        async with db.reader() as session:
            self._day, self._count = self._today(), int(await session.scalar(query) or 0)


class TimedSink:
    """Wraps `DbCallSink`: write latency, failures, recorded calls, lost calls today.

    A write failure is counted when the database was away; a refused batch is not one (the
    listener counts the calls it sets aside), nor is a call another writer stored first.
    """

    def __init__(self, inner: DbCallSink, lost: LostCallsToday) -> None:
        self.inner = inner
        self.lost = lost

    async def write(self, calls: Sequence[CompletedCall]) -> None:
        started = time.perf_counter()
        try:
            results = await self.inner.record(calls)
        except CallRefused:
            raise
        except Exception:
            metrics.DB_WRITE_FAILURES.inc()
            raise
        finally:
            metrics.DB_WRITE_SECONDS.observe(time.perf_counter() - started)
        for call, result in zip(calls, results, strict=True):
            if result.created:
                metrics.CALLS_RECORDED.labels(call.direction, call.disposition).inc()
                self.lost.add(call)
