"""Issue #14, point 8: a call-back recovers a miss only when it was a conversation.

A 3-second answered call-back (voicemail, an operator's message) leaves the call-back task open
and the miss unrecovered; it is counted as an attempt on the task. A real conversation (talk time
≥ `leads.recovery_min_talk_seconds`, default 10 s) closes it; the daily report's recovery figures
follow the same rule.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callrouter.reports.daily import build_daily
from core.settings import LeadSettings, Settings
from crm.call_sink import DbCallSink
from models.db import Database
from models.tables import Call, Task
from tests.sink.test_call_sink import T0, inbound, office, outbound  # noqa: F401


def short(call, seconds: float = 3.0):  # noqa: ANN001, ANN201 - a CompletedCall
    """The same call, but the talk lasted only `seconds`."""
    return replace(
        call, talk_seconds=seconds, ended_at=call.answered_at + timedelta(seconds=seconds)
    )


async def _task_and_miss(db: Database) -> tuple[Task, Call]:
    async with db.reader() as s:
        task = await s.scalar(select(Task).where(Task.purpose == "callback"))
        miss = await s.scalar(select(Call).where(Call.missed.is_(True)))
    assert task is not None and miss is not None
    return task, miss


async def test_a_short_answered_callback_is_an_attempt_not_a_recovery(
    office: Database,  # noqa: F811
) -> None:
    sink = DbCallSink(office)
    await sink.store(inbound("a.1", answered_by=None))
    first = await sink.store(short(outbound("a.2", at=T0 + timedelta(minutes=5))))
    assert first.lead.recovered_calls == 0
    task, miss = await _task_and_miss(office)
    assert task.status == "open" and miss.recovered_at is None
    assert task.comment.endswith("a missed call; 1 short call-back attempt")
    await sink.store(short(outbound("a.3", at=T0 + timedelta(minutes=9)), 9.9))
    task, _ = await _task_and_miss(office)
    assert task.status == "open" and task.comment.endswith("2 short call-back attempts")
    # Then a conversation: 35 s. The task closes with it; the miss is recovered.
    done = await sink.store(outbound("a.4", at=T0 + timedelta(minutes=30)))
    assert done.lead.recovered_calls == 1
    task, miss = await _task_and_miss(office)
    assert (task.status, task.closed_by_call_id) == ("done", done.call_id)
    assert miss.recovered_by_call_id == done.call_id


async def test_attempts_written_in_one_batch_count_as_written_one_at_a_time(
    office: Database,  # noqa: F811
) -> None:
    sink = DbCallSink(office)
    await sink.store(inbound("b.1", answered_by=None))
    await sink.store(short(outbound("b.2", at=T0 + timedelta(minutes=5))))
    # The listener hands over whatever its spool holds: three more attempts in one batch.
    await sink.store_many(
        [short(outbound(f"b.{n}", at=T0 + timedelta(minutes=5 + n))) for n in (3, 4, 5)]
    )
    task, miss = await _task_and_miss(office)
    assert task.status == "open" and miss.recovered_at is None
    assert task.comment.endswith("4 short call-back attempts")


async def test_a_short_repeat_inbound_call_does_not_recover_either(
    office: Database,  # noqa: F811
) -> None:
    sink = DbCallSink(office)
    await sink.store(inbound("b.1", answered_by=None))
    again = await sink.store(
        short(inbound("b.2", at=T0 + timedelta(minutes=20), answered_by="PJSIP/101"), 4.0)
    )
    assert again.lead.recovered_calls == 0
    task, miss = await _task_and_miss(office)
    assert task.status == "open" and miss.recovered_at is None
    assert "1 short call-back attempt" in task.comment


async def test_the_minimum_talk_time_is_a_setting(office: Database) -> None:  # noqa: F811
    sink = DbCallSink(office, LeadSettings(recovery_min_talk_seconds=2))
    await sink.store(inbound("c.1", answered_by=None))
    back = await sink.store(short(outbound("c.2", at=T0 + timedelta(minutes=5))))
    assert back.lead.recovered_calls == 1
    task, _ = await _task_and_miss(office)
    assert task.status == "done"


async def test_the_daily_report_counts_only_conversations_as_recoveries(
    office: Database,  # noqa: F811
) -> None:
    sink = DbCallSink(office)
    # Two clients miss; one is called back for 35 s, the other only reaches voicemail (3 s).
    await sink.store(inbound("d.1", answered_by=None, number="+79161110001"))
    await sink.store(inbound("d.2", answered_by=None, number="+79161110002"))
    await sink.store(
        replace(outbound("d.3", at=T0 + timedelta(minutes=5)), external_number="+79161110001")
    )
    await sink.store(
        short(
            replace(outbound("d.4", at=T0 + timedelta(minutes=6)), external_number="+79161110002")
        )
    )
    day = T0.date()
    report = await build_daily(
        office, day, datetime(2026, 11, 28, 9, 0, tzinfo=UTC), Settings(timezone="Europe/Moscow")
    )
    assert (report.recovery.missed_with_number, report.recovery.recovered) == (2, 1)
    assert [row.number for row in report.unrecovered] == ["+79161110002"]
