"""Change a clinic's settings (the admin's settings page), validated and audited.

Kept beside clinics/service.py rather than in it: creation is a CLI bootstrap, this is
the day-to-day edit, and each names every field it accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any

from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics import office_hours, sender_rates
from reminders.clinics.models import DEFAULT_THRESHOLDS, Clinic
from reminders.enrollments.schemas import InputError, normalize_phone
from reminders.oncall.models import WEEKDAYS
from reminders.outcomes import prompts
from reminders.protocols.spec import SpecError, parse_time
from reminders.scheduling import validate_zone

# Pages go to staff members on the on-call rota (reminders.oncall), not to numbers typed
# here: the clinic's old on_call_*/backup_* columns are no longer edited.
PHONE_FIELDS = ("sms_from", "contact_phone")
EMAIL_FIELDS = ("email_from",)
TEXT_FIELDS = {"name": 200, "emergency_number": 40, "crisis_line": 40}
MINUTE_FIELDS = ("emergency_ack_minutes", "urgent_ack_minutes")
RETENTION_DAYS = (7, 3650)  # a week (time to read late replies) to ten years
THRESHOLD_LIMITS = {
    "pain_urgent": (1, 10),
    "glucose_high_mg_dl": (120, 600),
    "glucose_low_mg_dl": (40, 120),
    "numbness_urgent_after_hours": (1, 48),
}


def current(clinic: Clinic) -> dict[str, Any]:
    """The editable settings as form values (strings), thresholds flattened."""
    values: dict[str, Any] = {
        "name": clinic.name, "timezone": clinic.timezone,
        "window_opens": clinic.window_opens.strftime("%H:%M"),
        "window_closes": clinic.window_closes.strftime("%H:%M"),
        "emergency_number": clinic.emergency_number, "crisis_line": clinic.crisis_line,
    }  # fmt: skip
    for name in (*PHONE_FIELDS, *EMAIL_FIELDS):
        values[name] = getattr(clinic, name) or ""
    for name in MINUTE_FIELDS:
        values[name] = str(getattr(clinic, name))
    rate = clinic.sms_rate_per_second
    values["sms_rate_preset"] = sender_rates.preset_of(rate)
    # repr reads back as the same float: posting the page unchanged changes nothing.
    values["sms_rate_custom"] = "" if rate is None else repr(rate).removesuffix(".0")
    values["retention_days"] = str(clinic.retention_days)
    thresholds = {**DEFAULT_THRESHOLDS, **(clinic.thresholds or {})}
    for name in THRESHOLD_LIMITS:
        values[name] = f"{thresholds[name]:g}"
    diary = prompts.settings_of(clinic)
    values["diary_minutes"] = ", ".join(prompts.key_suffix(m) for m in diary.minutes)
    values["relief_good_pct"] = f"{diary.good_pct:g}"
    values["relief_strong_pct"] = f"{diary.strong_pct:g}"
    values["baseline_checkin_minutes"] = str(diary.baseline_checkin_minutes or "")
    hours = clinic.office_hours or {}
    for day in WEEKDAYS:
        span = hours.get(day) or ["", ""]
        values[f"hours_{day}_open"], values[f"hours_{day}_close"] = (str(v) for v in span[:2])
    return values


def _office_hours(form: Mapping[str, str], errors: list[tuple[str, str]]) -> dict[str, Any] | None:
    """The weekly office hours from ``hours_<day>_open``/``_close``; both empty is closed,
    one of the two empty is an error on that day (``office_hours.<day>``)."""
    raw: dict[str, Any] = {}
    for day in WEEKDAYS:
        opens = form.get(f"hours_{day}_open", "").strip()
        closes = form.get(f"hours_{day}_close", "").strip()
        if opens or closes:
            raw[day] = [opens, closes]
    try:
        return office_hours.validate(raw)
    except InputError as exc:
        errors.extend(exc.errors)
        return None


def _sending_rate(form: Mapping[str, str], errors: list[tuple[str, str]]) -> float | None:
    """The sender's rate from ``sms_rate_preset`` (default, a preset, or custom with the
    number in ``sms_rate_custom``); None is the deployment's default.

    A form without the select (a scripted post) keeps to the typed number: the page
    always shows the stored rate there, so posting it back changes nothing.
    """
    custom = form.get("sms_rate_custom", "").strip()
    preset = form.get("sms_rate_preset", "").strip() or (
        sender_rates.CUSTOM if custom else sender_rates.DEFAULT
    )
    try:
        if preset == sender_rates.DEFAULT:
            return None
        if preset == sender_rates.CUSTOM:
            if not custom:
                errors.append(("sms_rate_custom", "is required for a custom rate"))
                return None
            return sender_rates.parse(custom, "sms_rate_custom")
        return sender_rates.from_preset(preset, "sms_rate_preset")
    except InputError as exc:
        errors.extend(exc.errors)
        return None


def _diary(form: Mapping[str, str], clinic: Clinic,
           errors: list[tuple[str, str]]) -> dict[str, Any] | None:  # fmt: skip
    """The pain diary's times, relief thresholds and baseline check-in (outcomes/prompts).

    A post without the diary's fields (a scripted one) keeps what is stored."""
    if "diary_minutes" not in form:
        return clinic.diary
    try:
        minutes = list(prompts.parse_minutes(form.get("diary_minutes", "")))
    except ValueError as exc:
        errors.append(("diary_minutes", str(exc)))
        minutes = []
    good = _number(form.get("relief_good_pct", ""), "relief_good_pct", 1, 100, errors)
    strong = _number(form.get("relief_strong_pct", ""), "relief_strong_pct", 1, 100, errors)
    if strong < good:
        errors.append(("relief_strong_pct", "must be at least the first relief threshold"))
    checkin = form.get("baseline_checkin_minutes", "").strip()
    lead = _whole(checkin, "baseline_checkin_minutes", 5, 720, errors) if checkin else None
    new = {"minutes": minutes, "good_pct": good, "strong_pct": strong,
           "baseline_checkin_minutes": lead}  # fmt: skip
    # The page posted back unchanged changes nothing (a clinic on the defaults stays on them).
    same = not errors and prompts.settings_of(clinic) == prompts.from_json(new)
    return clinic.diary if same else new


def _whole(raw: str, field: str, low: int, high: int, errors: list[tuple[str, str]]) -> int:
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        errors.append((field, f"must be a whole number from {low} to {high}"))
        return low
    return int(value)


def _number(raw: str, field: str, low: float, high: float, errors: list[tuple[str, str]]) -> float:
    try:
        value = float(raw)
    except ValueError:
        errors.append((field, "must be a number"))
        return low
    if not low <= value <= high:
        errors.append((field, f"must be between {low:g} and {high:g}"))
    return value


def update(
    *, session: Session, clinic: Clinic, form: Mapping[str, str], actor: str, staff_id: int
) -> list[str]:
    """Apply the form; raise InputError listing every bad field; return the changed names."""
    errors: list[tuple[str, str]] = []
    new: dict[str, Any] = {}
    for name, limit in TEXT_FIELDS.items():
        value = form.get(name, "").strip()
        if not value or len(value) > limit:
            errors.append((name, f"is required (at most {limit} characters)"))
        new[name] = value
    try:
        validate_zone(form.get("timezone", "").strip())
        new["timezone"] = form["timezone"].strip()
    except ValueError as exc:
        errors.append(("timezone", str(exc)))
    for name in ("window_opens", "window_closes"):
        try:
            new[name] = parse_time(form.get(name, ""))
        except SpecError:
            errors.append((name, "use a 24-hour time like 08:00"))
    for name in PHONE_FIELDS:
        value = form.get(name, "").strip()
        try:
            new[name] = normalize_phone(value) if value else None
        except ValueError as exc:
            errors.append((name, str(exc)))
    if not new.get("sms_from") and not any(f == "sms_from" for f, _ in errors):
        errors.append(("sms_from", "is required"))
    for name in EMAIL_FIELDS:
        value = form.get(name, "").strip().lower()
        if value and ("@" not in value or len(value) > 200 or " " in value):
            errors.append((name, "is not an email address"))
        new[name] = value or None
    for name in MINUTE_FIELDS:
        new[name] = int(_number(form.get(name, ""), name, 1, 1440, errors))
    thresholds = dict(clinic.thresholds or {})
    for name, (low, high) in THRESHOLD_LIMITS.items():
        thresholds[name] = _number(form.get(name, ""), name, low, high, errors)
    if thresholds.get("glucose_low_mg_dl", 0) >= thresholds.get("glucose_high_mg_dl", 1):
        errors.append(("glucose_low_mg_dl", "must be below the high threshold"))
    new["office_hours"] = _office_hours(form, errors)
    new["diary"] = _diary(form, clinic, errors)
    new["sms_rate_per_second"] = _sending_rate(form, errors)
    new["retention_days"] = _whole(form.get("retention_days", ""), "retention_days",
                                   *RETENTION_DAYS, errors)  # fmt: skip
    if errors:
        raise InputError(errors)
    new["thresholds"] = {k: (int(v) if float(v).is_integer() else v) for k, v in thresholds.items()}
    return _apply(session=session, clinic=clinic, new=new, actor=actor, staff_id=staff_id)


def set_sending_rate(
    *, session: Session, clinic: Clinic, rate: float | None, actor: str,
    staff_id: int | None = None,
) -> bool:  # fmt: skip
    """Set the sender's rate (None: the deployment's default); True if it changed.

    The limiter and the claim caps read it on their next round, on every worker.
    """
    if rate is not None:
        rate = sender_rates.validate(rate)
    new = {"sms_rate_per_second": rate}
    return bool(_apply(session=session, clinic=clinic, new=new, actor=actor, staff_id=staff_id))


def _apply(
    *, session: Session, clinic: Clinic, new: Mapping[str, Any], actor: str,
    staff_id: int | None,
) -> list[str]:  # fmt: skip
    """Store what differs and audit the names changed (a rate also from → to: not PHI)."""
    changed = [name for name, value in new.items() if getattr(clinic, name) != value]
    details: dict[str, Any] = {}
    if "sms_rate_per_second" in changed:
        details["sms_rate_per_second"] = {"from": clinic.sms_rate_per_second,
                                          "to": new["sms_rate_per_second"]}  # fmt: skip
    for name in changed:
        setattr(clinic, name, new[name])
    if changed:
        audit.record(
            session=session, clinic_id=clinic.id, actor=actor, staff_id=staff_id,
            action="clinic.settings", subject_type="clinic", subject_id=clinic.id,
            changed=sorted(changed), **details,
        )  # fmt: skip
    return changed


def window_text(opens: time, closes: time) -> str:
    return f"{opens:%H:%M}-{closes:%H:%M}"
