"""Every table, imported in one place so Alembic and tests see the whole schema."""

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic, StaffMember
from reminders.conversations.models import Concern, InboundMessage
from reminders.db import Base
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import Enrollment, ScheduledMessage
from reminders.interop.models import ExternalId
from reminders.interop.push_models import FhirEndpoint, FhirPush
from reminders.oncall.models import ClinicHoliday, EscalationPolicy, OnCallShift
from reminders.outcomes.prom_models import ClinicInstrument, FormToken, PromResponse
from reminders.patients.models import Patient, Procedure
from reminders.protocols.models import ProtocolVersion
from reminders.staff.models import StaffSession

__all__ = [
    "AuditEvent",
    "Base",
    "Clinic",
    "ClinicHoliday",
    "ClinicInstrument",
    "Concern",
    "Enrollment",
    "EscalationPolicy",
    "ExternalId",
    "FhirEndpoint",
    "FhirPush",
    "FormToken",
    "InboundMessage",
    "OnCallShift",
    "Patient",
    "Procedure",
    "PromResponse",
    "ProtocolVersion",
    "ScheduledMessage",
    "SendAttempt",
    "StaffMember",
    "StaffSession",
]
