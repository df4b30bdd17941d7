"""Prometheus metrics of this process (each worker exposes its own; see docs)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SENT = Counter("aftercare_messages_sent_total", "Messages accepted by a provider", ["channel"])
FAILED = Counter("aftercare_messages_failed_total", "Messages that failed for good", ["channel"])
SKIPPED = Counter(
    "aftercare_messages_skipped_total", "Messages skipped at send time", ["channel", "reason"]
)
LATENESS = Histogram(
    "aftercare_send_lateness_seconds",
    "From a message's due time to the provider accepting it",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)


def count_sent(channel: str) -> None:
    SENT.labels(channel).inc()


def count_failed(channel: str) -> None:
    FAILED.labels(channel).inc()


def count_skipped(channel: str, reason: str) -> None:
    SKIPPED.labels(channel, reason).inc()


def observe_lateness(seconds: float) -> None:
    LATENESS.observe(max(0.0, seconds))
