"""One settings object, from a TOML file and from CALLROUTER_* environment variables.

Precedence: explicit arguments > environment > TOML file > defaults. Nested sections use a
double underscore in the environment (CALLROUTER_AGI__PORT=4574); a list of tables such as
`[[routing.steps]]` is one JSON value there:
CALLROUTER_ROUTING__STEPS='[{"kind": "department", "timeout": 15}, {"kind": "owner", …}]'.
Secrets are `SecretStr`, so they print as '**********' in logs, reprs and error messages.

A key that is not a setting is an error naming it and the nearest valid one, in every section and
nested table, from the file and from the environment (`check_keys`). The environment is shared
with other tools, so there an unknown CALLROUTER_NAME is refused only when it looks like a
setting: a nested one (CALLROUTER_AGI__PROT, CALLROUTER_AMII__HOST) or one close to a setting's
name (CALLROUTER_DATABSE_URL); CALLROUTER_CONFIG and the CALLROUTER_TEST_* / CALLROUTER_BENCH_*
variables of the test suite and benchmarks are never settings. A bad value is one line naming the
setting and what it accepts (`explain`), never pydantic's text.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
import tomllib
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as SourceError

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
    # Connections from one address (routing or still sending their environment; None: half of
    # max_sessions). At the cap the address's oldest connection still sending its environment
    # makes room; with none, the new one is refused.
    max_sessions_per_peer: int | None = Field(default=None, ge=1)
    # Under pressure (fewer free slots than the tenth of max_sessions kept for calls being
    # routed), a connection whose environment is not in after this many seconds is closed; one
    # that has sent nothing at all, after half of it (agi_scripts/fastagi.py).
    handshake_timeout: float = Field(default=1.0, gt=0)
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
    # The language of `report daily` (text, html) and of the e-mailed report; `--lang` overrides.
    # English when unset, so scripts reading the text keep working; "ru" for a Russian office.
    language: Literal["ru", "en"] = "en"
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


class WebSettings(BaseModel):
    """The web application (`callrouter web`, or a part of `callrouter run`): docs/web.md."""

    enabled: bool = False  # run it inside `callrouter run` too
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Signs the session cookie; required (the demo makes its own). A file is read at start.
    secret_key: SecretStr = SecretStr("")
    secret_key_file: Path | None = None
    default_locale: Literal["ru", "en"] = "ru"
    session_idle_minutes: int = Field(default=30, ge=1)  # logged out after this long unused
    session_max_hours: int = Field(default=12, ge=1)  # and after this long in any case
    # Cookies are Secure when the request came over HTTPS (X-Forwarded-Proto from a trusted
    # proxy counts); "always" for a TLS site whatever the proxy says.
    secure_cookies: Literal["auto", "always"] = "auto"
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # Log-in throttling: this many failures within the window lock a log-in, or an address.
    login_max_failures: int = Field(default=5, ge=1)
    ip_max_failures: int = Field(default=20, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)

    def resolved_secret_key(self) -> str:
        if self.secret_key_file is not None:
            return self.secret_key_file.read_text(encoding="utf-8").strip()
        return self.secret_key.get_secret_value()


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
    web: WebSettings = Field(default_factory=WebSettings)

    @field_validator("default_region")
    @classmethod
    def _region_upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(unknown_zone_message(value)) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        problem = database_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

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
    secrets = {
        ("ami", "secret"): "the AMI secret",
        ("smtp", "password"): "the SMTP password",
        ("web", "secret_key"): "the web secret key",
    }
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
        check_keys(path, os.environ)
        try:
            settings = Settings(**overrides)
        except ValidationError as exc:  # one line of ours: secrets and URLs are never echoed
            raise SettingsError(explain(exc)) from None
        except SourceError as exc:  # an environment value that does not parse
            raise SettingsError(f"invalid settings: {exc}") from None
        _refuse_world_readable_secret_file(settings)
        return settings
    finally:
        if config is not None:
            if previous is None:
                os.environ.pop(CONFIG_ENV, None)
            else:
                os.environ[CONFIG_ENV] = previous


# ---- keys that are not settings, and values that do not fit --------------------------------

ENV_PREFIX = "CALLROUTER_"
# CALLROUTER_* variables that are not settings: the settings file's path, the test suite's and
# the benchmarks' own.
ENV_NOT_SETTINGS = ("CONFIG",)
ENV_OTHER_TOOLS = ("TEST_", "BENCH_")
# Old keys a section's own validator explains better than "unknown" (it says what to write).
_EXPLAINED_BY_VALIDATORS: dict[str, frozenset[str]] = {
    "alerts": frozenset(MOVED_TO_CALLBACKS),
    "routing": frozenset(
        ("responsible_timeout", "department_timeout", "head_timeout", "owner_timeout")
    ),
}
_NEAR = 0.6  # difflib's cutoff for "did you mean"
_NEAR_ENV = 0.8  # stricter for a top-level environment name: it may be another tool's


def _nested(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """("table" | "list" | "dict", model) when a field holds settings tables; None otherwise."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("table", annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        return next((found for arg in args if (found := _nested(arg)) is not None), None)
    if origin in (list, tuple, set, frozenset) and args:
        inner = _nested(args[0])
        return ("list", inner[1]) if inner is not None and inner[0] == "table" else None
    if origin is dict and len(args) == 2:
        inner = _nested(args[1])
        return ("dict", inner[1]) if inner is not None and inner[0] == "table" else None
    return None


def _keys(model: type[BaseModel]) -> dict[str, Any]:
    """The keys `model` reads (field names and string aliases) → their annotation."""
    keys: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        for key in (name, info.alias, info.validation_alias):
            if isinstance(key, str):
                keys[key] = info.annotation
    return keys


def _nearest(key: str, candidates: list[str], cutoff: float = _NEAR) -> str | None:
    found = difflib.get_close_matches(key.lower(), candidates, n=1, cutoff=cutoff)
    return found[0] if found else None


def _unknown_in(
    data: Mapping[str, Any], model: type[BaseModel], where: str
) -> Iterator[tuple[str, str | None]]:
    """(dotted key, nearest valid dotted key or None) for each key `model` does not read."""
    keys = _keys(model)
    explained = _EXPLAINED_BY_VALIDATORS.get(where, frozenset())
    for key, value in data.items():
        dotted = f"{where}.{key}" if where else key
        if key not in keys:
            if key in explained:
                continue
            near = _nearest(key, list(keys))
            yield dotted, (f"{where}.{near}" if where else near) if near else None
            continue
        yield from _unknown_in_value(value, keys[key], dotted)


def _unknown_in_value(value: Any, annotation: Any, where: str) -> Iterator[tuple[str, str | None]]:
    nested = _nested(annotation)
    if nested is None:
        return
    shape, model = nested
    if shape == "table" and isinstance(value, Mapping):
        yield from _unknown_in(value, model, where)
    elif shape == "list" and isinstance(value, list):
        for n, item in enumerate(value):
            if isinstance(item, Mapping):
                yield from _unknown_in(item, model, f"{where}[{n}]")
    elif shape == "dict" and isinstance(value, Mapping):
        for name, item in value.items():
            if isinstance(item, Mapping):
                yield from _unknown_in(item, model, f"{where}.{name}")


def _section_keys(where: str) -> list[str]:
    """The keys the table at dotted `where` reads (for the message when nothing is near)."""
    model: type[BaseModel] = Settings
    for part in [p for p in where.replace("]", "").replace("[", ".").split(".") if p]:
        if part.isdigit():
            continue
        nested = _nested(_keys(model).get(part))
        if nested is None:
            return []
        model = nested[1]
    return list(model.model_fields)


def _unknown_message(dotted: str, near: str | None, origin: str) -> str:
    if near is not None:
        return f"{origin}: unknown setting {dotted!r}; did you mean {near!r}?"
    section = dotted.rpartition(".")[0].split("[")[0]
    valid = _section_keys(section)
    where = f"[{section}] takes" if section else "valid keys are"
    return f"{origin}: unknown setting {dotted!r}; {where}: {', '.join(valid)}"


def check_keys(path: Path | None, environ: Mapping[str, str]) -> None:
    """SettingsError for the first key, in the environment or the file, that is no setting."""
    env_problem = _unknown_environment(environ)
    if env_problem is not None:
        raise SettingsError(env_problem)
    if path is None:
        return
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    for dotted, near in _unknown_in(data, Settings, ""):
        raise SettingsError(_unknown_message(dotted, near, str(path)))


def _env_name(dotted: str) -> str:
    return ENV_PREFIX + dotted.replace(".", "__").upper()


def _unknown_environment(environ: Mapping[str, str]) -> str | None:
    top = _keys(Settings)
    for name, value in sorted(environ.items()):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        if rest.upper() in ENV_NOT_SETTINGS or rest.upper().startswith(ENV_OTHER_TOOLS):
            continue
        parts = rest.split("__")
        if parts[0] not in top:
            near = _nearest(parts[0], list(top), _NEAR if len(parts) > 1 else _NEAR_ENV)
            if len(parts) == 1 and near is None:
                continue  # another tool's variable
            guess = ".".join([near, *parts[1:]]) if near else None
            return _env_message(name, guess, parts)
        problem = _unknown_env_path(name, parts, value)
        if problem is not None:
            return problem
    return None


def _unknown_env_path(name: str, parts: list[str], value: str) -> str | None:
    """Walk CALLROUTER_A__B__C through the models: the message when a part is unknown."""
    model: type[BaseModel] = Settings
    for depth, part in enumerate(parts):
        keys = _keys(model)
        if part not in keys:
            if part in _EXPLAINED_BY_VALIDATORS.get(".".join(parts[:depth]), ()):
                return None
            near = _nearest(part, list(keys))
            guess = ".".join([*parts[:depth], near, *parts[depth + 1 :]]) if near else None
            return _env_message(name, guess, parts[: depth + 1])
        annotation = keys[part]
        nested = _nested(annotation)
        if depth == len(parts) - 1:
            return _unknown_in_json(name, value, annotation) if nested is not None else None
        if nested is None or nested[0] != "table":
            return _env_message(name, None, parts[: depth + 2])
        model = nested[1]
    return None


def _unknown_in_json(name: str, value: str, annotation: Any) -> str | None:
    """A whole table (or list of tables) as one JSON value: its keys are checked too."""
    try:
        data = json.loads(value)
    except ValueError:
        return f"environment variable {name} is not valid JSON (a table or a list of tables)"
    for dotted, near in _unknown_in_value(data, annotation, ""):
        hint = f"; did you mean {near.lstrip('.')!r}?" if near else ""
        return f"environment variable {name}: unknown key {dotted.lstrip('.')!r}{hint}"
    return None


def _env_message(name: str, guess: str | None, parts: list[str]) -> str:
    if guess is not None:
        return f"environment variable {name} is not a setting; did you mean {_env_name(guess)}?"
    valid = _section_keys(".".join(parts[:-1])) if len(parts) > 1 else []
    section = ".".join(parts[:-1])
    takes = f"; [{section}] takes: {', '.join(valid)}" if valid else ""
    return f"environment variable {name} is not a setting{takes}"


_QUIET = ("secret", "password", "database_url")  # values never echoed in a message
_ACCEPTS = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "path_type": "a path",
    "missing": "a value (it is required)",
}


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def explain(exc: ValidationError) -> str:
    """One message for the first error (plus how many more), naming the setting and what fits."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    setting = _dotted(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        section = _dotted(loc[:-1])
        keys = _section_keys(section)
        near = _nearest(str(loc[-1]), keys)
        message = _unknown_message(setting, f"{section}.{near}" if near else None, "settings")
    elif kind == "value_error":
        reason = str(first["msg"]).removeprefix("Value error, ")
        message = f"invalid setting {setting}: {reason}" if setting else reason
    else:
        if kind == "literal_error":
            accepts = "one of " + str((first.get("ctx") or {}).get("expected", ""))
        elif kind in _ACCEPTS:
            accepts = _ACCEPTS[kind]
        else:
            accepts = str(first["msg"]).replace("Input should be ", "").rstrip(".")
        shown = ""
        value = first.get("input")
        quiet = any(word in setting for word in _QUIET)
        if not quiet and isinstance(value, str | int | float | bool) and len(str(value)) <= 60:
            shown = f" (got {value!r})"
        message = f"invalid setting {setting}: must be {accepts}{shown}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return message


def unknown_zone_message(value: str) -> str:
    zones = sorted(available_timezones())
    by_city = [z for z in zones if z.rsplit("/", 1)[-1].lower() == value.strip().lower()]
    near = by_city[0] if by_city else _nearest_case(value, zones)
    hint = f"did you mean {near}?" if near else "use an IANA name such as Europe/Moscow"
    return f"unknown time zone {value!r}: {hint}"


def _nearest_case(value: str, names: list[str]) -> str | None:
    lowered = {name.lower(): name for name in names}
    found = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.8)
    return lowered[found[0]] if found else None


SUPPORTED_DATABASES = (
    "sqlite:///path/to/callrouter.sqlite3 or postgresql://user:password@host/dbname"
)
_DRIVERS = {"sqlite": ("", "aiosqlite"), "postgresql": ("", "asyncpg"), "postgres": ("",)}


def database_url_problem(value: str) -> str | None:
    """Why `value` is no database URL callrouter can use (never echoing it); None when usable."""
    from core.database_url import DatabaseUrlError, parse_database_url

    try:
        url = parse_database_url(value)
    except DatabaseUrlError:
        return f"not a database URL: use {SUPPORTED_DATABASES}"
    backend, driver = url.backend, url.driver
    if backend not in _DRIVERS:
        return f"{backend!r} databases are not supported: use {SUPPORTED_DATABASES}"
    if driver not in _DRIVERS[backend]:
        plain = "postgresql" if backend.startswith("postgres") else backend
        return (
            f"the driver {driver!r} is not supported: write {plain}://… "
            f"(callrouter picks its own driver)"
        )
    return None
