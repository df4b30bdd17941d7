"""Protocols: list versions, edit a draft (a form per step, or the advanced YAML view),
preview the timeline for a sample patient as it is typed, publish. Published versions are
read-only: the service refuses to change them, and the page shows them without a save
button. A save that fails stores nothing and shows the whole draft again as typed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import fastapi
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from reminders.enrollments.schemas import InputError
from reminders.protocols import form as step_form
from reminders.protocols import service as protocols
from reminders.protocols.check import LANGUAGES
from reminders.protocols.form import StepForm
from reminders.protocols.models import ProtocolVersion
from reminders.protocols.preview import SamplePatient, preview, steps_yaml
from reminders.scheduling import validate_zone
from reminders.staff.sessions import Viewer
from reminders.web.auth import COORDINATORS, CsrfForm, check_csrf, current_viewer
from reminders.web.pages.common import (
    AnyPage,
    CoordinatorPage,
    Page,
    RowId,
    input_time,
    parse_local,
    redirect,
)
from reminders.web.pages.protocol_form import Draft, Issue, edited_templates, load

router = APIRouter()
# The editor posts some 30 fields per step (read_posted keeps at most 200 steps).
MAX_EDITOR_FIELDS = 6_000
ProtocolKey = Annotated[str, fastapi.Path(pattern=r"^[a-z][a-z0-9_]{0,59}$")]


async def _editor_form(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> FormData:
    """The posted editor, once its CSRF token matched the session's: ``CsrfForm`` with
    room for a long protocol's fields."""
    form = await request.form(max_files=1, max_fields=MAX_EDITOR_FIELDS)
    check_csrf(request, form, viewer.csrf_token)
    return form


EditorForm = Annotated[FormData, Depends(_editor_form)]


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


def template_names(draft: Draft, version: ProtocolVersion) -> list[str]:
    """Every ``template.lang`` the steps use, in step order (missing ones included, so the
    coordinator can write them)."""
    steps = draft.steps or protocols.steps_of(version)
    names = dict.fromkeys(f"{s.template}.{lang}" for s in steps for lang in LANGUAGES)
    return list(names)


def _sample(page: Page, form: Mapping[str, Any]) -> tuple[SamplePatient, dict[str, str]]:
    clinic = page.viewer.clinic
    values: dict[str, str | bool] = {
        "lang": str(form.get("sample_lang") or "en"),
        "tz": str(form.get("sample_tz") or clinic.timezone)[:64],
        "diabetic": str(form.get("sample_diabetic") or "") == "on",
        "visit": str(form.get("sample_visit") or "") == "on",
        "channel": str(form.get("sample_channel") or "sms"),
        "performed_error": "",
    }
    lang = values["lang"] if values["lang"] in LANGUAGES else "en"
    channel = values["channel"] if values["channel"] in ("sms", "email") else "sms"
    try:
        tz = validate_zone(str(values["tz"]))
    except ValueError:
        tz, values["tz"] = ZoneInfo(clinic.timezone), clinic.timezone
    performed_at = page.now.replace(second=0, microsecond=0)
    typed = str(form.get("sample_performed") or "")[:32]
    try:  # the coordinator's sample procedure time, read in the sample patient's zone
        performed_at = parse_local(typed, str(tz), "sample_performed") or performed_at
    except InputError:
        values["performed_error"] = "Not a date and time; showing the procedure as now."
    follow_up = performed_at + timedelta(days=14) if values["visit"] else None
    sample = SamplePatient(
        performed_at=performed_at, tz=tz, lang=lang, diabetic=bool(values["diabetic"]),
        follow_up_at=follow_up, channel=channel, clinic_name=clinic.name,
        clinic_phone=clinic.contact_phone or clinic.sms_from,
        emergency_number=clinic.emergency_number,
    )  # fmt: skip
    return sample, {k: str(v) for k, v in values.items()}


def _editor_state(page: Page, version: ProtocolVersion, form: FormData | None) -> dict[str, Any]:
    """What the editor shows: the form's unsaved draft if posted, else the stored version."""
    draft = load(version, form)
    sample, sample_values = _sample(page, form or {})
    try:
        rows = preview(draft.steps, injectate=version.injectate, sources=draft.sources,
                       sample=sample)  # fmt: skip
    except OverflowError:  # e.g. "expires: 99999999d" parses but no calendar holds it
        rows = []
        draft.issues.append(Issue("Steps", "A time is out of range.", "#steps"))
        draft.step_problems = True
    names = template_names(draft, version)
    return {
        "version": version, "draft": draft, "steps_text": draft.steps_text,
        "problems": draft.issues, "rows": rows,
        "templates": [(n, draft.sources.get(n, "")) for n in names], "sample": sample_values,
        "sample_performed": input_time(sample.performed_at, str(sample.tz)),
        "editable": version.status == "draft", "labels": step_form.FIELD_LABELS,
        "when_kinds": step_form.WHEN_KINDS, "answers": step_form.ANSWERS,
        "channels": step_form.CHANNEL_CHOICES, "terms": step_form.CONDITION_TERMS,
        "languages": step_form.LANGUAGE_NAMES, "blank": _blank(),
        "known_concerning": step_form.known_concerning, "step_titles": _titles(draft),
        "yaml_view": steps_yaml([f.raw for f in draft.forms]) if draft.mode == "form" else "",
    }  # fmt: skip


def _titles(draft: Draft) -> dict[str, str]:
    raws = [f.raw for f in draft.forms] if draft.mode == "form" else draft.raw
    return {str(r.get("key")): str(r["title"]) for r in raws if r.get("title")}


def _blank() -> StepForm:
    """The empty step the page's script copies for "Add a step" (uid filled in by it)."""
    return StepForm(uid="uidx0", values=step_form.blank_values())


@router.get("/protocols/versions/{version_id}", response_class=HTMLResponse)
def edit(version_id: RowId, page: AnyPage) -> Response:
    version = _version(page, version_id)
    if version is None:
        return page.not_found("That protocol version")
    return page.render("protocol_edit.html", **_editor_state(page, version, None))


@router.post("/protocols/versions/{version_id}/preview", response_class=HTMLResponse)
def live_preview(version_id: RowId, page: AnyPage, form: EditorForm) -> Response:
    """The preview fragment for the editor's current (unsaved) text."""
    version = _version(page, version_id)
    if version is None:
        return page.not_found("That protocol version")
    return page.render("_preview.html", **_editor_state(page, version, form))


@router.post("/protocols/versions/{version_id}", response_class=HTMLResponse)
def save(version_id: RowId, page: AnyPage, form: EditorForm) -> Response:
    """Save the draft, or (``action=preview``, the no-JavaScript path) just re-render it."""
    version = _version(page, version_id)
    if version is None:
        return page.not_found("That protocol version")
    state = _editor_state(page, version, form)
    if form.get("action") != "save":  # preview, add/remove/move a step, switch views
        return page.render("protocol_edit.html", **state)
    if page.viewer.staff.role not in COORDINATORS:
        raise HTTPException(403, "your role does not allow this")
    if not state["editable"]:
        return page.render("protocol_edit.html", status_code=409, **state)
    draft: Draft = state["draft"]
    if draft.blocking:  # nothing is stored; the page keeps the whole draft as typed
        return page.render("protocol_edit.html", status_code=422, not_saved=True, **state)
    if draft.mode == "form":
        templates = {f"{f.template}.{lang}": text
                     for f in step_form.owners(draft.forms).values()
                     for lang, text in f.texts().items()}  # fmt: skip
    else:
        templates = edited_templates(form)
    protocols.update_draft(session=page.session, version=version, steps=draft.raw,
                           templates=templates)  # fmt: skip
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
