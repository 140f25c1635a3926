"""Log lines: text or JSON with the extra fields, and the AMI secret never printed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from callrouter.logs import REDACTED, configure_logging

SECRET = "Tr0ub4dor&3"


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def lines_of(fmt: str, emit) -> list[str]:
    stream = io.StringIO()
    configure_logging(fmt, secrets=[SECRET], stream=stream)
    emit(logging.getLogger("callrouter.test"))
    return stream.getvalue().splitlines()


def test_json_lines_carry_time_level_logger_message_and_extras(restore_root_logging):
    [line] = lines_of(
        "json",
        lambda log: log.info(
            "call %s routed", "17.1", extra={"event": "call_routed", "outcome": "ANSWERED"}
        ),
    )
    record = json.loads(line)
    assert record["level"] == "INFO" and record["logger"] == "callrouter.test"
    assert record["message"] == "call 17.1 routed"
    assert (record["event"], record["outcome"]) == ("call_routed", "ANSWERED")
    assert record["ts"].endswith("+00:00")


def test_text_lines_put_extras_after_the_message(restore_root_logging):
    [line] = lines_of("text", lambda log: log.info("AMI connected", extra={"event": "x y"}))
    assert line.endswith('INFO callrouter.test: AMI connected event="x y"')


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_secret_is_redacted_in_message_arguments_extras_and_tracebacks(
    restore_root_logging, fmt
):
    def emit(log: logging.Logger) -> None:
        log.warning("login with %s failed", SECRET, extra={"detail": f"Secret: {SECRET}"})
        try:
            raise ValueError(f"bad secret {SECRET}")
        except ValueError:
            log.exception("while logging in as callrouter/%s", SECRET)

    output = "\n".join(lines_of(fmt, emit))
    assert SECRET not in output
    assert output.count(REDACTED) >= 4
    assert "ValueError: bad secret ***" in output.replace("\\n", "\n")
