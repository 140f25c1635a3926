"""`callrouter-agi`: the classic AGI entry point, fast.

Asterisk forks a classic AGI script for every call, so its start-up is on the caller's ear.
Importing the routing stack (pydantic settings, SQLAlchemy, the router) takes half a second; this
module imports only the standard library and `agi_scripts.env` (the one reading of the AGI
environment, itself standard library only). It hands the call to the running FastAGI service —
the environment rewritten as a FastAGI request for the `route` script, then bytes relayed both
ways — so the classic script routes exactly like the FastAGI server, because it is the FastAGI
server. When the service cannot be reached within CONNECT_TIMEOUT, the script routes the call
itself, in process (`agi_scripts.classic`): slower to start, same decisions.

Where the service is: the first argument (`AGI(callrouter-agi,127.0.0.1:4573)`), else
CALLROUTER_AGI__HOST / CALLROUTER_AGI__PORT, else the `[agi]` section of the settings file, else
127.0.0.1:4573.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys

from agi_scripts.env import MAX_ENV_BYTES, end_of_env, env_key, env_lines

CONNECT_TIMEOUT = 0.05
DEFAULT = ("127.0.0.1", 4573)
SCRIPT = "route"
# The lines that say how the script was reached; the service gets its own.
_NETWORK_KEYS = frozenset({b"agi_network", b"agi_network_script", b"agi_request"})


def service_address(argv: list[str]) -> tuple[str, int]:
    if len(argv) > 1 and argv[1]:
        host, _, port = argv[1].rpartition(":")
        return (host or DEFAULT[0]).strip("[]"), int(port or DEFAULT[1])
    host = os.environ.get("CALLROUTER_AGI__HOST")
    port = os.environ.get("CALLROUTER_AGI__PORT")
    if not (host and port):
        file_host, file_port = _from_settings_file()
        host, port = host or file_host, port or file_port
    return host or DEFAULT[0], int(port or DEFAULT[1])


def _from_settings_file() -> tuple[str | None, str | None]:
    candidates = [
        os.environ.get("CALLROUTER_CONFIG"),
        "callrouter.toml",
        "/etc/callrouter/callrouter.toml",
    ]
    for path in filter(None, candidates):
        try:
            with open(path, "rb") as handle:
                import tomllib

                agi = tomllib.load(handle).get("agi", {})
        except (OSError, ValueError):
            continue
        port = agi.get("port")
        return agi.get("host"), str(port) if port is not None else None
    return None, None


def read_environment(stdin: int) -> bytes:
    """Asterisk's environment: `agi_*` lines up to the blank line (raw bytes, untouched)."""
    data = b""
    while end_of_env(data) < 0 and len(data) < MAX_ENV_BYTES:
        chunk = os.read(stdin, 4096)
        if not chunk:
            break
        data += chunk
    return data


def as_fastagi(environment: bytes, host: str, port: int) -> bytes:
    """The same environment as Asterisk sends it over FastAGI for agi://host:port/route."""
    end = end_of_env(environment)
    head, rest = (environment, b"") if end < 0 else (environment[:end], environment[end:])
    lines = [line for line in env_lines(head) if env_key(line) not in _NETWORK_KEYS]
    request = f"agi://{host}:{port}/{SCRIPT}".encode()
    network = [
        b"agi_network: yes",
        b"agi_network_script: " + SCRIPT.encode(),
        b"agi_request: " + request,
    ]
    return b"\n".join(network + lines) + b"\n\n" + rest


def relay(conn: socket.socket, stdin: int, stdout: int) -> None:
    """Copy Asterisk → service and service → Asterisk until the service closes."""
    conn.setblocking(True)
    while True:
        readable, _, _ = select.select([conn, stdin], [], [])
        if conn in readable:
            data = conn.recv(65536)
            if not data:
                return
            os.write(stdout, data)
        if stdin in readable:
            data = os.read(stdin, 65536)
            if not data:
                conn.shutdown(socket.SHUT_WR)
                stdin_closed_wait(conn, stdout)
                return
            conn.sendall(data)


def stdin_closed_wait(conn: socket.socket, stdout: int) -> None:
    while data := conn.recv(65536):
        os.write(stdout, data)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    # Asterisk sends SIGHUP when the caller hangs up; the service learns it from the replies.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    environment = read_environment(stdin)
    host, port = service_address(argv)
    try:
        conn = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except OSError:
        return _route_in_process(environment)
    try:
        conn.sendall(as_fastagi(environment, host, port))
        relay(conn, stdin, stdout)
    except OSError:
        pass  # the service or Asterisk went away: the dialplan's fallback decides
    finally:
        conn.close()
    return 0


def _route_in_process(environment: bytes) -> int:
    """No service: route here, starting from the environment already read from stdin."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    from agi_scripts.classic import main as classic_main

    return classic_main([], preread=environment)


if __name__ == "__main__":
    sys.exit(main())
