"""Protocol versions: publish built-in protocols per clinic, drafts, immutable versions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders.db import utcnow
from reminders.protocols.loader import (
    ProtocolDef,
    checksum,
    load_protocols,
    steps_from_snapshot,
    template_dirs,
)
from reminders.protocols.models import ProtocolVersion
from reminders.protocols.spec import SpecError, Step, missing_concerning_answer
from reminders.rendering import load_template_sources


class NotFound(LookupError):
    pass


class ImmutableVersion(RuntimeError):
    pass


def templates_for(protocol: ProtocolDef, sources: dict[str, str]) -> dict[str, str]:
    """The template sources a protocol uses (every language), plus the shared ones."""
    wanted = protocol.template_names
    return {
        name: src
        for name, src in sources.items()
        if name.rsplit(".", 1)[0] in wanted or name.startswith("_")
    }


def sync_builtin(
    *, session: Session, clinic_id: int, dirs: Sequence[Path] | None = None
) -> list[ProtocolVersion]:
    """Publish each protocol file as a new version when it differs from the latest one."""
    roots = list(dirs) if dirs is not None else template_dirs()
    protocols = load_protocols(roots)
    sources = load_template_sources(roots)
    published = []
    for key, protocol in protocols.items():
        templates = templates_for(protocol, sources)
        digest = checksum(protocol.raw_steps, templates)
        latest = latest_published(session=session, clinic_id=clinic_id, key=key)
        if latest is not None and latest.checksum == digest:
            continue
        published.append(
            _new_version(
                session=session,
                clinic_id=clinic_id,
                key=key,
                title=protocol.title,
                injectate=protocol.injectate,
                steps=protocol.raw_steps,
                templates=templates,
                publish_at=utcnow(),
            )
        )
    return published


def _new_version(
    *,
    session: Session,
    clinic_id: int,
    key: str,
    title: str,
    injectate: str,
    steps: list[dict[str, Any]],
    templates: dict[str, str],
    publish_at: datetime | None,
) -> ProtocolVersion:
    current = session.scalar(
        select(func.max(ProtocolVersion.version)).where(
            ProtocolVersion.clinic_id == clinic_id, ProtocolVersion.key == key
        )
    )
    version = ProtocolVersion(
        clinic_id=clinic_id,
        key=key,
        version=(current or 0) + 1,
        status="published" if publish_at else "draft",
        title=title,
        injectate=injectate,
        steps=steps,
        templates=templates,
        checksum=checksum(steps, templates),
        published_at=publish_at,
    )
    session.add(version)
    session.flush()
    return version


def latest_published(*, session: Session, clinic_id: int, key: str) -> ProtocolVersion | None:
    return session.scalars(
        select(ProtocolVersion)
        .where(
            ProtocolVersion.clinic_id == clinic_id,
            ProtocolVersion.key == key,
            ProtocolVersion.status == "published",
        )
        .order_by(ProtocolVersion.version.desc())
        .limit(1)
    ).first()


def for_injectate(*, session: Session, clinic_id: int, injectate: str) -> ProtocolVersion:
    """The latest published protocol for an injectate (its key is the injectate's name)."""
    version = latest_published(session=session, clinic_id=clinic_id, key=injectate)
    if version is None:
        raise NotFound(f"no published protocol for injectate {injectate!r}")
    return version


def list_versions(*, session: Session, clinic_id: int) -> list[ProtocolVersion]:
    return list(
        session.scalars(
            select(ProtocolVersion)
            .where(ProtocolVersion.clinic_id == clinic_id)
            .order_by(ProtocolVersion.key, ProtocolVersion.version)
        )
    )


def create_draft(*, session: Session, clinic_id: int, key: str) -> ProtocolVersion:
    """A draft copied from the latest published version, to edit and then publish."""
    base = latest_published(session=session, clinic_id=clinic_id, key=key)
    if base is None:
        raise NotFound(f"no published protocol {key!r}")
    return _new_version(
        session=session,
        clinic_id=clinic_id,
        key=key,
        title=base.title,
        injectate=base.injectate,
        steps=list(base.steps),
        templates=dict(base.templates),
        publish_at=None,
    )


def update_draft(
    *,
    session: Session,
    version: ProtocolVersion,
    steps: list[dict[str, Any]] | None = None,
    templates: dict[str, str] | None = None,
) -> ProtocolVersion:
    if version.status != "draft":
        raise ImmutableVersion(f"{version.key} v{version.version} is published and cannot change")
    if steps is not None:
        steps_from_snapshot(steps)  # raises SpecError on a bad step
        version.steps = steps
    if templates is not None:
        version.templates = {**version.templates, **templates}
    version.checksum = checksum(version.steps, version.templates)
    return version


def publish(*, session: Session, version: ProtocolVersion) -> ProtocolVersion:
    if version.status != "draft":
        raise ImmutableVersion(f"{version.key} v{version.version} is already {version.status}")
    # A draft may be saved half-written; a published yes/no question must say which
    # answer means trouble, or a clinic's own question would be read blind.
    for step in steps_from_snapshot(version.steps):
        if (missing := missing_concerning_answer(step)) is not None:
            raise SpecError(missing)
    version.status = "published"
    version.published_at = utcnow()
    return version


_STEP_CACHE: dict[tuple[int, str], list[Step]] = {}


def steps_of(version: ProtocolVersion) -> list[Step]:
    """Parsed steps of a version; published versions never change, so they are cached."""
    if version.status != "published":
        return steps_from_snapshot(version.steps)
    key = (version.id, version.checksum)
    if key not in _STEP_CACHE:
        _STEP_CACHE[key] = steps_from_snapshot(version.steps)
    return _STEP_CACHE[key]
