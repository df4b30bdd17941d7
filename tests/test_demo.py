"""The README's first command: the demo plays Alice's whole timeline through the real engine."""

from __future__ import annotations

import io
import re

from reminders.demo import run_demo


def test_demo_sends_alices_whole_timeline_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AFTERCARE_DEMO_DB", str(tmp_path / "demo.sqlite3"))
    out = io.StringIO()
    assert run_demo(speed=0, out=out) == 0
    text = out.getvalue()
    scheduled = int(re.search(r"(\d+) messages are scheduled", text).group(1))
    sent = int(re.search(r"Done: (\d+) messages sent", text).group(1))
    assert sent == scheduled >= 12
    headers = re.findall(r"^\w{3} \d\d \w{3} \d\d:\d\d  SMS · (\w+)", text, flags=re.M)
    assert headers.count("glucose_check") == 3  # Alice is diabetic
    assert headers.count("flare_check") == 2
    assert headers[0] == "discharge_summary" and headers[-1] == "outcome_check"
    assert "Hi Alice" in text and "STOP" in text
    # Her replies run through triage, a concern pages on-call, escalates, and is acknowledged.
    assert "triage: urgent (infection, severe_pain) → concern opened" in text
    assert 'replies: "ok thanks"\n    triage: none (acknowledgement)\n' in text
    escalation = text.split("escalating", 1)[1]
    assert "page by SMS to staff: Aftercare URGENT: Alice" in escalation
    assert "Acknowledged" in escalation and "555" not in escalation.split("\n")[1]


def test_demo_in_spanish(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AFTERCARE_DEMO_DB", str(tmp_path / "demo.sqlite3"))
    out = io.StringIO()
    assert run_demo(speed=0, lang="es", out=out) == 0
    assert "Hola, Alice" in out.getvalue()
