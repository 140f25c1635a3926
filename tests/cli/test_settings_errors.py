"""Settings that catch typos, and bad values told in one line (issue #17, "Settings and errors").

Every case runs the real command line in-process from a folder of its own: one line on stderr,
exit code 2, and no database file appears (a typo in `database_url` used to make every command
write into a new ./callrouter.sqlite3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from callrouter.cli import main


@dataclass
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """`callrouter …` with the settings file `text` (or none) and the environment `env`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLROUTER_CONFIG", raising=False)
    monkeypatch.delenv("CALLROUTER_DATABASE_URL", raising=False)

    def invoke(text: str | None, *args: str, env: dict[str, str] | None = None) -> Ran:
        argv = list(args or ("contacts", "list"))
        if text is not None:
            config = tmp_path / "callrouter.toml"
            config.write_text(text, encoding="utf-8")
            config.chmod(0o600)
            argv = ["--config", str(config), *argv]
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return invoke


def one_error_line(ran: Ran) -> str:
    assert ran.code == 2, ran
    assert ran.err.startswith("callrouter: error: "), ran.err
    assert ran.err.count("\n") == 1, ran.err
    assert "Traceback" not in ran.err and "pydantic" not in ran.err and "http" not in ran.err
    return ran.err


@pytest.mark.parametrize(
    ("text", "named", "nearest"),
    [
        ('databse_url = "sqlite:///x.sqlite3"\n', "'databse_url'", "'database_url'"),
        ("[agi]\nprot = 4574\n", "'agi.prot'", "'agi.port'"),
        ('[ami]\nhots = "pbx"\n', "'ami.hots'", "'ami.host'"),
        ('[smtp]\nrecipient = ["a@b.c"]\n', "'smtp.recipient'", "'smtp.recipients'"),
        (
            "[leads]\ncallback_due_minute = 5\n",
            "'leads.callback_due_minute'",
            "callback_due_minutes",
        ),
        ("[report]\ntrend_day = 5\n", "'report.trend_day'", "'report.trend_days'"),
        ('[callbacks]\nmod = "copy"\n', "'callbacks.mod'", "'callbacks.mode'"),
        ("[alerts]\nbaseline_week = 2\n", "'alerts.baseline_week'", "'alerts.baseline_weeks'"),
        ("[routing]\nstpes = []\n", "'routing.stpes'", "'routing.steps'"),
        (
            '[[routing.steps]]\nkind = "owner"\ntimeout = 5\n[[routing.steps]]\nkidn = "head"\n',
            "'routing.steps[1].kidn'",
            "'routing.steps[1].kind'",
        ),
    ],
)
def test_a_typo_in_the_file_names_the_key_and_the_nearest_one(run, tmp_path, text, named, nearest):
    err = one_error_line(run(text))
    assert f"unknown setting {named}" in err
    assert nearest in err and "did you mean" in err
    assert str(tmp_path / "callrouter.toml") in err
    assert list(tmp_path.glob("*.sqlite3")) == []


def test_a_key_with_nothing_near_lists_what_the_section_takes(run):
    err = one_error_line(run("[agi]\nzzz = 1\n"))
    assert "unknown setting 'agi.zzz'" in err
    assert "[agi] takes: host, port," in err


@pytest.mark.parametrize(
    ("name", "nearest"),
    [
        ("CALLROUTER_DATABSE_URL", "CALLROUTER_DATABASE_URL"),
        ("CALLROUTER_AGI__PROT", "CALLROUTER_AGI__PORT"),
        ("CALLROUTER_AMII__HOST", "CALLROUTER_AMI__HOST"),
        ("callrouter_smtp__hots", "CALLROUTER_SMTP__HOST"),
    ],
)
def test_a_typo_in_the_environment_names_the_variable_and_the_nearest_one(
    run, tmp_path, name, nearest
):
    err = one_error_line(run(None, env={name: "1"}))
    assert f"environment variable {name} is not a setting; did you mean {nearest}?" in err
    assert list(tmp_path.glob("*.sqlite3")) == []


def test_a_typo_inside_a_json_table_in_the_environment(run):
    env = {"CALLROUTER_ROUTING__STEPS": '[{"kind": "owner", "timeoot": 5}]'}
    err = one_error_line(run(None, env=env))
    assert "CALLROUTER_ROUTING__STEPS: unknown key '[0].timeoot'; did you mean '[0].timeout'" in err


def test_other_tools_variables_are_left_alone(run, tmp_path):
    """CALLROUTER_CONFIG, the test suite's CALLROUTER_TEST_* and names like no setting are not
    ours to refuse; the command then says the database is not initialised (and creates none)."""
    env = {
        "CALLROUTER_TEST_SOMETHING": "1",
        "CALLROUTER_BENCH_POSTGRES_URL": "postgresql://x/y",
        "CALLROUTER_OWNERSHIP_SEEDS": "5",
    }
    ran = run(None, env=env)
    assert ran.code == 2
    assert "the database is not initialised: run `callrouter db upgrade`" in ran.err
    assert list(tmp_path.glob("*.sqlite3")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'timezone = "Moscow"\n',
            "invalid setting timezone: unknown time zone 'Moscow': did you mean Europe/Moscow?",
        ),
        ('timezone = "Mars/Olympus"\n', "use an IANA name such as Europe/Moscow"),
        (
            'database_url = "mysql://u:secretpw@h/db"\n',
            "invalid setting database_url: 'mysql' databases are not supported",
        ),
        (
            'database_url = "not a url"\n',
            "invalid setting database_url: not a database URL: use sqlite:///",
        ),
        (
            'database_url = "postgresql+psycopg2://u:secretpw@h/db"\n',
            "invalid setting database_url: the driver 'psycopg2' is not supported: write postgresql://",
        ),
        ('[agi]\nport = "abc"\n', "invalid setting agi.port: must be a whole number (got 'abc')"),
        (
            'log_format = "xml"\n',
            "invalid setting log_format: must be one of 'text' or 'json' (got 'xml')",
        ),
        ('[ami]\nping_interval = "often"\n', "invalid setting ami.ping_interval: must be a number"),
        ("ami = 5\n", "invalid setting ami: must be a table"),
        ('[smtp]\nrecipients = "a@b.c"\n', "invalid setting smtp.recipients: must be a list"),
        ("[agi\n", "is not valid TOML"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(run, tmp_path, text, expected):
    err = one_error_line(run(text))
    assert expected in err
    assert "secretpw" not in err
    assert list(tmp_path.glob("*.sqlite3")) == []


def test_a_bad_value_in_the_environment_too(run):
    err = one_error_line(run(None, env={"CALLROUTER_METRICS_PORT": "nine"}))
    assert "invalid setting metrics_port: must be a whole number (got 'nine')" in err


def test_db_upgrade_says_which_database_with_the_password_masked(run, tmp_path):
    """PostgreSQL on a closed port: the database line comes first, the password never."""
    ran = run(
        None,
        "db",
        "upgrade",
        env={"CALLROUTER_DATABASE_URL": "postgresql://boss:pa55word@127.0.0.1:1/crm"},
    )
    assert ran.out.splitlines()[0] == "database: postgresql://boss:***@127.0.0.1:1/crm"
    assert "pa55word" not in ran.out + ran.err
    assert ran.code == 1 and "database unavailable" in ran.err


def test_db_upgrade_names_the_sqlite_file_it_creates(run, tmp_path):
    ran = run(None, "db", "upgrade", env={"CALLROUTER_DATABASE_URL": "sqlite:///office.sqlite3"})
    assert ran.code == 0, ran.err
    assert ran.out.splitlines()[0] == f"database: sqlite:///{tmp_path / 'office.sqlite3'}"
    assert (tmp_path / "office.sqlite3").is_file()
