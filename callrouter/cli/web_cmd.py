"""`callrouter web`: the web application alone (production: callrouter-web.service)."""

from __future__ import annotations

import os
import sys

import click

from callrouter.service import Mode, StartupError, run_service

from .common import AppContext, pass_app


@click.command("web")
@click.option("--host", default=None, help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: web.port, 8080).")
@click.option(
    "--metrics-port", type=int, default=None, help="Metrics port (default: metrics_port + 2)."
)
@pass_app
def web_cmd(app: AppContext, host: str | None, port: int | None, metrics_port: int | None) -> None:
    """Serve the web application (managers' day, deal cards, analytics) until SIGTERM.

    Put nginx with TLS in front of it (docs/web.md); it needs web.secret_key_file."""
    # The options win over the settings file the way the environment does.
    if host is not None:
        os.environ["CALLROUTER_WEB__HOST"] = host
    if port is not None:
        if not 0 <= port <= 65535:
            raise click.BadParameter(f"{port} is not a port", param_hint="--port")
        os.environ["CALLROUTER_WEB__PORT"] = str(port)
    try:
        code = run_service(Mode.WEB, app.config, metrics_port=metrics_port)
    except StartupError as exc:
        print(f"callrouter: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    if code:
        raise SystemExit(code)
