"""The faults of panoramisk's FastAGI and pyst2, shown against the libraries, closed in ours."""

from __future__ import annotations

import asyncio
import importlib
import io
import signal

import pytest
from panoramisk.fast_agi import Application, Request

from agi_scripts.errors import AGIHangup
from agi_scripts.lines import LineBuffer
from agi_scripts.session import AgiSession, read_env
from agi_scripts.wire import command_line
from tests.agi.fake_asterisk import read_transcript

ENV = b"".join(read_transcript("04").env)


class _EofReader:
    """A peer that closed: every read returns b'' at once. Counts how often it is asked."""

    def __init__(self, limit: int) -> None:
        self.reads = 0
        self.limit = limit

    async def read(self, _n: int = -1) -> bytes:
        self.reads += 1
        if self.reads > self.limit:
            raise RuntimeError("still reading a closed connection")
        return b""

    async def readline(self) -> bytes:
        return await self.read()


class _Writer:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None

    def get_extra_info(self, _name: str) -> tuple[str, int]:
        return ("127.0.0.1", 1)


class ScriptedLines(LineBuffer):
    """Asterisk's side played back from bytes: our LineTransport, recording what we write."""

    def __init__(self, data: bytes) -> None:
        super().__init__(limit=16 * 1024)
        self.written = b""
        self.feed(data)
        self.feed_eof()

    async def write(self, data: bytes) -> None:
        self.written += data


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_panoramisk_spins_on_a_peer_that_closes_early_ours_ends_the_session():
    app = Application.__new__(Application)  # its __init__ needs a loop argument
    app.default_encoding, app._route, app.buf_size = "utf-8", {}, 100
    spinning = _EofReader(limit=100_000)
    with pytest.raises(RuntimeError, match="still reading"):
        await app.handler(spinning, _Writer())
    assert spinning.reads > 100_000, "it never noticed the end of the stream"

    ours = _EofReader(limit=10)
    with pytest.raises(AGIHangup):
        await read_env(ours.readline, within=1.0)
    assert ours.reads == 1


async def test_panoramisk_decodes_strictly_ours_replaces_bad_bytes():
    app = Application.__new__(Application)
    app.default_encoding, app._route, app.buf_size = "utf-8", {}, 100
    bad = ENV.replace("Иван".encode(), b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError):
        await app.handler(_reader(bad), _Writer())

    env = await read_env(_reader(bad).readline, within=1.0)
    assert env.calleridname == "\ufffd\ufffd Петров"
    assert env.uniqueid == "1795746879.113"


ABANDON = b"200 result=-1\nHANGUP\n200 result=1 (CANCEL)\n200 result=1 ()\n"


async def test_panoramisk_takes_the_hangup_line_for_the_next_reply_ours_does_not():
    request = Request(None, {}, _reader(ABANDON), _Writer())
    await request.send_command("EXEC Dial SIP/101&SIP/102,10")
    status = await request.send_command("GET VARIABLE DIALSTATUS")
    peer = await request.send_command("GET VARIABLE DIALEDPEERNAME")
    assert status["error"] == "AGIResultHangup", "the DIALSTATUS reply is lost"
    assert peer["result"] == ("1", "CANCEL"), "and every later reply is off by one"

    session = AgiSession(ScriptedLines(ABANDON), None, 1.0)
    assert await session.exec("Dial", "SIP/101&SIP/102,10") == -1
    assert await session.get_variable("DIALSTATUS") == "CANCEL"
    assert await session.get_variable("DIALEDPEERNAME") == ""
    assert session.hung_up


async def test_panoramisk_writes_commands_unquoted_ours_cannot_split_a_line():
    writer = _Writer()
    request = Request(None, {}, _reader(b"200 result=1\n"), writer)
    await request.send_command("SET VARIABLE NAME Ivan\nEXEC Hangup")
    assert writer.data.count(b"\n") == 2, "a newline in a value became a second command"

    line = command_line(("SET", "VARIABLE", "NAME"), ('Ivan\nEXEC "Hangup" \\',))
    assert line == b'SET VARIABLE NAME "Ivan EXEC \\"Hangup\\" \\\\"\n'


def test_pyst2_fastagi_does_not_import_on_python3():
    with pytest.raises(ModuleNotFoundError, match="SocketServer"):
        importlib.import_module("asterisk.fastagi")


def test_pyst2_quoting_lets_a_newline_through_ours_does_not():
    from asterisk.agi import AGI

    assert "\n" in AGI._quote(None, "Ivan\nHANGUP")
    assert b"\n" not in command_line(("SET", "VARIABLE", "X"), ("Ivan\nHANGUP",))[:-1]


def test_pyst2_logs_caller_data_to_stderr():
    from asterisk.agi import AGI

    previous = signal.getsignal(signal.SIGHUP)
    stderr = io.StringIO()
    try:
        AGI(stdin=io.StringIO(ENV.decode()), stdout=io.StringIO(), stderr=stderr)
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert "+79161234567" in stderr.getvalue()
    assert "Иван Петров" in stderr.getvalue()
    # Ours: tests/agi/test_classic.py checks the classic script's stderr holds neither.
