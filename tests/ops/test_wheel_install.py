"""docs/install.md, steps 1, 2 and 5, end to end: a wheel built from the checkout installs into a
fresh virtualenv without git, and the installed program (not this checkout) prints its
version, writes the settings with `init`, migrates the database and finds every file the
systemd units and the Asterisk includes need in its own `share/callrouter/`.

The dependencies are installed by pip from the configured index, as an administrator's pip
would (CI installs the project the same way just before); pip's cache keeps reruns quick.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]


def source_files() -> list[str]:
    """What a clean checkout holds: tracked and new files, nothing ignored (no build/ left over
    from an earlier build, no .venv)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and os.path.lexists(ROOT / name)]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CALLROUTER_")}


def sh(*argv: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{argv}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed; returns its prefix."""
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the checkout's files")
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    for name in source_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target, follow_symlinks=False)
    dist = work / "dist"
    # Step 1 of the guide.
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, source, cwd=work)
    (wheel,) = dist.glob("callrouter-*.whl")
    assert wheel.name == f"callrouter-{project_version()}-py3-none-any.whl"
    # Step 2: a fresh virtualenv, nothing from this one.
    prefix = work / "opt-callrouter"
    sh(sys.executable, "-m", "venv", prefix, cwd=work)
    sh(prefix / "bin" / "pip", "install", "-q", "--disable-pip-version-check", wheel, cwd=work)
    return prefix


def test_the_installed_program_prints_its_version(installed: Path, tmp_path: Path) -> None:
    out = sh(installed / "bin" / "callrouter", "--version", cwd=tmp_path).stdout
    assert out == f"callrouter {project_version()}\n"
    # It is the installed copy that runs, not this checkout.
    where = sh(
        installed / "bin" / "python",
        "-c",
        "import callrouter, models; print(callrouter.__file__)",
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(installed)), where


def test_the_files_the_units_and_the_pbx_need_are_installed(installed: Path) -> None:
    share = installed / "share" / "callrouter"
    for unit in (ROOT / "deploy" / "systemd").iterdir():
        assert (share / "systemd" / unit.name).read_bytes() == unit.read_bytes(), unit.name
    for name in ("extensions_callrouter.conf", "manager_callrouter.conf"):
        shipped = (ROOT / "asterisk_conf" / name).read_bytes()
        assert (share / "asterisk" / name).read_bytes() == shipped
        # The example office's include resolves to a real file next to its extensions.conf.
        assert (share / "asterisk" / "example-office" / name).read_bytes() == shipped
    assert (share / "callrouter.toml.example").is_file()
    assert (share / "tmpfiles.d" / "callrouter.conf").is_file()
    assert (share / "docs" / "install.md").is_file()
    # Every command a unit runs exists in the installed program.
    for unit in (share / "systemd").glob("*.service"):
        for line in unit.read_text(encoding="utf-8").splitlines():
            if line.startswith("ExecStart="):
                argv = shlex.split(line.partition("=")[2])
                assert argv[0] == "/usr/local/bin/callrouter"
                sh(installed / "bin" / "callrouter", *argv[1:], "--help", cwd=share)


def test_init_writes_the_settings_migrates_and_prints_the_next_steps(
    installed: Path, tmp_path: Path
) -> None:
    etc, var = tmp_path / "etc", tmp_path / "var"
    etc.mkdir()
    var.mkdir()
    settings = etc / "callrouter.toml"
    callrouter = installed / "bin" / "callrouter"
    common = ("--config", settings)
    # Step 5 of the guide, with this test's folders instead of /etc and /var/lib.
    out = sh(
        callrouter,
        *common,
        "init",
        "--database-url",
        f"sqlite:///{var / 'callrouter.sqlite3'}",
        "--spool-dir",
        var / "spool",
        "--timezone",
        "Europe/Moscow",
        cwd=tmp_path,
    ).stdout
    assert f"settings written to {settings} (0600)" in out
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    assert stat.S_IMODE((etc / "ami.secret").stat().st_mode) == 0o600
    assert re.search(r"database schema at revision \w+", out)
    # The next steps name the installed files, which exist.
    share = installed / "share" / "callrouter"
    assert "#include extensions_callrouter.conf" in out
    assert "#include manager_callrouter.conf" in out
    assert str(share / "asterisk" / "extensions_callrouter.conf") in out
    assert f"{share / 'systemd'}/*.service" in out
    assert "callrouter-callbacks.timer" in out
    assert "The report timer runs at 07:00 Europe/Moscow, the settings' time zone." in out
    assert str(ROOT) not in out
    # The schema is current, and the settings file is the one the commands read.
    current = sh(callrouter, *common, "db", "current", cwd=tmp_path).stdout
    assert "up to date" in current
    added = sh(
        callrouter,
        *common,
        "departments",
        "add",
        "Продажи",
        "--hours",
        "mon-sun 00:00-24:00",
        cwd=tmp_path,
    )
    assert "added" in added.stdout
    assert (var / "callrouter.sqlite3").is_file()
    assert not (tmp_path / "callrouter.sqlite3").exists()


def test_init_never_replaces_settings_and_refuses_a_bad_value(
    installed: Path, tmp_path: Path
) -> None:
    callrouter = installed / "bin" / "callrouter"
    settings = tmp_path / "callrouter.toml"
    settings.write_text("# the administrator's own\n", encoding="utf-8")
    done = subprocess.run(
        [str(callrouter), "--config", str(settings), "init", "--no-database"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"callrouter: error: {settings} already exists: init never replaces settings "
        "(edit it instead)\n"
    )
    assert settings.read_text(encoding="utf-8") == "# the administrator's own\n"
    fresh = tmp_path / "new"
    fresh.mkdir()
    bad = subprocess.run(
        [
            str(callrouter),
            "--config",
            str(fresh / "callrouter.toml"),
            "init",
            "--timezone",
            "Moscow",
        ],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("callrouter: error: ")
    assert "Moscow" in bad.stderr and bad.stderr.count("\n") == 1
    assert list(fresh.iterdir()) == []


def test_init_on_a_postgresql_database_made_as_the_guide_says(
    installed: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """docs/install.md §4: a role and a database it owns, then `init --database-url`."""
    import asyncio

    from tests.conftest import _backends, _pg_admin

    if "postgresql" not in _backends(request.config):
        pytest.skip("PostgreSQL left out (--db sqlite)")

    suffix = uuid.uuid4().hex[:10]
    role, database, password = f"cr_init_{suffix}", f"cr_init_{suffix}", f"Pw-{suffix}"
    try:
        asyncio.run(_pg_admin(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'"))
        asyncio.run(
            _pg_admin(
                f'CREATE DATABASE "{database}" OWNER "{role}" ENCODING \'UTF8\' TEMPLATE template0'
            )
        )
    except OSError as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required: {exc}", pytrace=False)
    try:
        settings = tmp_path / "callrouter.toml"
        url = f"postgresql://{role}:{password}@127.0.0.1:5432/{database}"
        out = sh(
            installed / "bin" / "callrouter",
            "--config",
            settings,
            "init",
            "--database-url",
            url,
            "--spool-dir",
            tmp_path / "spool",
            cwd=tmp_path,
        )
        assert re.search(r"database schema at revision \w+", out.stdout)
        assert password not in out.stdout + out.stderr
        current = sh(
            installed / "bin" / "callrouter", "--config", settings, "db", "current", cwd=tmp_path
        )
        assert "up to date" in current.stdout
        assert password not in current.stdout + current.stderr
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        asyncio.run(_pg_admin(f'DROP ROLE IF EXISTS "{role}"'))
