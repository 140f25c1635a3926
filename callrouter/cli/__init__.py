"""The `callrouter` command for administrators.

Every bad input ends in one line on stderr and exit code 2, and nothing is written: each
command runs in one transaction that an error rolls back.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from core.settings import SettingsError
from models.errors import InputError

from .backfill_cmd import backfill
from .calls_cmd import calls_group
from .common import AppContext
from .contacts_cmd import contacts_group
from .db_cmd import db_group
from .deals_cmd import deals_group
from .demo_cmd import demo
from .refused_cmd import refused_group
from .report_cmd import callbacks_group, report_group, stats_command
from .route_cmd import route_group
from .rules_cmd import rules_group
from .service_cmd import agi_cmd, ami_cmd, run_cmd, status_cmd
from .staff_cmd import departments, managers
from .tasks_cmd import tasks_group

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", envvar="CALLROUTER_CONFIG", default=None, help="Settings file (TOML).")
@click.option("--json", "json_output", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def cli(ctx: click.Context, config: str | None, json_output: bool) -> None:
    """callrouter: routes the sales department's calls and keeps every one of them."""
    ctx.obj = AppContext(config=config, json_output=json_output)


cli.add_command(db_group)
cli.add_command(departments)
cli.add_command(managers)
cli.add_command(contacts_group)
cli.add_command(deals_group)
cli.add_command(tasks_group)
cli.add_command(rules_group)
cli.add_command(route_group)
cli.add_command(calls_group)
cli.add_command(refused_group)
cli.add_command(report_group)
cli.add_command(stats_command)
cli.add_command(callbacks_group)
cli.add_command(backfill)
cli.add_command(run_cmd)
cli.add_command(agi_cmd)
cli.add_command(ami_cmd)
cli.add_command(status_cmd)
cli.add_command(demo)


def _fail(message: str, code: int) -> int:
    print(f"callrouter: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="callrouter", standalone_mode=False)
    except click.exceptions.Abort:
        return _fail("aborted", EXIT_FAILURE)
    except click.ClickException as exc:
        return _fail(exc.format_message().replace("\n", " "), EXIT_BAD_INPUT)
    except (InputError, SettingsError) as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    except IntegrityError as exc:
        return _fail(f"refused by the database: {exc.orig}".splitlines()[0], EXIT_BAD_INPUT)
    except (OperationalError, DBAPIError, OSError) as exc:
        return _fail(
            f"database unavailable: {getattr(exc, 'orig', exc)}".splitlines()[0], EXIT_FAILURE
        )
    return 0


def entry() -> None:
    sys.exit(main())
