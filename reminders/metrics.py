"""Prometheus metrics of this process (each worker exposes its own; see docs).

With ``PROMETHEUS_MULTIPROC_DIR`` set, each process writes its values to files named
after it in that directory and the web app's /metrics adds them up.
"""

from __future__ import annotations

import os
import socket

from prometheus_client import Counter, Histogram, values

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Containers sharing the directory each number their processes from 1: the web
    # app's pid 1 and a worker's pid 1 would write one file. Host name + pid is unique
    # (no "_": prometheus_client splits file names on it).
    values.ValueClass = values.MultiProcessValue(
        lambda: f"{socket.gethostname().replace('_', '-')}-{os.getpid()}"
    )

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
