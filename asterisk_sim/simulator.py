"""AsteriskSimulator: the public facade (phones, AMI server, inbound/outbound calls)."""

from __future__ import annotations

import asyncio

from . import events as ev
from .agi_client import AgiSession
from .ami_server import AmiServer
from .chunking import Splitter, whole
from .pbx import Call, Pbx, recording_name
from .scenario import Caller, CallResult, Phone, SimConfig


class AsteriskSimulator:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.clock = self.config.clock
        self.pbx = Pbx(self.config)
        self.ami: AmiServer | None = None

    # ---- setup -----------------------------------------------------------------------
    def add_phone(self, ext: str, phone: Phone) -> None:
        self.pbx.add_phone(ext, phone)

    @property
    def phones(self) -> dict[str, Phone]:
        return self.pbx.phones

    async def start_ami(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str] | None = None,
        splitter: Splitter = whole,
    ) -> int:
        self.ami = AmiServer(self.clock.now, users or {"callrouter": "secret"}, splitter)
        self.ami.booted_at = self.clock.now() - 366
        self.pbx.ami = self.ami
        return await self.ami.start(host, port)

    def set_splitter(self, splitter: Splitter) -> None:
        if self.ami is not None:
            self.ami.splitter = splitter

    async def restart(self, down_for: float = 0.43, boot_for: float = 0.04) -> None:
        if self.ami is not None:
            await self.ami.restart(down_for, boot_for)

    async def drop_connections(self) -> None:
        if self.ami is not None:
            await self.ami.drop_connections()

    async def stop(self) -> None:
        if self.ami is not None:
            await self.ami.stop()

    @property
    def events(self) -> list[ev.Fields]:
        return self.pbx.events

    @property
    def csv_lines(self) -> list[str]:
        return self.pbx.csv_lines

    # ---- calls -----------------------------------------------------------------------
    async def inbound_call(self, caller: Caller, did: str | None = None) -> CallResult:
        cfg, pbx = self.config, self.pbx
        did = did or cfg.did
        ch = pbx.new_channel(
            cfg.trunk, cid_num=caller.number, cid_name=caller.name, context="inbound", exten=did
        )
        ch.sip_callid = f"1-{pbx.rng.randrange(10000, 99999)}@127.0.0.1"
        call = Call(pbx, ch, CallResult(linkedid=ch.linkedid, channel=ch.name))
        call.cdr_next_start = ch.created
        if caller.abandon_after is not None:
            call.abandon_at = ch.created + caller.abandon_after
        call.cel(ch, "CHAN_START", bare=True)
        if cfg.tech == "PJSIP":
            # chan_pjsip creates the inbound channel in Ring (no Newstate) and identifies the
            # carrier endpoint by IP, without a SuccessfulAuth
            ch.state = 4
            call.emit("Newchannel", "call,all", ev.snapshot(ch))
            call.varset(ch, "SIPDOMAIN", "127.0.0.1")
        else:
            call.emit("Newchannel", "call,all", ev.snapshot(ch))
            call.varset(ch, "SIPURI", f"sip:{caller.number}@127.0.0.1:5070")
            call.varset(ch, "SIPDOMAIN", "127.0.0.1")
            call.varset(ch, "SIPCALLID", ch.sip_callid)
            call.newstate(ch, 4)
            call.noise(
                "SuccessfulAuth",
                "security,all",
                ev.successful_auth(
                    call.now,
                    cfg.tech,
                    did,
                    f"0x{pbx.rng.getrandbits(44):x}",
                    "IPV4/UDP/127.0.0.1/5060",
                    "IPV4/UDP/127.0.0.1/5070",
                    session_tv=False,
                ),
            )
        ch.ani, ch.dnid = caller.number, did
        agi_only = cfg.inbound_dialplan == "agi_only"
        noop = f"Inbound call to {did} from {call.substitute('${CALLERID(all)}')} uid={ch.uniqueid}"
        if agi_only:  # the PJSIP lab's NoOp also shows ${CHANNEL(endpoint)}
            noop += f" endpoint={call.substitute('${CHANNEL(endpoint)}')}"
        call.newexten(1, "NoOp", noop)
        if cfg.tech == "PJSIP":
            call.caller_device = pbx.device(f"{cfg.tech}/{cfg.trunk}")
            call.caller_device.up += 1  # re-evaluated (and reported) only when 180 is relayed
        agi_priority = 2 if agi_only else 5
        if not agi_only:
            self._start_recording(call, "in", caller.number)
        call.newexten(agi_priority, "AGI", cfg.agi_url)
        call.set_app("AGI", cfg.agi_url)
        status = await self._run_agi(call)
        call.result.agi_status = status
        call.varset(ch, "AGISTATUS", status)
        if status == "HANGUP" or ch.dead:
            call.finish(dialplan_hangup=False)
            return call.result
        if agi_only and ch.appl:  # the app last run through AGI (Dial) ends as the dialplan goes on
            call.cel(ch, "APP_END")
        call.newexten(
            agi_priority + 1,
            "NoOp",
            call.substitute(
                "AGI finished AGISTATUS=${AGISTATUS} DIALSTATUS=${DIALSTATUS} "
                "LAB_ROUTE_STATUS=${LAB_ROUTE_STATUS}"
            ),
        )
        if agi_only:
            ch.priority = agi_priority + 2  # Hangup()
            call.finish(dialplan_hangup=True)
            return call.result
        if status == "SUCCESS":
            call.newexten(7, "GotoIf", "1?done")
            call.newexten(10, "Hangup", "")
            call.finish(dialplan_hangup=True)
            return call.result
        call.newexten(7, "GotoIf", "0?done")
        targets = "&".join(cfg.fallback_targets)
        call.newexten(8, "NoOp", f"FALLBACK: AGISTATUS={status}, dialing {targets}")
        data = f"{targets},{cfg.fallback_timeout}"
        call.newexten(9, "Dial", data)
        await call.dial(data)
        if ch.dead:
            call.finish(dialplan_hangup=False)
        else:
            call.newexten(10, "Hangup", "")
            call.finish(dialplan_hangup=True)
        return call.result

    def _start_recording(self, call: Call, prefix: str, digits_of: str) -> None:
        ch, cfg = call.caller, self.config
        name = recording_name(prefix, call.now, digits_of, ch.uniqueid)
        call.recording = name
        path = f"{cfg.monitor_dir}/{name}"
        call.newexten(2, "Set", f"CALL_RECORDING={name}")
        call.varset(ch, "CALL_RECORDING", name)
        call.newexten(3, "Set", f"CDR(recordingfile)={name}")
        call.newexten(4, "MixMonitor", f"{path},b")
        call.varset(ch, "MIXMONITOR_FILENAME", path)
        call.emit("MixMonitorStart", "call,all", ev.snapshot(ch))

    async def _run_agi(self, call: Call) -> str:
        if self.config.agi_address is None:
            return "FAILURE"
        session = AgiSession(call, self.config.agi_address, self.clock.hold, self.pbx.rng)
        call.agi = session
        status = await session.run()
        call.result.agi_lines_sent = session.sent
        call.result.agi_lines_received = session.received
        return status

    async def outbound_call(
        self,
        from_phone: str,
        number: str,
        answer_after: float | None = 2.0,
        talk: float = 3.0,
        busy: bool = False,
        dial_timeout: int = 30,
    ) -> CallResult:
        cfg, pbx = self.config, self.pbx
        phone = pbx.phones.setdefault(from_phone, Phone())
        dev = pbx.device(f"{cfg.tech}/{from_phone}")
        name = phone.name or f"Manager {from_phone}"
        ch = pbx.new_channel(
            from_phone, cid_num=from_phone, cid_name=name, context="phones", exten=number
        )
        call = Call(
            pbx,
            ch,
            CallResult(linkedid=ch.linkedid, channel=ch.name),
            remote=Phone(answer_after=answer_after, talk=talk, busy=busy, name=""),
        )
        call.cdr_next_start = ch.created
        dev.up += 1
        call.device_changed(dev)
        call.cel(ch, "CHAN_START", bare=True)
        call.emit("Newchannel", "call,all", ev.snapshot(ch))
        if cfg.tech == "SIP":
            call.varset(ch, "SIPURI", f"sip:{from_phone}@127.0.0.1:5071")
            call.varset(ch, "SIPDOMAIN", "127.0.0.1")
            call.varset(ch, "SIPCALLID", ch.sip_callid)
        call.newstate(ch, 4)
        ch.ani, ch.dnid = from_phone, number
        call.newexten(1, "Goto", f"outbound-carrier,{number},1")
        ch.context = "outbound-carrier"
        call.newexten(
            1,
            "NoOp",
            f"Outbound call from {call.substitute('${CALLERID(all)}')} "
            f"to {number} uid={ch.uniqueid}",
        )
        self._start_recording(call, "out", number)
        data = f"{cfg.tech}/{cfg.trunk}/{number},{dial_timeout}"
        call.newexten(5, "Dial", data)
        try:
            await call.dial(data)
        finally:
            dev.up -= 1
        if ch.dead:
            call.finish(dialplan_hangup=False)
            call.device_changed(dev)
        else:
            call.newexten(6, "NoOp", call.substitute("Outbound DIALSTATUS=${DIALSTATUS}"))
            call.newexten(7, "Hangup", "")
            call.finish(dialplan_hangup=True)
            call.device_changed(dev)
        return call.result

    async def run_calls(self, *coros: object) -> list[CallResult]:
        return list(await asyncio.gather(*coros))  # type: ignore[arg-type]
