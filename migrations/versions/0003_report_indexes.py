"""Covering indexes for the reports: a day or 30 days of calls read from the index alone

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

# Every column the call figures read, after the time range they are filtered by.
CALLS_REPORT = [
    "started_at",
    "direction",
    "manager_id",
    "missed",
    "disposition",
    "talk_seconds",
    "ring_seconds",
    "after_hours",
    "abandon_seconds",
]


def upgrade() -> None:
    op.create_index("ix_calls_report", "calls", CALLS_REPORT, unique=False)
    op.create_index(
        "ix_call_legs_call_manager", "call_legs", ["call_id", "manager_id", "answered"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_call_legs_call_manager", table_name="call_legs")
    op.drop_index("ix_calls_report", table_name="calls")
