"""The baseline for the delivery benchmark: our Celery app plus one task that does nothing."""

from __future__ import annotations

from workers.app import app


@app.task(name="bench.noop")
def noop() -> None:
    return None
