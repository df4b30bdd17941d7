from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow

DEFAULT_CRISIS_LINE = "988"
# Office hours (when someone answers the clinic phone), per weekday in the clinic's zone;
# a day that is absent is closed. Separate from the send window (quiet hours).
DEFAULT_OFFICE_HOURS: dict[str, Any] = {
    day: ["08:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")
}
DEFAULT_THRESHOLDS: dict[str, float] = {
    "pain_urgent": 8,
    "glucose_high_mg_dl": 300,
    "glucose_low_mg_dl": 70,
    "numbness_urgent_after_hours": 8,
}


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # Non-critical messages go out only between these local times (patient's zone);
    # outside them are the clinic's quiet hours.
    window_opens: Mapped[time] = mapped_column(Time, default=time(8, 0))
    window_closes: Mapped[time] = mapped_column(Time, default=time(20, 0))
    emergency_number: Mapped[str] = mapped_column(String(40), default="911")
    # The national crisis line named in the self-harm reply (US: 988 Suicide & Crisis
    # Lifeline, call or text, answers in Spanish too).
    crisis_line: Mapped[str] = mapped_column(String(40), default=DEFAULT_CRISIS_LINE)
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    sms_from: Mapped[str] = mapped_column(String(40))
    email_from: Mapped[str | None] = mapped_column(String(200))
    thresholds: Mapped[dict[str, Any]] = mapped_column(default=lambda: dict(DEFAULT_THRESHOLDS))
    office_hours: Mapped[dict[str, Any]] = mapped_column(
        default=lambda: dict(DEFAULT_OFFICE_HOURS)
    )
    # Each step's wait in the default escalation policy (oncall/policy.py); pages go to
    # the staff on the rota (oncall/), never to free-text numbers.
    emergency_ack_minutes: Mapped[int] = mapped_column(default=5)
    urgent_ack_minutes: Mapped[int] = mapped_column(default=30)
    # Messages a second this clinic's sender may send (long code 1, toll-free 3, short
    # code 100: clinics/sender_rates.py); None: AFTERCARE_SMS_RATE_PER_SECOND.
    sms_rate_per_second: Mapped[float | None]
    # Message bodies, reply texts and email addresses of finished enrolments are removed
    # this many days after the enrolment ended (retention job); metadata stays.
    retention_days: Mapped[int] = mapped_column(default=90)
    api_key_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    # Admins must sign in with an authenticator code; one without is sent to set it up
    # before any other page (staff/totp.py).
    require_admin_totp: Mapped[bool] = mapped_column(default=False)
    # The diagnostic pain diary: prompt times and relief thresholds (None: the defaults in
    # reminders/outcomes/prompts.py).
    diary: Mapped[dict[str, Any] | None]
    # The clinic's own EHR code mappings over reminders/interop/codes.yaml (codes.py).
    interop_codes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffMember(Base):
    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("email", name="uq_staff_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    email: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))  # admin | coordinator | clinician
    phone: Mapped[str | None] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
