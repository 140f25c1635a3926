"""Recorded scenarios as parsed AMI messages (through the same framer the listener uses)."""

from __future__ import annotations

from functools import cache

from ami_listener.tracker import CallTracker
from ami_listener.wire import AmiFramer

from .fixtures import read_sessions


@cache
def scenario_events(scenario: str) -> tuple[dict[str, str], ...]:
    events: list[dict[str, str]] = []
    for session in read_sessions(scenario):
        for message in AmiFramer().feed(session.stream):
            if "Event" in message:
                events.append(dict(message.items()))
    return tuple(events)


def replay(events, tracker: CallTracker | None = None):
    tracker = tracker or CallTracker("pbx1")
    calls = []
    for event in events:
        calls.extend(tracker.process(event))
    calls.extend(tracker.flush())
    return calls, tracker
