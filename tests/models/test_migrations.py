"""Migrations go up and down on both databases, and never drift from the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from models import migrate
from models.base import Base
from models.db import create_engine


async def test_models_and_migrations_do_not_drift(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        await engine.dispose()


async def test_down_to_base_and_up_again(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        assert await migrate.is_current(engine)
        await migrate.downgrade(engine, "base")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert set(tables) <= {"alembic_version"}
        assert await migrate.current_revision(engine) is None

        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        async with engine.connect() as conn:
            rules = (
                await conn.execute(text("SELECT on_status, task_type FROM automation_rules"))
            ).all()
        assert rules == [("proposal_sent", "call")]
    finally:
        await engine.dispose()


async def test_each_step_down_and_up(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await migrate.downgrade(engine, "0001")
        assert await migrate.current_revision(engine) == "0001"
        await migrate.downgrade(engine, "base")
        await migrate.upgrade(engine, "0001")
        await migrate.upgrade(engine, "head")
        assert await migrate.is_current(engine)
    finally:
        await engine.dispose()
