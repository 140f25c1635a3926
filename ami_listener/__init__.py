"""AMI listener: Asterisk events → `CallTracker` → one `CompletedCall` per call → sink.

Public API: `CompletedCall`, `CallLeg`, `CallTracker`, `AmiListener`, `CallSink`, `MemorySink`,
`CallSpool`. See README.md in this folder for the decisions and the Asterisk configuration.
"""

from __future__ import annotations

from .calls import CallLeg, CompletedCall
from .service import AmiListener, CallSink, MemorySink
from .spool import CallSpool
from .tracker import CallTracker

__all__ = [
    "AmiListener",
    "CallLeg",
    "CallSink",
    "CallSpool",
    "CallTracker",
    "CompletedCall",
    "MemorySink",
]
