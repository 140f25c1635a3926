"""The daily report as an e-mail (text and HTML alternatives), sent over SMTP.

smtplib is blocking; `send_report` runs it in a worker thread so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from core.settings import SmtpSettings

from .model import DailyReport
from .render_html import render_daily as render_html
from .render_text import render_daily as render_text
from .render_text import title


class MailError(Exception):
    """The report could not be sent; the message says why (never the password)."""


def build_message(
    report: DailyReport, sender: str, recipients: list[str], lang: str | None = None
) -> EmailMessage:
    """A multipart/alternative message: the text report, and the HTML one with its charts,
    in `lang` (default English)."""
    message = EmailMessage()
    message["Subject"] = title(report, lang)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(render_text(report, lang))
    message.add_alternative(render_html(report, lang), subtype="html")
    return message


def deliver(message: EmailMessage, settings: SmtpSettings, recipients: list[str]) -> None:
    """Send `message` to `recipients` with the SMTP settings (blocking)."""
    if not recipients:
        raise MailError("no recipients: set smtp.recipients or pass --to")
    context = ssl.create_default_context()
    try:
        if settings.tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            if settings.tls == "starttls":
                client.starttls(context=context)
            if settings.user:
                client.login(settings.user, settings.password.get_secret_value())
            client.send_message(message, from_addr=settings.sender, to_addrs=recipients)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"SMTP {settings.host}:{settings.port}: {exc}") from None


async def send_report(
    report: DailyReport,
    settings: SmtpSettings,
    recipients: list[str] | None = None,
    lang: str | None = None,
) -> list[str]:
    """E-mail the report (in `lang`, default English); returns the recipients it was sent to."""
    to = list(recipients or settings.recipients)
    message = build_message(report, settings.sender, to, lang)
    await asyncio.to_thread(deliver, message, settings, to)
    return to
