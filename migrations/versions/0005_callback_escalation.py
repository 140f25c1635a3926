"""Call-back escalation in columns, not in the task's comment

Revision ID: 0005
Revises: 0004

`callrouter callbacks escalate` kept who a call-back went from and to only in the note it
appended to the task's comment ("[escalated 2026-11-20 19:00: moved from Анна to Head, due
2026-11-20 15:15]"), and the daily report parsed it back out. This revision adds to `tasks`:

- `escalated_from_manager_id`: who held the call-back when it was escalated;
- `escalated_to_manager_id`: who it went to (empty: there was nobody to escalate to);
- `escalation_of_task_id`: on a "copy"-mode check task, the call-back it checks on (unique).

and fills them for the tasks escalated before it:

- a task with `escalated_at` set whose comment ends with such a note gets `from` and `to` from
  the names in it: the task's responsible manager when the name is theirs ("copy" and "nobody"
  notes: the holder; "moved" notes: the target), the check task's for a "copy" target, else the
  one manager of that name. A name no manager bears, or several do, leaves its column empty;
- a check task the escalation wrote (by a rule: "Missed call from … (task #N, due …): make sure
  the client is called back") gets `escalation_of_task_id` = N, when task N exists.

Comments are left as they are: the notes stay for people to read; nothing parses them any more.
The downgrade drops the three columns (the comments still carry the notes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (
    ("escalated_from_manager_id", "managers"),
    ("escalated_to_manager_id", "managers"),
    ("escalation_of_task_id", "tasks"),
)

tasks = sa.table(
    "tasks",
    sa.column("id", sa.Integer),
    sa.column("responsible_manager_id", sa.Integer),
    sa.column("comment", sa.Text),
    sa.column("purpose", sa.String),
    sa.column("created_by", sa.String),
    sa.column("escalated_at", sa.DateTime),
    sa.column("escalated_from_manager_id", sa.Integer),
    sa.column("escalated_to_manager_id", sa.Integer),
    sa.column("escalation_of_task_id", sa.Integer),
)
managers = sa.table("managers", sa.column("id", sa.Integer), sa.column("name", sa.String))

# The notes crm/callbacks.py wrote up to this revision, and the comment of its check tasks.
_MARK = "[escalated "
_STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d"
_NOTE = re.compile(rf"\[escalated {_STAMP}: (?P<what>.*)\]", re.S)
_NOBODY = re.compile(r"not returned by (?P<held>.*), nobody to escalate to", re.S)
_MOVED = re.compile(rf"moved from (?P<pair>.*), due {_STAMP}", re.S)
_CHECKS = re.compile(rf"(?P<pair>.*), due {_STAMP}", re.S)
_CHECK_TASK = re.compile(
    r"Missed call from .* \(task #(?P<id>\d+), due [^)]*\): make sure the client is called back",
    re.S,
)


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for column, _ in FOREIGN_KEYS:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
        for column, table in FOREIGN_KEYS:
            batch.create_foreign_key(
                batch.f(f"fk_tasks_{column}_{table}"), table, [column], ["id"], ondelete="SET NULL"
            )
        batch.create_unique_constraint(
            batch.f("uq_tasks_escalation_of_task_id"), ["escalation_of_task_id"]
        )
    _fill_from_comments(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint(batch.f("uq_tasks_escalation_of_task_id"), type_="unique")
        for column, table in FOREIGN_KEYS:
            batch.drop_constraint(batch.f(f"fk_tasks_{column}_{table}"), type_="foreignkey")
        for column, _ in FOREIGN_KEYS:
            batch.drop_column(column)


def _fill_from_comments(connection: sa.Connection) -> None:
    names = {row.id: row.name for row in connection.execute(sa.select(managers))}
    checks = _link_check_tasks(connection)
    escalated = connection.execute(
        sa.select(tasks.c.id, tasks.c.responsible_manager_id, tasks.c.comment).where(
            tasks.c.escalated_at.is_not(None), tasks.c.comment.contains(_MARK, autoescape=True)
        )
    )
    for task_id, holder, comment in escalated.all():
        found = _parties(comment, holder, checks.get(task_id), names)
        if found is not None:
            connection.execute(
                tasks.update()
                .where(tasks.c.id == task_id)
                .values(escalated_from_manager_id=found[0], escalated_to_manager_id=found[1])
            )


def _link_check_tasks(connection: sa.Connection) -> dict[int, int]:
    """Point each check task at its call-back; {call-back id: the check's responsible manager}."""
    rows = connection.execute(
        sa.select(tasks.c.id, tasks.c.responsible_manager_id, tasks.c.comment)
        .where(tasks.c.created_by == "rule", tasks.c.purpose == "general")
        .order_by(tasks.c.id)
    ).all()
    existing = set(connection.scalars(sa.select(tasks.c.id)))
    linked: dict[int, int] = {}
    for check_id, responsible, comment in rows:
        match = _CHECK_TASK.fullmatch(comment)
        if match is None:
            continue
        of = int(match["id"])
        if of in existing and of != check_id and of not in linked:
            connection.execute(
                tasks.update().where(tasks.c.id == check_id).values(escalation_of_task_id=of)
            )
            linked[of] = responsible
    return linked


def _parties(
    comment: str, holder: int, check_holder: int | None, names: Mapping[int, str]
) -> tuple[int | None, int | None] | None:
    """(from, to) manager ids of the task's last note; None when it carries no note we wrote."""
    note = _NOTE.fullmatch(comment[comment.rfind(_MARK) :])
    if note is None:
        return None
    what = note["what"]
    if nobody := _NOBODY.fullmatch(what):
        return _manager(nobody["held"], [holder], names), None
    if moved := _MOVED.fullmatch(what):
        # "moved from <held> to <target>": the target is now the responsible manager.
        held, target = _split(moved["pair"], " to ", names)
        return _manager(held, [], names), _manager(target, [holder], names)
    if checks := _CHECKS.fullmatch(what):
        # "<target> checks on <held>": the holder kept the task, the target got the check task.
        target, held = _split(checks["pair"], " checks on ", names)
        return _manager(held, [holder], names), _manager(target, [check_holder], names)
    return None


def _split(pair: str, word: str, names: Mapping[int, str]) -> tuple[str, str]:
    """Split "a<word>b" where both sides are managers' names, if some split makes them so."""
    known = set(names.values())
    splits = [(pair[:at], pair[at + len(word) :]) for at in _finds(pair, word)]
    for left, right in splits:
        if left in known and right in known:
            return left, right
    return splits[0] if splits else (pair, "")


def _finds(text: str, word: str) -> Iterable[int]:
    at = text.find(word)
    while at >= 0:
        yield at
        at = text.find(word, at + 1)


def _manager(name: str, preferred: Iterable[int | None], names: Mapping[int, str]) -> int | None:
    """The preferred manager if the name is theirs, else the one manager of that name, else None."""
    for manager_id in preferred:
        if manager_id is not None and names.get(manager_id) == name:
            return manager_id
    bearers = [manager_id for manager_id, bearer in names.items() if bearer == name]
    return bearers[0] if len(bearers) == 1 else None
