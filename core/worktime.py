"""Deadlines in working time: '15 minutes of working time' after a call at 17:55 on a Friday
lands on Monday morning, not on Friday night. Pure functions over `WorkingHours`.

Every moment taken or returned is a timezone-aware datetime (the results are in UTC). Working
time is measured between UTC instants, never between wall-clock times: the schedule is walked
one local calendar day at a time, each working interval of the day becomes a pair of UTC
instants, and only those are added or subtracted — so the night clocks go forward (or back) in
Europe/Berlin is one hour shorter (or longer), as it really is.

Two conventions of the stored week (crm/staff.py `parse_hours` writes them):

- an interval ending at `time.max` (23:59:59.999999) ends at 24:00, the next local midnight
  (`00:00-24:00` every day is a 24/7 department, without a minute lost each night);
- an overnight shift (`22:00-06:00`) is stored as two intervals, `22:00-24:00` on its day and
  `00:00-06:00` on the next. Such a morning tail belongs to the evening's shift: "the working
  day" of a moment in it ends at 06:00, and a working day later is the next night. A shift is a
  day's intervals plus the next day's leading `00:00-…` interval when the day's last one ends at
  24:00 and that leading interval does not itself last to 24:00 (24/7 days stay one day each).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from router.directory import WorkingHours

_SEARCH_DAYS = 370  # a year of holidays is the most a schedule can skip
_RESOLUTION = timedelta(microseconds=1)


@dataclass(frozen=True)
class _Span:
    """One working interval of one local day, as UTC instants; `shift` is the local day whose
    shift it belongs to (the day before, for the morning tail of a night shift)."""

    day: date
    start: datetime
    end: datetime
    shift: date


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a naive datetime ({at.isoformat()}) has no place on a clock; pass UTC")
    return at.astimezone(UTC)


def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant a wall clock in `zone` shows `wall` on `day`.

    A wall time shown twice (clocks going back) is its first showing; one never shown (clocks
    going forward) is the instant the clocks jump, when the day's work can really start or end.
    """
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # Skipped: fold=1 reads it with the offset after the jump (an instant before the jump),
    # fold=0 with the offset before it (an instant after); the jump lies between the two.
    before = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = instant
    offset_after = after.astimezone(zone).utcoffset()
    while after - before > _RESOLUTION:
        middle = before + (after - before) / 2
        if middle.astimezone(zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after


def _intervals(hours: WorkingHours, day: date) -> list[tuple[time, time]]:
    """The local day's working intervals, in order; none on a holiday."""
    if day in hours.holidays:
        return []
    return sorted(hours.week.get(day.weekday(), ()))


def _continues(hours: WorkingHours, day: date) -> bool:
    """True when `day`'s last interval runs to 24:00 and the next day opens at 00:00 with a
    morning tail (an interval that does not itself run to 24:00): a night shift."""
    today, tomorrow = _intervals(hours, day), _intervals(hours, day + timedelta(days=1))
    return (
        bool(today and tomorrow)
        and today[-1][1] == time.max
        and tomorrow[0][0] == time.min
        and tomorrow[0][1] != time.max
    )


def _wall_end(day: date, end: time, zone: ZoneInfo) -> datetime:
    """The instant an interval of `day` ends: `time.max` is 24:00, the next local midnight."""
    if end == time.max:
        return local_instant(day + timedelta(days=1), time.min, zone)
    return local_instant(day, end, zone)


def _spans(hours: WorkingHours, day: date, zone: ZoneInfo) -> list[_Span]:
    intervals = _intervals(hours, day)
    tail_of_yesterday = bool(intervals) and _continues(hours, day - timedelta(days=1))
    return [
        _Span(
            day,
            local_instant(day, start, zone),
            _wall_end(day, end, zone),
            day - timedelta(days=1) if index == 0 and tail_of_yesterday else day,
        )
        for index, (start, end) in enumerate(intervals)
    ]


def _shift(hours: WorkingHours, day: date, zone: ZoneInfo) -> list[_Span]:
    """The intervals of the shift that starts on `day` (a night shift's tail included)."""
    following = day + timedelta(days=1)
    return [span for d in (day, following) for span in _spans(hours, d, zone) if span.shift == day]


def _spans_from(hours: WorkingHours, at: datetime) -> Iterator[_Span]:
    """Working intervals from the one containing `at` onwards, the first one cut at `at`."""
    zone = ZoneInfo(hours.timezone)
    first_day = at.astimezone(zone).date()
    for offset in range(_SEARCH_DAYS):
        for span in _spans(hours, first_day + timedelta(days=offset), zone):
            if span.end > at:
                yield _Span(span.day, max(span.start, at), span.end, span.shift)


def add_working_time(hours: WorkingHours, at: datetime, duration: timedelta) -> datetime:
    """The moment `duration` of working time after `at` (UTC); calendar time if never open."""
    at = _aware(at)
    remaining = duration
    for span in _spans_from(hours, at):
        length = span.end - span.start
        if length >= remaining:
            return span.start + remaining
        remaining -= length
    return at + duration


def working_time_between(hours: WorkingHours, start: datetime, end: datetime) -> timedelta:
    """How much working time lies between two moments (zero when `end` is not later)."""
    start, end = _aware(start), _aware(end)
    total = timedelta(0)
    for span in _spans_from(hours, start):
        if span.start >= end:
            break
        total += min(span.end, end) - span.start
    return total


def end_of_working_day(hours: WorkingHours, at: datetime) -> datetime:
    """The end of the working day `at` falls in, or of the next working day after hours (UTC)."""
    at = _aware(at)
    for span in _spans_from(hours, at):
        return _shift(hours, span.shift, ZoneInfo(hours.timezone))[-1].end
    return at + timedelta(hours=8)


def add_working_days(hours: WorkingHours, at: datetime, days: int) -> datetime:
    """The same time of day `days` working days later (UTC).

    Counted from the next working moment (a Friday evening counts from Monday morning); a time
    of day outside the target day's hours is moved to that day's first start or last end.
    Calendar days if the schedule is never open.
    """
    at = _aware(at)
    if days <= 0:
        return at
    zone = ZoneInfo(hours.timezone)
    opening = next(_spans_from(hours, at), None)
    if opening is None:
        return at + timedelta(days=days)
    wall = opening.start.astimezone(zone).time()
    # 1 when the opening lies in a night shift's morning tail: the due time is the morning
    # after the target shift's evening, too.
    tail = opening.day - opening.shift
    counted = 0
    for offset in range(1, _SEARCH_DAYS):
        day = opening.shift + timedelta(days=offset)
        spans = _shift(hours, day, zone)
        if not spans:
            continue
        counted += 1
        if counted == days:
            due = local_instant(day + tail, wall, zone)
            return min(max(due, spans[0].start), spans[-1].end)
    return at + timedelta(days=days)


def not_sooner_than(
    hours: WorkingHours, at: datetime, due: datetime, min_lead: timedelta
) -> datetime:
    """`due`, or later if less than `min_lead` of working time lies between `at` and it."""
    return max(_aware(due), add_working_time(hours, at, min_lead))


def rule_deadline(
    hours: WorkingHours, at: datetime, after: timedelta, min_lead: timedelta
) -> datetime:
    """A rule's deadline `after` a status change at `at`: whole days are working days (1d on a
    Friday afternoon is Monday afternoon), the rest is working time; never sooner than
    `min_lead` of working time after `at`."""
    days, rest = divmod(after, timedelta(days=1))
    due = add_working_days(hours, at, days)
    if rest > timedelta(0):
        due = add_working_time(hours, due, rest)
    return not_sooner_than(hours, at, due, min_lead)


def new_lead_deadline(hours: WorkingHours, at: datetime, min_lead: timedelta) -> datetime:
    """A new lead is qualified by the end of the working day — unless less than `min_lead` of
    working time is left of it (a lead answered at 17:59:30 is due the next morning)."""
    return not_sooner_than(hours, at, end_of_working_day(hours, at), min_lead)
