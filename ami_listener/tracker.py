"""CallTracker: AMI events in, one `CompletedCall` per finished call out. Pure: no I/O, no clock.

Decisions (see also ami_listener/README.md):

- A call is keyed by Linkedid and is tracked from the `Newchannel` of its first channel
  (Uniqueid == Linkedid). Events of calls whose start we did not see (the listener started
  mid-call) are ignored with one warning per call: such a call would be recorded with a wrong
  start, wrong legs and possibly a wrong verdict, which is worse than not recording it.
- A call ends when its first channel and every other channel seen for it have hung up. It is
  emitted `cdr_grace` seconds of *event time* later (the Timestamp headers of later events, or
  the `now` given to `expire`), because Asterisk sends the call's Cdr events in a burst around
  the last Hangup, sometimes after it. A Cdr arriving after that is logged and ignored; a call
  is never emitted twice.
- Cdr events are matched by LinkedID when cdr_manager maps it, else by UniqueID (the caller
  channel's uniqueid, which is a channel of the call).
- Asterisk restarted (`Shutdown`, or `FullyBooted` whose boot time is after the last event we
  saw): every call in flight is emitted with what is known, ended at the restart, with a
  warning; a restart hangs every channel up, so those calls did end then.
- A call with no events for `stale_after` seconds (its Hangup lost during a disconnect) is
  emitted the same way by `expire`.
- Channels Asterisk makes for its own work (`core/channels.py`: a CLI function evaluation's
  CLIEval/N, ConfBridge's announcer…) start no call: their events are ignored.
- One bad event is logged with its content and skipped; the rest are processed.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from core import dialplan
from core.channels import parse_channel
from core.phonebook import PhoneBook

from .assemble import EndpointClassifier, build_call
from .calls import CompletedCall
from .state import (
    CallState,
    CdrRecord,
    ChannelState,
    LegState,
    field_text,
    parse_cdr_time,
    parse_epoch,
    parse_seconds,
)

log = logging.getLogger(__name__)

AmiEvent = Mapping[str, Any]
PhoneSource = Callable[[], PhoneBook | None]  # the directory's phones now; None: never loaded
_REMEMBERED = 10_000  # emitted / ignored linkedids kept to refuse duplicates and repeat warnings
_RESTART_UPTIME = 5.0  # without a clock, a FullyBooted this young means Asterisk just started
_RECORDING = dialplan.ASTERISK_MIXMONITOR_FILENAME


class CallTracker:
    """Consumes AMI events (mappings of header -> value) and emits completed calls."""

    def __init__(
        self,
        system: str,
        *,
        region: str = "RU",
        cdr_grace: float = 2.0,
        stale_after: float = 24 * 3600.0,
        trunk_endpoints: Iterable[str] = (),
        internal_max_digits: int = 6,
        phones: PhoneSource | None = None,
    ) -> None:
        """`phones` gives the directory's phones at the moment a call is assembled (None: no
        directory was ever loaded, and trunks are told from phones by their names)."""
        self.system = system
        self.region = region
        self.cdr_grace = cdr_grace
        self.stale_after = stale_after
        self.classifier = EndpointClassifier(frozenset(trunk_endpoints), internal_max_digits)
        self._phones = phones
        self.bad_events = 0
        self._calls: dict[str, CallState] = {}
        self._uniqueid_to_call: dict[str, str] = {}
        self._emitted: OrderedDict[str, None] = OrderedDict()
        self._ignored: OrderedDict[str, None] = OrderedDict()
        self._last_event_at: float | None = None
        self._clock_given = False
        self._handlers: dict[str, Callable[[AmiEvent, float], list[CompletedCall]]] = {
            "Newchannel": self._on_newchannel,
            "NewCallerid": self._on_newcallerid,
            "VarSet": self._on_varset,
            "DialBegin": self._on_dial_begin,
            "DialEnd": self._on_dial_end,
            "HangupRequest": self._on_hangup_request,
            "Hangup": self._on_hangup,
            "Cdr": self._on_cdr,
            "FullyBooted": self._on_fully_booted,
            "Shutdown": self._on_shutdown,
        }

    # ---- public API -------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Calls not yet emitted (live or waiting for late Cdr)."""
        return len(self._calls)

    @property
    def last_event_at(self) -> float | None:
        """The newest event time seen (Asterisk's clock), for the runner's `expire(now)`."""
        return self._last_event_at

    def process(self, event: AmiEvent, now: float | None = None) -> list[CompletedCall]:
        """Apply one event; return the calls it completed (usually none).

        `now` (epoch seconds, Asterisk's clock) is used only for events without a usable
        Timestamp header (FullyBooted has none; all have none without `timestampevents`).
        """
        name = field_text(event, "Event")
        if not name:
            return []
        stamped = parse_epoch(field_text(event, "Timestamp"))
        emitted: list[CompletedCall] = []
        if stamped is not None:
            # Only Asterisk's own stamps move its clock; a host clock may be skewed.
            if self._last_event_at is None or stamped > self._last_event_at:
                self._last_event_at = stamped
            emitted = self.expire(stamped)
        at = stamped if stamped is not None else (now if now is not None else self._last_event_at)
        self._clock_given = now is not None
        handler = self._handlers.get(name)
        if handler is None:
            return emitted
        try:
            emitted.extend(handler(event, at if at is not None else 0.0))
        except MalformedEvent as exc:  # bad input, not our bug: say so and go on
            self.bad_events += 1
            log.warning("skipping malformed AMI event (%s): %r", exc, _short(event))
        except Exception:
            self.bad_events += 1
            log.exception("skipping AMI event that could not be applied: %r", _short(event))
        return emitted

    def expire(self, now: float) -> list[CompletedCall]:
        """Emit ended calls whose Cdr grace has passed, and calls silent for `stale_after`."""
        ready = [
            call
            for call in self._calls.values()
            if (call.ended_at is not None and call.ended_at + self.cdr_grace <= now)
            or (call.ended_at is None and call.last_event_at + self.stale_after <= now)
        ]
        for call in ready:
            if call.ended_at is None:
                log.warning(
                    "call %s had no event for %.0f s; recording what is known",
                    call.linkedid,
                    now - call.last_event_at,
                )
        return self._emit(ready)

    def flush(self) -> list[CompletedCall]:
        """Emit every ended call now, without waiting for the grace (shutdown, end of a replay)."""
        return self._emit([call for call in self._calls.values() if call.ended_at is not None])

    def reset(self, at: float | None = None, reason: str = "reset") -> list[CompletedCall]:
        """Forget all channel state; calls in flight are emitted as best known, ended at `at`."""
        calls = list(self._calls.values())
        live = [call for call in calls if call.ended_at is None]
        if live:
            log.warning(
                "%s: %d call(s) in flight recorded as best known: %s",
                reason,
                len(live),
                ", ".join(call.linkedid for call in live),
            )
        for call in live:
            call.ended_at = max(at if at is not None else call.last_event_at, call.started_at)
        emitted = self._emit(calls)
        self._uniqueid_to_call.clear()
        return emitted

    # ---- event handlers ---------------------------------------------------------------

    def _on_newchannel(self, event: AmiEvent, at: float) -> list[CompletedCall]:
        linkedid, uniqueid = _require(event, "Linkedid"), _require(event, "Uniqueid")
        call = self._calls.get(linkedid)
        if call is None:
            if uniqueid != linkedid or linkedid in self._emitted:
                return self._ignore(linkedid)
            if parse_channel(_require(event, "Channel")).is_internal:
                _remember(self._ignored, linkedid)  # e.g. a CLI function evaluation: no call
                return []
            call = self._calls[linkedid] = CallState(linkedid, started_at=at, last_event_at=at)
        elif call.ended_at is not None:
            call.ended_at = None  # a new channel joined while we waited for late Cdr
        channel = ChannelState(
            uniqueid=uniqueid,
            name=_require(event, "Channel"),
            caller_num=field_text(event, "CallerIDNum"),
            caller_name=field_text(event, "CallerIDName"),
            exten=field_text(event, "Exten"),
            context=field_text(event, "Context"),
        )
        call.channels.setdefault(uniqueid, channel)
        self._uniqueid_to_call[uniqueid] = linkedid
        call.last_event_at = max(call.last_event_at, at)
        return []

    def _on_newcallerid(self, event: AmiEvent, at: float) -> list[CompletedCall]:
        found = self._channel(event, at)
        if found is not None:
            found[1].caller_num = field_text(event, "CallerIDNum")
            found[1].caller_name = field_text(event, "CallerIDName")
        return []

    def _on_varset(self, event: AmiEvent, at: float) -> list[CompletedCall]:
        variable = field_text(event, "Variable")
        if not (variable.startswith(dialplan.PREFIX) or variable == _RECORDING):
            return []
        call = self._live_call(event, at)
        if call is None:
            return []
        value = field_text(event, "Value")
        if variable == _RECORDING:
            call.mixmonitor_file = value or call.mixmonitor_file
        else:
            call.variables[variable] = value
        return []

    def _on_dial_begin(self, event: AmiEvent, at: float) -> list[CompletedCall]:
        call = self._live_call(event, at)
        if call is None:
            return []
        dest = _require(event, "DestUniqueid")
        if dest not in call.legs:
            # A Local `;2` half dialling (the phone behind a Local leg): remember the pair.
            dialer = parse_channel(field_text(event, "Channel"))
            call.legs[dest] = LegState(
                uniqueid=dest,
                channel=_require(event, "DestChannel"),
                dial_string=field_text(event, "DialString"),
                ring_started_at=at,
                via=(dialer.pair or "") if dialer.half == 2 else "",
            )
        if dest not in call.channels:
            call.channels[dest] = ChannelState(uniqueid=dest, name=_require(event, "DestChannel"))
            self._uniqueid_to_call[dest] = call.linkedid
        return []

    def _on_dial_end(self, event: AmiEvent, at: float) -> list[CompletedCall]:
        call = self._live_call(event, at)
        if call is None:
            return []
        leg = call.legs.get(_require(event, "DestUniqueid"))
        if leg is None or leg.dial_status is not None:
            return []
        leg.dial_status = _require(event, "DialStatus")
        leg.ended_at = at
        if leg.dial_status == "ANSWER" and call.answered_leg is None and not leg.via:
            # The caller's own Dial decides who answered. A phone behind a Local leg answers the
            # pair's `;2` half first; the call is answered when the `;1` half answers the caller,
            # and then by that phone (DIALEDPEERNAME and BRIDGEPEER only ever name `;1`).
            pair = parse_channel(leg.channel).pair
            phone = next(
                (
                    other
                    for other in call.legs.values()
                    if pair is not None and other.via == pair and other.dial_status == "ANSWER"
                ),
                leg,
            )
            call.answered_leg, call.answered_at = phone.uniqueid, at
        return []

    def _on_hangup_request(self, event: AmiEvent, at: float) -> list[CompletedCall]:
        found = self._channel(event, at)
        if found is not None and found[1].hangup_requested_at is None:
            found[1].hangup_requested_at = at
        return []

    def _on_hangup(self, event: AmiEvent, at: float) -> list[CompletedCall]:
        found = self._channel(event, at)
        if found is None:
            return []
        call, channel = found
        if channel.hung_up_at is None:
            channel.hung_up_at = at
        if call.ended_at is None and call.all_hung_up():
            call.ended_at = at
        return []

    def _on_cdr(self, event: AmiEvent, at: float) -> list[CompletedCall]:
        linkedid = field_text(event, "LinkedID")
        if not linkedid:
            linkedid = self._uniqueid_to_call.get(field_text(event, "UniqueID"), "")
        call = self._calls.get(linkedid)
        if call is None:
            late = linkedid or field_text(event, "UniqueID")
            if late in self._emitted:
                log.warning(
                    "Cdr for call %s arrived after it was recorded; ignored "
                    "(raise cdr_grace if this repeats)",
                    late,
                )
            return []
        record = CdrRecord(
            channel=field_text(event, "Channel"),
            destination_channel=field_text(event, "DestinationChannel"),
            source=field_text(event, "Source"),
            destination=field_text(event, "Destination"),
            last_application=field_text(event, "LastApplication"),
            start=parse_cdr_time(field_text(event, "StartTime")),
            answer=parse_cdr_time(field_text(event, "AnswerTime")),
            end=parse_cdr_time(field_text(event, "EndTime")),
            duration=parse_seconds(field_text(event, "Duration")),
            billable=parse_seconds(field_text(event, "BillableSeconds")),
            disposition=field_text(event, "Disposition").strip().upper(),
            recording_file=field_text(event, "RecordingFile"),
        )
        key = (
            record.destination_channel,
            field_text(event, "StartTime"),
            record.last_application,
            record.disposition,
        )
        call.cdrs.setdefault(key, record)
        return []

    def _on_fully_booted(self, event: AmiEvent, at: float) -> list[CompletedCall]:
        try:
            uptime = float(field_text(event, "Uptime"))
        except ValueError:
            return []
        last = max((call.last_event_at for call in self._calls.values()), default=None)
        if last is None:
            return []
        if self._clock_given:
            restarted = at - uptime > last
        else:
            restarted = uptime <= _RESTART_UPTIME
        if not restarted:
            return []
        return self.reset(at=None, reason="Asterisk restarted (FullyBooted)")

    def _on_shutdown(self, event: AmiEvent, at: float) -> list[CompletedCall]:
        return self.reset(at=at or None, reason="Asterisk is shutting down")

    # ---- helpers ----------------------------------------------------------------------

    def _live_call(self, event: AmiEvent, at: float) -> CallState | None:
        linkedid = field_text(event, "Linkedid")
        call = self._calls.get(linkedid)
        if call is None:
            if linkedid:
                self._ignore(linkedid)
            return None
        call.last_event_at = max(call.last_event_at, at)
        return call

    def _channel(self, event: AmiEvent, at: float) -> tuple[CallState, ChannelState] | None:
        call = self._live_call(event, at)
        if call is None:
            return None
        uniqueid = _require(event, "Uniqueid")
        channel = call.channels.get(uniqueid)
        if channel is None:  # a channel whose Newchannel we missed; tolerate it
            channel = call.channels[uniqueid] = ChannelState(uniqueid, _require(event, "Channel"))
            self._uniqueid_to_call[uniqueid] = call.linkedid
        return call, channel

    def _ignore(self, linkedid: str) -> list[CompletedCall]:
        if linkedid not in self._ignored and linkedid not in self._emitted:
            log.warning(
                "call %s started before the listener saw it; it will not be recorded", linkedid
            )
            _remember(self._ignored, linkedid)
        return []

    def _emit(self, calls: list[CallState]) -> list[CompletedCall]:
        out: list[CompletedCall] = []
        classifier = self._classifier() if calls else self.classifier
        for call in sorted(calls, key=lambda c: (c.ended_at or 0.0, c.linkedid)):
            del self._calls[call.linkedid]
            for uniqueid in call.channels:
                self._uniqueid_to_call.pop(uniqueid, None)
            _remember(self._emitted, call.linkedid)
            try:
                out.append(
                    build_call(call, system=self.system, region=self.region, classifier=classifier)
                )
            except Exception:
                log.exception("could not assemble call %s; state: %r", call.linkedid, call)
        return out

    def _classifier(self) -> EndpointClassifier:
        phones = self._phones() if self._phones is not None else None
        if phones is None:
            return self.classifier
        return replace(self.classifier, phones=phones)


class MalformedEvent(ValueError):
    """An event without a header its kind always carries (a damaged line, a broken stream)."""


def _require(event: AmiEvent, name: str) -> str:
    value = field_text(event, name)
    if not value:
        raise MalformedEvent(f"missing {name}")
    return value


def _remember(seen: OrderedDict[str, None], key: str) -> None:
    seen[key] = None
    if len(seen) > _REMEMBERED:
        seen.popitem(last=False)


def _short(event: AmiEvent) -> dict[str, Any]:
    return {str(k): v for k, v in list(event.items())[:40]}
