"""Languages of the web pages: gettext catalogs (Babel), one per language, loaded once.

The catalogs live in `callrouter/web/locale/<lang>/LC_MESSAGES/messages.po` and their compiled
`messages.mo` is committed beside them: nothing is built when the service starts.
tests/web/test_i18n.py checks that each `.mo` equals a fresh compile of its `.po`, and that every
message used in a template or in a module of `callrouter/web/` has a Russian translation.

Adding text to a page (W2, W3, anyone):
1. In a template write `{{ _("Overdue") }}` or, with values, `{{ _("%(n)s calls", n=count) }}`
   (values are escaped); plurals: `{{ ngettext("%(num)d call", "%(num)d calls", n) }}`.
   In Python: `from callrouter.web.i18n import gettext` then `gettext(request, "Not found")`
   (or `ngettext(request, singular, plural, n)`).
2. Run `.venv/bin/python -m callrouter.web.i18n extract` — it adds every new msgid to both
   `.po` files (existing translations are kept) and lists the untranslated ones.
3. Write the Russian text in `locale/ru/LC_MESSAGES/messages.po` (`msgstr`; a plural has
   `msgstr[0]` one, `[1]` few, `[2]` many). English needs no `msgstr` (the msgid is English).
4. Run `.venv/bin/python -m callrouter.web.i18n compile` and keep both `.po` and `.mo`.
`python -m callrouter.web.i18n check` says what is missing without writing anything.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from functools import cache
from gettext import GNUTranslations, NullTranslations
from pathlib import Path
from typing import Any

from callrouter.catalogs import CatalogFiles

LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"
DOMAIN = "messages"
HERE = Path(__file__).resolve().parent
LOCALE_DIR = HERE / "locale"
TEMPLATE_DIR = HERE / "templates"


def po_path(lang: str) -> Path:
    return FILES.po_path(lang)


def mo_path(lang: str) -> Path:
    return FILES.mo_path(lang)


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalog of `lang` (an unknown language: the English msgids as they are)."""
    if lang not in LOCALES:
        return NullTranslations()
    try:
        with mo_path(lang).open("rb") as f:
            return GNUTranslations(f)
    except FileNotFoundError:
        return NullTranslations()


def choose_locale(user_locale: str | None, default: str) -> str:
    return user_locale if user_locale in LOCALES else default if default in LOCALES else "ru"


def lang_of(request: Any) -> str:
    """The language of this request: the user's, else the settings' default."""
    lang = getattr(request.state, "lang", None)
    if lang in LOCALES:
        return str(lang)
    return DEFAULT_LOCALE


def gettext(request: Any, message: str, **values: Any) -> str:
    text = translations(lang_of(request)).gettext(message)
    return text % values if values else text


def translate(lang: str, message: str, **values: Any) -> str:
    """`message` in `lang`, where there is no request at hand."""
    text = translations(lang).gettext(message)
    return text % values if values else text


def ngettext(request: Any, singular: str, plural: str, n: int, **values: Any) -> str:
    text = translations(lang_of(request)).ngettext(singular, plural, n)
    return text % {"num": n, **values}


# --- the catalogs' tooling (`python -m callrouter.web.i18n extract|compile|check`) ---------


def _sources() -> Iterator[tuple[str, Path]]:
    for path in sorted(TEMPLATE_DIR.rglob("*.html")):
        yield "jinja2", path
    for path in sorted(HERE.rglob("*.py")):
        yield "python", path


def extract_messages() -> Any:
    """A Babel Catalog of every message the templates and the web modules use."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract
    from jinja2.ext import babel_extract

    methods: dict[str, Any] = {"jinja2": babel_extract, "python": "python"}
    catalog = Catalog(project="callrouter", domain=DOMAIN)
    keywords = {"_": None, "gettext": (2,), "ngettext": (2, 3), "translate": (2,)}
    for kind, path in _sources():
        options = {"extensions": "jinja2.ext.i18n"} if kind == "jinja2" else {}
        py_keywords = (
            keywords if kind == "python" else {"_": None, "gettext": None, "ngettext": (1, 2)}
        )
        with path.open("rb") as f:
            for lineno, message, comments, context in extract(
                methods[kind], f, keywords=py_keywords, options=options, strip_comment_tags=True
            ):
                if not message or (isinstance(message, tuple) and not message[0]):
                    continue
                catalog.add(
                    message,
                    None,
                    [(path.relative_to(HERE).as_posix(), lineno)],
                    auto_comments=comments,
                    context=context,
                )
    return catalog


FILES = CatalogFiles(LOCALE_DIR, DOMAIN, LOCALES, extract_messages, "python -m callrouter.web.i18n")
read_catalog = FILES.read_catalog
compiled = FILES.compiled
untranslated = FILES.untranslated
main = FILES.main


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
