"""Symptom vocabulary (English and Spanish), one named concept per clinical idea.

Patterns run over ``Doc.joined``: folded text (no accents, no apostrophes) with tokens
separated by single spaces, so "can't breathe!" is "cant breathe !". ``(?:\\w+ )?`` lets one
word sit in between ("trouble *with* breathing"); punctuation tokens are not ``\\w`` so a
pattern never runs across a comma. Which concept raises which severity lives in
``rules.py``; this module only says what each idea looks like in a text message.

Sources (``/work/shared/seeds``): 000 "When to Seek Medical Attention", "Common Side
Effects", "Rare but Serious Complications"; 002 "After the Injection: What to Expect".
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Concept:
    name: str
    pattern: re.Pattern[str]
    # A hit inside a match of ``exclude`` is not this concept ("blood sugar" is not blood).
    exclude: re.Pattern[str] | None = None
    # A hit overlapping one of these concepts is dropped: the more specific reading wins
    # ("chest pain" is not soreness, a red face is flushing, not a red injection site).
    suppressed_by: tuple[str, ...] = ()


# A filler word between two parts of a phrase; never a negator, so "it's not hot" does
# not read as "it ... hot" (the negator is left outside for scan.py to see).
GAP = r"(?:(?!(?:no|not|isnt|arent|never|nor|sin|ni|nada)\b)\w+ )"
_GAP_AFTER = r"(?: (?!(?:no|not|isnt|arent|never|nor|sin|ni|nada)\b)\w+)"


def rx(*alternatives: str) -> re.Pattern[str]:
    body = "|".join(alternatives).replace(r"(?:\w+ )", GAP).replace(r"(?: \w+)", _GAP_AFTER)
    return re.compile(r"\b(?:" + body + r")\b")


_B = r"(?:breathe?|breathing|breathin|breth|brethe|breating|breathng|breath)"
_SITE = (
    r"(?:site|area|spot|hip|skin|joint|leg|thigh|groin|it|its|injection|zona|sitio|piel|"
    r"cadera|pierna)"
)
_SWELL = r"(?:swell\w*|swollen|swolen|swolle|swolled|puffy|puffed)"
_HINCH = r"(?:hinch\w*|inflamad[oa]s?)"

CONCEPTS: tuple[Concept, ...] = (
    # --- emergency-grade ideas -------------------------------------------------------
    Concept("breathing", rx(
        rf"(?:cant|cannot|can not|couldnt|could not|unable to|not able to|struggl\w* to|hard to"
        rf"|difficult to|harder to|trouble|troubles|difficulty|difficulties|problems?|issues?"
        rf"|hard time|struggl\w*|labou?red|heavy|cant catch my|cant get my) (?:\w+ )?{_B}",
        rf"{_B} (?:is |feels |was |has been |getting |gets )?(?:\w+ )?(?:hard|difficult|labou?red"
        rf"|tough|heavy|shallow|rapid|a struggle|an effort)",
        r"(?:cant|cannot|can not|couldnt|not|unable to) (?:get|getting"
        r"|breathe in) (?:\w+ )?(?:enough )?(?:air|oxygen)",
        r"not (?:getting )?enough air", r"gasping for air", r"air hunger",
        r"short(?:ness)? (?:of )?breath", r"out of breath", r"breathless\w*", r"wheez\w*",
        r"gasping", r"no (?:puedo|podia|pude|puede|podemos) respirar",
        r"(?:dificultad|dificultades|problemas?|trabajo) (?:para|al) respirar",
        r"(?:me|le) cuesta (?:\w+ )?respirar", r"(?:me|le) falta (?:el )?aire",
        r"falta de aire", r"(?:me|se|le) (?:ahogo|ahoga)", r"ahogando", r"ahogandome",
        r"no (?:me )?entra (?:el )?aire", r"respir\w* (?:con dificultad|mal|raro)",
        r"sin aliento",
    ), exclude=rx(
        rf"(?:\w+ ){{0,2}}{_B} (?:\w+ ){{0,3}}(?:nose|nostrils?|nariz)",
        r"(?:stuffy|blocked|runny) nose",
        r"(?:no )?(?:\w+ ){0,3}(?:aire|respirar) (?:\w+ ){0,3}nariz",
    )),
    Concept("throat", rx(
        rf"(?:throat|tongue|tounge|lips?|mouth)(?: \w+){{0,3}}? (?:{_SWELL}|tight\w*|closing"
        rf"|closed|thick\w*)",
        rf"(?:{_SWELL}|tight) (?:\w+ ){{0,2}}(?:throat|tongue|tounge|lips?)",
        r"(?:cant|cannot|can not|trouble|difficulty|hard to|hard time) (?:\w+ )?swallow\w*",
        rf"(?:garganta|lengua|labios?|boca)(?: \w+){{0,3}}? (?:{_HINCH}|cerrando|cerrada|cerro"
        rf"|apretada)",
        r"(?:hinch\w*|inflam\w*|cierra|cerrando) (?:\w+ ){0,2}(?:garganta|lengua|labios?)",
        r"no (?:puedo|puede) tragar", r"(?:dificultad|problemas?) (?:para|al) tragar",
    )),
    Concept("chest", rx(
        r"chest (?:\w+ )?(?:pains?|hurts?|hurting|tight\w*|pressure|discomfort|ache|aching"
        r"|squeez\w*|heavy|heaviness)",
        r"(?:pains?|pressure|tightness|tight|heaviness|ache|squeezing|hurts?|hurting) (?:in|on"
        r"|across|around) (?:my |the )?chest",
        r"chestpain", r"angina",
        r"(?:dolor|presion|opresion|peso|punzada) (?:\w+ )?(?:de|en el|en mi|del) pecho",
        r"(?:me duele|duele|dolor) (?:el|mi) pecho", r"pecho (?:apretado|oprimido)",
    )),
    Concept("faint", rx(
        r"fainted", r"fainting", r"passed out", r"pass(?:ing)? out", r"blacked out",
        r"black(?:ing)? out", r"lost consciousness", r"collapsed", r"desmay\w*",
        r"perdi(?:o)? el (?:conocimiento|sentido)",
    )),
    Concept("bleed_uncontrolled", rx(
        r"(?:wont|will not|doesnt|does not|cant|cannot|can not|isnt|is not|hasnt|has not"
        r"|not) (?:\w+ )?stop(?:ped|ping|s)? (?:\w+ )?bleed\w*",
        r"bleed\w* (?:\w+ ){0,2}(?:wont|will not|doesnt|does not|isnt|hasnt|has not"
        r"|not) (?:\w+ )?stop\w*",
        r"keeps? bleeding",
        r"(?:blood|bleeding) (?:is |has |keeps )?(?:soak\w*|pour\w*|gush\w*|spurt\w*|pump\w*"
        r"|everywhere|dripping)",
        r"soak\w* (?:through|thru|the) (?:\w+ ){0,2}(?:bandage|dressing|plaster|gauze|band aid"
        r"|bandaid|clothes|pants|sheets?|jeans)",
        r"(?:soaked|soaking|dripping) (?:with|in) blood",
        r"(?:gushing|pouring|spurting|squirting) (?:out )?blood",
        r"bleeding (?:heavily|profusely|like crazy)",
        r"no (?:para|paraba|deja|dejaba|ha parado|ha dejado) de sangrar",
        r"sangr\w* (?:sin parar|a chorros|muchisimo|demasiado)",
        r"empap\w* (?:\w+ ){0,3}(?:sangre|venda|vendaje|gasa|curita|ropa)",
        r"chorros? de sangre",
    )),
    Concept("rigors", rx(
        r"rigou?rs?", r"shaking chills",
        r"(?:uncontrollabl[ey]|violently|cant stop|cannot stop|non stop"
        r"|nonstop) (?:\w+ )?(?:shak\w*|shiver\w*|trembl\w*)",
        r"(?:shak\w*|shiver\w*|trembl\w*) (?:all over|uncontrollabl[ey]|violently|so bad|badly"
        r"|non stop|nonstop|like crazy)",
        r"teeth (?:are )?chattering", r"tiritando",
        r"temblando (?:sin parar|mucho|de frio|todo|toda)",
        r"no (?:paro|puedo parar|para) de temblar",
        r"escalofrios (?:muy )?(?:fuertes|intensos|con temblores|terribles)",
        r"temblores", r"tembladera",
    )),
    Concept("confusion", rx(
        r"confused", r"confusion", r"disorient\w*", r"delirious", r"delirium",
        r"not making sense", r"doesnt know where", r"out of it", r"incoherent",
        r"confundid[oa]", r"desorientad[oa]", r"delirando", r"no sabe donde esta",
        r"no reconoce",
    ), exclude=rx(
        r"confus\w* (?:about|by|with|as to|regarding|on|over|why|what|how|which|whether|if|sobre"
        r"|con|acerca|por|que|de|en)",
        r"confusing",
    )),
    # --- infection ------------------------------------------------------------------
    Concept("fever", rx(
        r"fever\w*", r"feaver", r"fevr", r"fevor", r"fiever", r"febrile",
        r"temp(?:erature)?s? (?:is |was |went )?(?:high|up|spik\w*|raised|elevated)",
        r"high (?:temp|temperature)", r"running (?:a )?(?:temp|temperature|fever)",
        r"(?:have|has|had|got|with) (?:a )?(?:temp|temperature)",
        r"fiebre\w*", r"calentura", r"febril", r"afiebrad[oa]", r"febricula",
        r"temperatura (?:alta|elevada)", r"(?:tengo|tiene|tenia|con) temperatura",
    )),
    Concept("chills", rx(
        r"chills", r"chils", r"shivers", r"shivering", r"shivery", r"escalofrios?",
        r"tiritona", r"hot and cold", r"cold and hot", r"frio y calor", r"calor y frio",
    )),
    Concept("shaking", rx(r"shak\w*", r"trembl\w*", r"tembl\w*")),
    Concept("pus", rx(
        r"pus", r"puss", r"pussing", r"ooz\w*", r"discharg\w*", r"drainage", r"draining",
        r"drains", r"weeping", r"leaking", r"leaks", r"seeping",
        r"(?:yellow|green|yellowy|greenish) (?:\w+ )?(?:fluid|stuff|liquid|goo|gunk|crust)",
        r"smells? (?:\w+ )?(?:bad|funny|foul|awful|weird|off)",
        r"(?:bad|foul|funny|awful|weird|strange|nasty|horrible) (?:\w+ )?(?:smell"
        r"|odou?r)", r"stinks",
        r"smelly", r"supur\w*", r"secrecion",
        r"(?:sale|saliendo|sale un|le sale|me sale) (?:\w+ )?(?:liquido|pus|algo|agua)",
        r"drena\w*", r"liquido amarillo", r"mal olor", r"huele mal", r"abscess\w*",
        r"absceso",
    ), exclude=rx(
        r"discharg\w* (?:papers?|instructions?|summary|notes?|letter|sheet|information|info|form"
        r"|paperwork|nurse|date)",
        r"(?:since|after|at|before|upon|on|from) (?:my |the )?discharge", r"discharged",
    )),
    Concept("infection_word", rx(
        r"infect\w*", r"infeccion", r"cellulitis", r"celulitis", r"sepsis", r"septic",
    )),
    Concept("hot_touch", rx(
        r"(?:hot|warm|caliente|calient\w*) (?:to|al) (?:the )?(?:touch|tacto)",
        rf"{_SITE} (?:\w+ ){{0,2}}(?:is |feels |esta |se siente |gets )?(?:very |really |so "
        rf"|super |muy )?(?:hot|caliente)",
    )),
    Concept("redness", rx(
        r"red", r"redness", r"reddish", r"redish", r"rednes", r"redniss", r"reddened",
        r"redder", r"reddening", r"pink", r"pinkish", r"enrojec\w*", r"rojo", r"roja",
        r"rojos", r"rojas", r"rojez", r"rojizo", r"rojiza", r"colorad[oa]",
    ), suppressed_by=("flushing",)),
    Concept("warmth", rx(
        r"warm", r"warmth", r"hot", r"heat", r"caliente", r"calor", r"calentito", r"tibi[oa]",
    ), exclude=rx(
        r"(?:hot|warm) (?:shower|bath|tub|water|pack|packs|compress|pad|tea|coffee|drink|weather"
        r"|day|outside|dog)",
        r"heat(?:ing)? (?:pack|pad|packs|pads)", r"(?:hace|tengo) calor", r"calor (?:afuera|hoy)",
        r"(?:ice|cold) or (?:heat|warm|hot)", r"(?:heat|warm|hot) or (?:ice|cold)",
        r"hielo o calor", r"calor o hielo",
    ), suppressed_by=("flushing", "hot_touch")),
    Concept("swelling", rx(
        _SWELL, r"sweling", r"inflamed", r"lump", r"bump", r"hinchaz\w*", _HINCH,
        r"inflamacion", r"bulto",
    ), suppressed_by=("throat", "face_swelling")),
    Concept("expanding", rx(
        r"getting (?:\w+ )?(?:bigger|larger|worse|redder|wider|darker)", r"bigger",
        r"larger", r"growing", r"grows", r"grown", r"spread\w*", r"expand\w*", r"increas\w*",
        r"huge", r"enormous", r"massive", r"rapid\w*", r"quickly", r"worse", r"worsening",
        r"more and more", r"streak\w*", r"red lines?", r"lines? going up", r"crece\w*",
        r"creciendo", r"crecio", r"mas grande", r"se extiende", r"extendiendo", r"enorme",
        r"cada vez mas", r"aumenta\w*", r"peor", r"rayas? rojas?", r"lineas? rojas?",
        r"doubled", r"double (?:the )?size", r"twice (?:as big|the size)",
        r"(?:size of|big as) (?:an?|my|his|her|the) (?:fist|golf ?ball|orange|egg|tennis ball|"
        r"lemon|plum|hand|palm)",
        r"se (?:ha )?duplicado", r"el doble",
    )),
    # --- allergy --------------------------------------------------------------------
    Concept("face_swelling", rx(
        rf"(?:face|eyes?|eyelids?|cheeks?)(?: \w+){{0,3}}? {_SWELL}",
        rf"{_SWELL} (?:\w+ ){{0,2}}(?:face|eyes?|eyelids?)",
        rf"(?:cara|ojos|parpados|rostro)(?: \w+){{0,3}}? {_HINCH}",
        r"(?:hinch\w*|inflam\w*) (?:\w+ ){0,2}(?:cara|ojos|parpados|rostro)",
    )),
    Concept("hives", rx(
        r"hives?", r"hievs", r"hivs", r"welts?", r"urticaria", r"ronchas?", r"habones",
        r"sarpullido", r"salpullido", r"rash\w*", r"erupcion\w*",
    )),
    Concept("widespread", rx(
        r"all over", r"everywhere", r"whole body", r"entire body", r"full body",
        r"widespread", r"all my body", r"por todo el cuerpo", r"en todo el cuerpo",
        r"por todas partes", r"todo el cuerpo", r"generalizad[oa]s?",
    )),
    Concept("itch", rx(
        r"itch\w*", r"picazon", r"comezon", r"picor", r"me pica", r"pica mucho", r"prurito",
    )),
    Concept("dizzy", rx(
        r"dizz\w*", r"dizy", r"light ?headed\w*", r"woozy", r"vertigo",
        r"room (?:is )?spinning", r"mare(?:o|os|ad[oa]|arme)", r"aturdid[oa]",
        r"(?:feel\w*|felt|almost|nearly|going to|gonna|about to|might) (?:\w+ )?faint\w*",
    ), suppressed_by=("faint",)),
)

def merge(concepts: tuple[Concept, ...]) -> tuple[Concept, ...]:
    """One concept per name (phrases from every source joined), in first-seen order;
    fails fast when a ``suppressed_by`` names a concept that does not exist."""
    by: dict[str, Concept] = {}
    for c in concepts:
        old = by.get(c.name)
        if old is None:
            by[c.name] = c
            continue
        excludes = [x.pattern for x in (old.exclude, c.exclude) if x is not None]
        by[c.name] = Concept(
            c.name,
            re.compile(old.pattern.pattern + "|" + c.pattern.pattern),
            re.compile("|".join(excludes)) if excludes else None,
            old.suppressed_by + tuple(s for s in c.suppressed_by if s not in old.suppressed_by),
        )
    for c in by.values():
        for other in c.suppressed_by:
            if other not in by:
                raise ValueError(f"concept {c.name}: suppressed_by unknown concept {other!r}")
    return tuple(by.values())


_BY_NAME = {c.name: c for c in CONCEPTS}


def concept(name: str) -> Concept:
    return _BY_NAME[name]
