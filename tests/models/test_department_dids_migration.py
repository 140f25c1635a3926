"""Revision 0006 gives departments lines and an explicit default, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from models import migrate
from models.db import create_engine

departments = sa.table(
    "departments",
    sa.column("id"),
    sa.column("name"),
    sa.column("timezone"),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
CREATED = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(("count", "default"), [(0, None), (1, None), (3, 1)])
async def test_the_department_routing_used_becomes_the_explicit_default(
    db_url: str, count: int, default: int | None
) -> None:
    engine = create_engine(db_url)
    try:
        await migrate.downgrade(engine, "0005")
        async with engine.begin() as conn:
            for n in range(1, count + 1):
                await conn.execute(
                    departments.insert().values(
                        id=n, name=f"d{n}", timezone="Europe/Moscow", created_at=CREATED
                    )
                )
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            marked = (
                await conn.execute(sa.text("SELECT id FROM departments WHERE is_default"))
            ).all()
        assert [row.id for row in marked] == ([default] if default else [])
    finally:
        await engine.dispose()


async def test_the_database_keeps_one_default_and_one_owner_per_line(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO departments (id, name, timezone, is_default, "
                    "created_at) VALUES (1, 'a', 'UTC', true, CURRENT_TIMESTAMP), "
                    "(2, 'b', 'UTC', false, CURRENT_TIMESTAMP)"
                )
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO department_dids (department_id, number) VALUES (1, '+74951110000')"
                )
            )
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(sa.text("UPDATE departments SET is_default = true WHERE id = 2"))
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(
                    sa.text(
                        "INSERT INTO department_dids (department_id, number) "
                        "VALUES (2, '+74951110000')"
                    )
                )
    finally:
        await engine.dispose()
