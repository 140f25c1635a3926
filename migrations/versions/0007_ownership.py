"""One responsible per client; a closed deal keeps no open tasks; reassignments in deal history

Revision ID: 0007
Revises: 0006

The ownership model (crm/ownership.py) says a contact and its open deals share one responsible
manager, a won or lost deal has no open task, and every change of a deal's responsible is in its
history. This revision adds to `deal_status_changes`:

- `kind`: "status" (every entry so far) or "assigned" (the responsible changed, the status not);
- `from_manager_id`, `to_manager_id`: who the deal went from and to, on "assigned" entries.

and moves the existing data into the model, saying what it changed (counts and ids only):

- a contact with no responsible while an open deal of theirs has one gets that deal's
  responsible (the newest open deal's);
- an open deal whose responsible differs from its contact's follows the contact, with an
  "assigned" entry by "migration 0007" in its history;
- an open task of a closed deal is cancelled with the reason "deal closed: <status>".

A deal is closed here when it has `closed_at` (set when it entered a closed status): the
closed statuses are a setting the migration cannot read. Open work of deactivated managers is
left where it is — who takes it is a person's choice — and listed per manager id with the
command that hands it over. The downgrade deletes the "assigned" entries and drops the columns;
the moved responsibles and cancelled tasks stay as they are.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from models.base import UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

MANAGER_COLUMNS = ("from_manager_id", "to_manager_id")
ACTOR = "migration 0007"

contacts = sa.table(
    "contacts", sa.column("id", sa.Integer), sa.column("responsible_manager_id", sa.Integer)
)
deals = sa.table(
    "deals",
    sa.column("id", sa.Integer),
    sa.column("contact_id", sa.Integer),
    sa.column("responsible_manager_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("closed_at", UtcDateTime),
    sa.column("updated_at", UtcDateTime),
)
history = sa.table(
    "deal_status_changes",
    sa.column("deal_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("from_status", sa.String),
    sa.column("to_status", sa.String),
    sa.column("from_manager_id", sa.Integer),
    sa.column("to_manager_id", sa.Integer),
    sa.column("changed_by", sa.String),
    sa.column("changed_at", UtcDateTime),
)
tasks = sa.table(
    "tasks",
    sa.column("id", sa.Integer),
    sa.column("deal_id", sa.Integer),
    sa.column("contact_id", sa.Integer),
    sa.column("responsible_manager_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("closed_at", UtcDateTime),
    sa.column("close_reason", sa.Text),
)
managers = sa.table("managers", sa.column("id", sa.Integer), sa.column("active", sa.Boolean))


def upgrade() -> None:
    with op.batch_alter_table("deal_status_changes") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=20), nullable=False, server_default="status")
        )
        for column in MANAGER_COLUMNS:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
            batch.create_foreign_key(
                batch.f(f"fk_deal_status_changes_{column}_managers"),
                "managers",
                [column],
                ["id"],
                ondelete="SET NULL",
            )
        batch.create_check_constraint(
            batch.f("ck_deal_status_changes_kind"), "kind IN ('status', 'assigned')"
        )
    connection = op.get_bind()
    now = datetime.now(UTC)
    changed = (
        (_give_contacts_their_deals_owner(connection), "contact(s) without a responsible got "
         "their open deal's"),
        (_deals_follow_contacts(connection, now), "open deal(s) now follow their contact's "
         "responsible (each with an 'assigned' history entry)"),
        (_cancel_tasks_of_closed_deals(connection, now), "open task(s) of closed deals cancelled"),
    )  # fmt: skip
    for count, what in changed:
        if count:  # a new or already consistent database has nothing to report
            _say(f"0007: {count} {what}")
    _list_work_of_inactive_managers(connection)


def downgrade() -> None:
    op.get_bind().execute(history.delete().where(history.c.kind == "assigned"))
    with op.batch_alter_table("deal_status_changes") as batch:
        batch.drop_constraint(batch.f("ck_deal_status_changes_kind"), type_="check")
        for column in MANAGER_COLUMNS:
            batch.drop_constraint(
                batch.f(f"fk_deal_status_changes_{column}_managers"), type_="foreignkey"
            )
            batch.drop_column(column)
        batch.drop_column("kind")


def _say(message: str) -> None:
    """Counts and ids only: what the person running `callrouter db upgrade` should know."""
    log.info(message)
    print(message)


def _open_deals() -> sa.Select:  # type: ignore[type-arg]
    return sa.select(deals.c.id, deals.c.contact_id, deals.c.responsible_manager_id).where(
        deals.c.closed_at.is_(None)
    )


def _give_contacts_their_deals_owner(connection: sa.Connection) -> int:
    unowned = set(
        connection.scalars(
            sa.select(contacts.c.id).where(contacts.c.responsible_manager_id.is_(None))
        )
    )
    newest: dict[int, int] = {}
    rows = connection.execute(
        _open_deals().where(deals.c.responsible_manager_id.is_not(None)).order_by(deals.c.id)
    )
    for _, contact_id, manager_id in rows:
        if contact_id in unowned:
            newest[contact_id] = manager_id  # ascending ids: the newest deal's stays
    for contact_id, manager_id in newest.items():
        connection.execute(
            contacts.update()
            .where(contacts.c.id == contact_id)
            .values(responsible_manager_id=manager_id)
        )
    return len(newest)


def _deals_follow_contacts(connection: sa.Connection, now: datetime) -> int:
    rows = connection.execute(
        sa.select(
            deals.c.id,
            deals.c.status,
            deals.c.responsible_manager_id,
            contacts.c.responsible_manager_id,
        )
        .join(contacts, contacts.c.id == deals.c.contact_id)
        .where(
            deals.c.closed_at.is_(None),
            contacts.c.responsible_manager_id.is_not(None),
            sa.or_(
                deals.c.responsible_manager_id.is_(None),
                deals.c.responsible_manager_id != contacts.c.responsible_manager_id,
            ),
        )
        .order_by(deals.c.id)
    ).all()
    for deal_id, status, before, after in rows:
        connection.execute(
            deals.update()
            .where(deals.c.id == deal_id)
            .values(responsible_manager_id=after, updated_at=now)
        )
        connection.execute(
            history.insert().values(
                deal_id=deal_id,
                kind="assigned",
                from_status=status,
                to_status=status,
                from_manager_id=before,
                to_manager_id=after,
                changed_by=ACTOR,
                changed_at=now,
            )
        )
    return len(rows)


def _cancel_tasks_of_closed_deals(connection: sa.Connection, now: datetime) -> int:
    rows = connection.execute(
        sa.select(tasks.c.id, deals.c.status, deals.c.closed_at)
        .join(deals, deals.c.id == tasks.c.deal_id)
        .where(tasks.c.status == "open", deals.c.closed_at.is_not(None))
        .order_by(tasks.c.id)
    ).all()
    for task_id, status, closed_at in rows:
        connection.execute(
            tasks.update()
            .where(tasks.c.id == task_id)
            .values(
                status="cancelled",
                closed_at=closed_at or now,
                close_reason=f"deal closed: {status}",
            )
        )
    return len(rows)


def _list_work_of_inactive_managers(connection: sa.Connection) -> None:
    inactive = list(
        connection.scalars(
            sa.select(managers.c.id).where(managers.c.active.is_(False)).order_by(managers.c.id)
        )
    )
    for manager_id in inactive:
        held = [
            connection.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
            for query in (
                sa.select(contacts.c.id).where(contacts.c.responsible_manager_id == manager_id),
                _open_deals().where(deals.c.responsible_manager_id == manager_id),
                sa.select(tasks.c.id).where(
                    tasks.c.responsible_manager_id == manager_id, tasks.c.status == "open"
                ),
            )
        ]
        if any(held):
            _say(
                f"0007: deactivated manager #{manager_id} still holds {held[0]} contact(s), "
                f"{held[1]} open deal(s), {held[2]} open task(s): hand them over with "
                f"`callrouter managers deactivate '#{manager_id}' --to MANAGER` (or "
                "--redistribute)"
            )
