"""The clinical rules: which mentions raise which severity, and why.

Every rule adds (severity, category, reason); the reply's severity is the highest added.
Where the seeds leave room, a rule takes the higher level: a missed red flag costs more
than a call-back. Sources are seed 000 ("When to Seek Medical Attention", "Common Side
Effects", "Rare but Serious Complications") and seed 002 ("After the Injection").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reminders.triage import criteria, cues
from reminders.triage.model import Severity, Thresholds
from reminders.triage.parse import Glucose, PainScore, Temperature, YesNo
from reminders.triage.questions import Question
from reminders.triage.scan import ALL_CONCEPTS, Findings, Hit

_BLEEDING_NOW = frozenset({"bleeding", "bleeds", "sangra", "sangrando", "sangrado", "bleed"})
_SMALL = frozenset({"little", "bit", "slight", "slightly", "tiny", "poco", "poquito", "barely"})
_SPOTS = frozenset({"spots", "couple", "manchitas", "puntito", "puntitos", "dots"})
_RECURRING = frozenset({"again", "keeps", "restarted", "otra", "nuevo", "volvio", "sigue"})
E, U, R = Severity.EMERGENCY, Severity.URGENT, Severity.ROUTINE
_OTHER_SUBJECTS = ("redness", "swelling", "bruise", "numb", "weakness", "hives", "itch", "bleed")
_ALLERGY = ("hives", "face_swelling", "throat", "itch", "dizzy")
# Fever mentions that only name a temperature ("have a temperature of 36.9").
_NAMES_A_TEMPERATURE = ("temp", "have", "has", "had", "got", "with", "tengo", "con")


class Verdict:
    def __init__(self) -> None:
        self.severity = Severity.NONE
        self.categories: dict[str, Severity] = {}
        self.reasons: list[str] = []

    def add(self, severity: Severity, category: str, reason: str) -> None:
        self.severity = max(self.severity, severity)
        previous = self.categories.get(category)
        if previous is None or severity > previous:
            self.categories[category] = severity
        if reason not in self.reasons:
            self.reasons.append(reason)


@dataclass(frozen=True, slots=True)
class Context:
    f: Findings
    th: Thresholds
    hours: float | None  # since the procedure: given by the caller, else read from the text
    pain: PainScore | None
    glucose: Glucose | None
    temperature: Temperature | None
    answer: YesNo | None
    question: Question | None

    def fever(self) -> bool:
        t = self.temperature
        if t is not None and t.celsius >= self.th.fever_celsius:
            return True
        hits = self.f.active("fever")
        if t is not None and t.celsius < 37.5:
            # "temperature of 36.9" names a temperature, not a fever; "had a fever scare
            # but the thermometer said 98.4" measured it away.
            toks = self.f.doc.tokens
            hits = [h for h in hits if not toks[h.first].startswith(_NAMES_A_TEMPERATURE)
                    and not t.celsius < 37.3]
        return bool(hits)

    def glucose_low(self) -> bool:
        g = self.glucose
        if g is not None and g.flag == "LO":
            return True
        if g is not None and g.mg_dl is not None and g.mg_dl < self.th.glucose_low_mg_dl:
            return True
        return self.f.has("sugar_low")


def emergencies(c: Context, v: Verdict) -> None:
    f = c.f
    if f.has("breathing"):
        v.add(E, "breathing", "difficulty breathing")
    if f.has("throat"):
        v.add(E, "allergic_reaction", "throat, tongue or lip swelling/tightness")
    if f.has("chest"):
        v.add(E, "chest_pain", "chest pain")
    for h in f.active("faint"):
        if f.near_miss(h):
            v.add(U, "allergic_reaction", "nearly fainted")
        else:
            v.add(E, "allergic_reaction" if f.has(*_ALLERGY) else "other", "fainted or passed out")
    for h in f.active("bleed_uncontrolled"):
        # Only words about amount soften it: "the shot spot keeps bleeding" is a place.
        small = any(t in _SMALL for t in f.window(h))
        v.add(U if small else E, "bleeding", "bleeding that will not stop")
    if f.has("rigors"):
        v.add(E, "infection", "rigors / shaking chills")
    if (c.fever() or f.has("chills")) and f.has("shaking"):
        v.add(E, "infection", "fever or chills with shaking")
    if f.has("confusion"):
        if c.fever() or f.has("chills", "rigors", "pus", "infection_word"):
            v.add(E, "infection", "confusion with fever or infection signs")
        elif c.glucose_low():
            v.add(E, "glucose_low", "confusion with low glucose")
        else:
            v.add(U, "other", "new confusion")
    if f.has("hives") and f.has("widespread") and f.has("face_swelling", "swelling", "throat"):
        v.add(E, "allergic_reaction", "widespread hives with swelling (anaphylaxis signs)")


def infection(c: Context, v: Verdict) -> None:
    f = c.f
    t = c.temperature
    if c.fever():
        measured = t is not None and t.celsius >= c.th.fever_celsius
        v.add(U, "infection", f"temperature {t.celsius:.1f} C" if t and measured else "fever")
    elif t is not None and t.celsius >= 37.5:
        v.add(R, "infection", f"borderline temperature {t.celsius:.1f} C")
    signs = (
        ("chills", "chills"),
        ("pus", "pus, discharge or bad smell"),
        ("infection_word", "patient reports infection"),
        ("hot_touch", "site hot to the touch"),
    )
    for name, reason in signs:
        if f.has(name):
            v.add(U, "infection", reason)
    for h in f.active("redness"):
        if f.near(h, "expanding") and not _on_face(f, h):
            v.add(U, "infection", "spreading or increasing redness")
    local = [
        n for n in ("redness", "swelling", "warmth") if any(not _on_face(f, h) for h in f.active(n))
    ]
    if len(local) >= 2:
        v.add(U, "infection", "local signs together: " + "+".join(local))
    elif local in (["redness"], ["warmth"]):
        v.add(R, "infection", f"mild {local[0]} at the site (watch for spread)")


def _on_face(f: Findings, h: Hit) -> bool:
    """A red/hot/swollen mention in a clause about the face, not the injection site."""
    return f.near(h, "face_word") and not f.near(h, "site_word")


def allergy(c: Context, v: Verdict) -> None:
    f = c.f
    if f.has("hives"):
        v.add(U, "allergic_reaction", "hives or rash")
    if f.has("face_swelling"):
        v.add(U, "allergic_reaction", "facial swelling")
    if f.has("itch"):
        if f.has("widespread"):
            v.add(U, "allergic_reaction", "widespread itching")
        else:
            v.add(R, "allergic_reaction", "local itching")
    if f.has("dizzy"):
        v.add(U, "allergic_reaction", "dizziness")


def _about_pain(f: Findings, h: Hit) -> bool:
    """ "getting worse" is about pain unless the clause is about another symptom."""
    return f.near(h, "sore") or not f.near(h, *_OTHER_SUBJECTS)


def pain(c: Context, v: Verdict) -> None:
    f, th, p = c.f, c.th, c.pain
    if p is not None:
        if p.score >= th.pain_urgent:
            v.add(U, "severe_pain", f"pain {p.score}/10 (>= {th.pain_urgent})")
        elif p.score >= 4:
            v.add(R, "other", f"moderate pain {p.score}/10")
    if f.has("pain_severe"):
        v.add(U, "severe_pain", "severe pain described")
    for h in f.active("pain_strong"):
        low_score = p is not None and p.score < th.pain_urgent
        v.add(R if low_score or f.minimized(h) else U, "severe_pain", "strong pain described")
    if f.has("cant_bear_weight"):
        v.add(U, "severe_pain", "cannot walk or bear weight")
    in_window = c.hours is not None and c.hours <= th.flare_window_hours
    for h in f.active("pain_worse_strong"):
        if _about_pain(f, h):
            if f.minimized(h):
                _flare(c, v, in_window or c.hours is None)
            else:
                v.add(U, "severe_pain", "pain much worse or worsening")
    for h in f.active("pain_worse_mild"):
        if _about_pain(f, h):
            flare_word = f.doc.tokens[h.first] in {"flare", "flaring", "flared", "flares", "brote"}
            low_score = p is not None and p.score < th.pain_urgent
            ok_unknown = c.hours is None and (f.minimized(h) or flare_word or low_score)
            _flare(c, v, in_window or ok_unknown)
    if p is None and f.has("sore"):
        v.add(R, "expected_side_effect", "soreness at the site")


def _flare(c: Context, v: Verdict, expected: bool) -> None:
    if expected:
        v.add(R, "expected_side_effect", "pain up a little (steroid flare, expected 24-48 h)")
    else:
        v.add(U, "severe_pain", "pain worse beyond the 48 h flare window or time unknown")


def numbness(c: Context, v: Verdict) -> None:
    f = c.f
    if f.has("weakness_motor"):
        v.add(U, "numbness_weakness", "leg gave way or cannot be moved")
    for h in f.active("numb") + f.active("weakness"):
        if f.near(h, "numb_new") and not f.near(h, "numb_still"):
            v.add(U, "numbness_weakness", "new or worsening numbness/weakness")
        else:
            _numb_still(c, v)


def _numb_still(c: Context, v: Verdict) -> None:
    limit = c.th.numbness_urgent_after_hours
    if c.hours is None:
        v.add(U, "numbness_weakness", "numbness/weakness, time since procedure unknown")
    elif c.hours >= limit:
        v.add(U, "numbness_weakness", f"numbness/weakness still present after {limit:g} h")
    else:
        v.add(R, "numbness_weakness", f"numbness within {limit:g} h (local anaesthetic)")
        v.add(R, "expected_side_effect", "local anaesthetic numbness")


def bleeding(c: Context, v: Verdict) -> None:
    f = c.f
    for h in f.active("bleed"):
        # "a little bleeding ... again": bleeding that keeps coming back is not spotting.
        again = any(t in _RECURRING for t in f.window(h, before=4, after=6))
        # "bleeding a little from the site" is still bleeding; "a spot of blood on the
        # plaster" is spotting.
        active = f.doc.tokens[h.first] in _BLEEDING_NOW
        spotting = f.minimized(h) or any(t in _SPOTS for t in f.window(h, before=4, after=2))
        if spotting and not f.intensified(h) and not again and not active:
            v.add(R, "bleeding", "minor spotting")
        else:
            v.add(U, "bleeding", "bleeding")
    for name, what in (("bruise", "bruise"), ("swelling", "swelling")):
        for h in f.active(name):
            # "a lump where they injected, like a golf ball and growing": the next clause
            # still describes it.
            growing = any(e.seg in (h.seg, h.seg + 2) for e in f.active("expanding"))
            if growing or f.intensified(h):
                v.add(U, "bleeding", f"expanding or large {what}")
            elif name == "bruise" or not f.has("redness", "warmth"):
                v.add(R, "expected_side_effect", f"mild {what}")


def glucose(c: Context, v: Verdict) -> None:
    g, th, f = c.glucose, c.th, c.f
    if g is not None:
        if g.flag == "HI":
            v.add(U, "glucose_high", "meter reads HI (above its range)")
        elif g.flag == "LO":
            v.add(U, "glucose_low", "meter reads LO (below its range)")
        elif g.mg_dl is not None and g.mg_dl > th.glucose_high_mg_dl:
            v.add(U, "glucose_high", f"glucose {g.mg_dl:.0f} mg/dL > {th.glucose_high_mg_dl:g}")
        elif g.mg_dl is not None and g.mg_dl < th.glucose_low_mg_dl:
            v.add(U, "glucose_low", f"glucose {g.mg_dl:.0f} mg/dL < {th.glucose_low_mg_dl:g}")
        elif g.mg_dl is not None and g.mg_dl > th.glucose_elevated_mg_dl:
            v.add(R, "glucose_high", f"glucose {g.mg_dl:.0f} mg/dL raised (steroid rise)")
        return
    for h in f.active("sugar_high"):
        inside = f.doc.tokens[h.first : h.last + 1]  # "sugar is crazy high"
        strong = f.intensified(h) or any(t in cues.INTENSIFIERS for t in inside)
        v.add(U if strong else R, "glucose_high", "patient reports high sugar")
    if f.has("sugar_low"):
        v.add(U, "glucose_low", "patient reports low sugar")


def expected_effects(c: Context, v: Verdict) -> None:
    if c.f.has("flushing"):
        v.add(R, "expected_side_effect", "flushing or sweating (common after steroid)")


def answers(c: Context, v: Verdict) -> None:
    q, a = c.question, c.answer
    if a is None or q is None or a.answer != q.concerning:
        return
    if q.key == "numbness_worn_off":
        _numb_still(c, v)
    else:
        v.add(Severity(q.level), q.category, f"answered {a.answer} to {q.key}")


CRITERIA = criteria.load(concepts=frozenset(c.name for c in ALL_CONCEPTS))

# Danger signs that can come back, or were masked: "had trouble breathing last night, fine
# now" is not settled. Stroke signs that pass may be a TIA: still an emergency.
_RETURNING_EMERGENCY = ("facial_droop", "slurred_speech", "one_sided_weakness", "vision_loss",
                        "unresponsive", "seizure")
_RETURNING = ("breathing", "throat", "chest", "faint", "confusion",
              "bleed_uncontrolled", "thunderclap", "lips_blue", "self_harm", "limb_cold")
_ANTIPYRETICS = frozenset(
    {"tylenol", "paracetamol", "acetaminophen", "acetaminofen", "ibuprofen", "ibuprofeno",
     "advil", "motrin", "aspirin", "aspirina", "panadol", "aleve", "naproxen", "naproxeno",
     "mejoral", "dolex", "tempra", "medicine", "medicina", "pill", "pills", "pastilla",
     "pastillas", "meds", "medicamento"}
)


def clinical_criteria(c: Context, v: Verdict) -> None:
    criteria.apply(CRITERIA, c, v)


def passed_danger(c: Context, v: Verdict) -> None:
    """A danger sign that has passed is not resolved when it can return or was masked."""
    f = c.f
    for name in _RETURNING_EMERGENCY + _RETURNING:
        for h in f.all(name):
            if h.resolved and not h.negated and not h.hypothetical:
                if name in _RETURNING_EMERGENCY:
                    # A stroke sign that passes may be a TIA; someone who "came to" was
                    # unconscious: both still need emergency care.
                    cat = "neurological" if name in ("unresponsive", "seizure") else "stroke"
                    v.add(E, cat, f"{name.replace('_', ' ')} that passed: still an emergency")
                else:
                    v.add(U, "other", f"{name.replace('_', ' ')} earlier, settled now: can return")
    toks = f.doc.tokens
    for h in f.all("fever"):
        if (h.resolved or h.negated) and not h.hypothetical:
            lo, hi = max(0, h.first - 12), min(len(toks), h.last + 12)
            if any(t in _ANTIPYRETICS for t in toks[lo:hi]):
                v.add(U, "infection", "fever brought down with medicine (masked, not gone)")


RULES: tuple[Callable[[Context, Verdict], None], ...] = (
    emergencies, infection, allergy, pain, numbness, bleeding, glucose, expected_effects, answers,
    clinical_criteria, passed_danger,
)
