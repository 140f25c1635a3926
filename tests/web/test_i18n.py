"""The catalogs: compiled .mo committed and current, every message of the pages in Russian,
dates, numbers and plurals in the locale's form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jinja2 import Environment

from callrouter.web import i18n
from callrouter.web.render import duration, environment, phone


@pytest.mark.parametrize("lang", i18n.LOCALES)
def test_the_committed_mo_is_a_fresh_compile_of_the_po(lang):
    assert i18n.mo_path(lang).read_bytes() == i18n.compiled(lang), (
        f"{i18n.mo_path(lang)} is stale: run `python -m callrouter.web.i18n compile`"
    )


def test_every_message_used_has_a_russian_translation():
    used = [m.id for m in i18n.extract_messages() if m.id]
    assert len(used) >= 15  # the extraction finds the templates' and modules' messages
    assert i18n.untranslated("ru") == [], "translate them in locale/ru/LC_MESSAGES/messages.po"


def test_the_catalogs_translate():
    assert i18n.translations("ru").gettext("Log out") == "Выйти"
    assert i18n.translations("en").gettext("Log out") == "Log out"
    assert i18n.translate("ru", "Page not found.") == "Страница не найдена."


def _render(lang: str, source: str, **context) -> str:
    env: Environment = environment(lang)
    out = env.from_string(source).render(lang=lang, timezone="Europe/Moscow", **context)
    return out.replace("\u202f", " ").replace("\xa0", " ")  # CLDR's narrow spaces


def test_dates_and_numbers_in_the_locales_form():
    moment = datetime(2026, 12, 2, 11, 5, tzinfo=UTC)  # 14:05 in Moscow
    assert _render("ru", "{{ t|time }}", t=moment) == "14:05"
    assert _render("ru", "{{ t|date('long') }}", t=moment) == "2 декабря 2026 г."
    assert _render("en", "{{ t|date('long') }}", t=moment) == "December 2, 2026"
    assert "14:05" in _render("ru", "{{ t|dt }}", t=moment)
    assert "2:05" in _render("en", "{{ t|dt }}", t=moment)  # 2:05 PM
    assert _render("ru", "{{ n|number }}", n=1234567.5) == "1 234 567,5"
    assert _render("en", "{{ n|number }}", n=1234567.5) == "1,234,567.5"
    assert _render("ru", "{{ x|percent }}", x=0.125) == "12,5 %"


@pytest.mark.parametrize(
    ("n", "ru", "en"),
    [
        (1, "1 звонок", "1 call"),
        (3, "3 звонка", "3 calls"),
        (5, "5 звонков", "5 calls"),
        (21, "21 звонок", "21 calls"),
    ],
)
def test_plurals_follow_the_language(n, ru, en):
    """Russian has three plural forms; the catalog's Plural-Forms picks them."""
    from gettext import GNUTranslations

    plural = i18n.translations("ru")
    assert isinstance(plural, GNUTranslations)
    assert plural.plural(n) == {1: 0, 3: 1, 5: 2, 21: 0}[n]
    forms = ("%(num)d звонок", "%(num)d звонка", "%(num)d звонков")
    assert forms[plural.plural(n)] % {"num": n} == ru
    assert _render("en", "{{ ngettext('%(num)d call', '%(num)d calls', n) }}", n=n) == en


def test_duration_and_phone():
    assert duration(65) == "1:05"
    assert duration(7) == "0:07"
    assert duration(3723) == "1:02:03"
    assert duration(None) == ""
    assert phone("+79161234567") == "+7 916 123-45-67"
    assert phone("101") == "101"
    assert phone(None) == ""


def test_values_in_translated_text_are_escaped():
    out = _render("ru", "{{ _('%(name)s', name=n) }}", n="<b>x</b>")
    assert "<b>" not in out and "&lt;b&gt;" in out
