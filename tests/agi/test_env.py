"""The AGI environment, collected from bytes in any pieces (FastAGI) or line by line (classic)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agi_scripts.env import MAX_ENV_LINES, EnvCollector
from agi_scripts.errors import AGIProtocolError
from agi_scripts.session import read_env
from tests.agi.fake_asterisk import read_transcript
from tests.agi.test_library_faults import ScriptedLines

RECORDED = b"".join(read_transcript("01b").env)  # 22 lines and the blank one, byte for byte
LIMIT = 16 * 1024


def collect(pieces: list[bytes]) -> tuple[dict[str, str], bytes] | None:
    collector = EnvCollector(LIMIT)
    for i, piece in enumerate(pieces):
        done = collector.add(piece)
        if done is not None:
            env, rest = done
            return dict(env.values), rest + b"".join(pieces[i + 1 :])
    return None


def cut(data: bytes, at: list[int]) -> list[bytes]:
    bounds = [0, *sorted(at), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def test_the_recorded_environment_in_one_piece():
    values, rest = collect([RECORDED + b"200 result=1\n"])
    assert values["agi_callerid"] == "+79161234567"
    assert values["agi_calleridname"] == "Иван Петров"
    assert values["agi_accountcode"] == ""  # 'agi_accountcode: ' (trailing space, empty)
    assert len(values) == 22
    assert rest == b"200 result=1\n", "what follows the blank line is left for the session"


@given(st.lists(st.integers(0, len(RECORDED)), max_size=30))
def test_any_cut_of_the_bytes_gives_the_same_environment_as_reading_it_line_by_line(at):
    expected = dict(_read_line_by_line(RECORDED).values)
    assert collect(cut(RECORDED, at)) == (expected, b"")


def test_nothing_until_the_blank_line_arrives():
    collector = EnvCollector(LIMIT)
    assert collector.add(RECORDED[:-1]) is None
    assert collector.lines_so_far == 22
    done = collector.add(b"\n")
    assert done is not None and done[0].uniqueid == "1795746830.87"


def test_crlf_lines_and_bytes_that_are_not_utf8():
    data = RECORDED.replace(b"\n", b"\r\n").replace("Иван".encode(), b"\xff\xfe")
    values, _ = collect([data])
    assert values["agi_calleridname"] == "\ufffd\ufffd Петров"
    assert values["agi_callerid"] == "+79161234567"


def test_an_empty_environment_is_one_blank_line():
    assert collect([b"\n200 result=0\n"]) == ({}, b"200 result=0\n")


@pytest.mark.parametrize(
    "data",
    [
        b"agi_x: 1\n" * (MAX_ENV_LINES + 1),
        b"agi_callerid: " + b"7" * (LIMIT + 1),
        b"agi_callerid: " + b"7" * (LIMIT + 1) + b"\n\n",
    ],
    ids=["too many lines", "a line too long, unfinished", "a line too long"],
)
def test_an_environment_no_asterisk_sends_is_refused(data):
    with pytest.raises(AGIProtocolError):
        collect([data])


def _read_line_by_line(data: bytes):
    import asyncio

    return asyncio.run(read_env(ScriptedLines(data).readline, 1.0))
