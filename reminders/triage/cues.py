"""Context words that change what a symptom mention means.

"no fever", "fever is gone", "what if I get a fever?" and "I have a fever" all contain
"fever"; only the last is a red flag. These sets decide which is which. They are kept
small and explicit because every word here can hide a real symptom: when in doubt a word
is left out, so the mention counts (a false alarm is cheaper than a missed red flag).
"""

from __future__ import annotations

import re

from reminders.triage.lexicon import rx

NEGATORS = frozenset(
    {
        "no", "not", "never", "without", "none", "nor", "neither", "dont", "doesnt",
        "didnt", "havent", "hasnt", "hadnt", "isnt", "arent", "wasnt", "werent", "cant",
        "cannot", "denies", "deny", "zero", "sin", "ni", "nunca", "tampoco", "ningun",
        "ninguna", "ninguno", "free", "nada", "nothing", "nope",
    }
)

# Words that may sit between a negator and the symptom without ending its reach.
NEGATION_FILLERS = frozenset(
    {
        "a", "an", "the", "any", "some", "signs", "sign", "of", "real", "really", "more",
        "have", "has", "had", "got", "get", "i", "im", "is", "its", "it", "there", "theres",
        "was", "been", "see", "seen", "noticed", "notice", "feel", "felt", "evidence",
        "symptoms", "do", "did", "much", "at", "all", "yet", "or", "think", "my", "longer",
        "anymore", "even", "obvious", "la", "el", "los", "las", "de", "tengo", "tiene",
        "hay", "he", "ha", "tenido", "senal", "senales", "signos", "sintomas", "mas", "me",
        "una", "un", "o", "mi", "veo", "noto", "notado", "visto", "ya", "that",
        "this", "new", "nuevo", "nueva", "around", "near",
    }
)

# Words that end a negator's reach: "not sure if it's infected" is not a negation, and
# "can't get rid of this fever" or "no se me quita la fiebre" affirm the fever. So do
# "and"-lists: "no fever and pus coming out" must still see the pus.
NEGATION_BREAKERS = frozenset(
    {
        "sure", "certain", "know", "if", "whether", "si", "rid", "away", "stop", "stops",
        "stopping", "quita", "quitar", "pasa", "baja", "bajar", "worried", "worry",
        "concerned", "tell", "say", "only", "just", "seguro", "segura", "and", "y", "plus",
        "also", "with", "con", "because", "cause", "porque", "sabe", "se", "except",
    }
)

# "Fever: no", "fiebre no", "pus - none".
POSTFIX_NEGATORS = frozenset(
    {"no", "none", "nope", "nil", "negative", "ninguna", "ninguno", "nada", "free", "nah",
     "nop", "negativo", "never", "nunca"}
)

# Resolution after the mention, in the same clause. Strong words end any symptom; weak
# ones ("better", "going down") only settle the mild local ones: a fever "going down"
# is still a fever.
STRONG_RESOLUTION = frozenset(
    {"gone", "resolved", "wore", "worn", "cleared", "disappeared", "stopped", "broke",
     "desaparecio", "resolvio", "quito", "quitaron", "paso", "fue", "fueron", "ido",
     "settled", "paro", "calmo"}
)
WEAK_RESOLUTION = frozenset(
    {"better", "improved", "improving", "down", "subsided", "subsiding", "settled",
     "settling", "faded", "fading", "mejor", "mejoro", "mejorando", "bajando", "bajo",
     "less", "menos", "wearing"}
)
# Spanish "fue/paso/ido" resolve only after "se" ("se fue", "se me paso"): alone they are
# "was" or "happened".
NEEDS_SE = frozenset({"fue", "fueron", "paso", "ido", "quito", "quitaron", "paro"})
PRONOUN_OPENERS = frozenset(
    {"it", "its", "that", "thats", "they", "theyre", "both", "ya", "now", "which"}
)

MINIMIZERS = frozenset(
    {
        "little", "bit", "slight", "slightly", "mild", "mildly", "minor", "small", "tiny",
        "touch", "tad", "barely", "hardly", "spot", "speck", "dot", "drop", "drops", "few",
        "poco", "poquito", "poquita", "leve", "levemente", "ligero", "ligera",
        "ligeramente", "gota", "gotas", "gotita", "gotitas", "manchita", "pequeno",
        "pequena", "algo",
    }
)
INTENSIFIERS = frozenset(
    {
        "very", "really", "so", "extremely", "super", "severe", "severely", "bad", "badly",
        "terrible", "terribly", "massive", "huge", "lots", "lot", "heavily", "muy", "mucho",
        "mucha", "bastante", "demasiado", "fuerte", "tremendo", "enorme", "incredibly",
        "seriously", "insanely", "crazy",
    }
)
NEAR_MISS = frozenset(
    {"almost", "nearly", "casi", "about", "going", "gonna", "like", "might", "punto"}
)
# "the redness", "my fever": a definite mention inside a question is a real symptom.
DEFINITE = frozenset(
    {"the", "my", "this", "that", "these", "those", "mi", "mis", "esta", "este", "esto",
     "estas", "estos"}
)

# Markers that make the rest of the clause hypothetical ("what if I get a fever").
HYPOTHETICAL = rx(
    r"what if", r"what about if", r"if (?:i|you|it|there|theres|my|the|he|she|we)",
    r"in case", r"just in case",
    r"should (?:i|we) (?:\w+ )?(?:worry|be worried|be concerned|be scared|panic|call|go|come)",
    r"what (?:should|do|would|can) (?:i|we) do (?:if|when|about)",
    r"when (?:should|do|would|can|must) (?:i|we) (?:\w+ )?(?:call|worry|go|seek|come|contact|ring"
    r"|text)",
    r"what (?:are|r|is) (?:the )?(?:signs|symptoms|sign|red flags|warning)",
    r"how (?:do|would|will|can) (?:i|we) (?:\w+ )?(?:know|tell|recogni[sz]e|spot)",
    r"how long (?:will|does|should|do|until|before|is|can|might)",
    r"(?:can|could|does|do|will|would|might|may|is it possible) (?:\w+ ){0,4}(?:cause|give"
    r"|lead to|trigger|make)",
    r"(?:prevent|avoid|reduce|risk of|chance of|chances of|likely to|possible to)",
    r"(?:watch|look) (?:out )?for", r"keep an eye (?:out )?for", r"signs? of",
    r"que (?:hago|hacer|debo hacer|pasa|pasaria) (?:si|cuando|en caso)", r"y si",
    r"en caso de", r"por si", r"debo preocuparme", r"me preocupo si",
    r"cuando (?:debo|tengo que|hay que) (?:\w+ )?(?:llamar|ir|preocupar\w*)",
    r"(?:cuales|que) son (?:los |las )?(?:signos|sintomas|senales)",
    r"como (?:se|sabre|puedo saber) si", r"cuanto (?:dura|tarda|tiempo)",
    r"(?:puede|pueden|podria|causa|da) (?:\w+ ){0,3}(?:causar|provocar|dar)",
    r"(?:evitar|prevenir|riesgo de)",
)
# Questions about the expected course ("how long will the numbness last?") ask about an
# expected effect even when it is present; red flags in them still count.
DURATION = rx(
    r"how long", r"cuanto (?:dura|tarda|tiempo)",
    r"when (?:will|does|should) (?:\w+ ){0,3}(?:wear off|go away|stop)",
)
COURSE_EFFECTS = frozenset({"numb", "weakness", "sore", "bruise", "flushing", "swelling", "itch"})
# Spanish "si" is also "yes" with its accent dropped; only read it as "if" in a question.
WEAK_HYPOTHETICAL = rx(r"si (?:me|tengo|tiene|hay|aparece|noto|sale|empieza|le|se|da)")

CORRECTIONS = frozenset(
    {"no", "nope", "actually", "mean", "sorry", "wait", "correction", "rather", "err",
     "oops", "bueno", "digo", "perdon", "realidad", "scratch", "like", "nah", "mejor",
     "bien", "jk", "kidding"}
)
PAST = frozenset(
    {"used", "before", "was", "were", "yesterday", "last", "earlier", "previously",
     "originally", "prior", "antes", "ayer", "anoche", "era", "estaba", "tenia",
     "pre", "from", "de", "started", "initially", "had"}
)
CURRENT = frozenset(
    {"now", "today", "currently", "right", "moment", "tonight", "ahora", "hoy",
     "actualmente", "ahorita", "momento", "still", "todavia", "aun", "is", "es", "esta"}
)
# Question openers. Spanish questions nearly always carry "¿"/"?", and "cuando"/"que"
# also open statements ("cuando camino me duele"), so only unambiguous ones are listed.
QUESTION_START = re.compile(
    r"^(?:can|could|may|should|shall|why|where|which|am i|"
    r"when (?:can|should|do|will|is|does|could|would|am|may)|"
    r"how (?:long|much|many|do|can|should|often|soon|about|will|is|are)|"
    r"what (?:is|are|should|do|can|if|about|time|happens|does|would)|"
    r"(?:is|are) (?:it|that|this|there|these|those)|do (?:i|you|we)|does (?:it|the|this|that)|"
    r"will (?:i|it|the|this|my)|puedo|podria|es normal|se puede|es posible)\b"
)
