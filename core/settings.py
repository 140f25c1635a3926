"""One settings object, from a TOML file and from CALLROUTER_* environment variables.

Precedence: explicit arguments > environment > TOML file > defaults. Nested sections use a
double underscore in the environment (CALLROUTER_AGI__PORT=4574); a list of tables such as
`[[routing.steps]]` is one JSON value there:
CALLROUTER_ROUTING__STEPS='[{"kind": "department", "timeout": 15}, {"kind": "owner", …}]'.
Secrets are `SecretStr`, so they print as '**********' in logs, reprs and error messages.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from router.settings import RoutingSettings  # the section belongs to the routing part

CONFIG_ENV = "CALLROUTER_CONFIG"
DEFAULT_CONFIG_PATHS = (Path("callrouter.toml"), Path("/etc/callrouter/callrouter.toml"))


class SettingsError(Exception):
    """The settings cannot be used; the message says which one and why (never its secret value)."""


class AmiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callrouter"
    secret: SecretStr = SecretStr("")
    secret_file: Path | None = None
    ping_interval: float = 20.0
    ping_timeout: float = 5.0
    reconnect_max_delay: float = 30.0
    reconnect_initial_delay: float = 0.5
    connect_timeout: float = 5.0
    # Events waiting for the call tracker; when full, reading the socket pauses (see
    # ami_listener/README.md).
    queue_size: int = 10_000
    # How long (in Asterisk event time) a finished call waits for its late Cdr events.
    cdr_grace: float = 2.0
    # Managers' phones are the directory's endpoints. Trunk endpoints ("PJSIP/carrier" or
    # "carrier"): when set, only these bring clients in and any other device no manager has is
    # the office's own (a fax calling out is outbound); empty = a caller no manager has is a
    # trunk unless its call only reached trunks. Until a directory loads, and for dialled
    # numbers, an endpoint or number of 1–`internal_max_digits` digits counts as internal.
    trunk_endpoints: list[str] = Field(default_factory=list)
    internal_max_digits: int = 6

    def resolved_secret(self) -> str:
        if self.secret_file is not None:
            return self.secret_file.read_text(encoding="utf-8").strip()
        return self.secret.get_secret_value()


class AgiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 4573
    allowed_peers: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    shutdown_grace: float = 30.0
    script_name: str = "route"  # agi://host:port/<script_name>
    env_timeout: float = 5.0  # the whole AGI environment must arrive within this
    command_timeout: float = 5.0  # the reply to any command but Dial
    dial_max_seconds: float = 4 * 3600.0  # an answered Dial returns only when the call ends
    max_sessions: int = 1000
    # A JSON directory snapshot instead of the database (tests, demos); None = the database.
    directory_file: Path | None = None


class LeadSettings(BaseModel):
    callback_due_minutes: int = 15
    new_lead_due: Literal["end_of_day"] = "end_of_day"
    # No deadline the system sets (a new lead's, an automation rule's) is sooner than this much
    # working time of the responsible manager's department after the moment it is set.
    min_lead_minutes: int = Field(default=30, ge=0)
    # A new caller answered by a head of sales / owner / a phone that is no manager's: "fair" —
    # the lead goes to a department manager by the fair rule (crm/assignment.py);
    # "keep_answerer" — whoever answered keeps it.
    assign_answered_by_boss: Literal["fair", "keep_answerer"] = "fair"
    # Who gets the call-back of a missed new number: "fair" (the fair rule; "round_robin", its
    # old name, is read as "fair") or "head_of_sales" (the head, then the owner).
    new_number_callback_owner: Literal["fair", "head_of_sales"] = "fair"
    # An answered inbound call from a known client with no open deal opens a "repeat call" deal.
    deal_for_repeat_calls: bool = True
    # A call-back (or the client's repeat call) recovers a miss and closes the call-back task only
    # when its talk time reaches this; shorter answered calls are attempts.
    recovery_min_talk_seconds: float = Field(default=10.0, ge=0.0)
    deal_statuses: list[str] = Field(
        default_factory=lambda: ["new", "in_progress", "proposal_sent", "won", "lost"]
    )
    closed_statuses: list[str] = Field(default_factory=lambda: ["won", "lost"])

    @field_validator("new_number_callback_owner", mode="before")
    @classmethod
    def _round_robin_is_fair(cls, value: Any) -> Any:
        return "fair" if value == "round_robin" else value


class ReportSettings(BaseModel):
    # A missed call whose caller hung up less than this many seconds after the call started is a
    # "short abandon": left out of the second Lost Call Rate (see callrouter/reports/definitions.py).
    short_abandon_seconds: float = 5.0
    # The unrecovered-numbers list looks back this many days from the report's day.
    unrecovered_lookback_days: int = 7
    # At most this many unrecovered numbers are listed (the oldest first); the total is always shown.
    unrecovered_limit: int = 100
    # The LCR trend chart covers this many days ending with the report's day.
    trend_days: int = 30


# The keys call-back escalation had under [alerts], and their names under [callbacks].
MOVED_TO_CALLBACKS = {
    "escalate_after_minutes": "escalate_after_minutes",
    "escalation_mode": "mode",
    "escalate_to_role": "to_role",
    "escalate_to_manager_id": "to_manager_id",
    "copy_due_minutes": "copy_due_minutes",
}


class AlertSettings(BaseModel):
    # Activity drop: today (up to the same time of day) against the same weekday of the previous
    # `baseline_weeks` weeks; flagged when below `drop_threshold` × the baseline average.
    baseline_weeks: int = Field(default=4, ge=1, le=52)
    drop_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    # Baselines smaller than these are too thin to judge: no alert.
    min_baseline_calls: float = 5.0
    min_baseline_minutes: float = 10.0

    @model_validator(mode="before")
    @classmethod
    def _refuse_moved_keys(cls, data: Any) -> Any:
        """Call-back escalation left [alerts]: an old key would otherwise be ignored silently."""
        if isinstance(data, dict):
            for old, new in MOVED_TO_CALLBACKS.items():
                if old in data:
                    raise ValueError(f"alerts.{old} has moved: write it as callbacks.{new}")
        return data


class CallbackSettings(BaseModel):
    """`callrouter callbacks escalate`: unreturned call-backs go up the line once (crm/callbacks.py)."""

    # Escalated once, this many minutes after their deadline.
    escalate_after_minutes: int = Field(default=0, ge=0)
    # "reassign": the call-back task moves to the target; "copy": the target gets a check task too.
    mode: Literal["reassign", "copy"] = "reassign"
    # Who receives escalations: a role, or one manager by id (wins when set).
    to_role: Literal["head_of_sales", "owner"] = "head_of_sales"
    to_manager_id: int | None = None
    # Minutes the target gets for a "copy" check task.
    copy_due_minutes: int = Field(default=30, ge=0)


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 25
    # "starttls": upgrade a plain connection; "ssl": TLS from the first byte (port 465); "none".
    tls: Literal["none", "starttls", "ssl"] = "none"
    user: str | None = None
    password: SecretStr = SecretStr("")
    sender: str = "callrouter@localhost"
    recipients: list[str] = Field(default_factory=list)
    timeout: float = 30.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CALLROUTER_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str = "sqlite+aiosqlite:///callrouter.sqlite3"
    default_region: str = "RU"
    timezone: str = "Europe/Moscow"  # the company's: dates typed and printed are in it
    asterisk_system: str = "pbx1"
    endpoint_technology: Literal["PJSIP", "SIP"] = "PJSIP"
    recordings_dir: Path = Path("/var/spool/asterisk/monitor")
    spool_dir: Path = Path("spool")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    log_format: Literal["text", "json"] = "text"
    ami: AmiSettings = Field(default_factory=AmiSettings)
    agi: AgiSettings = Field(default_factory=AgiSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    leads: LeadSettings = Field(default_factory=LeadSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    @field_validator("default_region")
    @classmethod
    def _region_upper(cls, value: str) -> str:
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def _config_path() -> Path | None:
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit)
    return next((p for p in DEFAULT_CONFIG_PATHS if p.is_file()), None)


def _refuse_world_readable_secret(path: Path) -> None:
    """A settings file that holds a secret (AMI secret, SMTP password) must not be world-readable."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return  # the settings source reports the syntax error
    secrets = {("ami", "secret"): "the AMI secret", ("smtp", "password"): "the SMTP password"}
    held = [
        what
        for (section, key), what in secrets.items()
        if isinstance(data.get(section), dict) and data[section].get(key)
    ]
    if held and path.stat().st_mode & stat.S_IROTH:
        raise SettingsError(
            f"{path} holds {' and '.join(held)} and is world-readable; run: chmod 640 {path} "
            "(or move the secret to ami.secret_file / the CALLROUTER_AMI__SECRET and "
            "CALLROUTER_SMTP__PASSWORD environment variables)"
        )


def _refuse_world_readable_secret_file(settings: Settings) -> None:
    """`ami.secret_file` must be readable by the service user only (and its group)."""
    path = settings.ami.secret_file
    if path is None:
        return
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise SettingsError(f"ami.secret_file {path} cannot be read: {exc.strerror}") from None
    if mode & stat.S_IROTH:
        raise SettingsError(f"ami.secret_file {path} is world-readable; run: chmod 640 {path}")


def load_settings(config: Path | str | None = None, **overrides: Any) -> Settings:
    """Read the settings; `config` (or $CALLROUTER_CONFIG) names the TOML file."""
    previous = os.environ.get(CONFIG_ENV)
    try:
        if config is not None:
            os.environ[CONFIG_ENV] = str(config)
        path = _config_path()
        if path is not None:
            if not path.is_file():
                raise SettingsError(f"settings file {path} does not exist")
            _refuse_world_readable_secret(path)
        try:
            settings = Settings(**overrides)
        except ValueError as exc:  # pydantic's ValidationError: values are not echoed for secrets
            raise SettingsError(f"invalid settings: {exc}") from None
        _refuse_world_readable_secret_file(settings)
        return settings
    finally:
        if config is not None:
            if previous is None:
                os.environ.pop(CONFIG_ENV, None)
            else:
                os.environ[CONFIG_ENV] = previous
