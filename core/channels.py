"""Asterisk channel names, read one way everywhere: which device or dialplan target a channel is.

A channel is named after what it was created for, plus a suffix that makes it unique:

    PJSIP/office-fax-0000001a        technology PJSIP, resource `office-fax`, suffix `0000001a`
    SIP/carrier-00000035             chan_sip the same way
    Local/101@ctx-0000000a;1         a Local channel: extension `101` in context `ctx`, half 1
    PJSIP/cafe-beef                  a bare dial target or endpoint (a setting, a Dial string
                                     part): no suffix

The suffix is Asterisk's channel counter, always `-` and eight hex digits, and it is the *last*
thing in the name (before a Local channel's `;1`/`;2`): endpoint names may themselves hold `-`,
letters, digits, `_` and `.`, so only that final `-xxxxxxxx` is cut. One ambiguity is Asterisk's,
not ours: an endpoint whose own name ends in `-` and eight hex digits (`x-0000abcd`) reads as a
channel of `x` when it stands alone.

A Local channel comes in two halves of one pair: `;1` is the side the dialling channel talks to
(the leg a Dial rang), `;2` runs the extension in the context (and may dial a phone itself).
Both halves share everything but the half number.

callrouter's own Local legs add a phone to a ringing call after a delay (issue 18): the
extension carries the delay and the phone, `<delay>-<TECH>-<resource>` in the context
`core/dialplan.py` RING_DELAYED_CONTEXT, so `Local/10-PJSIP-101@callrouter-ring-delayed/n` is
PJSIP/101 from 10 s on (`delayed_ring_target` writes it, `parse_delayed_ring` reads it back
from the dial target, either half's channel name, or DIALEDPEERNUMBER). The dialplan takes the
technology from field 2 (`${CUT(EXTEN,-,2)}`) and the resource from field 3 to the end
(`${CUT(EXTEN,-,3-)}`: a resource may hold `-`); the technology never does.

Pure: no I/O, never raises — a name that fits no rule is its own endpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from router.schedule import can_wait

from .dialplan import RING_DELAYED_CONTEXT

LOCAL = "Local"
# Channels Asterisk creates for its own work, never a call: the CLI's `dialplan eval function`
# (CLIEval/N, main/pbx_variables.c: a Cdr, a Newchannel and a Hangup each time), the message
# queue (Message/ast_msg_queue, main/message.c), ConfBridge's announcer and recorder (CBAnn,
# CBRec).
_INTERNAL_TECHNOLOGIES = frozenset({"CLIEval", "Message", "CBAnn", "CBRec"})

_TECHNOLOGY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


@dataclass(frozen=True, slots=True)
class ChannelName:
    """One channel name (or bare dial target) taken apart; `str()` gives the name back."""

    technology: str  # "PJSIP", "SIP", "Local"; "" when the text has no `TECH/`
    resource: str  # "office-fax", "101", "101@ctx" (a Local channel's extension@context)
    suffix: str = ""  # "0000001a"; "" for a bare target
    half: int | None = None  # a Local channel's 1 or 2

    @property
    def endpoint(self) -> str:
        """The device or target the channel belongs to: `PJSIP/office-fax`, `Local/101@ctx`."""
        return f"{self.technology}/{self.resource}" if self.technology else self.resource

    @property
    def extension(self) -> str:
        """The resource up to `@`: a Local channel's extension, a phone's number (`101`)."""
        return self.resource.partition("@")[0]

    @property
    def context(self) -> str | None:
        """A Local channel's dialplan context (`ctx`, also of a dial target `Local/101@ctx/n`,
        whose `/n` is a Dial option); None when the resource has no `@`."""
        _, at, context = self.resource.partition("@")
        return context.partition("/")[0] if at else None

    @property
    def is_local(self) -> bool:
        return self.technology == LOCAL

    @property
    def is_internal(self) -> bool:
        """One of Asterisk's own channels (`_INTERNAL_TECHNOLOGIES`): no caller, no phone."""
        return self.technology in _INTERNAL_TECHNOLOGIES

    @property
    def pair(self) -> str | None:
        """For a half of a Local pair, the name both halves share (`Local/101@ctx-0000000a`)."""
        if self.half is None or not self.is_local:
            return None
        return f"{self.endpoint}-{self.suffix}" if self.suffix else self.endpoint

    def __str__(self) -> str:
        name = self.endpoint
        if self.suffix:
            name += f"-{self.suffix}"
        if self.half is not None:
            name += f";{self.half}"
        return name


def parse_channel(name: str) -> ChannelName:
    """`name` taken apart; total: anything without the parts reads as a bare resource."""
    endpoint, suffix, half = _split(name)
    technology, slash, resource = endpoint.partition("/")
    if not (slash and _TECHNOLOGY.fullmatch(technology)):
        technology, resource = "", endpoint
    return ChannelName(technology, resource, suffix, half)


def endpoint_of(channel: str) -> str:
    """'PJSIP/office-fax-0000001a' → 'PJSIP/office-fax'; 'Local/101@ctx-0000000a;1' →
    'Local/101@ctx'; a bare target ('PJSIP/cafe-beef') is returned as it is."""
    return _split(channel)[0]


def _split(name: str) -> tuple[str, str, int | None]:
    """(endpoint, suffix, half): the name's last `;1`/`;2`, then its last `-` and 8 hex digits,
    each cut off when it is there. Plain string work: the listener does this for every leg."""
    base, half = name, None
    if name[-2:] in (";1", ";2"):
        base, half = name[:-2], int(name[-1])
    if len(base) >= 9 and base[-9] == "-" and _HEX8.fullmatch(base, len(base) - 8):
        return base[:-9], base[-8:], half
    return base, "", half


@dataclass(frozen=True, slots=True)
class DelayedRing:
    """One of callrouter's delayed Local legs: the phone it rings and after how long."""

    delay: int  # seconds from the start of the Dial
    endpoint: str  # "PJSIP/101"


def delayed_ring_target(endpoint: str, delay: int) -> str | None:
    """The Dial target that rings `endpoint` `delay` seconds after the Dial starts
    (`Local/10-PJSIP-101@callrouter-ring-delayed/n`); None when the endpoint cannot travel in an
    extension (`router.schedule.can_wait`) or the delay is not a positive whole number."""
    if delay <= 0 or not can_wait(endpoint):
        return None
    technology, _, resource = endpoint.partition("/")
    return f"{LOCAL}/{delay}-{technology}-{resource}@{RING_DELAYED_CONTEXT}/n"


def parse_delayed_ring(name: str) -> DelayedRing | None:
    """The phone behind one of our delayed Local legs, from its dial target, either half's
    channel name (`Local/10-PJSIP-101@callrouter-ring-delayed-00000004;1`) or DIALEDPEERNUMBER
    (`10-PJSIP-101@callrouter-ring-delayed/n`); None for anything else."""
    text = name.strip()
    if not text.startswith(f"{LOCAL}/"):
        text = f"{LOCAL}/{text}"
    channel = parse_channel(text)
    if channel.context != RING_DELAYED_CONTEXT:
        return None
    delay, _, rest = channel.extension.partition("-")
    technology, _, resource = rest.partition("-")
    if not (delay.isascii() and delay.isdigit() and _TECHNOLOGY.fullmatch(technology)):
        return None
    endpoint = f"{technology}/{resource}"
    return DelayedRing(int(delay), endpoint) if can_wait(endpoint) else None
