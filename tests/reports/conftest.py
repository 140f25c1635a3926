"""Shared by the report tests: the CLI in the company's zone, and building data from sync tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from models.db import Database

from .office import Office

AS_OF = ("--as-of", "2026-11-21 12:00")


def setup(db_url: str, builder: Callable[[Database], Awaitable[Office]]) -> Office:
    """Run an async fixture builder from a sync (CLI) test."""

    async def go() -> Office:
        db = Database(db_url)
        try:
            return await builder(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


@pytest.fixture
def cli_msk(cli, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`callrouter …` against the test database, the company in Moscow."""
    monkeypatch.setenv("CALLROUTER_TIMEZONE", "Europe/Moscow")
    return cli
