"""Every OS error names its own cause, never "database unavailable" (issue #17).

A port already taken, for AGI or for the metrics, stops the service with the address and the
server named; an output file that cannot be written is refused before any work starts.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from callrouter.cli import main
from tests.ops.service_support import run_cli, write_config


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def agi_alone(tmp_path: Path, *, agi_port: int, metrics_port: int) -> Path:
    """`callrouter agi` from a directory file: no database needed to reach the ports."""
    return write_config(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'none.sqlite3'}",
        spool_dir=str(tmp_path / "spool"),
        metrics_port=metrics_port,
        agi={"port": agi_port, "directory_file": str(tmp_path / "directory.json")},
    )


async def test_the_agi_port_in_use_is_named(tmp_path, taken_port):
    config = agi_alone(tmp_path, agi_port=taken_port, metrics_port=0)
    code, _out, err = await run_cli("--config", str(config), "agi")
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last == (
        f"callrouter: error: cannot listen on 127.0.0.1:{taken_port} (AGI): address already in use"
    )
    assert "database" not in last


async def test_the_metrics_port_in_use_is_named(tmp_path, taken_port):
    config = agi_alone(tmp_path, agi_port=0, metrics_port=taken_port)
    code, _out, err = await run_cli("--config", str(config), "agi")
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"callrouter: error: cannot listen on 127.0.0.1:{taken_port} (metrics): "
        "address already in use"
    )


def test_report_to_a_missing_folder_is_refused_before_the_report(cli, table_counts):
    before = table_counts()
    result = cli("report", "daily", "-o", "/nonexistent/dir/r.html", "--format", "html")
    assert result.code == 2
    assert result.err == (
        "callrouter: error: cannot write the report to /nonexistent/dir/r.html: "
        "the folder /nonexistent/dir does not exist\n"
    )
    assert table_counts() == before


def test_report_onto_a_folder_is_refused(cli, tmp_path):
    result = cli("report", "daily", "-o", str(tmp_path))
    assert result.code == 2
    assert "it is a folder" in result.err or "is a directory" in result.err


@pytest.mark.parametrize(
    ("option", "path", "what"),
    [
        ("--html", "/nonexistent/x.html", "the HTML report"),
        ("--db", "/nonexistent/demo.sqlite3", "the demo database"),
    ],
)
def test_demo_checks_its_output_paths_before_playing_the_day(
    tmp_path, monkeypatch, capsys, option, path, what
):
    monkeypatch.chdir(tmp_path)
    code = main(["demo", option, path])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == (
        f"callrouter: error: cannot write {what} to {path}: "
        f"the folder {Path(path).parent} does not exist\n"
    )
    assert "Played" not in captured.out
    assert list(tmp_path.iterdir()) == []  # no demo database, no report


def test_a_database_server_that_refuses_is_unavailable_not_a_file_error(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLROUTER_CONFIG", raising=False)
    monkeypatch.setenv("CALLROUTER_DATABASE_URL", "postgresql://u@127.0.0.1:1/crm")
    code = main(["contacts", "list"])
    err = capsys.readouterr().err
    assert code == 1
    assert err == "callrouter: error: database unavailable: Connection refused\n"
