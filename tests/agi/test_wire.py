from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agi_scripts.errors import AGIProtocolError
from agi_scripts.wire import command_line, mset_data, parse_response, quote
from tests.agi.fake_asterisk import parse_args


@given(st.text())
def test_any_value_is_one_line_and_one_argument_with_its_text_kept(value):
    line = command_line(("SET", "VARIABLE", "X"), (value,))
    text = line.decode("utf-8")
    assert text.endswith("\n") and "\n" not in text[:-1] and "\r" not in text
    args = parse_args(text[:-1])
    assert args[:3] == ["SET", "VARIABLE", "X"] and len(args) == 4
    expected = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in value)
    assert args[3] == expected


def test_quote_escapes_backslash_and_quote():
    assert quote('a"b\\c') == '"a\\"b\\\\c"'


@pytest.mark.parametrize("bad", ["", "a b", 'x"', "x\\", "x\ny", "DEVICE_STATE(a b)", " "])
@pytest.mark.parametrize("at", [0, 2])
def test_words_that_could_split_or_escape_are_refused(bad, at):
    words = ["GET", "VARIABLE", "X"]
    words[at] = bad
    with pytest.raises(ValueError):
        command_line(tuple(words))


@pytest.mark.parametrize("value", ["a,b", "a|b", 'a"b', "a\\b", "a=b", "a b", "a\nb", "Иван"])
def test_mset_is_not_used_for_a_value_it_would_split_or_alter(value):
    assert mset_data([("CALLROUTER_LEAD", "new"), ("CALLROUTER_PLAN_ID", value)]) is None


def test_mset_data_for_plain_values():
    pairs = [("CALLROUTER_PLAN_ID", "1795746830.87"), ("CALLROUTER_CONTACT_ID", "")]
    assert mset_data(pairs) == "CALLROUTER_PLAN_ID=1795746830.87,CALLROUTER_CONTACT_ID="


@pytest.mark.parametrize(
    ("line", "code", "result", "data"),
    [
        ("200 result=1 (NOT_INUSE)", 200, "1", "NOT_INUSE"),
        ("200 result=1 (Иван (x) Петров)", 200, "1", "Иван (x) Петров"),
        ("200 result=1 ()", 200, "1", ""),
        ("200 result=0", 200, "0", None),
        ("200 result=-1", 200, "-1", None),
        ("200 result=1 (hangup)", 200, "1", "hangup"),
        ("511 Command Not Permitted on a dead channel or intercept routine", 511, "", None),
        ("520-Invalid command syntax.  Proper usage follows:", 520, "", None),
    ],
)
def test_parse_recorded_replies(line, code, result, data):
    response = parse_response(line)
    assert (response.code, response.result, response.data) == (code, result, data)


@pytest.mark.parametrize("line", ["HANGUP", "", "garbage", "20 result=1"])
def test_non_replies_are_protocol_errors(line):
    with pytest.raises(AGIProtocolError):
        parse_response(line)


async def test_session_maps_dead_channel_usage_and_trying_replies():

    from agi_scripts.errors import AGICommandError, AGIDeadChannel, AGIHangup
    from agi_scripts.session import AgiSession
    from tests.agi.test_library_faults import ScriptedLines

    lines = ScriptedLines(
        b"511 Command Not Permitted on a dead channel or intercept routine\n"
        b"520-Invalid command syntax.  Proper usage follows:\nUsage: ...\n520 End of proper usage.\n"
        b"100 result=0 Trying...\n200 result=1 (ok)\n"
    )
    session = AgiSession(lines, None, 1.0)
    with pytest.raises(AGIDeadChannel):
        await session.send(("ANSWER",))
    with pytest.raises(AGICommandError) as usage:
        await session.send(("GET", "VARIABLE"))
    assert usage.value.code == 520
    assert await session.get_variable("X") == "ok"
    with pytest.raises(AGIHangup):
        await session.get_variable("Y")


async def test_a_command_after_a_long_one_still_times_out_at_its_own_deadline():
    import asyncio

    from agi_scripts.errors import AGITimeout
    from agi_scripts.lines import LineBuffer
    from agi_scripts.session import AgiSession

    class Silent(LineBuffer):
        """Answers the Dial, then never again (the peer is alive but mute)."""

        async def write(self, data: bytes) -> None:
            if data.startswith(b"EXEC Dial"):
                self.feed(b"200 result=0\n")

    session = AgiSession(Silent(limit=1024), None, command_timeout=0.05)
    assert await session.exec("Dial", "SIP/101,10", reply_within=3600) == 0
    async with asyncio.timeout(5):  # a guard: the session's own 0.05 s must fire long before
        with pytest.raises(AGITimeout):
            await session.get_variable("DIALSTATUS")
    with pytest.raises(AGITimeout):
        await session.get_variable("DIALSTATUS")  # the session stays broken
