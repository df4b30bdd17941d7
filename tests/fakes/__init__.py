"""Loopback stand-ins for the providers: a Twilio-compatible API and an SMTP server."""

from tests.fakes.smtp_server import FakeSmtp, Received
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, sign

__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "FakeSmtp", "FakeTwilio", "Received", "sign"]
