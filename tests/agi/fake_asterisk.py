"""A scripted Asterisk for AGI tests, fed from the recorded lab transcripts (real sockets).

It sends a recorded environment byte for byte, then answers commands the way the transcripts
show Asterisk 20 doing it: DEVICE_STATE from a table, SET/GET VARIABLE and `EXEC MSet` on a
dict, `EXEC Dial` from a list of recorded Dial outcomes (with the unsolicited HANGUP line in front of the next
reply when the caller left).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asterisk_sim.pbx import split_app_args
from asterisk_sim.transcripts import transcripts_dir

TRANSCRIPTS = transcripts_dir(Path(__file__).resolve().parents[2])


def parse_args(line: str) -> list[str]:
    """Split a command line the way res_agi's parse_args does (quotes, backslash escapes)."""
    args, current, quoted, escaped, started = [], [], False, False, False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped, started = False, True
        elif ch == "\\":
            escaped, started = True, True
        elif ch == '"':
            quoted, started = not quoted, True
        elif ch in " \t" and not quoted:
            if started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(ch)
            started = True
    if started:
        args.append("".join(current))
    return args


def assignments(line: str) -> list[tuple[str, str]]:
    """The variables one command line sets: `SET VARIABLE N v` or `EXEC MSet N=v,N=v`."""
    args = parse_args(line)
    words = [a.upper() for a in args[:2]]
    if words == ["SET", "VARIABLE"] and len(args) == 4:
        return [(args[2], args[3])]
    if words == ["EXEC", "MSET"] and len(args) == 3:
        return mset_pairs(args[2])
    return []


def mset_pairs(data: str) -> list[tuple[str, str]]:
    pairs = [pair.partition("=") for pair in split_app_args(data)]
    return [(name, value) for name, sep, value in pairs if sep]


@dataclass
class DialOutcome:
    status: str  # DIALSTATUS
    result: int = 0  # the EXEC reply: 0 caller still up, -1 caller gone
    hangup: bool = False  # send the unsolicited HANGUP line before the next reply
    peer: str = ""  # DIALEDPEERNAME when answered
    seconds: int = 0  # how long the Dial took: the fake's ${EPOCH} moves on by as much


@dataclass
class Transcript:
    env: list[bytes]
    device_states: dict[str, str]
    dials: list[DialOutcome]
    dial_commands: list[str]


def read_transcript(scenario: str, session: str = "s1") -> Transcript:
    """The env, DEVICE_STATE answers and Dial outcomes of one recorded session."""
    paths = sorted(TRANSCRIPTS.glob(f"{scenario}*/agi.log"))
    if not paths:
        raise FileNotFoundError(f"no recorded agi.log for {scenario!r} in {TRANSCRIPTS}")
    path = paths[0]
    records = []
    for raw in path.read_bytes().split(b"\n")[:-1]:
        _ms, sess, direction, rest = raw.split(b" ", 3)
        if sess.decode() == session:
            records.append((direction.decode(), rest))
    env = []
    for direction, rest in records:
        if direction == "<<":
            env.append(rest + b"\n")
            if rest == b"":
                break
    states: dict[str, str] = {}
    dials: list[DialOutcome] = []
    dial_commands: list[str] = []
    for i, (direction, rest) in enumerate(records):
        text = rest.decode("utf-8")
        state = re.fullmatch(r"GET FULL VARIABLE \$\{DEVICE_STATE\((.+)\)\}", text)
        if direction == ">>" and state:
            reply = records[i + 1][1].decode()
            states.setdefault(state.group(1), re.search(r"\((.*)\)", reply).group(1))
        if direction == ">>" and text.startswith("EXEC Dial "):
            dial_commands.append(text)
            result = int(records[i + 1][1].decode().split("=")[1])
            tail = records[i + 2 : i + 12]
            hangup = any(r == b"HANGUP" for _, r in tail[:3])
            replies = [r.decode() for d, r in tail if d == "<<" and r != b"HANGUP"]
            found = re.search(r"\((.*)\)", replies[0])
            if found is None:  # a probe on the dead channel, not a routing step
                continue
            status = found.group(1)
            peer = re.search(r"\((.*)\)", replies[1]).group(1)
            dials.append(DialOutcome(status, result, hangup, peer))
    return Transcript(env, states, dials, dial_commands)


@dataclass
class FakeAsterisk:
    env: list[bytes]
    device_states: dict[str, str] | Callable[[str], str] = field(default_factory=dict)
    dials: list[DialOutcome] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    raw_commands: list[bytes] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    epoch: int = 1795746830  # ${EPOCH}: Asterisk's clock, moved on by each Dial's `seconds`
    _pending_hangup: bool = False
    _dead: bool = False

    async def call(self, port: int, host: str = "127.0.0.1") -> None:
        """Connect, send the environment, answer until the server closes the connection."""
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(b"".join(self.env))
            await writer.drain()
            while line := await reader.readline():
                writer.write(self.answer(line))
                await writer.drain()
        except ConnectionError:
            pass  # the server hung up on us: what the test then checks is what it sent
        finally:
            writer.close()

    def answer(self, line: bytes) -> bytes:
        """The bytes Asterisk would send back for one command line."""
        self.raw_commands.append(line)
        text = line.decode("utf-8").rstrip("\n")
        self.commands.append(text)
        reply = self.reply(parse_args(text))
        if self._pending_hangup:
            reply = "HANGUP\n" + reply
            self._pending_hangup = False
        return reply.encode("utf-8")

    def reply(self, args: list[str]) -> str:
        verb = " ".join(args[:2]).upper()
        if verb == "GET FULL":
            return self._full(args[3])
        if verb == "GET VARIABLE":
            value = self.variables.get(args[2])
            return "200 result=0\n" if value is None else f"200 result=1 ({value})\n"
        if verb == "SET VARIABLE":
            self.variables[args[2]] = args[3]
            return "200 result=1\n"
        if args[0].upper() == "EXEC":
            return self._exec(args[1], args[2] if len(args) > 2 else "")
        if args[0].upper() == "ANSWER" and self._dead:
            return "511 Command Not Permitted on a dead channel or intercept routine\n"
        return "510 Invalid or unknown command\n"

    def _full(self, expression: str) -> str:
        """Evaluates `${DEVICE_STATE(X)}` and `${EPOCH}` wherever they appear, as Asterisk does."""
        if not re.fullmatch(r"(\$\{DEVICE_STATE\([^)]+\)\}|\$\{EPOCH\}|,)+", expression):
            return "200 result=0\n"
        expression = expression.replace("${EPOCH}", str(self.epoch))
        states = self.device_states

        def state(match: re.Match[str]) -> str:
            name = match.group(1)
            return states(name) if callable(states) else states.get(name, "INVALID")

        value = re.sub(r"\$\{DEVICE_STATE\(([^)]+)\)\}", state, expression)
        return f"200 result=1 ({value})\n"

    def _exec(self, app: str, data: str) -> str:
        if self._dead:
            return "200 result=-1\n"
        if app.upper() == "MSET":
            self.variables.update(mset_pairs(data))
            return "200 result=0\n"
        if app != "Dial" or not self.dials:
            return "200 result=0\n"
        outcome = self.dials.pop(0)
        self.epoch += outcome.seconds
        self.variables["DIALSTATUS"] = outcome.status
        self.variables["DIALEDPEERNAME"] = outcome.peer
        if outcome.result < 0:
            self._dead = True
            self._pending_hangup = outcome.hangup
        return f"200 result={outcome.result}\n"

    @property
    def dial_data(self) -> list[str]:
        return [parse_args(c)[2] for c in self.commands if c.startswith("EXEC Dial")]
