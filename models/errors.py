"""Errors the CRM layer raises for bad input; each message is one clear line for a person."""

from __future__ import annotations


class InputError(ValueError):
    """The request cannot be carried out as given; nothing was written."""


class NotFound(InputError):
    pass


class Duplicate(InputError):
    pass


class MissingField(InputError):
    def __init__(self, field: str, what: str = "task") -> None:
        super().__init__(f"a {what} needs a {field}; none was given")
        self.field = field
