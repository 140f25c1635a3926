"""The report model as JSON: every field, and every derived figure (rates, minutes) by name."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from functools import cache
from typing import Any


def to_data(value: Any) -> Any:
    """Dataclasses → dicts (fields plus read-only properties), dates → ISO strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields, properties = _names(type(value))
        data = {name: to_data(getattr(value, name)) for name in fields}
        for name in properties:
            data[name] = to_data(getattr(value, name))
        return data
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@cache
def _names(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A dataclass's field names, and its read-only properties' in `dir` order (once a class)."""
    fields = tuple(fld.name for fld in dataclasses.fields(cls))
    properties = tuple(n for n in dir(cls) if isinstance(getattr(cls, n, None), property))
    return fields, properties


def render(value: Any) -> str:
    """Pretty JSON of any report object (`DailyReport`, `StatsTable`)."""
    return json.dumps(to_data(value), ensure_ascii=False, indent=2) + "\n"
