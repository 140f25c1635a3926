"""The files in deploy/: the example settings load, every unit's ExecStart is a real command."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from callrouter.cli import main
from core.settings import load_settings
from tests.ops.service_support import secret_file

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def exec_starts(unit: Path) -> list[list[str]]:
    text = unit.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    return [shlex.split(line.split("=", 1)[1]) for line in lines]


def test_example_settings_load_with_their_secret_file(tmp_path: Path, monkeypatch):
    example = tmp_path / "callrouter.toml"
    example.write_text((DEPLOY / "callrouter.toml.example").read_text(encoding="utf-8"))
    example.chmod(0o640)
    monkeypatch.setenv("CALLROUTER_AMI__SECRET_FILE", str(secret_file(tmp_path, 0o640)))
    settings = load_settings(example)
    assert settings.agi.host == settings.metrics_host == "127.0.0.1"
    assert str(settings.spool_dir) == "/var/spool/callrouter"
    assert settings.database_url.endswith("/var/lib/callrouter/callrouter.sqlite3")


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_every_exec_start_is_a_callrouter_command(unit: Path, capsys):
    commands = exec_starts(unit)
    assert commands
    for argv in commands:
        assert argv[:3] == [
            "/usr/local/bin/callrouter",
            "--config",
            "/etc/callrouter/callrouter.toml",
        ]
        assert main([*argv[3:], "--help"]) == 0, argv
        assert "Usage: callrouter" in capsys.readouterr().out
