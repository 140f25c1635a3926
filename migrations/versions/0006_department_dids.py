"""Departments own their lines (DIDs); the default department is explicit

Revision ID: 0006
Revises: 0005

Up to this revision "the sales department" was the first department by id (or the one
`routing.sales_department_id` named) and the number a caller dialled was not used. This
revision adds:

- `department_dids`: the numbers (E.164) that ring a department; a number belongs to at most
  one department (unique), and goes with its department when that is deleted;
- `departments.is_default`: the department a call to no department's line goes to; at most one
  department has it (a partial unique index).

and moves the existing data into it: when there are several departments, the first by id —
the one routing used — becomes the explicit default, and the migration logs its id. One
department needs no flag (it is the only one); no department is given a line.
The downgrade drops both (routing then takes the first department again).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

IS_DEFAULT = sa.text("is_default")
departments = sa.table(
    "departments", sa.column("id", sa.Integer), sa.column("is_default", sa.Boolean)
)


def upgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.add_column(
            sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
        batch.create_index(
            "uq_departments_default",
            ["is_default"],
            unique=True,
            sqlite_where=IS_DEFAULT,
            postgresql_where=IS_DEFAULT,
        )
    op.create_table(
        "department_dids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_department_dids_department_id_departments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department_dids")),
        sa.UniqueConstraint("number", name=op.f("uq_department_dids_number")),
    )
    with op.batch_alter_table("department_dids") as batch:
        batch.create_index(
            batch.f("ix_department_dids_department_id"), ["department_id"], unique=False
        )
    _make_the_first_department_the_default(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("department_dids") as batch:
        batch.drop_index(batch.f("ix_department_dids_department_id"))
    op.drop_table("department_dids")
    with op.batch_alter_table("departments") as batch:
        batch.drop_index(
            "uq_departments_default", sqlite_where=IS_DEFAULT, postgresql_where=IS_DEFAULT
        )
        batch.drop_column("is_default")


def _make_the_first_department_the_default(connection: sa.Connection) -> None:
    ids = list(connection.scalars(sa.select(departments.c.id).order_by(departments.c.id)))
    if len(ids) < 2:
        return
    connection.execute(
        departments.update().where(departments.c.id == ids[0]).values(is_default=True)
    )
    log.info("0006: department #%d, the first by id, is now the explicit default", ids[0])
