"""The report model as JSON: every field, and every derived figure (rates, minutes) by name."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from typing import Any


def to_data(value: Any) -> Any:
    """Dataclasses → dicts (fields plus read-only properties), dates → ISO strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {fld.name: to_data(getattr(value, fld.name)) for fld in dataclasses.fields(value)}
        for name in dir(type(value)):
            if isinstance(getattr(type(value), name, None), property):
                data[name] = to_data(getattr(value, name))
        return data
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def render(value: Any) -> str:
    """Pretty JSON of any report object (`DailyReport`, `StatsTable`)."""
    return json.dumps(to_data(value), ensure_ascii=False, indent=2) + "\n"
