"""Every Prometheus metric of the services, in one registry (`REGISTRY`).

Counters and histograms are updated at the seams (`record_routed`, the timed decider, the timed
sink, the listener's `on_event` and `on_refused` hooks); gauges that describe live state (AMI
connected, spool, refused calls and queue depth, active AGI sessions, lost calls today) are read
at scrape time through `LIVE.set_probe(...)`.
`serve(host, port)` exposes them over HTTP (loopback by default).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from callrouter.listen import cannot_listen

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

CALLS_ROUTED = Counter(
    "callrouter_calls_routed",
    "Calls routed by the FastAGI server, by outcome and the last step dialled (0 = none)",
    ["outcome", "step"],
    registry=REGISTRY,
)
DECISION_SECONDS = Histogram(
    "callrouter_routing_decision_seconds",
    "Time to decide a call's plan (budget: routing.decision_budget_ms), by basis",
    ["basis"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0),
    registry=REGISTRY,
)
AMI_EVENTS = Counter(
    "callrouter_ami_events", "AMI events received from Asterisk", registry=REGISTRY
)
AMI_LAG_SECONDS = Histogram(
    "callrouter_ami_event_lag_seconds",
    "Now minus the event's Timestamp header when the event is read",
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0),
    registry=REGISTRY,
)
AMI_LAST_LAG = Gauge(
    "callrouter_ami_event_last_lag_seconds", "Lag of the newest AMI event", registry=REGISTRY
)
DB_WRITE_SECONDS = Histogram(
    "callrouter_db_write_seconds",
    "Time of one database write: a batch of completed calls (rows, legs, lead rules), one transaction",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
    registry=REGISTRY,
)
DB_WRITE_FAILURES = Counter(
    "callrouter_db_write_failures",
    "Database writes (batches of calls) that failed because the database was away (retried)",
    registry=REGISTRY,
)
CALLS_REFUSED = Counter(
    "callrouter_calls_refused",
    "Calls the database refused, set aside in the spool's refused/ area (`callrouter refused`)",
    registry=REGISTRY,
)
CALLS_RECORDED = Counter(
    "callrouter_calls_recorded",
    "Calls stored in the database (replays of stored calls not counted)",
    ["direction", "disposition"],
    registry=REGISTRY,
)


AGI_CONNECTIONS_REFUSED = Counter(
    "callrouter_agi_connections_refused",
    "FastAGI connections refused as they connected, by reason (agi_scripts/fastagi.py REASONS)",
    ["reason"],
    registry=REGISTRY,
)
AGI_CONNECTIONS_CLOSED = Counter(
    "callrouter_agi_connections_closed_early",
    "FastAGI connections closed before their environment was in, by reason",
    ["reason"],
    registry=REGISTRY,
)


def record_admission(action: str, reason: str) -> None:
    """The FastAGI server's `on_admission`: a connection refused, or closed before routing."""
    counter = AGI_CONNECTIONS_REFUSED if action == "refused" else AGI_CONNECTIONS_CLOSED
    counter.labels(reason).inc()


class _Outcome(Protocol):
    @property
    def result(self) -> Any: ...
    @property
    def step_reached(self) -> int: ...


def record_routed(outcome: _Outcome) -> None:
    """Count one routed call (the FastAGI server calls this with the route handler's outcome)."""
    CALLS_ROUTED.labels(
        str(getattr(outcome.result, "value", outcome.result)), str(outcome.step_reached)
    ).inc()


Probe = Callable[[], float | None]


class LiveCollector(Collector):
    """Gauges computed at scrape time from probes the running service registers."""

    GAUGES = {
        "callrouter_ami_connected": "1 when the AMI session is logged in, else 0",
        "callrouter_ami_queue_depth": "AMI events waiting for the call tracker",
        "callrouter_ami_calls_in_flight": "Calls the tracker is following",
        "callrouter_spool_depth": "Completed calls in the spool, not yet in the database",
        "callrouter_refused_spool_depth": "Refused calls in the spool's refused/ area, not replayed yet",
        "callrouter_lost_calls_today": "Inbound calls nobody answered today (company time zone)",
        "callrouter_agi_sessions_active": "FastAGI sessions in progress",
        "callrouter_database_unreachable_since_seconds": (
            "Unix time since which the service finds the database unreachable and runs degraded "
            "(routing from the directory snapshot, calls kept in the spool); 0 while reachable"
        ),
    }

    def __init__(self) -> None:
        self._probes: dict[str, Probe] = {}
        self._lock = threading.Lock()

    def set_probe(self, name: str, probe: Probe | None) -> None:
        if name not in self.GAUGES:
            raise KeyError(name)
        with self._lock:
            if probe is None:
                self._probes.pop(name, None)
            else:
                self._probes[name] = probe

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            probes = dict(self._probes)
        for name, probe in probes.items():
            try:
                value = probe()
            except Exception as exc:  # a probe must never break the scrape
                log.debug("metric probe %s failed: %s", name, exc)
                continue
            if value is not None:
                yield GaugeMetricFamily(name, self.GAUGES[name], value=float(value))


LIVE = LiveCollector()
REGISTRY.register(LIVE)


class MetricsServer:
    """The HTTP endpoint in a daemon thread; `port` is the bound one (0 picks a free port)."""

    def __init__(self, host: str, port: int) -> None:
        try:
            server, thread = start_http_server(port, addr=host, registry=REGISTRY)
        except OSError as exc:
            raise cannot_listen(host, port, "metrics", exc) from None
        self._server: WSGIServer = server
        self._thread: threading.Thread = thread
        self.host = host
        self.port: int = server.server_address[1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve(host: str, port: int) -> MetricsServer:
    """Start serving REGISTRY at http://host:port/metrics."""
    return MetricsServer(host, port)
