"""Vocabulary for the common, usually expected after-effects and the admin intents.

Pain, numbness, bruising and bleeding, the steroid side effects that sound alarming but
are expected (seed 000 "Common Side Effects": flushing, sweating, flare, blood sugar
rise), plus rescheduling and "I'm fine" replies. Same conventions as ``lexicon.py``.
"""

from __future__ import annotations

from reminders.triage.lexicon import Concept, rx

_LEG = r"(?:leg|legs|foot|feet|knee|toes|thigh|hip)"
_PIERNA = r"(?:pierna|piernas|pie|pies|rodilla|muslo|cadera)"
_FACE = r"(?:face|cheeks?|neck|facial)"
_CARA = r"(?:cara|mejillas?|cuello|rostro)"

SYMPTOM_CONCEPTS: tuple[Concept, ...] = (
    # --- numbness and weakness (seed 000: "New or Worsening Numbness or Weakness") ----
    Concept("weakness_motor", rx(
        r"gave (?:way|out)", r"giving (?:way|out)", r"gives (?:way|out)", r"buckl\w*",
        rf"(?:cant|cannot|can not|couldnt|could not|unable to|not able to) (?:lift|move|raise"
        rf"|bend|control|straighten) (?:\w+ ){{0,2}}{_LEG}",
        rf"{_LEG} (?:\w+ ){{0,2}}(?:wont|doesnt|will not|does not|isnt) (?:\w+ )?(?:work\w*|move"
        rf"|hold|respond\w*|support)",
        r"foot drop", rf"dragging (?:my |the )?{_LEG}", r"(?:i )?fell (?:down|over)",
        r"i fell", r"me cai", r"me he caido", r"se cayo",
        rf"se me (?:doblo|doblaba|dobla|fue|va|vencio) (?:la|el|mi) {_PIERNA}",
        rf"no (?:puedo|podia|pude|puede) (?:levantar|mover|doblar|controlar) (?:la |mi "
        rf"|el )?{_PIERNA}",
        rf"{_PIERNA} no (?:me )?(?:responde|sostiene|aguanta|funciona)",
        rf"no me (?:sostiene|aguanta|responde) (?:la|el|mi) {_PIERNA}",
    )),
    Concept("numb", rx(
        r"numb\w*", r"numm", r"nubm", r"tingl\w*", r"pins (?:and|n) needles",
        rf"(?:cant|cannot|can not|dont|do not|couldnt) feel (?:my |the )?{_LEG}",
        r"no (?:feeling|sensation) in", r"dead leg", r"entumec\w*", r"adormec\w*",
        r"hormigue\w*", rf"no (?:siento|sentia|siente) (?:la |mi |el )?{_PIERNA}",
        rf"{_PIERNA} (?:\w+ ){{0,2}}dormid[oa]", rf"dormid[oa] (?:la|el|mi) {_PIERNA}",
    ), suppressed_by=("weakness_motor",)),
    Concept("weakness", rx(r"weak", r"weakness", r"weaker", r"debil\w*", r"flojera"),
            suppressed_by=("weakness_motor",)),
    Concept("numb_still", rx(
        r"still", r"remains?", r"persist\w*", r"hasnt (?:worn|gone)", r"not (?:worn|gone)",
        r"sigue", r"sigo", r"todavia", r"aun", r"continua", r"continuo",
        r"no se (?:me )?(?:ha )?(?:quitado|pasado|ido)",
    )),
    Concept("numb_new", rx(
        r"new", r"newly", r"worse", r"worsening", r"spreading", r"getting (?:more )?numb\w*",
        r"more numb", r"started", r"starting", r"starts", r"nuev[oa]", r"peor",
        r"empeor\w*", r"mas (?:entumecid|adormecid)\w*", r"empez\w*", r"comenz\w*",
    )),
    # --- pain (seed 000: "Severe or Worsening Pain", "Steroid Flare") -----------------
    Concept("pain_severe", rx(
        r"worst (?:\w+ ){0,2}pain", r"worst (?:it|its) (?:has|have|s) (?:ever )?(?:been|felt)",
        r"(?:severe|excruciating|unbearable|unbearible|agoni[sz]ing|intolerable|extreme|crippling"
        r"|intense|horrendous|screaming) (?:\w+ ){0,2}(?:pain|ache|hurt\w*)",
        r"pain (?:is )?(?:\w+ )?(?:severe|excruciating|unbearable|unbearible|agoni[sz]ing"
        r"|intolerable|extreme|crippling|killing me|through the roof)",
        r"(?:cant|cannot|can not) (?:stand|take|handle|bear|cope with) (?:the |this |my )?pain",
        r"killing me", r"in agony", r"agony", r"insoportable", r"inaguantable",
        # Alone, as the whole answer to "how is the pain?"
        r"excruciating", r"unbearable", r"unbearible", r"agoni[sz]ing", r"intolerable",
        r"el peor dolor", r"dolor (?:muy |bien |super )?(?:fuerte|intenso|terrible|horrible"
        r"|severo|insoportable|espantoso|tremendo)",
        r"me (?:esta )?matando", r"no (?:aguanto|soporto|puedo con) (?:el |este |mas el )?dolor",
    )),
    Concept("pain_strong", rx(
        r"hurts? (?:\w+ )?(?:a lot|so much|so bad|like hell|really bad|badly|loads)",
        r"(?:really|very|so|extremely|super) (?:painful|sore)", r"really hurts?",
        r"(?:muchisimo|mucho|demasiado|tremendo|bastante) dolor",
        r"duele (?:muchisimo|demasiado|horrible|un monton|mucho|bastante)",
    ), suppressed_by=("pain_severe",)),
    Concept("pain_worse_strong", rx(
        r"(?:much|way|a lot|lots|significantly|far|so much|even|considerably|dramatically|muy"
        r"|mucho|bastante) worse",
        r"worse than (?:before|prior|pre)", r"worse and worse", r"getting worse",
        r"keeps? getting worse", r"worsening", r"increasingly (?:painful|sore)",
        r"mucho peor", r"cada vez peor", r"peor que antes", r"empeorando", r"empeorado",
        r"empeora", r"va a peor", r"mas dolor que antes",
    )),
    Concept("pain_worse_mild", rx(
        r"worse", r"more (?:sore|painful|pain)", r"sorer", r"hurts? more",
        r"pain (?:\w+ ){0,2}(?:went|gone|going|is|has gone) up", r"flare\w*", r"flaring",
        r"brote", r"peor", r"mas dolor", r"duele mas", r"mas adolorid[oa]",
    ), suppressed_by=("pain_worse_strong",)),
    Concept("cant_bear_weight", rx(
        r"(?:cant|cannot|can not|couldnt|unable to|not able to) (?:walk|stand|bear weight"
        r"|put (?:any )?weight|weight bear|get up)",
        r"no (?:puedo|podia|pude|puede) (?:caminar|andar|apoyar|pararme|levantarme"
        r"|ponerme de pie)",
    )),
    Concept("sore", rx(
        r"sore\w*", r"ache\w*", r"aching", r"achy", r"tender\w*", r"stiff\w*", r"hurts?",
        r"hurting", r"painful", r"pain", r"pains", r"discomfort", r"dolor\w*", r"duele",
        r"adolorid[oa]", r"molest\w*", r"rigidez", r"rigid[oa]",
    ), suppressed_by=("chest", "pain_severe", "pain_strong", "pain_worse_strong")),
    # --- bleeding and bruising (seed 000: "Bleeding or Hematoma") ---------------------
    Concept("bleed", rx(
        r"bleed\w*", r"bled", r"bleding", r"bledding", r"bleedin", r"bloody", r"blood",
        r"sangr(?:ado|ando|a|e|o|an|aba)", r"sangre", r"hemorrag\w*",
    ), exclude=rx(
        r"blood (?:sugars?|glucose|pressure|thinners?|tests?|work|levels?|draw|count|results?"
        r"|type|bank)",
        r"(?:azucar|glucosa|analisis|examen|presion) (?:\w+ ){0,2}sangre",
    ), suppressed_by=("bleed_uncontrolled",)),
    Concept("bruise", rx(
        r"bruis\w*", r"brusing", r"bruse", r"brused", r"moret[oa]n\w*", r"morad[oa]",
        r"moraton\w*", r"cardenal\w*", r"hematoma\w*",
    )),
    # --- expected steroid effects (seed 000: "Facial Flushing or Sweating") -------------
    Concept("flushing", rx(
        r"flush\w*", r"hot flash\w*",
        rf"{_FACE} (?:\w+ ){{0,3}}(?:red\w*|hot|warm|flushed|burning|pink|rosy)",
        rf"(?:red|hot|warm|flushed|pink|rosy) {_FACE}",
        rf"red\w* (?:of|on|in) (?:my |the )?{_FACE}",
        r"sweat\w*", r"sudor\w*", r"sudando", r"sude", r"sofoc\w*", r"bochorno\w*",
        r"rubor\w*",
        rf"{_CARA} (?:\w+ ){{0,2}}(?:roj[oa]s?|caliente|colorad[oa]s?|ardiendo|encendid[oa])",
        rf"(?:calor|enrojecimiento|rojez|ardor|roj[oa]s?|colorad[oa]s?) (?:en|de) (?:la |las |el "
        rf"|mi |mis )?{_CARA}",
        r"(?:i|im|i am) (?:\w+ )?(?:hot|warm)", r"(?:feel|feeling) (?:\w+ )?(?:hot|warm|flushed)",
        r"tengo calor",
    ), suppressed_by=("hot_touch", "chills")),
    Concept("sugar_high", rx(
        r"(?:blood )?sugars? (?:\w+ ){0,2}(?:high|higher|up|elevated|raised|spik\w*"
        r"|through the roof)",
        r"high (?:blood )?sugars?", r"hyperglyc\w*",
        r"(?:azucar|glucosa|glucemia) (?:\w+ ){0,2}(?:alt[oa]s?|elevad[oa]|subid[oa]|subio"
        r"|por las nubes)",
        r"hiperglucemia",
    )),
    Concept("sugar_low", rx(
        r"(?:blood )?sugars? (?:\w+ ){0,2}(?:low|lower|dropp\w*|crash\w*|down)",
        r"low (?:blood )?sugars?", r"hypos?", r"hypoglyc\w*",
        r"(?:azucar|glucosa|glucemia) (?:\w+ ){0,2}(?:baj[oa]s?|bajando|bajo)", r"hipoglucemia",
    )),
    # Where a red or hot feeling is: the face (flushing) or the injection site (infection).
    Concept("face_word", rx(_FACE, r"faces", _CARA, r"ears", r"orejas")),
    Concept("site_word", rx(
        r"site", r"injection", r"needle", r"shot", r"hip", r"groin", r"thigh", r"leg", r"buttock",
        r"plaster", r"bandage", r"dressing", r"zona", r"sitio", r"inyeccion", r"cadera", r"pierna",
        r"muslo", r"ingle", r"herida", r"curita", r"venda", r"pinchazo",
    )),
    # --- admin intents and good news ---------------------------------------------------
    Concept("reschedule", rx(
        r"re ?schedul\w*", r"change (?:my |the )?(?:appointment|appt|visit|follow ?up|time|date)",
        r"move (?:my |the )?(?:appointment|appt|visit|follow ?up)",
        r"cancel (?:my |the )?(?:appointment|appt|visit|follow ?up)",
        r"cant make (?:it|the appointment|my appointment|the visit)",
        r"(?:different|another|other|new) (?:day|time|date|appointment)", r"postpone\w*",
        r"push (?:it|my appointment|the appointment) back", r"reprogram\w*",
        r"(?:cambiar|mover|cancelar) (?:la |mi )?(?:cita|consulta)", r"otr[oa] (?:dia|fecha|hora)",
        r"no (?:puedo|voy a poder) (?:ir|asistir)", r"aplazar", r"posponer",
    )),
    Concept("well", rx(
        r"(?:feel\w*|doing|am|im|its|everything|all|going) (?:\w+ )?(?:good|great|fine|better"
        r"|well|ok|okay|amazing|excellent|normal)",
        r"much better", r"all good", r"no (?:problems?|issues?|complaints?|concerns?)",
        r"so far so good", r"(?:me siento|estoy|ando|va|todo|siento) (?:\w+ )?(?:bien|mejor"
        r"|genial|perfecto|perfecta|normal)",
        r"todo bien", r"mucho mejor", r"sin problemas?", r"ningun problema", r"perfectamente",
        r"excelente", r"back to normal", r"pain free", r"painfree", r"sin dolor",
        r"(?:is|are|feels?|looks?|seems?) (?:\w+ )?(?:fine|ok|okay|normal|good)",
    )),
)
