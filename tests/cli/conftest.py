from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callrouter.cli import main
from models.base import Base
from models.db import Database


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """Run `callrouter ARGS…` in-process against the test database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLROUTER_CONFIG", raising=False)
    monkeypatch.setenv("CALLROUTER_DATABASE_URL", db_url)
    monkeypatch.setenv("CALLROUTER_ENDPOINT_TECHNOLOGY", "PJSIP")

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def table_counts(db_url: str) -> Callable[[], dict[str, int]]:
    """Row counts of every table, to prove a refused command wrote nothing."""

    async def count() -> dict[str, int]:
        db = Database(db_url)
        try:
            async with db.reader() as s:
                return {
                    t.name: await s.scalar(select(func.count()).select_from(t))
                    for t in Base.metadata.sorted_tables
                }
        finally:
            await db.dispose()

    return lambda: asyncio.run(count())
