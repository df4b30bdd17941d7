"""A clinic's FHIR endpoint for push: set, show, remove (the API's /clinic/fhir-endpoint).

The base URL must be https; plain http only to this machine (127.0.0.1, ::1,
localhost) and never in production, so a key cannot point our servers at another
host in clear text. The token is kept as given and never shown again. Changes are
audited (``clinic.fhir_endpoint``) with what changed, never the token itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.enrollments.schemas import InputError
from reminders.interop.push import cancel_waiting, endpoint_of
from reminders.interop.push_models import FhirEndpoint

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_URL, MAX_TOKEN = 500, 4000


@dataclass(frozen=True)
class EndpointIn:
    base_url: str
    token: str | None  # None: keep the one stored


def check(data: EndpointIn, *, production: bool, has_token: bool) -> tuple[str, str | None]:
    """The cleaned (base URL, token), or InputError naming each bad field in words."""
    errors: list[tuple[str, str]] = []
    url = data.base_url.strip().rstrip("/")
    parts = urlsplit(url) if len(url) <= MAX_URL else None
    if parts is None:
        errors.append(("base_url", f"The FHIR base URL must be at most {MAX_URL} characters"))
    elif parts.scheme not in ("https", "http") or not parts.hostname:
        errors.append(("base_url", "The FHIR base URL must be a web address "
                                   "like https://ehr.example.org/fhir"))  # fmt: skip
    elif parts.scheme == "http" and (production or parts.hostname not in LOOPBACK):
        errors.append(("base_url", "The FHIR base URL must start with https://"))
    elif parts.query or parts.fragment or parts.username or parts.password:
        errors.append(("base_url", "The FHIR base URL must not carry a query, a fragment "
                                   "or a user name"))  # fmt: skip
    token = data.token.strip() if data.token is not None else None
    if token is None and not has_token:
        errors.append(("token", "The bearer token is required"))
    elif token is not None and not (0 < len(token) <= MAX_TOKEN and token.isprintable()
                                    and " " not in token):  # fmt: skip
        errors.append(("token", f"The bearer token must be 1 to {MAX_TOKEN} printable "
                                "characters without spaces"))  # fmt: skip
    if errors:
        raise InputError(errors)
    return url, token


def set_endpoint(
    *, session: Session, clinic: Clinic, data: EndpointIn, now: datetime, actor: str,
    production: bool,
) -> FhirEndpoint:  # fmt: skip
    current = endpoint_of(session, clinic.id)
    url, token = check(data, production=production, has_token=current is not None)
    changed = []
    if current is None:
        assert token is not None
        current = FhirEndpoint(clinic_id=clinic.id, base_url=url, token=token, created_at=now,
                               updated_at=now)  # fmt: skip
        session.add(current)
        changed = ["base_url", "token"]
    else:
        if current.base_url != url:
            current.base_url, changed = url, [*changed, "base_url"]
        if token is not None and token != current.token:
            current.token, changed = token, [*changed, "token"]
        current.updated_at = now
    session.flush()
    if changed:
        audit.record(session=session, clinic_id=clinic.id, actor=actor,
                     action="clinic.fhir_endpoint", subject_type="clinic", subject_id=clinic.id,
                     changed=changed)  # fmt: skip
    return current


def remove_endpoint(*, session: Session, clinic: Clinic, now: datetime, actor: str) -> bool:
    """Remove the endpoint and cancel the pushes still waiting; False if there was none."""
    current = endpoint_of(session, clinic.id)
    if current is None:
        return False
    cancelled = cancel_waiting(session=session, clinic_id=clinic.id, now=now)
    session.delete(current)
    session.flush()
    audit.record(session=session, clinic_id=clinic.id, actor=actor,
                 action="clinic.fhir_endpoint", subject_type="clinic", subject_id=clinic.id,
                 changed=["removed"], cancelled_pushes=cancelled)  # fmt: skip
    return True
