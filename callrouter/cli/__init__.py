"""The `callrouter` command for administrators.

Every bad input ends in one line on stderr and exit code 2, and nothing is written: each
command runs in one transaction that an error rolls back.

The group is lazy: `COMMANDS` names each command's module and its one-line help, and a module is
imported only when its command runs (or its own `--help` is asked for). `callrouter --help`
imports click and nothing of the database, settings or CRM; a new command is one line in the
table (tests/cli/test_lazy_cli.py checks the table against the commands themselves).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1

# name → ("module:attribute" under callrouter.cli, the short help shown by `callrouter --help`
# — the command's own, as click shortens it to 80 characters).
# fmt: off
COMMANDS: dict[str, tuple[str, str]] = {
    "agi": ("service_cmd:agi_cmd", "Route calls: the FastAGI server alone (production: callrouter-agi.service)."),
    "ami": ("service_cmd:ami_cmd", "Record calls: the AMI listener alone (production: callrouter-ami.service)."),
    "backfill": ("backfill_cmd:backfill", "Record every call in Master.csv that is not recorded yet (safe to run again)."),
    "callbacks": ("report_cmd:callbacks_group", "Call-back tasks for missed calls."),
    "calls": ("calls_cmd:calls_group", "Recorded calls: inbound, outbound, internal, missed."),
    "contacts": ("contacts_cmd:contacts_group", "Clients by phone number, each with a responsible manager."),
    "db": ("db_cmd:db_group", "The database schema."),
    "deals": ("deals_cmd:deals_group", "Deals with statuses and their history."),
    "demo": ("demo_cmd:demo", "Play a compressed working day through the Asterisk simulator, then print the..."),
    "departments": ("staff_cmd:departments", "Sales departments, their working hours, holidays and lines (DIDs); the..."),
    "init": ("init_cmd:init_cmd", "Write the settings file (--config, default /etc/callrouter/callrouter.toml;..."),
    "managers": ("staff_cmd:managers", "The people whose phones ring: managers, the head of sales, the owner."),
    "refused": ("refused_cmd:refused_group", "Calls the database refused: list them, replay them once the cause is fixed."),
    "report": ("report_cmd:report_group", "The owner's daily report."),
    "route": ("route_cmd:route_group", "Routing: check the escalation set-up."),
    "rules": ("rules_cmd:rules_group", "When a deal enters a status, give its responsible manager a task."),
    "run": ("service_cmd:run_cmd", "Route calls (FastAGI) and record them (AMI) in one process, until SIGTERM."),
    "stats": ("report_cmd:stats_command", "The report's figures for any period, per manager, department or day."),
    "status": ("service_cmd:status_cmd", "Whether AGI listens, AMI is connected, the database is current; the spool's..."),
    "tasks": ("tasks_cmd:tasks_group", "Tasks: a person, a deadline, a type (call | meeting | email) and a comment,..."),
    "users": ("users_cmd:users_group", "Accounts of the web application (log-in, role, the manager they are)."),
    "web": ("web_cmd:web_cmd", "Serve the web application (managers' day, deal cards, analytics) until SIGTERM."),
}
# fmt: on


class LazyGroup(click.Group):
    """A group whose subcommands are imported when first used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, _, attribute = entry[0].partition(":")
        command = getattr(importlib.import_module(f"{__name__}.{module_name}"), attribute)
        self.add_command(command, cmd_name)
        return command  # type: ignore[no-any-return]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their short help, from the table: nothing is imported."""
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    package_name="callrouter", prog_name="callrouter", message="%(prog)s %(version)s"
)
@click.option("--config", envvar="CALLROUTER_CONFIG", default=None, help="Settings file (TOML).")
@click.option("--json", "json_output", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def cli(ctx: click.Context, config: str | None, json_output: bool) -> None:
    """callrouter: routes the sales department's calls and keeps every one of them."""
    from .common import AppContext  # settings and the database: only when a command runs

    ctx.obj = AppContext(config=config, json_output=json_output)


def _fail(message: str, code: int) -> int:
    print(f"callrouter: error: {message}", file=sys.stderr)
    return code


def _is(exc: BaseException, module: str, name: str) -> bool:
    """Whether `exc` is a `module.name` — without importing `module`: an exception of a class
    that was never imported cannot have been raised."""
    cls = getattr(sys.modules.get(module), name, None)
    return isinstance(cls, type) and isinstance(exc, cls)


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="callrouter", standalone_mode=False)
    except SystemExit as exc:  # a command's own exit code (`status`, `db current`)
        return exc.code if isinstance(exc.code, int) else EXIT_FAILURE
    except click.exceptions.Abort:
        return _fail("aborted", EXIT_FAILURE)
    except click.ClickException as exc:
        return _fail(exc.format_message().replace("\n", " "), EXIT_BAD_INPUT)
    except Exception as exc:
        code = _failure(exc)
        if code is None:
            raise
        return code
    return 0


def _failure(exc: Exception) -> int | None:
    """The exit code after saying what went wrong in one line; None: not ours to explain."""
    if _is(exc, "models.errors", "InputError") or _is(exc, "core.settings", "SettingsError"):
        return _fail(str(exc), EXIT_BAD_INPUT)
    if _is(exc, "sqlalchemy.exc", "IntegrityError"):
        orig: Any = getattr(exc, "orig", exc)
        return _fail(f"refused by the database: {orig}".splitlines()[0], EXIT_BAD_INPUT)
    if _is(exc, "sqlalchemy.exc", "OperationalError") or _is(exc, "sqlalchemy.exc", "DBAPIError"):
        return _fail(
            f"database unavailable: {getattr(exc, 'orig', exc)}".splitlines()[0], EXIT_FAILURE
        )
    if _is(exc, "callrouter.listen", "ListenError") or _is(
        exc, "callrouter.cli.common", "DatabaseUnavailable"
    ):
        return _fail(str(exc), EXIT_FAILURE)
    if isinstance(exc, OSError):  # a file or a folder: its own cause, never "database unavailable"
        return _fail(os_error_text(exc), EXIT_FAILURE)
    return None


def os_error_text(exc: OSError) -> str:
    """'/var/x/report.html: permission denied' — the file and the cause."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    reason = reason[:1].lower() + reason[1:]
    return f"{exc.filename}: {reason}" if exc.filename else reason


def entry() -> None:
    sys.exit(main())
