"""What every figure means: written once here, used by the queries, printed in the README.

The queries in `queries.py` implement exactly these sentences; the tests in `tests/reports/`
check them against hand-counted calls. Change a definition here and in the query together.
"""

from __future__ import annotations

from dataclasses import dataclass

# The directions the figures count. Internal calls (phone to phone) are nobody's sales work.
COUNTED_DIRECTIONS = ("inbound", "outbound")
ANSWERED = "ANSWERED"


@dataclass(frozen=True)
class Definition:
    name: str
    text: str


DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "Period and day",
        "A period is a range of local calendar days in the company's time zone (settings "
        "`timezone`); a day runs from local midnight to the next local midnight (23 or 25 hours "
        "on a DST change). A call belongs to the day, hour and period in which it started, even "
        "when it ends after midnight. Internal (phone-to-phone) calls are not counted anywhere.",
    ),
    Definition(
        "Calls made",
        "Outbound calls: a manager's phone dialled an outside number. Attributed to the manager "
        "who dialled. Made and answered: the other side picked up (disposition ANSWERED).",
    ),
    Definition(
        "Calls received",
        "Inbound calls from outside. For the company (and per day or hour) every inbound call "
        "counts, answered or not. A manager receives only the inbound calls they answered (a call "
        "nobody answered is nobody's); the calls that rang them are in 'rung'.",
    ),
    Definition(
        "Answered calls",
        "Outbound calls the other side picked up plus inbound calls a person answered.",
    ),
    Definition(
        "Minutes on the line",
        "The sum of talk time (Asterisk's billable seconds) of answered calls, inbound and "
        "outbound, divided by 60. Split two ways: 'min in' = talk time of inbound calls a person "
        "answered, 'min out' = talk time of outbound calls the other side picked up; the two add "
        "up to the total, per manager, per department and for the company. Average call = talk "
        "time / answered calls; longest call = the longest talk time of one answered call.",
    ),
    Definition(
        "Inbound: offered, answered, missed",
        "Offered = every inbound call. Answered = a person picked up (at any escalation step, "
        "the owner's included). Missed = nobody answered: the caller hung up while it rang, or "
        "every step ran out. After-hours calls are offered and missed like any other; their "
        "misses are also shown apart.",
    ),
    Definition(
        "Time to answer",
        "For answered inbound calls: seconds from the start of the call until a person picked up "
        "(the caller's wait, routing included). p50 and p90 use the nearest-rank method: the "
        "smallest value such that at least 50% (90%) of the calls waited no longer.",
    ),
    Definition(
        "Rung, not picked up",
        "Per manager: inbound calls on which that manager's phone rang (counted once per call "
        "however many steps rang it). Not picked up: of those, calls that manager did not answer "
        "(a colleague did, or nobody). Of which missed: calls nobody answered at all.",
    ),
    Definition(
        "Short abandon",
        "A missed inbound call whose caller hung up less than N seconds after the call started "
        "(N = settings `report.short_abandon_seconds`, default 5): 4.9 s is short, 5.0 s and "
        "5.1 s are not.",
    ),
    Definition(
        "Lost Call Rate (LCR)",
        "Missed inbound calls / all inbound calls. Shown two ways: 'all' counts every miss; "
        "'without short abandons' removes short abandons from both the misses and the calls. "
        "A third figure, 'in working hours', leaves after-hours calls out of both. No inbound "
        "calls: no rate (shown as '—'). This rate is per call: a client who tried five times "
        "counts five times.",
    ),
    Definition(
        "Lost Call Rate per caller",
        "Callers who could not get through / callers who called, counted per local day. A "
        "caller is one outside number that made at least one inbound call that day, counted "
        "once however many times it called; it could not get through when none of its inbound "
        "calls that day was answered by a person (after-hours and short-abandoned calls "
        "included; a later call-back by a manager is a recovery, not getting through). "
        "Anonymous calls (no number) are left out of both. Over a period of several days each "
        "caller counts once per day on which they called. No callers: no rate ('—').",
    ),
    Definition(
        "Recovered",
        "A missed call is recovered when a later answered call connects its number with a "
        "manager: the manager called back and the client picked up, or the client called again "
        "and got through. Recovery rate = recovered / missed calls that have a number (anonymous "
        "callers cannot be called back), for the missed calls that started in the period, "
        "counting recoveries made up to the moment of the report. Time to recovery = from the end "
        "of the missed call to the moment the later call was answered; the median is the p50 "
        "above (nearest rank).",
    ),
    Definition(
        "Unrecovered numbers",
        "Numbers with missed calls not yet recovered, from the last "
        "`report.unrecovered_lookback_days` days up to the end of the report's day. Age = time "
        "since the first of those missed calls. Responsible = who holds the open call-back task "
        "(else the contact's responsible manager).",
    ),
    Definition(
        "Tasks",
        "Per responsible manager. Open = still open now; overdue = open and past its deadline "
        "now. Done on time / late = marked done within the period, at or before / after its "
        "deadline. Cancelled tasks are not counted.",
    ),
    Definition(
        "Activity drop (alert)",
        "A manager's or department's calls (made + received) or minutes on the line today, up to "
        "the same local time of day, below `alerts.drop_threshold` (default 0.5) × their average "
        "over the same weekday of the previous `alerts.baseline_weeks` weeks (default 4) on "
        "which they were on shift. A department is on shift on a day its calendar has open: a "
        "weekday with working hours (no hours set: every day) that is not one of its holidays. A "
        "manager is on shift on a day their department is open and they worked — made or "
        "answered at least one call that whole day (there are no absence days in the schema, so "
        "a day without a single call is taken as a day off); a manager without a department "
        "follows no calendar. A day on shift without calls by that time of day counts as zero; "
        "holidays and days off are left out, so they do not hide a real drop. No alert on a day "
        "the department is closed. Baselines below `alerts.min_baseline_calls` calls or "
        "`alerts.min_baseline_minutes` minutes are too thin to judge. Deactivated managers are "
        "not flagged.",
    ),
    Definition(
        "Escalation of unreturned missed calls",
        "An open call-back task still open `callbacks.escalate_after_minutes` after its deadline "
        "is escalated once (the task records when, from whom and to whom): reassigned to the head "
        "of sales (or `callbacks.to_role` / `callbacks.to_manager_id`), or, with "
        '`callbacks.mode = "copy"`, left with its manager while the target gets a check task. '
        "`callrouter callbacks escalate` does it; running it again changes nothing.",
    ),
)


def as_markdown() -> str:
    """The definitions as a Markdown list, for the README and `callrouter stats --definitions`."""
    return "\n".join(f"- **{d.name}.** {d.text}" for d in DEFINITIONS)


def nearest_rank(percent: int, count: int) -> int:
    """The 1-based rank of the `percent` percentile among `count` sorted values (nearest rank).

    The SQL uses the same integer arithmetic: ceil(p·n/100) = (p·n + 99) // 100.
    """
    return (percent * count + 99) // 100
