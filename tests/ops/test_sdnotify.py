"""sd_notify over a real AF_UNIX datagram socket: READY, WATCHDOG, RELOADING, STOPPING."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callrouter.sdnotify import Notifier
from tests.ops.service_support import ServiceProcess, free_port, write_config

DIRECTORY = {
    "departments": [{"id": 1, "name": "Sales", "timezone": "Europe/Moscow"}],
    "managers": [{"id": 1, "name": "Ivan", "endpoint": "SIP/101", "role": "manager"}],
}


@pytest.fixture
def notify_socket() -> Iterator[socket.socket]:
    """A datagram socket like systemd's (short path: sun_path holds 108 bytes)."""
    directory = tempfile.mkdtemp(prefix="sdn", dir="/tmp")
    path = os.path.join(directory, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()
        os.unlink(path)
        os.rmdir(directory)


async def receive(sock: socket.socket, wanted: str, within: float = 10.0) -> list[str]:
    """Messages up to and including the first that contains `wanted`."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    deadline = time.monotonic() + within
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {wanted!r} within {within:g} s; got {seen}")
        data = await asyncio.wait_for(loop.sock_recv(sock, 4096), remaining)
        seen.append(data.decode())
        if wanted in seen[-1]:
            return seen


async def test_agi_service_tells_systemd_ready_watchdog_reloading_stopping(
    notify_socket, tmp_path: Path
):
    directory_file = tmp_path / "directory.json"
    directory_file.write_text(json.dumps(DIRECTORY), encoding="utf-8")
    config = write_config(
        tmp_path,
        metrics_port=0,
        agi={"port": free_port(), "directory_file": str(directory_file)},
    )
    env = {"NOTIFY_SOCKET": notify_socket.getsockname(), "WATCHDOG_USEC": "200000"}
    service = await ServiceProcess.start(config, "agi", env=env)
    try:
        first = await receive(notify_socket, "READY=1")
        assert first[-1].startswith("READY=1")
        watchdog = await receive(notify_socket, "WATCHDOG=1")
        assert "WATCHDOG=1" in watchdog[-1]
        await receive(notify_socket, "WATCHDOG=1")  # and again: fed periodically
        service.send(signal.SIGHUP)
        reloading = await receive(notify_socket, "RELOADING=1")
        assert "MONOTONIC_USEC=" in reloading[-1]
        await receive(notify_socket, "READY=1")
        service.send(signal.SIGTERM)
        await receive(notify_socket, "STOPPING=1")
        assert await service.exit_code() == 0
    finally:
        await service.stop()


def test_notifier_speaks_to_an_abstract_socket_and_respects_watchdog_pid():
    name = f"callrouter-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "30000000"})
        assert notifier.watchdog_interval == 15.0
        assert notifier.ready("up")
        assert sock.recv(100) == b"READY=1\nSTATUS=up"
        assert notifier.stopping()
        assert sock.recv(100) == b"STOPPING=1"
    other = Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"})
    assert other.watchdog_interval is None  # the watchdog is meant for another process
    assert Notifier({}).ready() is False  # outside systemd: nothing to do
