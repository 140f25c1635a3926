"""Running `callrouter run|agi|ami` as a real child process against the Asterisk simulator.

Synchronisation is by condition with a deadline: a line on the child's stderr, a row in the
database, a port that accepts or refuses — never a bare sleep.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from asterisk_sim import AsteriskSimulator, Phone, RealClock, SimConfig
from crm.staff import add_department, add_manager
from models.db import Database
from models.tables import Call

CALLROUTER = str(Path(sys.executable).with_name("callrouter"))
SECRET = "s3cret-Value-42"
DEADLINE = 20.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


async def wait_until(
    condition: Callable[[], Awaitable[Any]], within: float = DEADLINE, what: str = "condition"
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.05)


async def seed_office(db_url: str, *endpoints: str) -> None:
    """A 'Sales' department (no hours: always open) with one manager per endpoint."""
    db = Database(db_url)
    try:
        async with db.transaction() as session:
            sales = await add_department(session, "Sales", "Europe/Moscow")
            for n, endpoint in enumerate(endpoints, 1):
                await add_manager(session, name=f"Manager {n}", endpoint=endpoint, department=sales)
    finally:
        await db.dispose()


async def add_sales_manager(db_url: str, name: str, endpoint: str) -> None:
    from models.tables import Department

    db = Database(db_url)
    try:
        async with db.transaction() as session:
            sales = await session.scalar(select(Department).where(Department.name == "Sales"))
            await add_manager(session, name=name, endpoint=endpoint, department=sales)
    finally:
        await db.dispose()


async def call_row(db_url: str, linkedid: str) -> Call | None:
    db = Database(db_url)
    try:
        async with db.reader() as session:
            return await session.scalar(select(Call).where(Call.linkedid == linkedid))
    finally:
        await db.dispose()


def write_config(directory: Path, **sections: Any) -> Path:
    """A settings file (0600) from top-level keys and {section: {key: value}} dicts."""
    top = {k: v for k, v in sections.items() if not isinstance(v, dict)}
    lines = [f"{k} = {_toml(v)}" for k, v in top.items()]
    for name, values in sections.items():
        if isinstance(values, dict):
            lines.append(f"[{name}]")
            lines.extend(f"{k} = {_toml(v)}" for k, v in values.items())
    path = directory / "callrouter.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def secret_file(directory: Path, mode: int = 0o600) -> Path:
    path = directory / "ami.secret"
    path.write_text(SECRET + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def service_config(
    directory: Path,
    db_url: str,
    *,
    agi_port: int = 0,
    ami_port: int = 1,
    log_format: str = "text",
    agi: dict[str, Any] | None = None,
    routing: dict[str, Any] | None = None,
) -> Path:
    return write_config(
        directory,
        database_url=db_url,
        spool_dir=str(directory / "spool"),
        metrics_port=0,
        log_format=log_format,
        asterisk_system="pbx1",
        endpoint_technology="SIP",
        agi={"port": agi_port, "shutdown_grace": 15.0, **(agi or {})},
        ami={
            "port": ami_port,
            "secret_file": str(secret_file(directory)),
            "reconnect_initial_delay": 0.1,
            "reconnect_max_delay": 0.5,
            "cdr_grace": 0.5,
        },
        routing={"directory_refresh_seconds": 3600.0, **(routing or {})},
    )


class ServiceProcess:
    """`callrouter --config FILE <command>` as a child process, its stderr collected by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls, config: Path, command: str = "run", env: dict[str, str] | None = None
    ) -> ServiceProcess:
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("CALLROUTER_")}
        child_env.update(env or {})
        proc = await asyncio.create_subprocess_exec(
            CALLROUTER,
            "--config",
            str(config),
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=child_env,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            async with self._changed:
                self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_for_line(self, pattern: str, within: float = DEADLINE) -> re.Match[str]:
        """The first stderr line matching `pattern` (a regular expression)."""
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            return next((m for line in self.lines if (m := regex.search(line))), None)

        async def wait() -> re.Match[str]:
            async with self._changed:
                while (match := found()) is None:
                    if self._reader.done():
                        raise AssertionError(f"exited without {pattern!r}:\n{self.output}")
                    await self._changed.wait()
                return match

        try:
            return await asyncio.wait_for(wait(), within)
        except TimeoutError:
            raise AssertionError(f"no line matching {pattern!r}:\n{self.output}") from None

    async def ready(self) -> dict[str, int]:
        """Wait for 'ready'; the ports the child bound (from its log lines)."""
        await self.wait_for_line(r"callrouter \w+ ready")
        ports = {"metrics": int((await self.wait_for_line(r"metrics on http://[^:]+:(\d+)"))[1])}
        if any("FastAGI listening" in line for line in self.lines):
            ports["agi"] = int((await self.wait_for_line(r"FastAGI listening on \S+:(\d+)"))[1])
        return ports

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    async def exit_code(self, within: float = DEADLINE) -> int:
        try:
            code = await asyncio.wait_for(self.proc.wait(), within)
        except TimeoutError:
            raise AssertionError(f"still running after {within:g} s:\n{self.output}") from None
        await self._reader
        return code

    async def stop(self) -> None:
        """Kill if still running (test cleanup)."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        await asyncio.gather(self._reader, return_exceptions=True)


async def start_simulator(agi_port: int, phones: dict[str, Phone]) -> tuple[AsteriskSimulator, int]:
    """A real-time simulator whose AMI listens on a free port; returns (sim, ami_port)."""
    sim = AsteriskSimulator(SimConfig(agi_address=("127.0.0.1", agi_port), clock=RealClock()))
    for extension, phone in phones.items():
        sim.add_phone(extension, phone)
    ami_port = await sim.start_ami(host="127.0.0.1", port=0, users={"callrouter": SECRET})
    return sim, ami_port


def sim_saw(sim: AsteriskSimulator, event: str) -> bool:
    return any(dict(fields).get("Event") == event for fields in sim.events)


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """`callrouter ARGS…` to completion: (exit code, stdout, stderr)."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("CALLROUTER_")}
    child_env.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        CALLROUTER,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), DEADLINE)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
