"""`callrouter report send`: the report reaches a real SMTP server over a real socket."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import Message
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .conftest import AS_OF, setup
from .office import build_day


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _authenticate(server, session, envelope, mechanism, data) -> AuthResult:  # type: ignore[no-untyped-def]
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"owner", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_report_send_delivers_text_and_html(
    cli_msk, db_url: str, smtp_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    inbox, port = smtp_server
    setup(db_url, build_day)
    monkeypatch.setenv("CALLROUTER_SMTP__PORT", str(port))
    monkeypatch.setenv("CALLROUTER_SMTP__USER", "owner")
    monkeypatch.setenv("CALLROUTER_SMTP__PASSWORD", "s3cret")
    monkeypatch.setenv("CALLROUTER_SMTP__SENDER", "pbx@example.com")
    monkeypatch.setenv("CALLROUTER_SMTP__RECIPIENTS", '["owner@example.com", "head@example.com"]')
    result = cli_msk("report", "send", "--date", "2026-11-20", *AS_OF)
    assert result.code == 0, result.err
    assert "sent to owner@example.com, head@example.com" in result.out
    [(sender, rcpts, message)] = inbox.messages
    assert sender == "pbx@example.com"
    assert rcpts == ["owner@example.com", "head@example.com"]
    assert message["Subject"] == "Daily report for Friday 2026-11-20 (Europe/Moscow)"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Lost Call Rate: 50.0% all · 42.9% without short abandons" in text
    assert html.count("<svg ") == 3 and "Анна" in html


def test_a_wrong_password_is_a_clear_error_without_the_password(
    cli_msk, db_url: str, smtp_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    inbox, port = smtp_server
    setup(db_url, build_day)
    monkeypatch.setenv("CALLROUTER_SMTP__PORT", str(port))
    monkeypatch.setenv("CALLROUTER_SMTP__USER", "owner")
    monkeypatch.setenv("CALLROUTER_SMTP__PASSWORD", "wrong-pw")
    result = cli_msk("report", "send", "--to", "owner@example.com", *AS_OF)
    assert result.code == 2
    assert "SMTP 127.0.0.1" in result.err and "wrong-pw" not in result.err
    assert inbox.messages == []
