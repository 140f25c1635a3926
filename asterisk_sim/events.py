"""AMI event builders: field lists in the order Asterisk 20 puts them on the wire."""

from __future__ import annotations

import json
import time

from .channels import Channel

Fields = list[tuple[str, str]]

QUEUE_STATUS = {"NOT_INUSE": 1, "INUSE": 2, "BUSY": 3, "UNAVAILABLE": 5, "RINGING": 6}
CAUSE_TXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    20: "Subscriber absent",
    26: "Answered elsewhere",
    127: "Interworking, unspecified",
}


def local_time(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def snapshot(ch: Channel, prefix: str = "") -> Fields:
    p = prefix
    return [
        (f"{p}Channel", ch.name),
        (f"{p}ChannelState", str(ch.state)),
        (f"{p}ChannelStateDesc", ch.state_desc),
        (f"{p}CallerIDNum", ch.cid_num or "<unknown>"),
        (f"{p}CallerIDName", ch.cid_name_or_unknown),
        (f"{p}ConnectedLineNum", ch.conn_num),
        (f"{p}ConnectedLineName", ch.conn_name),
        (f"{p}Language", ch.language),
        (f"{p}AccountCode", ch.accountcode),
        (f"{p}Context", ch.context),
        (f"{p}Exten", ch.exten),
        (f"{p}Priority", str(ch.priority)),
        (f"{p}Uniqueid", ch.uniqueid),
        (f"{p}Linkedid", ch.linkedid),
    ]


def dial_fields(caller: Channel, leg: Channel) -> Fields:
    return snapshot(caller) + snapshot(leg, "Dest")


def varset(ch: Channel, name: str, value: str) -> Fields:
    return snapshot(ch) + [("Variable", name), ("Value", value)]


def global_varset(name: str, value: str) -> Fields:
    return [("Channel", "none"), ("Uniqueid", "none"), ("Variable", name), ("Value", value)]


def newexten(ch: Channel, app: str, data: str) -> Fields:
    return snapshot(ch) + [("Extension", ch.exten), ("Application", app), ("AppData", data)]


def hangup(ch: Channel, cause: int) -> Fields:
    out = snapshot(ch) + [("Cause", str(cause)), ("Cause-txt", CAUSE_TXT.get(cause, "Unknown"))]
    if ch.tech_cause:  # chan_pjsip: the SIP response code that ended the channel
        out.append(("TechCause", str(ch.tech_cause)))
    return out


def cause_only(ch: Channel, cause: int | None) -> Fields:
    return snapshot(ch) + ([] if cause is None else [("Cause", str(cause))])


def agi_exec_start(ch: Channel, command_id: int, command: str) -> Fields:
    return snapshot(ch) + [("CommandId", str(command_id)), ("Command", command)]


def agi_exec_end(ch: Channel, command_id: int, command: str, code: int, result: str) -> Fields:
    return agi_exec_start(ch, command_id, command) + [("ResultCode", str(code)), ("Result", result)]


def bridge_fields(bridge_id: str, num_channels: int, technology: str = "simple_bridge") -> Fields:
    return [
        ("BridgeUniqueid", bridge_id),
        ("BridgeType", "basic"),
        ("BridgeTechnology", technology),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(num_channels)),
        ("BridgeVideoSourceMode", "none"),
    ]


def bridge_member(
    bridge_id: str, num_channels: int, ch: Channel, technology: str = "simple_bridge"
) -> Fields:
    return bridge_fields(bridge_id, num_channels, technology) + snapshot(ch)


def device_state(device: str, state: str) -> Fields:
    return [("Device", device), ("State", state)]


def queue_member(device: str, state: str, login_time: int) -> Fields:
    return [
        ("Queue", "managers"),
        ("MemberName", device),
        ("Interface", device),
        ("StateInterface", device),
        ("Membership", "static"),
        ("Penalty", "0"),
        ("CallsTaken", "0"),
        ("LastCall", "0"),
        ("LastPause", "0"),
        ("LoginTime", str(login_time)),
        ("InCall", "0"),
        ("Status", str(QUEUE_STATUS[state])),
        ("Paused", "0"),
        ("PausedReason", ""),
        ("Ringinuse", "1"),
        ("Wrapuptime", "0"),
    ]


def cel(
    ch: Channel,
    name: str,
    now: float,
    *,
    app: str | None = None,
    data: str | None = None,
    peer: str = "",
    extra: dict[str, object] | None = None,
    bare: bool = False,
) -> Fields:
    return [
        ("EventName", name),
        ("AccountCode", ch.accountcode),
        ("CallerIDnum", ch.cid_num),
        ("CallerIDname", ch.cid_name),
        ("CallerIDani", "" if bare else ch.ani),
        ("CallerIDrdnis", ""),
        ("CallerIDdnid", "" if bare else ch.dnid),
        ("Exten", ch.exten),
        ("Context", ch.context),
        ("Channel", ch.name),
        ("Application", ch.appl if app is None else app),
        ("AppData", ch.data if data is None else data),
        ("EventTime", local_time(now)),
        ("AMAFlags", "DOCUMENTATION"),
        ("UniqueID", ch.uniqueid),
        ("LinkedID", ch.linkedid),
        ("Userfield", ""),
        ("Peer", peer),
        ("PeerAccount", ""),
        ("Extra", "" if extra is None else json.dumps(extra, separators=(",", ":"))),
    ]


def new_callerid(ch: Channel) -> Fields:
    return snapshot(ch) + [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]


def fully_booted_login(uptime: int, last_reload: int) -> Fields:
    return [("Uptime", str(uptime)), ("LastReload", str(last_reload)), ("Status", "Fully Booted")]


def fully_booted_boot(uptime: int, last_reload: int) -> Fields:
    return [("Status", "Fully Booted"), ("Uptime", str(uptime)), ("LastReload", str(last_reload))]


def shutdown(restart: bool) -> Fields:
    return [("Shutdown", "Cleanly"), ("Restart", "True" if restart else "False")]


def iso_tv(t: float) -> str:
    ms = int((t % 1) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{ms:03d}+0000"


def successful_auth(
    now: float,
    service: str,
    account: str,
    session_id: str,
    local: str,
    remote: str,
    session_tv: bool,
) -> Fields:
    out = [
        ("EventTV", iso_tv(now)),
        ("Severity", "Informational"),
        ("Service", service),
        ("EventVersion", "1"),
        ("AccountID", account),
        ("SessionID", session_id),
        ("LocalAddress", local),
        ("RemoteAddress", remote),
        ("UsingPassword", "0"),
    ]
    if session_tv:
        out.append(("SessionTV", iso_tv(now)))
    return out


def render(fields: Fields) -> bytes:
    """One AMI block, CRLF line ends, blank line terminator."""
    return "".join(f"{k}: {v}\r\n" for k, v in fields).encode("utf-8") + b"\r\n"


def with_header(event: str, privilege: str, fields: Fields, timestamp: float | None) -> Fields:
    head: Fields = [("Event", event), ("Privilege", privilege)]
    if timestamp is not None:
        head.append(("Timestamp", f"{timestamp:.6f}"))
    return head + fields
