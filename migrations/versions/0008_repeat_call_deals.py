"""Deals opened by a known client's repeat call

Revision ID: 0008
Revises: 0007

An answered call from a known client with no open deal now opens a deal, so every conversation
is on a card; its source is the new value "repeat_call". This revision widens the CHECK
constraint on `deals.source` to accept it. No rows change.

The downgrade turns "repeat_call" deals into "inbound_call" ones (the nearest older source)
and narrows the constraint again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None

OLD_SOURCES = ("inbound_call", "missed_call", "manual")
NEW_SOURCES = (*OLD_SOURCES, "repeat_call")

deals = sa.table("deals", sa.column("source", sa.String))


def _check(sources: tuple[str, ...]) -> str:
    return "source IN ({})".format(", ".join(f"'{s}'" for s in sources))


def _replace_check(sources: tuple[str, ...]) -> None:
    with op.batch_alter_table("deals") as batch:
        batch.drop_constraint(batch.f("ck_deals_source"), type_="check")
        batch.create_check_constraint(batch.f("ck_deals_source"), _check(sources))


def upgrade() -> None:
    _replace_check(NEW_SOURCES)


def downgrade() -> None:
    op.execute(deals.update().where(deals.c.source == "repeat_call").values(source="inbound_call"))
    _replace_check(OLD_SOURCES)
