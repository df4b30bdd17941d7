"""Protocols: list versions, edit a draft's steps (YAML) and templates, preview the timeline
for a sample patient as it is typed, publish. Published versions are read-only: the
service refuses to change them, and the page shows them without a save button."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import fastapi
from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from reminders.protocols import service as protocols
from reminders.protocols.check import LANGUAGES
from reminders.protocols.loader import Problem
from reminders.protocols.models import ProtocolVersion
from reminders.protocols.preview import (
    ParsedSteps,
    SamplePatient,
    draft_problems,
    parse_steps_yaml,
    preview,
    steps_yaml,
)
from reminders.scheduling import validate_zone
from reminders.web.auth import COORDINATORS, CsrfForm
from reminders.web.pages.common import AnyPage, CoordinatorPage, Page, RowId, input_time, redirect

router = APIRouter()
MAX_STEPS_CHARS = 50_000
MAX_TEMPLATE_CHARS = 5_000
ProtocolKey = Annotated[str, fastapi.Path(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
_TEMPLATE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,58}\.(en|es)$")


def _version(page: Page, version_id: int) -> ProtocolVersion | None:
    version = page.session.get(ProtocolVersion, version_id)
    return version if version is not None and version.clinic_id == page.clinic_id else None


@router.get("/protocols", response_class=HTMLResponse)
def list_protocols(page: AnyPage) -> Response:
    grouped: dict[str, list[ProtocolVersion]] = {}
    for version in protocols.list_versions(session=page.session, clinic_id=page.clinic_id):
        grouped.setdefault(version.key, []).append(version)
    for versions in grouped.values():
        versions.sort(key=lambda v: v.version, reverse=True)
    return page.render("protocols.html", grouped=grouped)


@router.post("/protocols/{key}/draft")
def new_draft(key: ProtocolKey, page: CoordinatorPage, form: CsrfForm) -> Response:
    """Open the protocol's draft, creating it from the latest published version if needed:
    one draft per protocol, so two coordinators do not edit diverging copies."""
    existing = next((v for v in protocols.list_versions(session=page.session,
                                                        clinic_id=page.clinic_id)
                     if v.key == key and v.status == "draft"), None)  # fmt: skip
    if existing is not None:
        return redirect(f"/protocols/versions/{existing.id}")
    try:
        draft = protocols.create_draft(session=page.session, clinic_id=page.clinic_id, key=key)
    except protocols.NotFound:
        return page.not_found("That protocol")
    page.audit("protocol.draft", "protocol", draft.id, key=key, version=draft.version)
    return redirect(f"/protocols/versions/{draft.id}", "draft")


def template_names(parsed: ParsedSteps, version: ProtocolVersion) -> list[str]:
    """Every ``template.lang`` the steps use, in step order (missing ones included, so the
    coordinator can write them)."""
    steps = parsed.steps or protocols.steps_of(version)
    names = dict.fromkeys(f"{s.template}.{lang}" for s in steps for lang in LANGUAGES)
    return list(names)


def _edited_templates(form: FormData) -> dict[str, str]:
    edited = {}
    for name, value in form.multi_items():
        key = name.removeprefix("tpl:")
        if name.startswith("tpl:") and _TEMPLATE_KEY.match(key) and isinstance(value, str):
            edited[key] = value.replace("\r\n", "\n").replace("\x00", "")[:MAX_TEMPLATE_CHARS]
    return edited


def _sample(page: Page, form: Mapping[str, Any]) -> tuple[SamplePatient, dict[str, str]]:
    clinic = page.viewer.clinic
    values: dict[str, str | bool] = {
        "lang": str(form.get("sample_lang") or "en"),
        "tz": str(form.get("sample_tz") or clinic.timezone)[:64],
        "diabetic": str(form.get("sample_diabetic") or "") == "on",
        "visit": str(form.get("sample_visit") or "") == "on",
        "channel": str(form.get("sample_channel") or "sms"),
    }
    lang = values["lang"] if values["lang"] in LANGUAGES else "en"
    channel = values["channel"] if values["channel"] in ("sms", "email") else "sms"
    try:
        tz = validate_zone(str(values["tz"]))
    except ValueError:
        tz, values["tz"] = ZoneInfo(clinic.timezone), clinic.timezone
    performed_at = page.now.replace(second=0, microsecond=0)
    follow_up = performed_at + timedelta(days=14) if values["visit"] else None
    sample = SamplePatient(
        performed_at=performed_at, tz=tz, lang=lang, diabetic=bool(values["diabetic"]),
        follow_up_at=follow_up, channel=channel, clinic_name=clinic.name,
        clinic_phone=clinic.contact_phone or clinic.sms_from,
        emergency_number=clinic.emergency_number,
    )  # fmt: skip
    return sample, {k: str(v) for k, v in values.items()}


def _editor_state(page: Page, version: ProtocolVersion, form: FormData | None) -> dict[str, Any]:
    """What the editor shows: the form's unsaved text if posted, else the stored version."""
    text = steps_yaml(version.steps)
    if form is not None and isinstance(form.get("steps"), str):
        text = str(form.get("steps")).replace("\r\n", "\n")[:MAX_STEPS_CHARS]
    parsed = parse_steps_yaml(text)
    sources = {**version.templates, **(_edited_templates(form) if form is not None else {})}
    problems = draft_problems(key=version.key, injectate=version.injectate, parsed=parsed,
                              sources=sources)  # fmt: skip
    sample, sample_values = _sample(page, form or {})
    try:
        rows = preview(parsed.steps, injectate=version.injectate, sources=sources, sample=sample)
    except OverflowError:  # e.g. "expires: 99999999d" parses but no calendar holds it
        rows, problems = [], [*problems, Problem("steps", None, "a time is out of range")]
    names = template_names(parsed, version)
    return {
        "version": version, "steps_text": text, "problems": problems, "rows": rows,
        "templates": [(n, sources.get(n, "")) for n in names], "sample": sample_values,
        "sample_performed": input_time(sample.performed_at, str(sample.tz)),
        "editable": version.status == "draft",
    }  # fmt: skip


@router.get("/protocols/versions/{version_id}", response_class=HTMLResponse)
def edit(version_id: RowId, page: AnyPage) -> Response:
    version = _version(page, version_id)
    if version is None:
        return page.not_found("That protocol version")
    return page.render("protocol_edit.html", **_editor_state(page, version, None))


@router.post("/protocols/versions/{version_id}/preview", response_class=HTMLResponse)
def live_preview(version_id: RowId, page: AnyPage, form: CsrfForm) -> Response:
    """The preview fragment for the editor's current (unsaved) text."""
    version = _version(page, version_id)
    if version is None:
        return page.not_found("That protocol version")
    return page.render("_preview.html", **_editor_state(page, version, form))


@router.post("/protocols/versions/{version_id}", response_class=HTMLResponse)
def save(version_id: RowId, page: AnyPage, form: CsrfForm) -> Response:
    """Save the draft, or (``action=preview``, the no-JavaScript path) just re-render it."""
    version = _version(page, version_id)
    if version is None:
        return page.not_found("That protocol version")
    state = _editor_state(page, version, form)
    if form.get("action") == "preview":
        return page.render("protocol_edit.html", **state)
    if page.viewer.staff.role not in COORDINATORS:
        raise HTTPException(403, "your role does not allow this")
    if not state["editable"]:
        return page.render("protocol_edit.html", status_code=409, **state)
    parsed = parse_steps_yaml(state["steps_text"])
    if parsed.problems:  # templates may be unfinished in a draft; steps must parse
        return page.render("protocol_edit.html", status_code=422, **state)
    protocols.update_draft(session=page.session, version=version, steps=parsed.raw,
                           templates=_edited_templates(form))  # fmt: skip
    page.audit("protocol.edit", "protocol", version.id, key=version.key, version=version.version)
    return redirect(f"/protocols/versions/{version.id}", "saved")


@router.post("/protocols/versions/{version_id}/publish", response_class=HTMLResponse)
def publish(version_id: RowId, page: CoordinatorPage, form: CsrfForm) -> Response:
    version = _version(page, version_id)
    if version is None:
        return page.not_found("That protocol version")
    state = _editor_state(page, version, None)  # what is saved, not unsaved edits
    if not state["editable"]:
        return page.render("protocol_edit.html", status_code=409, **state)
    if state["problems"]:
        return page.render("protocol_edit.html", status_code=422, publish_blocked=True, **state)
    protocols.publish(session=page.session, version=version)
    page.audit("protocol.publish", "protocol", version.id, key=version.key,
               version=version.version)  # fmt: skip
    return redirect("/protocols", "published")
