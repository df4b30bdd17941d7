"""Every table, imported in one place so Alembic and tests see the whole schema."""

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic, StaffMember
from reminders.conversations.models import Concern, InboundMessage
from reminders.db import Base
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import Enrollment, ScheduledMessage
from reminders.oncall.models import ClinicHoliday, EscalationPolicy, OnCallShift
from reminders.patients.models import Patient, Procedure
from reminders.protocols.models import ProtocolVersion
from reminders.staff.models import StaffSession

__all__ = [
    "AuditEvent",
    "Base",
    "Clinic",
    "ClinicHoliday",
    "Concern",
    "Enrollment",
    "EscalationPolicy",
    "InboundMessage",
    "OnCallShift",
    "Patient",
    "Procedure",
    "ProtocolVersion",
    "ScheduledMessage",
    "SendAttempt",
    "StaffMember",
    "StaffSession",
]
