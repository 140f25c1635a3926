"""`callrouter init`: the first settings file, the AMI secret, the database, and the next steps.

The files the install needs besides the code (the example settings, the Asterisk includes, the
systemd units) travel in the wheel as data files under `<prefix>/share/callrouter/`
(pyproject's `[tool.setuptools.data-files]`); in a source checkout they are read from
`deploy/` and `asterisk_conf/`. `docs/install.md` follows these steps.
"""

from __future__ import annotations

import grp
import json
import os
import re
import secrets
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import click

from core.settings import load_settings
from models import migrate
from models.db import Database
from models.errors import InputError

from .common import AppContext, pass_app, run

DEFAULT_PATH = Path("/etc/callrouter/callrouter.toml")
SHARE = Path("share") / "callrouter"
_CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Resources:
    """Where the installed copies of the non-Python files are."""

    settings_example: Path
    asterisk: Path  # extensions_callrouter.conf, manager_callrouter.conf, example-office/
    systemd: Path
    tmpfiles: Path
    docs: Path


def resources() -> Resources:
    """The wheel's data files (`<prefix>/share/callrouter`), else this source checkout."""
    for prefix in dict.fromkeys((sysconfig.get_path("data"), sys.prefix)):
        share = Path(prefix) / SHARE
        if (share / "callrouter.toml.example").is_file():
            return Resources(
                share / "callrouter.toml.example",
                share / "asterisk",
                share / "systemd",
                share / "tmpfiles.d",
                share / "docs",
            )
    return Resources(
        _CHECKOUT / "deploy" / "callrouter.toml.example",
        _CHECKOUT / "asterisk_conf",
        _CHECKOUT / "deploy" / "systemd",
        _CHECKOUT / "deploy" / "tmpfiles.d",
        _CHECKOUT / "docs",
    )


def _set(text: str, key: str, value: str) -> str:
    """The template with its (first, uncommented) `key = …` line set to `value` (a TOML string)."""
    line = re.compile(rf"^{re.escape(key)} = .*$", flags=re.M)
    if not line.search(text):
        raise InputError(f"the settings template has no {key!r} line")  # a broken install
    return line.sub(lambda _: f"{key} = {json.dumps(value, ensure_ascii=False)}", text, count=1)


def _sqlite_path(url: str) -> Path | None:
    match = re.match(r"^sqlite(\+aiosqlite)?:///(.+)$", url)
    return Path(match.group(2)) if match else None


def _write_new(path: Path, text: str, mode: int, group: str | None) -> None:
    """Create `path` with `mode` (0600, or 0640 for `group`); never replace a file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask does not widen or narrow it
        if group is not None:
            shutil.chown(path, group=group)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def _hand_over_sqlite(database: Path) -> None:
    """Run as root, a new SQLite file (and its WAL) would lock the service user out: give them
    to the owner of the database's folder (`install -d -o callrouter … /var/lib/callrouter`)."""
    if os.geteuid() != 0:
        return
    folder = database.parent.stat()
    for suffix in ("", "-wal", "-shm"):
        candidate = Path(f"{database}{suffix}")
        if candidate.exists():
            os.chown(candidate, folder.st_uid, folder.st_gid)


@click.command("init")
@click.option(
    "--database-url",
    default=None,
    help="Where the data lives (default: SQLite in /var/lib/callrouter), e.g. "
    "postgresql://callrouter@127.0.0.1/callrouter.",
)
@click.option("--timezone", default=None, help="The company's time zone (default Europe/Moscow).")
@click.option("--asterisk-system", default=None, help="A name for this PBX (default pbx1).")
@click.option("--spool-dir", default=None, help="The calls spool (default /var/spool/callrouter).")
@click.option(
    "--group",
    default=None,
    help="Make the settings and the secret readable by this group (0640), e.g. callrouter; "
    "default: the owner only (0600).",
)
@click.option("--no-database", is_flag=True, help="Write the settings only; no `db upgrade`.")
@pass_app
def init_cmd(
    app: AppContext,
    database_url: str | None,
    timezone: str | None,
    asterisk_system: str | None,
    spool_dir: str | None,
    group: str | None,
    no_database: bool,
) -> None:
    """Write the settings file (--config, default /etc/callrouter/callrouter.toml; never
    replaced) and an AMI secret next to it, create or migrate the database, and print the
    Asterisk include lines and the systemd steps. docs/install.md follows it."""
    path = Path(app.config or DEFAULT_PATH).absolute()
    if path.exists():
        raise InputError(f"{path} already exists: init never replaces settings (edit it instead)")
    if not path.parent.is_dir():
        raise InputError(f"folder {path.parent} does not exist: create it first (install -d …)")
    if group is not None:
        try:
            grp.getgrnam(group)
        except KeyError:
            raise InputError(f"no group {group!r} on this host") from None
    found = resources()
    try:
        text = found.settings_example.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"the settings template {found.settings_example}: {exc.strerror}"
        ) from None
    secret_path = path.parent / "ami.secret"
    for key, value in (
        ("database_url", database_url),
        ("timezone", timezone),
        ("asterisk_system", asterisk_system),
        ("spool_dir", spool_dir),
        ("secret_file", str(secret_path)),
    ):
        if value is not None:
            text = _set(text, key, value)
    database = _sqlite_path(database_url) if database_url else None
    if database is not None and not database.parent.is_dir():
        raise InputError(
            f"folder {database.parent} for the SQLite database does not exist: create it first "
            f"(install -d -o callrouter -g callrouter -m 0750 {database.parent})"
        )

    mode = 0o640 if group else 0o600
    made_secret = not secret_path.exists()
    if made_secret:
        _write_new(secret_path, secrets.token_urlsafe(24) + "\n", mode, group)
    # Check the settings before they are written: a bad value is refused, nothing stays.
    probe = path.with_name(f".{path.name}.init-{os.getpid()}")
    try:
        _write_new(probe, text, 0o600, None)
        settings = load_settings(probe)
    except BaseException:
        if made_secret:
            secret_path.unlink(missing_ok=True)
        raise
    finally:
        probe.unlink(missing_ok=True)
    _write_new(path, text, mode, group)
    click.echo(f"settings written to {path} ({mode:04o}{', group ' + group if group else ''})")
    if made_secret:
        click.echo(f"AMI secret written to {secret_path} ({mode:04o})")

    if not no_database:
        installed = AppContext(config=str(path))

        async def work(db: Database) -> str | None:
            await migrate.upgrade(db.engine, "head")
            return await migrate.current_revision(db.engine)

        revision = run(work, installed, schema=False)
        sqlite = _sqlite_path(settings.database_url)
        if sqlite is not None:
            _hand_over_sqlite(sqlite)
        click.echo(f"database schema at revision {revision}")
    _next_steps(path, secret_path, found, settings.timezone)


def _timer_zone(found: Resources) -> str | None:
    try:
        text = (found.systemd / "callrouter-report.timer").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^OnCalendar=.* (\S+/\S+)$", text, flags=re.M)
    return match.group(1) if match else None


def _next_steps(path: Path, secret_path: Path, found: Resources, zone: str) -> None:
    conf = found.asterisk
    timer_zone = _timer_zone(found)
    timer = (
        f"The report timer runs at 07:00 {zone}, the settings' time zone."
        if timer_zone == zone
        else f"The report timer runs at 07:00 {timer_zone}; for {zone}, after copying it:\n"
        f"     sed -i 's| {timer_zone}$| {zone}|' /etc/systemd/system/callrouter-report.timer"
    )
    click.echo(
        f"""
Next steps (docs/install.md: {found.docs / "install.md"}):

1. Asterisk: copy the two include files and add one line to each existing file
     install -m 0640 -g asterisk {conf / "extensions_callrouter.conf"} {conf / "manager_callrouter.conf"} /etc/asterisk/
     echo '#include extensions_callrouter.conf' >> /etc/asterisk/extensions.conf   # FreePBX: extensions_custom.conf
     echo '#include manager_callrouter.conf' >> /etc/asterisk/manager.conf         # FreePBX: manager_custom.conf
     sed -i "s|^secret = .*|secret = $(cat {secret_path})|" /etc/asterisk/manager_callrouter.conf
     asterisk -rx "dialplan reload" && asterisk -rx "manager reload"
   Send the trunk's calls to context callrouter-inbound (FreePBX: a custom destination
   callrouter-inbound,${{EXTEN}},1 on the inbound route).

2. systemd: the units, the spool folder, then start
     install -m 0644 {found.systemd}/*.service {found.systemd}/*.timer /etc/systemd/system/
     install -m 0644 {found.tmpfiles / "callrouter.conf"} /etc/tmpfiles.d/ && systemd-tmpfiles --create
     systemctl daemon-reload
     systemctl enable --now callrouter-agi callrouter-ami callrouter-report.timer callrouter-callbacks.timer
   {timer}

3. Check: callrouter --config {path} status"""
    )
