"""Random and mutated AGI environments against the real FastAGI server over loopback.

Whatever the caller ID, name or any other field holds (quotes, CR/LF, NUL, other encodings,
fields far over the line limit), however the bytes are split, truncated or garbled:
- every line the server writes is exactly one AGI command the executor means to send
  (parsed the way res_agi parses it, the right number of arguments, no CR/LF inside);
- the event loop never stalls (a heartbeat task runs alongside);
- nothing is logged as an unexpected error (a hostile session is dropped, not a crash);
- the server keeps serving: a clean call after each hostile one is routed normally.
"""

from __future__ import annotations

import asyncio
import logging
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agi_scripts.fastagi import start_fastagi_server
from asterisk_sim.agi_client import parse_args
from core import dialplan as var
from tests.agi.fake_asterisk import assignments
from tests.agi.support import WEDNESDAY_NOON, MemorySource, lab_settings

from .support import ErrorLog, Heartbeat

STALL = 0.5  # a heartbeat later than this means the loop was blocked (CI hosts jitter)

BASE_ENV: list[tuple[str, bytes]] = [
    ("agi_network", b"yes"),
    ("agi_network_script", b"route"),
    ("agi_request", b"agi://127.0.0.1/route"),
    ("agi_channel", b"SIP/carrier-00000033"),
    ("agi_language", b"en"),
    ("agi_type", b"SIP"),
    ("agi_uniqueid", b"1795746830.87"),
    ("agi_version", b"20.20.1"),
    ("agi_callerid", b"+79161234567"),
    ("agi_calleridname", "Иван Петров".encode()),
    ("agi_callingpres", b"0"),
    ("agi_dnid", b"7000"),
    ("agi_rdnis", b"unknown"),
    ("agi_context", b"inbound"),
    ("agi_extension", b"7000"),
    ("agi_priority", b"5"),
    ("agi_accountcode", b""),
    ("agi_threadid", b"139789012345678"),
]
CALLER_CONTROLLED = (
    "agi_callerid",
    "agi_calleridname",
    "agi_uniqueid",
    "agi_dnid",
    "agi_extension",
    "agi_channel",
    "agi_rdnis",
)
HOSTILE: list[bytes] = [
    b'"\nEXEC Dial "SIP/666',
    b'Ivan"\r\nSET VARIABLE CALLROUTER_RESULT "ANSWERED',
    b'\\" ; EXEC System "rm -rf /',
    b"a\rb\nc\x00d\x1be\x7f",
    b"\xff\xfe\xfd\xc3",
    "Иван Петров".encode("cp1251"),
    "Иван".encode("utf-16"),
    b"x" * 20_000,  # over the server's 16 KiB line limit
    b"+7916" + b"1" * 3000,
    b"${SHELL(id)}&SIP/666",
    b"SIP/101&SIP/666,10",
    b"\t \t",
    b"",
]

field_values = st.one_of(
    st.sampled_from(HOSTILE),
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


@st.composite
def environments(draw: st.DrawFn) -> tuple[bytes, list[int], bool]:
    """(env bytes, split points, close after sending) — the env maybe mutated."""
    overrides = draw(st.dictionaries(st.sampled_from(CALLER_CONTROLLED), field_values))
    lines = [b"%s: %s\n" % (k.encode(), overrides.get(k, v)) for k, v in BASE_ENV]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.binary(max_size=100)) + b"\n")
    if draw(st.booleans()):
        lines = [line.replace(b"\n", b"\r\n") for line in lines]
    data = b"".join(lines) + b"\n"
    close = False
    mutation = draw(st.sampled_from(["none", "truncate", "flip", "repeat"]))
    if mutation == "truncate":
        data, close = data[: draw(st.integers(0, len(data) - 1))], True
    elif mutation == "flip":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    elif mutation == "repeat":
        data = data[:-1] * draw(st.integers(2, 10)) + b"\n"
    splits = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    return data, splits, close


# One Dial for the plan: phones at once, later ones as waiting Local legs (issue 18).
_TARGET = r"(SIP/10[1-5]|Local/\d+-SIP-10[1-5]@callrouter-ring-delayed/n)"
_DIAL = re.compile(f"{_TARGET}(&{_TARGET})*,\\d+")
_ONE_STATE = r"\$\{DEVICE_STATE\(SIP/10[1-5]\)\}"
# One query per Dial, with Asterisk's clock; the clock alone after a Dial the caller left.
_DEVICE_STATES = re.compile(f"({_ONE_STATE},)*(\\$\\{{EPOCH\\}})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_command(raw: bytes) -> list[str]:
    """The line as res_agi would parse it; fails unless it is one command the executor sends."""
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1 and b"\r" not in raw, raw
    text = raw[:-1].decode("utf-8")  # UnicodeDecodeError fails the test too
    assert not _CONTROL.search(text), raw
    argv = parse_args(text)
    match argv:
        case ["GET", "VARIABLE", name]:
            assert name in (var.ASTERISK_DIALSTATUS, var.ASTERISK_DIALEDPEERNAME), argv
        case ["GET", "FULL", "VARIABLE", expression]:
            assert _DEVICE_STATES.fullmatch(expression), argv
        case ["SET", "VARIABLE", name, _value]:
            assert name in var.ALL, argv
        case ["EXEC", "MSet", data]:
            pairs = assignments(raw[:-1].decode())
            assert len(pairs) == data.count(",") + 1, argv  # no value carried a separator
            assert all(name in var.ALL for name, _ in pairs), argv
        case ["EXEC", "Dial", data]:
            assert _DIAL.fullmatch(data), argv
        case _:
            raise AssertionError(f"not a command the executor sends: {raw!r}")
    return argv


def reply_to(argv: list[str]) -> bytes:
    match argv:
        case ["GET", "FULL", "VARIABLE", expression]:
            states = ",".join(["NOT_INUSE"] * expression.count("${DEVICE_STATE("))
            return f"200 result=1 ({states})\n".encode()
        case ["GET", "VARIABLE", var.ASTERISK_DIALSTATUS]:
            return b"200 result=1 (NOANSWER)\n"
        case ["GET", "VARIABLE", _]:
            return b"200 result=0\n"
        case ["EXEC", *_]:
            return b"200 result=0\n"
        case _:
            return b"200 result=1\n"


async def asterisk_session(port: int, data: bytes, splits: list[int], close: bool) -> list[bytes]:
    """Send the env in pieces, then answer every command like Asterisk; return what we got."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    written: list[bytes] = []
    try:
        for start, end in zip([0, *splits], [*splits, len(data)], strict=True):
            writer.write(data[start:end])
            await writer.drain()
        if close:
            writer.write_eof()
        async with asyncio.timeout(5):
            while line := await reader.readline():
                written.append(line)
                reply = reply_to(check_command(line))
                if not close:  # a peer that hung up its side can no longer answer
                    writer.write(reply)
                    await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
    return written


async def hostile_then_clean(data: bytes, splits: list[int], close: bool) -> None:
    server = await start_fastagi_server(
        lab_settings(), MemorySource(), clock=lambda: WEDNESDAY_NOON, port=0
    )
    try:
        with ErrorLog(logging.getLogger("agi_scripts")) as errors:
            async with Heartbeat() as heartbeat:
                await asterisk_session(server.port, data, splits, close)
                clean = b"".join(b"%s: %s\n" % (k.encode(), v) for k, v in BASE_ENV) + b"\n"
                written = await asterisk_session(server.port, clean, [], False)
        assert not errors.records, [r.getMessage() for r in errors.records]
        assert heartbeat.worst < STALL, f"event loop stalled for {heartbeat.worst:.3f} s"
        # The known client's manager at once, the others added later: one Dial.
        dial = next(i for i, line in enumerate(written) if line.startswith(b'EXEC Dial "SIP/101&'))
        before_dial = [pair for line in written[:dial] for pair in assignments(line.decode())]
        assert (var.PLAN_ID, dict(BASE_ENV)["agi_uniqueid"].decode()) in before_dial
    finally:
        await server.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(environments())
def test_hostile_agi_environments_inject_nothing_and_stall_nothing(
    env: tuple[bytes, list[int], bool],
) -> None:
    asyncio.run(hostile_then_clean(*env))
