"""The listener's writer interface: what a sink of completed calls promises, and how it says no.

The listener owns this contract; the database writer (`crm/call_sink.py`) implements it, so the
listener never imports storage or the CRM, and the writer needs nothing of the listener but
this module and the call records (`calls.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .calls import CompletedCall


class CallRefused(Exception):
    """Raised by a sink: it will never store these calls as they are (not: it cannot now).

    `error` names the failure without any of the call's data (exception classes; it goes into
    log lines); `detail` is the reason a person reads (the database's message, never the
    statement or its parameters), kept with the call in the `refused/` area.
    """

    def __init__(self, error: str, detail: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.detail = detail


class CallSink(Protocol):
    """Where completed calls go (the database writer, `crm/call_sink.py`).

    `write` stores a batch of calls, in order, all or none. It must be idempotent on
    (call.system, call.linkedid): after a crash between the write and the spool cleanup the
    same calls are written again, and a call another writer stored already counts as written.

    Two ways to fail, and the listener treats them differently:
    - raise `CallRefused` when the batch holds a call the sink will never take as it is (the
      database refuses its data, a rule fails on it): the listener writes the batch's calls one
      at a time, and a single call refused that way is set aside in the spool's `refused/`
      area, with `CallRefused.detail` as its reason, until a person replays it;
    - raise anything else when the sink cannot write now (the database is away): the same
      calls are retried with capped backoff, safe in the spool meanwhile.
    """

    async def write(self, calls: Sequence[CompletedCall]) -> None: ...
