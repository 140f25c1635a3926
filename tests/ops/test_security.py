"""Who may talk to the service and where its secret may live."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings
from tests.ops.service_support import (
    SECRET,
    ServiceProcess,
    free_port,
    run_cli,
    secret_file,
    write_config,
)

DIRECTORY = {
    "departments": [{"id": 1, "name": "Sales", "timezone": "Europe/Moscow"}],
    "managers": [{"id": 1, "name": "Ivan", "endpoint": "SIP/101", "role": "manager"}],
}


def closed_at_once(source: str, port: int) -> bool:
    """Connect to 127.0.0.1:port from `source`: does the server hang up before saying a word?"""
    with socket.socket() as sock:
        sock.settimeout(10)  # below env_timeout: a server waiting for the AGI env times this out
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        try:
            return sock.recv(4096) == b""
        except ConnectionResetError:
            return True


async def test_fastagi_refuses_a_peer_outside_the_allowlist(tmp_path: Path):
    directory_file = tmp_path / "directory.json"
    directory_file.write_text(json.dumps(DIRECTORY), encoding="utf-8")
    config = write_config(
        tmp_path,
        metrics_port=0,
        agi={
            "port": free_port(),
            "directory_file": str(directory_file),
            "allowed_peers": ["127.0.0.1"],
            "env_timeout": 60.0,
        },
    )
    service = await ServiceProcess.start(config, "agi")
    try:
        ports = await service.ready()
        assert await asyncio.to_thread(closed_at_once, "127.0.0.2", ports["agi"])
        await service.wait_for_line(r"from 127\.0\.0\.2 refused: not in agi\.allowed_peers")
        # Bound to loopback: the metrics endpoint is not reachable on another address.
        with pytest.raises(ConnectionRefusedError), socket.socket() as sock:
            sock.connect(("127.0.0.2", ports["metrics"]))
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
    finally:
        await service.stop()


def test_world_readable_secret_file_is_refused(tmp_path: Path):
    secret = secret_file(tmp_path, mode=0o644)
    config = write_config(tmp_path, ami={"secret_file": str(secret)})
    with pytest.raises(SettingsError, match="ami.secret_file .* is world-readable; run: chmod 640"):
        load_settings(config)
    secret.chmod(0o640)
    assert load_settings(config).ami.resolved_secret() == SECRET


def test_world_readable_settings_file_with_the_secret_is_refused(tmp_path: Path):
    config = write_config(tmp_path, ami={"secret": SECRET})
    config.chmod(0o644)
    with pytest.raises(SettingsError, match="holds the AMI secret and is world-readable") as exc:
        load_settings(config)
    assert SECRET not in str(exc.value)
    config.chmod(0o640)
    assert load_settings(config).ami.secret.get_secret_value() == SECRET


def test_a_path_that_merely_mentions_secret_is_not_a_secret(tmp_path: Path):
    folder = tmp_path / "secrets"
    folder.mkdir()
    secret = secret_file(folder)
    config = write_config(tmp_path, ami={"secret_file": str(secret)})
    config.chmod(0o644)  # no secret inside, only its path: readable by all is fine
    assert load_settings(config).ami.resolved_secret() == SECRET


async def test_the_service_will_not_start_with_a_world_readable_secret_file(tmp_path: Path):
    secret = secret_file(tmp_path, mode=0o604)
    config = write_config(tmp_path, ami={"secret_file": str(secret)})
    code, _, err = await run_cli("--config", str(config), "ami")
    assert code == 2
    assert "world-readable" in err and SECRET not in err
