"""The outbox: what the CRM did, written with the change, for the webhook publisher to send

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None

UNPUBLISHED = sa.text("published_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_at", models.base.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_unpublished",
            ["id"],
            unique=False,
            sqlite_where=UNPUBLISHED,
            postgresql_where=UNPUBLISHED,
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_unpublished", sqlite_where=UNPUBLISHED, postgresql_where=UNPUBLISHED
        )
    op.drop_table("outbox")
