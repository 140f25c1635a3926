"""The gettext catalogs' tooling, shared by the web pages' and the reports' languages.

Each domain (`messages` for the web, `reports` for the reports) keeps `<dir>/<lang>/LC_MESSAGES/
<domain>.po` and the compiled `.mo` beside it, both committed: nothing is built at run time.
`CatalogFiles` extracts the messages a domain's code uses into its `.po` files (translations
kept), compiles them, and says which messages have no Russian text or which `.mo` is stale.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CatalogFiles:
    directory: Path
    domain: str
    locales: tuple[str, ...]
    extract_messages: Callable[[], Any]  # a Babel Catalog of the messages the code uses
    command: str  # e.g. "python -m callrouter.web.i18n"

    def po_path(self, lang: str) -> Path:
        return self.directory / lang / "LC_MESSAGES" / f"{self.domain}.po"

    def mo_path(self, lang: str) -> Path:
        return self.directory / lang / "LC_MESSAGES" / f"{self.domain}.mo"

    def read_catalog(self, lang: str) -> Any:
        from babel.messages.pofile import read_po

        with self.po_path(lang).open("rb") as f:
            return read_po(f, locale=lang, domain=self.domain)

    def compiled(self, lang: str) -> bytes:
        """The `.mo` bytes a compile of the `.po` gives now."""
        from babel.messages.mofile import write_mo

        buffer = io.BytesIO()
        write_mo(buffer, self.read_catalog(lang), use_fuzzy=False)
        return buffer.getvalue()

    def untranslated(self, lang: str = "ru") -> list[str]:
        """Messages used in the code that the catalog of `lang` does not translate."""
        catalog = self.read_catalog(lang)
        missing = []
        for message in self.extract_messages():
            if not message.id:
                continue
            found = catalog.get(message.id, message.context)
            strings = found.string if found is not None else None
            texts = strings if isinstance(strings, tuple) else (strings,)
            if found is None or found.fuzzy or not all(texts):
                missing.append(message.id if isinstance(message.id, str) else message.id[0])
        return missing

    def extract(self) -> None:
        """Add every message the code uses to each `.po` (translations kept, gone ones dropped)."""
        from babel.messages.catalog import Catalog
        from babel.messages.pofile import write_po

        template = self.extract_messages()
        for lang in self.locales:
            path = self.po_path(lang)
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = (
                self.read_catalog(lang)
                if path.exists()
                else Catalog(locale=lang, domain=self.domain, project="callrouter")
            )
            catalog.update(template, no_fuzzy_matching=True)
            catalog.obsolete.clear()
            catalog.fuzzy = False
            with path.open("wb") as f:
                write_po(f, catalog, width=100, omit_header=False, sort_output=True)
        for msgid in self.untranslated("ru"):
            print(f"untranslated (ru): {msgid}")

    def compile(self) -> None:
        for lang in self.locales:
            self.mo_path(lang).write_bytes(self.compiled(lang))
            print(f"compiled {self.mo_path(lang).relative_to(self.directory)}")

    def check(self) -> int:
        problems = [f"untranslated (ru): {m}" for m in self.untranslated("ru")]
        problems += [
            f"{self.mo_path(lang).relative_to(self.directory)} is stale: run "
            f"`{self.command} compile`"
            for lang in self.locales
            if not self.mo_path(lang).exists()
            or self.mo_path(lang).read_bytes() != self.compiled(lang)
        ]
        for line in problems:
            print(line)
        return 1 if problems else 0

    def main(self, argv: list[str]) -> int:
        """`extract`, `compile` or `check`, as the command line asks."""
        commands = {"extract": self.extract, "compile": self.compile}
        if argv == ["check"]:
            return self.check()
        if len(argv) != 1 or argv[0] not in commands:
            print(f"usage: {self.command} extract|compile|check", file=sys.stderr)
            return 2
        commands[argv[0]]()
        return 0
