"""Turn the state of one ended call into a `CompletedCall` (pure, no I/O).

The one interpretation of a call: the tracker hands over what the AMI events built, the backfill
what Master.csv lines build (a caller channel and Cdr records only), and both get their record
from `build_call`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from core import dialplan
from core.calls import Direction
from core.channels import endpoint_of, parse_channel
from core.phonebook import PhoneBook
from core.phones import try_normalize_phone

from .calls import CallLeg, CompletedCall, Disposition
from .state import CallState, CdrRecord, known

_CDR_DISPOSITIONS: dict[str, Disposition] = {
    "NO ANSWER": "NO ANSWER",
    "BUSY": "BUSY",
    "FAILED": "FAILED",
    "CONGESTION": "FAILED",
}
_DIAL_DISPOSITIONS: dict[str, Disposition] = {
    "BUSY": "BUSY",
    "CHANUNAVAIL": "FAILED",
    "CONGESTION": "FAILED",
}
_CDR_DIAL_STATUS = {"ANSWERED": "ANSWER", "NO ANSWER": "NOANSWER", "BUSY": "BUSY"}
# A delayed Local leg's extension, `<delay seconds>-<endpoint>` (`3-103`; our dialplan's
# `[callrouter-ring-delayed]`, the lab's `[ring-delayed]`): its `;2` half waits that long first.
_DELAYED_EXTEN = re.compile(r"^(\d+(?:\.\d+)?)-.")


@dataclass(frozen=True)
class EndpointClassifier:
    """Tells trunks from phones.

    With `phones` (the directory's, see `core.phonebook`) a channel is a manager's phone
    exactly when the directory lists it, whatever its name looks like. Without it (no
    directory was ever loaded) the old heuristic stands in: with `trunks` configured, exactly
    those endpoints (or resource names, e.g. "carrier") are trunks; without, an endpoint whose
    resource is all digits and at most `internal_max_digits` long ("SIP/101") is a phone and
    anything else a trunk (a Local channel's resource is its extension: `Local/101@ctx` is a
    phone, `Local/3-103@ctx` not).
    """

    trunks: frozenset[str] = frozenset()
    internal_max_digits: int = 6
    phones: PhoneBook | None = None

    def is_trunk(self, endpoint: str) -> bool:
        """A configured trunk, or (no trunks configured) whatever the heuristic takes for one."""
        resource = parse_channel(endpoint).extension
        if self.trunks:
            return endpoint in self.trunks or resource in self.trunks
        return not self.is_internal_number(resource)

    def is_internal_number(self, number: str) -> bool:
        return number.isdigit() and len(number) <= self.internal_max_digits

    def phone_of(self, endpoint: str) -> str | None:
        """The directory's endpoint of the phone behind `endpoint`; with no directory, the
        endpoint itself when the heuristic takes it for a phone; None for anything else."""
        if self.phones is not None:
            return self.phones.phone_of(endpoint)
        return None if self.is_trunk(endpoint) else endpoint


def build_call(
    call: CallState, *, system: str, region: str, classifier: EndpointClassifier
) -> CompletedCall:
    """The best record the state allows; never raises for missing pieces."""
    caller = call.caller
    caller_endpoint = caller.endpoint if caller else ""
    cdrs = list(call.cdrs.values())
    legs = _legs(call, cdrs)
    dialed = _dialed_number(call, cdrs)
    direction = _direction(call, caller_endpoint, dialed, legs, classifier)

    answered_leg = next((leg for leg in legs if leg.answered), None)
    answered_at = call.answered_at
    if answered_at is None and answered_leg is not None:
        answered_at = _cdr_answer_time(cdrs, answered_leg.channel)
    ended_at = call.ended_at if call.ended_at is not None else call.last_event_at
    started_at = min(call.started_at, ended_at)
    if answered_at is not None:
        answered_at = min(max(answered_at, started_at), ended_at)

    raw_external = _external_raw(direction, caller.caller_num if caller else "", dialed, legs)
    abandoned, abandon_seconds = _abandon(call, direction, answered_leg is not None, started_at)
    return CompletedCall(
        system=system,
        linkedid=call.linkedid,
        direction=direction,
        external_number=try_normalize_phone(raw_external, region) if raw_external else None,
        external_number_raw=raw_external,
        caller_name=known(caller.caller_name) if caller else None,
        dialed_number=dialed,
        started_at=_utc(started_at),
        answered_at=_utc(answered_at) if answered_at is not None else None,
        ended_at=_utc(ended_at),
        ring_seconds=_ring_seconds(started_at, answered_at, ended_at, abandon_seconds),
        talk_seconds=_talk_seconds(call, cdrs, answered_leg, answered_at, ended_at),
        disposition=_disposition(
            answered_leg is not None, call.variables.get(dialplan.DIALSTATUS), cdrs, legs
        ),
        answered_by=_answerer(answered_leg, classifier),
        manager_endpoint=_placed_by(direction, caller_endpoint, classifier),
        abandoned=abandoned,
        abandon_seconds=abandon_seconds,
        after_hours=dialplan.is_yes(call.variables.get(dialplan.AFTER_HOURS)),
        variables=tuple(sorted(call.variables.items())),
        recording_file=call.mixmonitor_file or _cdr_recording(cdrs),
        legs=tuple(legs),
    )


def _legs(call: CallState, cdrs: list[CdrRecord]) -> list[CallLeg]:
    """One leg per phone channel rung. A Local pair is no phone: the phone its `;2` half dialled
    is the leg (rung from its own DialBegin), a pair that dialled nobody (still waiting in its
    delay when the call ended) rang nobody. Only a Local `;1` that answered with no phone seen
    behind it stays a leg (the directory reads `Local/101@ctx` as 101's phone)."""
    legs: list[CallLeg] = []
    dialled = {leg.via for leg in call.legs.values() if leg.via}
    halves: set[str] = set()
    for leg in call.legs.values():
        pair = parse_channel(leg.channel).pair
        if pair is not None:
            halves.add(leg.channel)
            if leg.uniqueid != call.answered_leg or pair in dialled:
                continue
        channel = call.channels.get(leg.uniqueid)
        end = leg.ended_at
        if end is None and channel is not None:
            end = channel.hung_up_at
        if end is None:
            end = call.ended_at if call.ended_at is not None else call.last_event_at
        legs.append(
            CallLeg(
                endpoint=endpoint_of(leg.channel),
                channel=leg.channel,
                ring_started_at=_utc(leg.ring_started_at),
                ring_seconds=_round(end - leg.ring_started_at),
                answered=leg.uniqueid == call.answered_leg,
                dial_status=leg.dial_status,
            )
        )
    # A Cdr for a leg whose Dial events we never saw (lost on a reconnect, or a backfill from
    # Master.csv) still tells who rang, and who answered. A Local pair whose `;2` half wrote
    # records of its own is represented by them (the phone it dialled, or nobody).
    seen = {leg.channel for leg in legs} | halves
    answerer = _cdr_answerer(cdrs, seen) if call.answered_leg is None else None
    wrote = {pair for cdr in cdrs if (pair := _two_half(cdr.channel)) is not None}
    for cdr in cdrs:
        if not cdr.destination_channel or cdr.destination_channel in seen or cdr.start is None:
            continue
        seen.add(cdr.destination_channel)
        if parse_channel(cdr.destination_channel).pair in wrote:
            continue
        ring = float((cdr.duration or 0) - (cdr.billable or 0))
        start = cdr.start
        waited = _delay(cdr)
        if waited:  # the phone was dialled only when the `;2` half's delay was over
            start, ring = start + waited, ring - waited
        legs.append(
            CallLeg(
                endpoint=endpoint_of(cdr.destination_channel),
                channel=cdr.destination_channel,
                ring_started_at=_utc(start),
                ring_seconds=float(max(ring, 0)),
                answered=cdr.destination_channel == answerer,
                dial_status=_CDR_DIAL_STATUS.get(cdr.disposition),
            )
        )
    legs.sort(key=lambda leg: leg.ring_started_at)
    return legs


def _two_half(channel: str) -> str | None:
    """The Local pair of a `;2` half's channel name; None for anything else."""
    name = parse_channel(channel)
    return name.pair if name.half == 2 else None


def _delay(cdr: CdrRecord) -> float:
    """Seconds a delayed Local leg's `;2` half waited before the Dial its record is about."""
    if _two_half(cdr.channel) is None or cdr.last_application != "Dial":
        return 0.0
    m = _DELAYED_EXTEN.match(cdr.destination)
    return float(m.group(1)) if m else 0.0


def _cdr_answerer(cdrs: list[CdrRecord], seen: set[str]) -> str | None:
    """The channel that answered by the Cdr alone: the first to answer. Within the same second
    a phone beats a Local channel: the phone answered the Local pair's `;2` half, whose `;1`
    half then answered the caller (the AMI events show the phone's DialEnd first)."""
    answered = [
        cdr
        for cdr in cdrs
        if cdr.disposition == "ANSWERED"
        and cdr.destination_channel
        and cdr.destination_channel not in seen
        and cdr.start is not None
    ]
    if not answered:
        return None
    first = min(
        answered,
        key=lambda cdr: (
            math.inf if cdr.answer is None else cdr.answer,
            parse_channel(cdr.destination_channel).is_local,
        ),
    )
    return first.destination_channel


def _dialed_number(call: CallState, cdrs: list[CdrRecord]) -> str | None:
    caller = call.caller
    exten = known(caller.exten) if caller else None
    if exten and exten != "s":
        return exten
    return next((cdr.destination for cdr in cdrs if known(cdr.destination)), None)


def _ring_seconds(
    started_at: float, answered_at: float | None, ended_at: float, abandon_seconds: float | None
) -> float:
    """How long the caller waited: until answered, until they hung up, or until the end."""
    if answered_at is not None:
        return _round(answered_at - started_at)
    if abandon_seconds is not None:  # the channel may live on while the AGI winds down
        return _round(abandon_seconds)
    return _round(ended_at - started_at)


def _direction(
    call: CallState,
    caller_endpoint: str,
    dialed: str | None,
    legs: list[CallLeg],
    classifier: EndpointClassifier,
) -> Direction:
    phones = classifier.phones
    if phones is None:
        return _heuristic_direction(caller_endpoint, dialed, legs, classifier)
    if (
        caller_endpoint
        and not phones.is_phone(caller_endpoint)
        and _came_from_outside(call, caller_endpoint, legs, classifier, phones)
    ):
        return Direction.INBOUND
    # Placed by a manager's phone, or by another device of the office (a fax, a door phone).
    if any(_leaves(leg.endpoint, classifier, phones) for leg in legs):
        return Direction.OUTBOUND
    if (
        not legs
        and dialed
        and not classifier.is_internal_number(dialed.lstrip("+"))
        and phones.phone_of(f"Local/{dialed}") is None
    ):
        return Direction.OUTBOUND
    return Direction.INTERNAL


def _came_from_outside(
    call: CallState,
    caller_endpoint: str,
    legs: list[CallLeg],
    classifier: EndpointClassifier,
    phones: PhoneBook,
) -> bool:
    """Whether a caller that is no manager's phone is a trunk bringing a client in.

    With trunks configured, exactly those are; any other device is the office's own. Without,
    the call tells: a call our router handled, or that rang a manager's phone, or rang nobody,
    came in; a device whose call only reached trunks (`PJSIP/office-fax` dialling a client)
    is the office calling out, and must not count as a client's inbound call."""
    if classifier.trunks:
        return classifier.is_trunk(caller_endpoint)
    if dialplan.PLAN_ID in call.variables or not legs:
        return True
    if any(phones.is_phone(leg.endpoint) for leg in legs):
        return True
    return not any(classifier.is_trunk(leg.endpoint) for leg in legs)


def _leaves(endpoint: str, classifier: EndpointClassifier, phones: PhoneBook) -> bool:
    """A leg that takes the call out of the office: a trunk that is no manager's phone."""
    return not phones.is_phone(endpoint) and classifier.is_trunk(endpoint)


def _heuristic_direction(
    caller_endpoint: str,
    dialed: str | None,
    legs: Iterable[CallLeg],
    classifier: EndpointClassifier,
) -> Direction:
    """Without a directory: trunks and phones told apart by `EndpointClassifier` alone."""
    if caller_endpoint and classifier.is_trunk(caller_endpoint):
        return Direction.INBOUND
    if any(classifier.is_trunk(leg.endpoint) for leg in legs):
        return Direction.OUTBOUND
    if dialed and not classifier.is_internal_number(dialed.lstrip("+")):
        return Direction.OUTBOUND
    return Direction.INTERNAL


def _answerer(leg: CallLeg | None, classifier: EndpointClassifier) -> str | None:
    """Who answered: a manager's phone as the directory spells it (a Local channel to 101 is
    `PJSIP/101`), anything else (a trunk, a stranger) as its own endpoint."""
    if leg is None:
        return None
    if classifier.phones is None:
        return leg.endpoint
    return classifier.phones.phone_of(leg.endpoint) or leg.endpoint


def _placed_by(
    direction: Direction, caller_endpoint: str, classifier: EndpointClassifier
) -> str | None:
    """The manager's phone that placed an outbound or internal call; None for inbound calls and
    for devices no manager has (with a directory loaded)."""
    if direction == Direction.INBOUND or not caller_endpoint:
        return None
    if classifier.phones is None:
        return caller_endpoint
    return classifier.phones.phone_of(caller_endpoint)


def _external_raw(
    direction: Direction, caller_num: str, dialed: str | None, legs: list[CallLeg]
) -> str | None:
    if direction == Direction.INBOUND:
        return known(caller_num)
    if direction == Direction.INTERNAL:
        return None
    return dialed


def _abandon(
    call: CallState, direction: Direction, answered: bool, started_at: float
) -> tuple[bool, float | None]:
    caller = call.caller
    if direction != Direction.INBOUND or answered or caller is None:
        return False, None
    # HangupRequest = the caller's side hung up; the dialplan's own Hangup() is a SoftHangupRequest.
    hung_up = caller.hangup_requested_at
    if hung_up is None:
        return False, None
    return True, _round(hung_up - started_at)


def _talk_seconds(
    call: CallState,
    cdrs: list[CdrRecord],
    answered_leg: CallLeg | None,
    answered_at: float | None,
    ended_at: float,
) -> float:
    if answered_leg is None:
        return 0.0
    pair = _pair_behind(call, cdrs, answered_leg.channel)
    if pair is not None:
        return _talk_through_local(call, cdrs, answered_leg, pair, answered_at, ended_at)
    answered_cdrs = [c for c in cdrs if c.disposition == "ANSWERED" and c.billable is not None]
    for cdr in answered_cdrs:
        if cdr.destination_channel == answered_leg.channel:
            return float(cdr.billable or 0)
    if answered_cdrs:
        return float(max(c.billable or 0 for c in answered_cdrs))
    if answered_at is None:
        return 0.0
    leg_channel = call.channels.get(call.answered_leg or "")
    end = leg_channel.hung_up_at if leg_channel and leg_channel.hung_up_at else ended_at
    return _round(min(end, ended_at) - answered_at)


def _pair_behind(call: CallState, cdrs: list[CdrRecord], channel: str) -> str | None:
    """The Local pair through which `channel` (the answering phone) was dialled, if any."""
    for leg in call.legs.values():
        if leg.channel == channel and leg.via:
            return leg.via
    for cdr in cdrs:
        pair = _two_half(cdr.channel)
        if pair is not None and cdr.destination_channel == channel:
            return pair
    return None


def _talk_through_local(
    call: CallState,
    cdrs: list[CdrRecord],
    answered_leg: CallLeg,
    pair: str,
    answered_at: float | None,
    ended_at: float,
) -> float:
    """Talk time of a phone reached through a Local pair. No single Cdr has it: with `/n` the
    `;2` → phone and caller → `;1` records do, but once the pair is optimised away both end
    with billsec 0 and a third record (caller → phone) starts at the swap (pjsip-local L5).
    From the Cdrs: the first answer to the last end among the records of that phone and that
    pair (whole seconds, as Cdr billsec is); else from the events: the answer to the phone's
    hangup."""
    mine = [
        c
        for c in cdrs
        if c.disposition == "ANSWERED"
        and c.answer is not None
        and c.end is not None
        and (
            c.destination_channel == answered_leg.channel
            or parse_channel(c.destination_channel).pair == pair
        )
    ]
    if mine:
        return _round(max(c.end or 0.0 for c in mine) - min(c.answer or 0.0 for c in mine))
    phone = next((c for c in call.channels.values() if c.name == answered_leg.channel), None)
    if answered_at is not None and phone is not None and phone.hung_up_at is not None:
        return _round(min(phone.hung_up_at, ended_at) - answered_at)
    return 0.0


def _disposition(
    answered: bool, router_dial_status: str | None, cdrs: list[CdrRecord], legs: list[CallLeg]
) -> Disposition:
    if answered:
        return "ANSWERED"
    # The router's Dial rang out: one phone behind a delayed Local leg that answered 486 has its
    # cause (17) copied onto the caller by app_dial, whose final Cdr then says BUSY (seen on a
    # real Asterisk 20; pjsip-local L6) although everybody else rang unanswered.
    if router_dial_status == "NOANSWER":
        return "NO ANSWER"
    # The caller's own final record (no DestinationChannel) is Asterisk's verdict on the call
    # (a Local `;2` half's records are its own: one still waiting ends NO ANSWER without one).
    for cdr in reversed(cdrs):
        if parse_channel(cdr.channel).is_local:
            continue
        if not cdr.destination_channel and cdr.disposition in _CDR_DISPOSITIONS:
            return _CDR_DISPOSITIONS[cdr.disposition]
    ended = [leg for leg in legs if leg.dial_status]
    if ended:
        return _DIAL_DISPOSITIONS.get(ended[-1].dial_status or "", "NO ANSWER")
    return "NO ANSWER"


def _cdr_answer_time(cdrs: list[CdrRecord], channel: str) -> float | None:
    for cdr in cdrs:
        if cdr.destination_channel == channel and cdr.answer is not None:
            return cdr.answer
    return None


def _cdr_recording(cdrs: list[CdrRecord]) -> str | None:
    return next((c.recording_file for c in cdrs if c.recording_file.strip()), None)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _round(seconds: float) -> float:
    return round(max(seconds, 0.0), 3)
