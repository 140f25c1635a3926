"""`--limit N` / `--all` on every listing, the note when a listing is cut, and the progress bar
of long commands (on stderr, only on a terminal or when asked for).

A listing never stops silently: when it shows fewer rows than there are, stderr says so
("showing 200 of 348 (use --limit N or --all)"). stdout stays the data, in the same shape
for scripts (the JSON list is unchanged).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

import click


def limit_options(default: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add `--limit N` (default `default`) and `--all`; the command gets `limit: int | None`
    (None: every row)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @click.option(
            "--limit",
            type=click.IntRange(min=1),
            default=default,
            show_default=True,
            help="Show at most N rows (the newest or most urgent first).",
        )
        @click.option("--all", "show_all", is_flag=True, help="Show every row, however many.")
        @wraps(fn)
        def wrapper(*args: Any, limit: int, show_all: bool, **kwargs: Any) -> Any:
            return fn(*args, limit=None if show_all else limit, **kwargs)

        return wrapper

    return decorate


def note_shown(shown: int, total: int) -> None:
    """On stderr, when the listing was cut: "showing 200 of 348 (use --limit N or --all)"."""
    if shown < total:
        click.echo(f"showing {shown} of {total} (use --limit N or --all)", err=True)


@contextlib.contextmanager
def progress_bar(total: int, forced: bool, label: str) -> Iterator[Any]:
    """Something with `update(n)`, or None. On a terminal: a click progress bar on stderr. Not a
    terminal but `forced` (`--progress`, e.g. under a log collector): a line per tenth done.
    stdout stays the data."""
    if total == 0 or not (forced or sys.stderr.isatty()):
        yield None
        return
    if not sys.stderr.isatty():
        yield _Lines(total, label)
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar


class _Lines:
    """'importing: 2000 of 5000 (40%)' on stderr, at most once per tenth of the work."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done, self.said = total, label, 0, -1

    def update(self, n: int) -> None:
        self.done = min(self.total, self.done + n)
        tenth = self.done * 10 // self.total
        if tenth > self.said:
            self.said = tenth
            percent = self.done * 100 // self.total
            click.echo(f"{self.label}: {self.done} of {self.total} ({percent}%)", err=True)
