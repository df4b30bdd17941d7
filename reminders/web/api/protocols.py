"""/api/v1/protocols: the clinic's protocol versions (read-only over the API)."""

from __future__ import annotations

from fastapi import APIRouter

from reminders.protocols import service
from reminders.web.api.schemas import ProtocolOut
from reminders.web.deps import ApiClinic, SessionDep

router = APIRouter(prefix="/protocols", tags=["protocols"])


@router.get("", response_model=list[ProtocolOut])
def list_protocols(clinic: ApiClinic, session: SessionDep) -> list[ProtocolOut]:
    """Every version of every protocol, by key then version. An enrolment pins the latest
    published version of its injectate's protocol at the time it was made."""
    return [
        ProtocolOut(
            id=v.id, key=v.key, version=v.version, status=v.status, title=v.title,
            injectate=v.injectate, published_at=v.published_at,
            steps=[str(s.get("key", "")) for s in v.steps],
        )
        for v in service.list_versions(session=session, clinic_id=clinic.id)
    ]
