"""Push to a clinic's chart: new Observations, Flags and Task updates, queued in the
transaction that made them and delivered by the one delivery pipeline.

A push is a ``scheduled_messages`` row of kind and channel ``fhir`` whose body is the
resource key (``Observation/reply-7-pain``, ``Flag/concern-12``, ``Task/concern-12``):
claimed with a lease, an attempt row written before the HTTP call, retried with
back-off for up to :data:`EXPIRY`, reconciled if in doubt (docs/delivery.md). The
resource itself is built when it is sent (:func:`resolver`), so a push carries the
resource as it then stands and no clinical detail waits in the outbox.

Never twice: an Observation is a conditional create (``If-None-Exist`` on our
identifier), a Flag or a Task a conditional update (``PUT Flag?identifier=…``); both
are no-ops when repeated. Order: a second change of a Flag or Task while one push of
it still waits joins that push (it will carry the newer state); one queued while a
push of it is in flight waits for that lease, so an older state cannot land last.

Nothing is queued for a clinic without an endpoint, and removing the endpoint cancels
what was waiting.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from reminders.channels.base import ChannelError
from reminders.channels.fhir_http import FhirHttp, PushRequest
from reminders.config import Settings
from reminders.conversations.models import Concern, InboundMessage
from reminders.enrollments.models import (
    CANCELLED,
    CLAIMED,
    OPEN_STATUSES,
    PENDING,
    SENDING,
    Enrollment,
    ScheduledMessage,
)
from reminders.interop.push_models import FhirEndpoint, FhirPush
from reminders.outcomes.diary import relief_for

KIND = CHANNEL = "fhir"
EXPIRY = timedelta(days=7)  # retried with back-off (at most an hour apart) for a week
Sessions = Callable[[], AbstractContextManager[Session]]


def endpoint_of(session: Session, clinic_id: int) -> FhirEndpoint | None:
    return session.scalar(select(FhirEndpoint).where(FhirEndpoint.clinic_id == clinic_id))


# -- the hooks (one call each from the places that change what we emit) -----------------


def reply_read(*, session: Session, inbound: InboundMessage, now: datetime) -> None:
    """A patient's message was read: push the Observations it carries (pain, glucose,
    and % relief when it completed a diary point)."""
    if inbound.clinic_id is None or inbound.patient_id is None:
        return
    endpoint = endpoint_of(session, inbound.clinic_id)  # read once: none, no work at all
    if endpoint is None:
        return
    keys = [f"Observation/reply-{inbound.id}-{what}" for what in observation_kinds(inbound)]
    if inbound.enrollment_id is not None and keys:
        session.flush()  # the diary reads this reply back
        keys += _relief_keys(session, inbound)
    _enqueue(session=session, endpoint=endpoint, clinic_id=inbound.clinic_id, keys=keys,
             now=now)  # fmt: skip


def concern_changed(*, session: Session, concern: Concern, now: datetime) -> None:
    """A concern was raised, joined, acknowledged or resolved: push its Flag and Task."""
    if concern.patient_id is None:  # not about a patient: nothing in the chart
        return
    enqueue(session=session, clinic_id=concern.clinic_id,
            keys=[f"Flag/concern-{concern.id}", f"Task/concern-{concern.id}"], now=now)  # fmt: skip


def observation_kinds(inbound: InboundMessage) -> list[str]:
    parsed = dict(inbound.parsed or {})
    kinds = []
    pain = parsed.get("pain", parsed.get("pain_score"))
    if isinstance(pain, int) and 0 <= pain <= 10:
        kinds.append("pain")
    unit = parsed.get("unit")
    value = {"mg/dL": parsed.get("glucose_mg_dl"), "mmol/L": parsed.get("glucose_mmol_l")}
    if isinstance(unit, str) and isinstance(value.get(unit), int | float):
        kinds.append("glucose")
    return kinds


def _relief_keys(session: Session, inbound: InboundMessage) -> list[str]:
    assert inbound.enrollment_id is not None
    result = relief_for(session=session, enrollment_id=inbound.enrollment_id)
    if result is None:
        return []
    return [f"Observation/relief-{inbound.enrollment_id}-{p.minutes}" for p in result.points
            if p.relief_pct is not None and p.answered_at is not None]  # fmt: skip


# -- the outbox ------------------------------------------------------------------------


def enqueue(*, session: Session, clinic_id: int, keys: Iterable[str], now: datetime) -> list[int]:
    """Queue a push of each resource key; returns the new messages' ids.

    An Observation is pushed once (a later call for it queues nothing); a Flag or Task
    joins a push of it still waiting, and waits behind one in flight.
    """
    endpoint = endpoint_of(session, clinic_id) if keys else None
    if endpoint is None:
        return []
    return _enqueue(session=session, endpoint=endpoint, clinic_id=clinic_id, keys=keys, now=now)


def _enqueue(
    *, session: Session, endpoint: FhirEndpoint, clinic_id: int, keys: Iterable[str],
    now: datetime,
) -> list[int]:  # fmt: skip
    keys = list(dict.fromkeys(keys))
    if not keys:
        return []
    m, p = ScheduledMessage, FhirPush
    known: dict[str, list[tuple[str, datetime | None]]] = {}
    for key, status, lease in session.execute(
        select(p.resource_key, m.status, m.lease_until).join(m, m.id == p.message_id)
        .where(p.clinic_id == clinic_id, p.resource_key.in_(keys))
    ):  # fmt: skip
        known.setdefault(key, []).append((status, lease))
    queued = []
    for key in keys:
        earlier = known.get(key, [])
        if key.startswith("Observation/") and earlier:
            continue  # created once; a conditional create would change nothing anyway
        if any(status == PENDING for status, _lease in earlier):
            continue  # the waiting push is built when sent: it carries this change
        due = max([now] + [lease for status, lease in earlier
                           if status in (CLAIMED, SENDING) and lease is not None])  # fmt: skip
        message = ScheduledMessage(
            clinic_id=clinic_id, kind=KIND, channel=CHANNEL, body=key,
            recipient=endpoint.base_url, step_key="fhir_push", template=KIND,
            idempotency_key=f"fhir:{clinic_id}:{key}:{uuid.uuid4().hex}"[:120],
            time_critical=True, planned_at=now, due_at=due, expires_at=now + EXPIRY,
            status=PENDING, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(message)
        session.flush()
        session.add(FhirPush(clinic_id=clinic_id, resource_key=key, message_id=message.id,
                             created_at=now))  # fmt: skip
        queued.append(message.id)
    return queued


def cancel_waiting(*, session: Session, clinic_id: int, now: datetime) -> int:
    """Cancel the clinic's pushes not yet claimed (its endpoint was removed)."""
    m = ScheduledMessage
    result = session.execute(
        update(m).where(m.clinic_id == clinic_id, m.kind == KIND, m.status == PENDING)
        .values(status=CANCELLED, status_reason="fhir_endpoint_removed", updated_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def summary(*, session: Session, clinic_id: int) -> dict[str, Any]:
    """Counts by state and the newest failure (the endpoint status in the API)."""
    from sqlalchemy import func

    from reminders.delivery.models import SendAttempt

    m = ScheduledMessage
    counts = dict.fromkeys(("waiting", "sent", "failed"), 0)
    for status, n in session.execute(
        select(m.status, func.count()).where(m.clinic_id == clinic_id, m.kind == KIND)
        .group_by(m.status)
    ):  # fmt: skip
        bucket = ("waiting" if status in OPEN_STATUSES else status if status in counts
                  else None)  # fmt: skip
        if bucket is not None:
            counts[bucket] += int(n)
    failed = session.execute(
        select(m.body, m.status_reason, m.updated_at, SendAttempt.error_message)
        .join(SendAttempt, SendAttempt.message_id == m.id, isouter=True)
        .where(m.clinic_id == clinic_id, m.kind == KIND, m.status == "failed")
        .order_by(m.updated_at.desc(), SendAttempt.id.desc()).limit(1)
    ).first()  # fmt: skip
    last = None
    if failed is not None:
        last = {"resource": failed[0], "reason": failed[1], "at": failed[2], "error": failed[3]}
    return {**counts, "last_failure": last}


# -- building the request when it is sent ----------------------------------------------


class PushGone(ChannelError):
    """What the push names no longer exists, or the clinic has no endpoint: permanent."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, code=code, permanent=True)


def resolver(sessions: Sessions, settings: Settings) -> Callable[[int, str], PushRequest]:
    def resolve(message_id: int, key: str) -> PushRequest:
        with sessions() as session:
            return build_request(session=session, message_id=message_id, key=key,
                                 public_url=settings.public_url)  # fmt: skip

    return resolve


def build_request(*, session: Session, message_id: int, key: str, public_url: str) -> PushRequest:
    from reminders.interop import fhir_out  # fhir.resources loads only where pushes go out

    message = session.get(ScheduledMessage, message_id)
    if message is None or message.kind != KIND:
        raise PushGone("not a FHIR push", "gone")
    clinic_id = message.clinic_id
    endpoint = endpoint_of(session, clinic_id)
    if endpoint is None:
        raise PushGone("the clinic has no FHIR endpoint", "no_endpoint")
    urls = fhir_out.Urls.of(public_url)
    kind, _, ident = key.partition("/")
    resource: dict[str, Any] | None = None
    if kind == "Observation":
        resource = _observation(session, clinic_id, ident, urls)
    elif kind in ("Flag", "Task") and ident.startswith("concern-"):
        concern = _concern(session, clinic_id, ident.removeprefix("concern-"))
        patient = _patient(session, clinic_id, concern.patient_id if concern else None)
        if concern is not None and patient is not None:
            resource = (fhir_out.flag(concern, patient, urls, push=True) if kind == "Flag" else
                        fhir_out.task(concern, patient, urls, push=True,
                                      owner=fhir_out.owner_of(session, concern)))  # fmt: skip
    if resource is None:
        raise PushGone("the resource no longer exists", "gone")
    resource.pop("id", None)  # the server assigns its own ids
    system_value = "|".join(resource["identifier"][0][f] for f in ("system", "value"))
    base = endpoint.base_url.rstrip("/")
    condition = urlencode({"identifier": system_value})
    if kind == "Observation":
        return PushRequest("POST", f"{base}/{kind}", endpoint.token, resource,
                           if_none_exist=condition)  # fmt: skip
    return PushRequest("PUT", f"{base}/{kind}?{condition}", endpoint.token, resource)


def _observation(session: Session, clinic_id: int, ident: str, urls: Any) -> dict[str, Any] | None:
    from reminders.interop import fhir_out

    parts = ident.split("-")
    if len(parts) == 3 and parts[0] == "reply" and parts[1].isdigit():
        inbound = session.get(InboundMessage, int(parts[1]))
        if inbound is None or inbound.clinic_id != clinic_id:
            return None
        patient = _patient(session, clinic_id, inbound.patient_id)
        if patient is None:
            return None
        return fhir_out.reply_observations(inbound, patient, urls, push=True).get(parts[2])
    if len(parts) == 3 and parts[0] == "relief" and parts[1].isdigit():
        enrollment = session.get(Enrollment, int(parts[1]))
        if enrollment is None or enrollment.clinic_id != clinic_id:
            return None
        patient = _patient(session, clinic_id, enrollment.patient_id)
        if patient is None:
            return None
        found = fhir_out.relief_observations(session=session, enrollment=enrollment,
                                             patient=patient, urls=urls, push=True)  # fmt: skip
        return found.get(ident)
    return None


def _concern(session: Session, clinic_id: int, ident: str) -> Concern | None:
    concern = session.get(Concern, int(ident)) if ident.isdigit() else None
    return concern if concern is not None and concern.clinic_id == clinic_id else None


def _patient(session: Session, clinic_id: int, patient_id: int | None) -> Any:
    from reminders.patients.models import Patient

    patient = session.get(Patient, patient_id) if patient_id is not None else None
    return patient if patient is not None and patient.clinic_id == clinic_id else None


# -- the channel -----------------------------------------------------------------------


@functools.cache
def _maker(url: str) -> sessionmaker[Session]:
    from reminders.db import make_engine

    return sessionmaker(bind=make_engine(url), expire_on_commit=False)


def build_channel(settings: Settings, sessions: Sessions | None = None) -> FhirHttp:
    """The ``fhir`` channel for a sender built from ``settings``; its reads go to that
    database (an engine of its own, made on the first push)."""
    if sessions is None:
        from reminders.db import transaction

        def sessions() -> AbstractContextManager[Session]:
            return transaction(_maker(settings.database_url))

    return FhirHttp(resolver(sessions, settings))
