"""AMI server behaviour: login, framing, chunking, filters, garbage, restart (scenario 08)."""

from __future__ import annotations

import asyncio

import pytest

from asterisk_sim import (
    AsteriskSimulator,
    Caller,
    Phone,
    SimConfig,
    VirtualClock,
    every_byte,
    random_splitter,
    split_at,
)
from asterisk_sim.transcripts import recorded_events

from .amiclient import RawAmi
from .replay import TRANSCRIPTS


async def make_sim(**kw: object) -> tuple[AsteriskSimulator, int]:
    sim = AsteriskSimulator(
        SimConfig(agi_address=None, clock=VirtualClock(), fallback_targets=["SIP/101"], **kw)
    )  # type: ignore[arg-type]
    sim.add_phone("101", Phone(answer_after=1.0, talk=2.0))
    port = await sim.start_ami(users={"callrouter": "secret"})
    return sim, port


async def test_banner_login_fullybooted_and_ping() -> None:
    sim, port = await make_sim()
    c = await RawAmi.connect(port)
    assert await c.banner() == b"Asterisk Call Manager/9.0.0\r\n"
    await c.send(
        ("Action", "Login"), ("ActionID", "a1"), ("Username", "callrouter"), ("Secret", "secret")
    )
    assert await c.raw_block() == (
        b"Response: Success\r\nActionID: a1\r\nMessage: Authentication accepted\r\n\r\n"
    )
    booted = await c.block()
    assert [k for k, _ in booted] == ["Event", "Privilege", "Uptime", "LastReload", "Status"]
    auth = dict(await c.block())
    assert auth["Event"] == "SuccessfulAuth" and auth["AccountID"] == "callrouter"
    await c.send(("Action", "Ping"), ("ActionID", "p1"))
    pong = await c.block()
    assert pong[:3] == [("Response", "Success"), ("ActionID", "p1"), ("Ping", "Pong")]
    assert pong[3][0] == "Timestamp" and float(pong[3][1]) == pytest.approx(sim.clock.now())
    c.close()
    await sim.stop()


async def test_wrong_secret_is_refused_and_closed() -> None:
    sim, port = await make_sim()
    c = await RawAmi.connect(port)
    await c.banner()
    await c.send(
        ("Action", "Login"), ("ActionID", "x"), ("Username", "callrouter"), ("Secret", "nope")
    )
    assert await c.raw_block() == (
        b"Response: Error\r\nActionID: x\r\nMessage: Authentication failed\r\n\r\n"
    )
    assert await c.eof()
    await sim.stop()


async def test_garbage_gets_errors_and_server_survives() -> None:
    sim, port = await make_sim()
    c = await RawAmi.connect(port)
    await c.banner()
    c.writer.write(b"\xff\xfe garbage without colon\r\n\r\n")
    assert dict(await c.block()) == {"Response": "Error", "Message": "Missing action in request"}
    await c.send(("Action", "Ping"))
    assert dict(await c.block())["Message"] == "Permission denied"
    await c.send(("Action", "Login"), ("Username", "callrouter"), ("Secret", "secret"))
    await c.until("SuccessfulAuth")
    await c.send(("Action", "NoSuchThing"), ("ActionID", "z"))
    assert await c.block() == [
        ("Response", "Error"),
        ("ActionID", "z"),
        ("Message", "Invalid/unknown command"),
    ]
    c.close()
    c2 = await RawAmi.connect(port)  # still accepting
    assert dict(await c2.login())["Response"] == "Success"
    c2.close()
    await sim.stop()


async def call_and_collect(sim: AsteriskSimulator, client: RawAmi) -> list[list[tuple[str, str]]]:
    await sim.inbound_call(Caller("+79161234567", "Иван Петров"))
    return await client.until("Hangup") + await client.until("Cdr")


@pytest.mark.parametrize("splitter", [every_byte, random_splitter(7), split_at(3, 200, 201)])
async def test_chunked_stream_is_byte_identical(splitter: object) -> None:
    sim, port = await make_sim(end_order="hangup_first")
    sim.set_splitter(splitter)  # type: ignore[arg-type]
    c = await RawAmi.connect(port)
    await c.login()
    await c.until("SuccessfulAuth")
    start = len(sim.events)
    await sim.inbound_call(Caller("+79161234567", "Иван Петров"))
    want = b"".join(
        __import__("asterisk_sim.events", fromlist=["render"]).render(f) for f in sim.events[start:]
    )
    got = b""
    while len(got) < len(want):
        got += await c.raw_block()
    assert got == want
    c.close()
    await sim.stop()


async def test_split_inside_utf8_character() -> None:
    sim, port = await make_sim()
    c = await RawAmi.connect(port)
    await c.login()
    await c.until("SuccessfulAuth")
    name = "Иван".encode()
    # cut every block right after the first byte of a 2-byte Cyrillic letter
    sim.set_splitter(
        lambda data: [data[: i + 1], data[i + 1 :]] if (i := data.find(name)) >= 0 else [data]
    )
    await sim.inbound_call(Caller("+79161234567", "Иван Петров"))
    blocks = await c.until("Newchannel")
    assert dict(blocks[-1])["CallerIDName"] == "Иван Петров"
    c.close()
    await sim.stop()


async def test_filters_and_eventmask_per_client() -> None:
    sim, port = await make_sim()
    only_cdr, masked, off, everything = [await RawAmi.connect(port) for _ in range(4)]
    for cl in (only_cdr, everything, off):
        await cl.login()
        await cl.until("SuccessfulAuth")
    await masked.login(events="cdr")
    await only_cdr.send(
        ("Action", "Filter"), ("ActionID", "f"), ("Operation", "Add"), ("Filter", "Event: Cdr")
    )
    assert (await only_cdr.until("Success"))[-1][-1] == ("Message", "Filter Added Successfully")
    await off.send(("Action", "Events"), ("ActionID", "e"), ("EventMask", "off"))
    assert (await off.until("Success"))[-1] == [
        ("Response", "Success"),
        ("ActionID", "e"),
        ("Events", "Off"),
    ]
    await sim.inbound_call(Caller("+79161234567", "Иван Петров"))
    all_events = await everything.until("Cdr")
    assert len(all_events) > 50
    assert [dict(b)["Event"] for b in await only_cdr.until("Cdr")] == ["Cdr"]
    masked_events = await masked.until("Cdr")
    assert {dict(b)["Event"] for b in masked_events} == {"Cdr"}
    await off.send(("Action", "Ping"), ("ActionID", "after"))
    assert dict((await off.until("Success"))[0])["ActionID"] == "after"  # no events queued
    for cl in (only_cdr, masked, off, everything):
        cl.close()
    await sim.stop()


async def test_restart_sequence_like_scenario_08() -> None:
    sim, port = await make_sim()
    c = await RawAmi.connect(port)
    await c.login()
    await c.until("SuccessfulAuth")
    restart = asyncio.create_task(sim.restart(down_for=0.05, boot_for=0.02))
    shutdown = await c.block()
    assert [k for k, _ in shutdown] == ["Event", "Privilege", "Timestamp", "Shutdown", "Restart"]
    assert dict(shutdown)["Shutdown"] == "Cleanly" and dict(shutdown)["Restart"] == "True"
    assert await c.eof()
    refused = 0
    while True:  # reconnect loop like a listener's
        try:
            c2 = await RawAmi.connect(port)
            banner = await c2.banner()
            break
        except (ConnectionRefusedError, EOFError, ConnectionResetError):
            refused += 1
            await asyncio.sleep(0.005)
    assert refused >= 1 and banner == b"Asterisk Call Manager/9.0.0\r\n"
    await c2.send(("Action", "Login"), ("Username", "callrouter"), ("Secret", "secret"))
    blocks = await c2.until("FullyBooted")
    kinds = [dict(b).get("Event") or dict(b).get("Response") for b in blocks]
    assert kinds[0] == "Success" and kinds[-1] == "FullyBooted"
    booted = blocks[-1]
    recorded = [
        f
        for f in recorded_events(TRANSCRIPTS / "08-ami-reconnect" / "ami.log")
        if dict(f)["Event"] == "FullyBooted"
    ][-1]
    assert [k for k, _ in booted] == [k for k, _ in recorded]
    assert dict(booted)["Uptime"] == "0"
    await restart
    c2.close()
    await sim.stop()


async def test_drop_connections_then_reconnect() -> None:
    sim, port = await make_sim()
    c = await RawAmi.connect(port)
    await c.login()
    await sim.drop_connections()
    assert await c.eof()
    c2 = await RawAmi.connect(port)
    assert dict(await c2.login())["Response"] == "Success"
    c2.close()
    await sim.stop()
