"""The callrouter service processes: `callrouter run`, `agi`, `ami` and `status`."""

from __future__ import annotations

from .health import Health, gather_health, health_text
from .runner import Mode, Service, StartupError, check_schema, run_service

__all__ = [
    "Health",
    "Mode",
    "Service",
    "StartupError",
    "check_schema",
    "gather_health",
    "health_text",
    "run_service",
]
