"""Prometheus metrics of the API process (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OPERATION_LATENCY = Histogram(
    "headwater_graphql_operation_seconds",
    "Server time of GraphQL operations",
    ["operation", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OPERATION_ERRORS = Counter(
    "headwater_graphql_errors_total", "GraphQL operations that returned errors", ["operation"]
)
ACTIVE_SUBSCRIPTIONS = Gauge(
    "headwater_active_subscriptions", "Subscribers registered with the event broker"
)
BROKER_LAG = Histogram(
    "headwater_broker_lag_seconds",
    "Time from an event's commit timestamp to its dispatch by the broker",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
BROKER_RECONNECTS = Counter(
    "headwater_broker_reconnects_total", "Times the broker re-established its LISTEN connection"
)
