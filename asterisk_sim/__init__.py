"""Asterisk 20 simulator for callrouter tests (AMI server + FastAGI client + call engine).

Built from the transcripts in ``tests/fixtures/asterisk`` (see docs/simulator.md)::

    sim = AsteriskSimulator(SimConfig(tech="SIP", agi_address=("127.0.0.1", port),
                                      clock=VirtualClock()))
    sim.add_phone("101", Phone(answer_after=2.0, talk=3.0))
    ami_port = await sim.start_ami(users={"callrouter": "secret"})
    result = await sim.inbound_call(Caller("+79161234567", "Иван Петров"))
    await sim.outbound_call(from_phone="101", number="+79161234567")
    await sim.restart(); await sim.drop_connections(); await sim.stop()
"""

from __future__ import annotations

from .chunking import every_byte, random_splitter, split_at, whole
from .clock import Clock, RealClock, VirtualClock
from .scenario import Caller, CallResult, DialOutcome, Phone, SimConfig
from .simulator import AsteriskSimulator

__all__ = [
    "AsteriskSimulator",
    "Caller",
    "CallResult",
    "Clock",
    "DialOutcome",
    "Phone",
    "RealClock",
    "SimConfig",
    "VirtualClock",
    "every_byte",
    "random_splitter",
    "split_at",
    "whole",
]
