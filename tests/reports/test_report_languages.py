"""The text and HTML reports and the e-mail in Russian and English, from the web's catalogs:
the same figures in both, every heading and column translated, English unchanged by default."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from callrouter.reports import render_html, render_text
from callrouter.reports.daily import build_daily
from callrouter.reports.mail import build_message
from core.settings import Settings
from crm.staff import add_department, add_manager
from models.db import Database
from router.directory import Role
from tests.web.test_analytics import DAY, fill

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


async def _report(db: Database):  # type: ignore[no-untyped-def]
    async with db.transaction() as s:
        sales = await add_department(s, "Sales", "Europe/Moscow")
        ids = [
            (await add_manager(s, name=f"M{n}", endpoint=f"PJSIP/{n}", role=Role.MANAGER,
                               department=sales)).id
            for n in (101, 102, 103)
        ]  # fmt: skip
    await fill(db, ids)
    return await build_daily(
        db, DAY, NOW, Settings(database_url="sqlite://", timezone="Europe/Moscow")
    )


async def test_the_report_in_russian_and_english(db: Database) -> None:
    report = await _report(db)
    english = render_text.render_daily(report)
    assert english == render_text.render_daily(report, "en")
    assert english.startswith("Daily report for Wednesday 2026-11-25 (Europe/Moscow)")
    russian = render_text.render_daily(report, "ru")
    assert russian.startswith("Отчёт за день: среда 2026-11-25 (Europe/Moscow)")
    for word in ("Звонки:", "Входящие:", "Доля потерянных звонков (LCR):", "Перезвоны:",
                 "Задачи:", "Предупреждения", "Отделы", "Менеджеры", "звонки", "мин вх."):  # fmt: skip
        assert word in russian, word
    for word in ("Calls:", "Inbound:", "Recovery:", "Departments", "Managers", "min in"):
        assert word not in russian, word
    # The same figures in both languages.
    assert re.findall(r"\d+(?:\.\d+)?%?", english.split("\n", 2)[2].split("Alerts")[0]) == (
        re.findall(r"\d+(?:\.\d+)?%?", russian.split("\n", 2)[2].split("Предупреждения")[0])
    )
    html = render_html.render_daily(report, "ru")
    assert '<html lang="ru">' in html and "Звонки по часам" in html and "Calls per hour" not in html
    assert "<svg" in html and "все пропущенные" in html
    assert render_html.render_daily(report) == render_html.render_daily(report, "en")

    message = build_message(report, "cr@example.com", ["owner@example.com"], "ru")
    assert message["Subject"] == "Отчёт за день: среда 2026-11-25 (Europe/Moscow)"
    text, html_part = (part.get_content() for part in message.iter_parts())
    assert text == russian and "Звонки по часам" in html_part
    assert build_message(report, "cr@example.com", ["o@example.com"])["Subject"].startswith(
        "Daily report for"
    )


def test_every_report_message_has_its_russian_text_and_the_catalog_is_compiled() -> None:
    from callrouter.reports import i18n

    assert len(i18n.extract_messages()) > 40
    assert i18n.untranslated("ru") == []
    for lang in i18n.LOCALES:
        assert i18n.mo_path(lang).read_bytes() == i18n.compiled(lang), (
            f"run: python -m callrouter.reports.i18n compile ({lang})"
        )
