"""Every channel variable callrouter sets, in one place. The AMI listener reads them from VarSet.

All names carry the `CALLROUTER_` prefix. They are set on the caller's channel (the inbound
carrier leg) during the AGI session, so each appears as an AMI `VarSet` event with the call's
`Linkedid`; the last value set wins.

They travel in as few AGI round trips as possible: the plan's variables together with the first
step's, in one `EXEC MSet` right before its Dial (or with the result when nothing is dialled),
each later step's in one more; once the caller has hung up (MSet does not run on a dead channel)
or for a value MSet could alter, one `SET VARIABLE` each. Either way Asterisk emits one VarSet per
variable, in the order of the table.

| variable | values | set when |
| --- | --- | --- |
| CALLROUTER_PLAN_ID | the plan's id (the caller channel's uniqueid) | first, with the first step's, before its Dial |
| CALLROUTER_LEAD | `new` (unknown number: whoever answers takes the lead), `existing`, `none` (no usable number) | with the plan id |
| CALLROUTER_CONTACT_ID | the contact's id; not set for a new or anonymous caller | with the plan id |
| CALLROUTER_AFTER_HOURS | `1` outside working hours, else `0` | with the plan id |
| CALLROUTER_DECISION | `directory` (fresh lookup), `last_directory` (database too slow or down: default plan from the cached directory), `fallback_targets` (no directory ever loaded), `snapshot` (database unreachable: the directory snapshot on disk) | with the plan id |
| CALLROUTER_STEP | the number of the step being rung, `1`…; at the end the step reached | before each Dial; last, when the step reached differs |
| CALLROUTER_STEP_KIND | `responsible`, `department`, `head_of_sales`, `owner`, `fallback` | with CALLROUTER_STEP |
| CALLROUTER_RESULT | `ANSWERED`, `CALLER_HANGUP`, `NO_ANSWER`, `AFTER_HOURS`, `FAILED` | last |
| CALLROUTER_ANSWERED_BY | the id of the manager who answered (empty for a fallback target) | last, on ANSWERED |
| CALLROUTER_DIALSTATUS | the last Dial's DIALSTATUS | last, if a Dial ran |

CALLROUTER_STEP and CALLROUTER_STEP_KIND are set twice when the plan runs as one Dial (issue 18):
before it, the first step; after it, the step reached: the step that added the phone that
answered; the last step of the Dial when nobody answered; the step in progress when the caller
left (from Asterisk's `${EPOCH}` read before and after the Dial, to the second).

The dialplan reads only CALLROUTER_RESULT: `AFTER_HOURS` plays the after-hours message; an
empty or `FAILED` result (or AGISTATUS other than SUCCESS) runs the static fallback Dial.

RING_DELAYED_CONTEXT is the dialplan context of the Local legs that add a phone to the ringing
call at its step's offset: `Local/<delay>-<TECH>-<resource>@callrouter-ring-delayed/n`
(`core/channels.py` writes and reads that extension; `asterisk_conf/extensions_callrouter.conf` has the
context: wait, check DEVICE_STATE, dial the phone). It sets no CALLROUTER_ variable.
"""

from __future__ import annotations

PREFIX = "CALLROUTER_"

PLAN_ID = "CALLROUTER_PLAN_ID"
LEAD = "CALLROUTER_LEAD"
CONTACT_ID = "CALLROUTER_CONTACT_ID"
AFTER_HOURS = "CALLROUTER_AFTER_HOURS"
DECISION = "CALLROUTER_DECISION"
STEP = "CALLROUTER_STEP"
STEP_KIND = "CALLROUTER_STEP_KIND"
RESULT = "CALLROUTER_RESULT"
ANSWERED_BY = "CALLROUTER_ANSWERED_BY"
DIALSTATUS = "CALLROUTER_DIALSTATUS"

ALL = (
    PLAN_ID,
    LEAD,
    CONTACT_ID,
    AFTER_HOURS,
    DECISION,
    STEP,
    STEP_KIND,
    RESULT,
    ANSWERED_BY,
    DIALSTATUS,
)

# Asterisk's own variables: the executor reads the first two, the listener takes the call's
# recording from the third.
ASTERISK_DIALSTATUS = "DIALSTATUS"
ASTERISK_DIALEDPEERNAME = "DIALEDPEERNAME"
ASTERISK_MIXMONITOR_FILENAME = "MIXMONITOR_FILENAME"

# The dialplan context of the delayed Local legs (one Dial per plan, phones added at offsets).
RING_DELAYED_CONTEXT = "callrouter-ring-delayed"

_YES = frozenset({"1", "y", "yes", "true", "on"})


def flag(value: bool) -> str:
    """How a yes/no variable (CALLROUTER_AFTER_HOURS) is set: "1" or "0"."""
    return "1" if value else "0"


def is_yes(value: str | None) -> bool:
    """How a yes/no variable is read: "1", "y", "yes", "true" or "on", in any case, blanks
    around allowed; anything else, and an unset variable, is no."""
    return value is not None and value.strip().lower() in _YES
