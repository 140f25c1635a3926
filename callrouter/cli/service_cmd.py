"""`callrouter run | agi | ami` (the services) and `callrouter status` (their health)."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from callrouter.service import Mode, StartupError, gather_health, health_text, run_service

from .common import AppContext, pass_app

_METRICS_HELP = "Metrics port (default: metrics_port; `ami` alone: metrics_port + 1; 0: any)."


def _serve(app: AppContext, mode: Mode, metrics_port: int | None) -> None:
    try:
        code = run_service(mode, app.config, metrics_port=metrics_port)
    except StartupError as exc:
        print(f"callrouter: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    if code:
        raise SystemExit(code)


def _service_command(mode: Mode, doc: str) -> click.Command:
    @click.command(mode.value, help=doc)
    @click.option("--metrics-port", type=int, default=None, help=_METRICS_HELP)
    @pass_app
    def command(app: AppContext, metrics_port: int | None) -> None:
        _serve(app, mode, metrics_port)

    return command


run_cmd = _service_command(
    Mode.RUN, "Route calls (FastAGI) and record them (AMI) in one process, until SIGTERM."
)
agi_cmd = _service_command(
    Mode.AGI, "Route calls: the FastAGI server alone (production: callrouter-agi.service)."
)
ami_cmd = _service_command(
    Mode.AMI, "Record calls: the AMI listener alone (production: callrouter-ami.service)."
)


@click.command("status")
@click.option("--json", "json_flag", is_flag=True, help="Print JSON for scripts.")
@pass_app
def status_cmd(app: AppContext, json_flag: bool) -> None:
    """Whether AGI listens, AMI is connected, the database is current; the spool's depth.

    Exit code 0 when all is well, 1 otherwise."""
    health = asyncio.run(gather_health(app.settings))
    if json_flag or app.json_output:
        click.echo(json.dumps(health.as_dict(), indent=2))
    else:
        click.echo(health_text(health))
    if not health.ok:
        raise SystemExit(1)
