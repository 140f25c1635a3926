"""The book's example rule: proposal sent -> call to confirm it arrived

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from models.base import UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None

RULE_NAME = "Confirm the proposal was received"

rules = sa.table(
    "automation_rules",
    sa.column("name", sa.String),
    sa.column("on_status", sa.String),
    sa.column("task_type", sa.String),
    sa.column("due_after_minutes", sa.Integer),
    sa.column("comment_template", sa.Text),
    sa.column("active", sa.Boolean),
    sa.column("created_at", UtcDateTime()),
)


def upgrade() -> None:
    created = datetime.now(UTC)
    op.bulk_insert(
        rules,
        [
            {
                "name": RULE_NAME,
                "on_status": "proposal_sent",
                "task_type": "call",
                "due_after_minutes": 24 * 60,
                "comment_template": "Call {contact_name} ({contact_phone}): confirm the proposal "
                "for deal #{deal_id} was received",
                "active": True,
                "created_at": created,
            }
        ],
    )


def downgrade() -> None:
    op.execute(rules.delete().where(rules.c.name == RULE_NAME))
