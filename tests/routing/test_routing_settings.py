"""The escalation as the administrator writes it: `[[routing.steps]]` tables, read by
`load_settings`, one to one with the policy; the old flat keys are refused with the new form."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings
from router.policy import StepKind, StepRule
from router.settings import RoutingSettings, policy_from_settings


@pytest.fixture(autouse=True)
def no_callrouter_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [name for name in os.environ if name.startswith("CALLROUTER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def settings_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callrouter.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o640)
    return path


def test_steps_are_read_in_order_one_table_each(tmp_path: Path) -> None:
    path = settings_file(
        tmp_path,
        """
[routing]
fallback_targets = ["PJSIP/100"]

[[routing.steps]]
kind = "department"
timeout = 15

[[routing.steps]]
kind = "owner"
timeout = 25
""",
    )
    policy = policy_from_settings(load_settings(path).routing)
    assert policy.rules == (StepRule(StepKind.DEPARTMENT, 15), StepRule(StepKind.OWNER, 25))
    assert policy.fallback_targets == ("PJSIP/100",)
    assert policy.total_seconds == 40


def test_without_steps_the_default_escalation_is_ten_seconds_each(tmp_path: Path) -> None:
    path = settings_file(tmp_path, "[routing]\ndecision_budget_ms = 250\n")
    assert policy_from_settings(load_settings(path).routing).rules == (
        StepRule(StepKind.RESPONSIBLE, 10),
        StepRule(StepKind.DEPARTMENT, 10),
        StepRule(StepKind.HEAD_OF_SALES, 10),
        StepRule(StepKind.OWNER, 10),
    )


def test_an_old_flat_timeout_is_refused_with_the_steps_to_write(tmp_path: Path) -> None:
    path = settings_file(tmp_path, "[routing]\nresponsible_timeout = 15\nowner_timeout = 20\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    message = str(info.value)
    assert "routing.responsible_timeout and routing.owner_timeout" in message
    tables = message[message.index("[[routing.steps]]") : message.index("(in the environment")]
    assert tomllib.loads(tables)["routing"]["steps"] == [
        {"kind": "responsible", "timeout": 15},
        {"kind": "department", "timeout": 10},
        {"kind": "head_of_sales", "timeout": 10},
        {"kind": "owner", "timeout": 20},
    ]


def test_the_old_list_of_step_names_is_refused_with_its_tables(tmp_path: Path) -> None:
    path = settings_file(
        tmp_path, '[routing]\nsteps = ["department", "owner"]\ndepartment_timeout = 15\n'
    )
    with pytest.raises(SettingsError, match=r"(?s)kind = \"department\"\ntimeout = 15") as info:
        load_settings(path)
    assert "head_of_sales" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "[routing]\nhead_of_sales_timeout = 5\n",
            "unknown setting 'routing.head_of_sales_timeout'",
        ),
        ('[[routing.steps]]\nkind = "owner"\ntimeout = 5\nring_all = true\n', "ring_all"),
        ('[[routing.steps]]\nkind = "owner"\ntimeout = 0\n', "timeout must be positive"),
        ('[[routing.steps]]\nkind = "fallback"\ntimeout = 5\n', "set fallback_targets"),
        ('[[routing.steps]]\nkind = "boss"\ntimeout = 5\n', "kind"),
        (
            '[[routing.steps]]\nkind = "owner"\ntimeout = 5\n'
            '[[routing.steps]]\nkind = "owner"\ntimeout = 5\n',
            "appears twice",
        ),
        ("[routing]\nsteps = []\n", "at least one step"),
    ],
)
def test_unusable_steps_stop_the_settings_from_loading(
    tmp_path: Path, text: str, reason: str
) -> None:
    with pytest.raises(SettingsError, match=reason):
        load_settings(settings_file(tmp_path, text))


def test_the_environment_gives_the_steps_as_one_json_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = [{"kind": "department", "timeout": 15}, {"kind": "owner", "timeout": 20}]
    monkeypatch.setenv("CALLROUTER_ROUTING__STEPS", json.dumps(steps))
    path = settings_file(tmp_path, '[[routing.steps]]\nkind = "owner"\ntimeout = 5\n')
    policy = policy_from_settings(load_settings(path).routing)  # the environment wins
    assert policy.rules == (StepRule(StepKind.DEPARTMENT, 15), StepRule(StepKind.OWNER, 20))


def test_an_old_flat_timeout_in_the_environment_is_refused_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLROUTER_ROUTING__DEPARTMENT_TIMEOUT", "15")
    with pytest.raises(SettingsError, match=r'CALLROUTER_ROUTING__STEPS=.*"timeout": 15'):
        load_settings()


def test_the_deploy_example_spells_out_the_default_steps() -> None:
    example = Path(__file__).parents[2] / "deploy" / "callrouter.toml.example"
    written = tomllib.loads(example.read_text(encoding="utf-8"))["routing"]["steps"]
    # keep_ringing is left to its default (on after the first step), so it is not written.
    defaults = [step.model_dump(mode="json", exclude_none=True) for step in RoutingSettings().steps]
    assert written == defaults
