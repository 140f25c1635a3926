"""The reports' languages: English (the msgids themselves) and Russian.

The text and HTML reports, the e-mail and the charts take `lang` ("en" or "ru"; settings
`web.default_locale` is the company's default) and translate their words with gettext, from a
catalog beside the web pages' (`callrouter/web/locale/<lang>/LC_MESSAGES/reports.po`, domain
"reports": the web's tooling rewrites `messages.po` from the web's own sources, so the reports
keep their own domain in the same folder). A message is marked in the code as `_("…")`; values
go in with `%(name)s`. Numbers keep the report's own forms (12.5%, 3:05) in both languages, so
a report reads the same figures whatever its language.

    python -m callrouter.reports.i18n extract   # adds new messages to reports.po (ru, en)
    python -m callrouter.reports.i18n compile   # reports.po → reports.mo (both are committed)

tests/reports/test_report_languages.py checks that every message has its Russian text and that
each reports.mo is a fresh compile of its reports.po.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from gettext import GNUTranslations, NullTranslations
from pathlib import Path
from typing import Any

from callrouter.catalogs import CatalogFiles

Translate = Callable[[str], str]
DEFAULT = "en"


def _same(message: str) -> str:
    return message


DOMAIN = "reports"
LOCALES = ("ru", "en")
HERE = Path(__file__).resolve().parent
LOCALE_DIR = HERE.parent / "web" / "locale"


def po_path(lang: str) -> Path:
    return FILES.po_path(lang)


def mo_path(lang: str) -> Path:
    return FILES.mo_path(lang)


@cache
def _catalog(lang: str) -> NullTranslations:
    try:
        with mo_path(lang).open("rb") as f:
            return GNUTranslations(f)
    except FileNotFoundError:
        return NullTranslations()


def translator(lang: str | None) -> Translate:
    """`_` for `lang`: English (or an unknown language) is the message itself."""
    if not lang or lang == DEFAULT or lang not in LOCALES:
        return _same
    catalog = _catalog(lang)

    def translate(message: str) -> str:
        return catalog.gettext(message) if message else message

    return translate


def mark(message: str) -> str:
    """A message to translate later (a table's header kept in a constant): `_ = mark`."""
    return message


# --- the catalog's tooling -----------------------------------------------------------------


def extract_messages() -> Any:
    """A Babel Catalog of every `_("…")` in callrouter/reports."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract

    catalog = Catalog(project="callrouter", domain=DOMAIN)
    for path in sorted(HERE.glob("*.py")):
        with path.open("rb") as f:
            for lineno, message, _notes, _context in extract("python", f, keywords={"_": None}):
                if message:
                    catalog.add(message, None, [(f"reports/{path.name}", lineno)])
    return catalog


FILES = CatalogFiles(
    LOCALE_DIR, DOMAIN, LOCALES, extract_messages, "python -m callrouter.reports.i18n"
)
read_catalog = FILES.read_catalog
compiled = FILES.compiled
untranslated = FILES.untranslated
main = FILES.main


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
