"""The tables. Constraints live here, in the database, not only in the code that writes."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from router.directory import Role

# Imported with the tables so that every mapper gets its text checks (lengths from the String(n)
# columns, one-line names) before it is first used: see models/limits.py. (Not from
# models.values: the vocabularies stay importable without SQLAlchemy, for the CLI's listings.)
from . import limits as limits
from .base import Base, UtcDateTime, utcnow
from .values import CreatedBy, DealSource, Direction, TaskPurpose, TaskStatus, TaskType, check_in


class Department(Base):
    __tablename__ = "departments"
    # At most one department is the default (the one a call to no department's line rings).
    __table_args__ = (
        Index(
            "uq_departments_default",
            "is_default",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    hours: Mapped[list[WorkingHours]] = relationship(
        back_populates="department", cascade="all, delete-orphan", order_by="WorkingHours.weekday"
    )
    holidays: Mapped[list[Holiday]] = relationship(
        back_populates="department", cascade="all, delete-orphan"
    )
    dids: Mapped[list[DepartmentDid]] = relationship(
        back_populates="department", cascade="all, delete-orphan", order_by="DepartmentDid.number"
    )


class DepartmentDid(Base):
    """A number callers dial (a line, DID) that rings one department; a number has one owner."""

    __tablename__ = "department_dids"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(20), unique=True)  # E.164

    department: Mapped[Department] = relationship(back_populates="dids")


class WorkingHours(Base):
    """One working interval of a department on one weekday (0 = Monday)."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("starts_at < ends_at", name="interval"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[time] = mapped_column(Time)
    ends_at: Mapped[time] = mapped_column(Time)

    department: Mapped[Department] = relationship(back_populates="hours")


class Holiday(Base):
    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("department_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)

    department: Mapped[Department] = relationship(back_populates="holidays")


class Manager(Base):
    __tablename__ = "managers"
    __table_args__ = (CheckConstraint(check_in("role", tuple(r.value for r in Role)), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(80), unique=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    role: Mapped[str] = mapped_column(String(20), default=Role.MANAGER.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    department: Mapped[Department | None] = relationship()


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(
        String(20), unique=True
    )  # E.164; the unique index is the lookup
    name: Mapped[str | None] = mapped_column(String(200))
    responsible_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    responsible: Mapped[Manager | None] = relationship()


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (
        CheckConstraint(check_in("source", DealSource.values()), name="source"),
        Index("ix_deals_contact_status", "contact_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    responsible_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(40), default="new")
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    contact: Mapped[Contact] = relationship()
    responsible: Mapped[Manager | None] = relationship()
    history: Mapped[list[DealStatusChange]] = relationship(
        back_populates="deal", order_by="DealStatusChange.id", cascade="all, delete-orphan"
    )


class DealStatusChange(Base):
    """One entry of a deal's history: a status change (`kind` "status") or a change of the
    responsible manager (`kind` "assigned": the status stays, `from_manager_id` → `to_manager_id`)."""

    __tablename__ = "deal_status_changes"
    __table_args__ = (CheckConstraint(check_in("kind", ("status", "assigned")), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="status", server_default="status")
    from_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL")
    )
    to_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL")
    )
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(40))
    to_status: Mapped[str] = mapped_column(String(40))
    changed_by_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL")
    )
    changed_by: Mapped[str] = mapped_column(
        String(80)
    )  # who or what, for the card: "cli", "listener"
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    deal: Mapped[Deal] = relationship(back_populates="history")


class AutomationRule(Base):
    """When a deal enters `on_status`, give its responsible manager a task."""

    __tablename__ = "automation_rules"
    __table_args__ = (
        CheckConstraint(check_in("task_type", TaskType.values()), name="task_type"),
        CheckConstraint("due_after_minutes >= 0", name="due_after"),
        CheckConstraint("length(trim(comment_template)) > 0", name="comment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    on_status: Mapped[str] = mapped_column(String(40), index=True)
    task_type: Mapped[str] = mapped_column(String(20))
    due_after_minutes: Mapped[int] = mapped_column(Integer)
    comment_template: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Call(Base):
    """One call, however many channels, legs and Cdr records Asterisk made of it."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("system", "linkedid"),
        CheckConstraint(check_in("direction", Direction.values()), name="direction"),
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_answered_by_started", "answered_by_manager_id", "started_at"),
        Index("ix_calls_manager_started", "manager_id", "started_at"),
        Index("ix_calls_number_started", "external_number", "started_at"),
        # Covering index of the reports (callrouter/reports/queries.py): range scans by time
        # that never touch the table.
        Index(
            "ix_calls_report",
            "started_at",
            "direction",
            "manager_id",
            "missed",
            "disposition",
            "talk_seconds",
            "ring_seconds",
            "after_hours",
            "abandon_seconds",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(10))
    external_number: Mapped[str | None] = mapped_column(String(20))
    external_number_raw: Mapped[str | None] = mapped_column(String(80))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    dialed_number: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    disposition: Mapped[str] = mapped_column(String(20))
    missed: Mapped[bool] = mapped_column(Boolean, default=False)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    abandon_seconds: Mapped[float | None] = mapped_column(Float)
    after_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    # The manager whose activity this call is: who answered an inbound call, who dialled out.
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("managers.id", ondelete="SET NULL"))
    answered_by_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL")
    )
    answered_endpoint: Mapped[str | None] = mapped_column(String(80))
    recording_file: Mapped[str | None] = mapped_column(String(500))
    route_step: Mapped[str | None] = mapped_column(String(40))
    plan_id: Mapped[str | None] = mapped_column(String(80))
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deals.id", ondelete="SET NULL"), index=True
    )
    recovered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    recovered_by_call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    legs: Mapped[list[CallLeg]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallLeg.id"
    )


class CallLeg(Base):
    """One endpoint rung for a call."""

    __tablename__ = "call_legs"
    # Who was rung on which call, read from the index alone by the reports.
    __table_args__ = (Index("ix_call_legs_call_manager", "call_id", "manager_id", "answered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(80))
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL"), index=True
    )
    ring_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    dial_status: Mapped[str | None] = mapped_column(String(20))

    call: Mapped[Call] = relationship(back_populates="legs")


class Task(Base):
    """A piece of work with a person, a deadline, a type and a comment: the database insists."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(check_in("type", TaskType.values()), name="type"),
        CheckConstraint(check_in("status", TaskStatus.values()), name="status"),
        CheckConstraint(check_in("purpose", TaskPurpose.values()), name="purpose"),
        CheckConstraint(check_in("created_by", CreatedBy.values()), name="created_by"),
        CheckConstraint("length(trim(comment)) > 0", name="comment"),
        # At most one open call-back task per contact, however many listeners race for it.
        Index(
            "uq_tasks_open_callback_contact",
            "contact_id",
            unique=True,
            sqlite_where=text("status = 'open' AND purpose = 'callback'"),
            postgresql_where=text("status = 'open' AND purpose = 'callback'"),
        ),
        # A rule fires once per status change, never twice.
        UniqueConstraint("status_change_id", "rule_id"),
        Index("ix_tasks_responsible_status_due", "responsible_manager_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    responsible_manager_id: Mapped[int] = mapped_column(
        ForeignKey("managers.id", ondelete="RESTRICT")
    )
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    type: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.OPEN.value)
    purpose: Mapped[str] = mapped_column(String(20), default=TaskPurpose.GENERAL.value)
    created_by: Mapped[str] = mapped_column(String(20))
    created_by_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL")
    )
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("automation_rules.id", ondelete="SET NULL")
    )
    status_change_id: Mapped[int | None] = mapped_column(
        ForeignKey("deal_status_changes.id", ondelete="SET NULL")
    )
    missed_calls: Mapped[int] = mapped_column(Integer, default=0)
    last_missed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    close_reason: Mapped[str | None] = mapped_column(Text)
    closed_by_call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL")
    )
    # Call-back escalation (crm/callbacks.py): set once, when the task went up the line; the
    # target is None when there was nobody to escalate to.
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    escalated_from_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL")
    )
    escalated_to_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL")
    )
    # A "copy"-mode check task: the call-back it checks on (one check per call-back at most).
    escalation_of_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL"), unique=True
    )

    deal: Mapped[Deal] = relationship()
    responsible: Mapped[Manager] = relationship(foreign_keys=[responsible_manager_id])


class OutboxEvent(Base):
    """Something the CRM did (a call recorded, a lead or task created), written in the same
    transaction as the change itself; a publisher (webhooks) sends it and sets `published_at`.

    The payload holds ids only, never a phone number or a name."""

    __tablename__ = "outbox"
    __table_args__ = (
        # What the publisher reads: the unpublished events, oldest first.
        Index(
            "ix_outbox_unpublished",
            "id",
            sqlite_where=text("published_at IS NULL"),
            postgresql_where=text("published_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # "call.recorded", "lead.created", …
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# The web application (issue #16): people who log in, their sessions, log-in throttling, and the
# notes written on a deal card.

WEB_ROLES = ("manager", "head_of_sales", "owner", "admin")
NOTE_KINDS = ("note", "reschedule")


class User(Base):
    """A person who logs in to the web application; a manager's account names their row."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(check_in("role", WEB_ROLES), name="role"),
        CheckConstraint("length(trim(login)) > 0", name="login"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL"), unique=True
    )
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A logged-in browser: the id is the SHA-256 of the cookie's token (a stolen table logs
    nobody in)."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    csrf_secret: Mapped[str] = mapped_column(String(64))


class LoginAttempt(Base):
    """A failed log-in, by key ("login:<name>" or "ip:<address>"), for throttling across nodes."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DealNote(Base):
    """A note on a deal card, or the reason a task was rescheduled."""

    __tablename__ = "deal_notes"
    __table_args__ = (
        CheckConstraint(check_in("kind", NOTE_KINDS), name="kind"),
        CheckConstraint("length(trim(text)) > 0", name="text"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("managers.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(20), default="note")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
