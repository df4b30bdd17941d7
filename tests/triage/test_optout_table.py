"""Every reasonable way to say "stop texting me", and the sentences that only look like it.

Alice at Riverside Ortho may say STOP in a dozen ways, in English, Spanish or both; she
may also write "please make it stop" about her knee. The first must end the texts; the
second must reach a nurse and keep the check-ins coming.
"""

from __future__ import annotations

import pytest

from reminders.triage.keywords import detect_keyword

OPT_OUT = "opt-out"  # an opt-out and nothing else
OPT_OUT_AND_MORE = "opt-out + triage"  # an opt-out that also says something to triage
NOT = "not an opt-out"

TABLE: list[tuple[str, str, str]] = [
    # -- carrier keywords alone, any case and punctuation -----------------------------
    ("stop", "STOP", OPT_OUT),
    ("stop-dot", "Stop.", OPT_OUT),
    ("stopall", "STOPALL", OPT_OUT),
    ("stop-all-two-words", "stop all", OPT_OUT),
    ("unsubscribe", "Unsubscribe", OPT_OUT),
    ("cancel", "CANCEL", OPT_OUT),
    ("end", "end", OPT_OUT),
    ("quit", "Quit!", OPT_OUT),
    ("revoke", "REVOKE", OPT_OUT),
    ("optout", "OPTOUT", OPT_OUT),
    ("opt-out-hyphen", "opt-out", OPT_OUT),
    ("alto", "ALTO", OPT_OUT),
    ("parar", "Parar", OPT_OUT),
    ("baja", "BAJA", OPT_OUT),
    ("detener", "detener", OPT_OUT),
    ("stop-please", "STOP please", OPT_OUT),
    ("stop-repeated", "stop stop stop", OPT_OUT),
    ("i-said-stop", "I said STOP!!!", OPT_OUT),
    ("stoooop", "STOOOOP", OPT_OUT),
    ("stop-it", "Stop it.", OPT_OUT),
    ("stop-thanks-sentence", "Stop. Thank you", OPT_OUT),
    # -- English sentences ---------------------------------------------------------
    ("stop-texting-me", "stop texting me", OPT_OUT),
    ("please-stop-texting", "Please stop texting me", OPT_OUT),
    ("stop-these-messages", "stop these messages", OPT_OUT),
    ("stop-sending-me-reminders", "Stop sending me reminders", OPT_OUT),
    ("stop-sending-these", "Please STOP sending these", OPT_OUT),
    ("stop-the-daily-texts", "can you stop the daily texts", OPT_OUT),
    ("quit-texting", "quit texting me please", OPT_OUT),
    ("end-these-messages", "end these messages", OPT_OUT),
    ("cancel-the-reminders", "cancel the reminders", OPT_OUT),
    ("cancel-subscription", "cancel my subscription", OPT_OUT),
    ("no-more-texts", "no more texts", OPT_OUT),
    ("no-more-messages-please", "No more messages please", OPT_OUT),
    ("unsubscribe-me", "unsubscribe me", OPT_OUT),
    ("how-unsubscribe", "how do I unsubscribe?", OPT_OUT),
    ("remove-from-list", "remove me from your list", OPT_OUT),
    ("remove-my-number", "please remove my number", OPT_OUT),
    ("take-me-off", "take me off", OPT_OUT),
    ("take-me-off-list", "Take me off this list", OPT_OUT),
    ("dont-text-anymore", "don't text me anymore", OPT_OUT),
    ("do-not-contact", "Do not contact me again", OPT_OUT),
    ("dont-send-reminders", "don't send me any more reminders", OPT_OUT),
    ("dont-want-reminders", "I don't want these reminders", OPT_OUT),
    ("dont-want-to-get-texts", "I do not want to receive texts anymore", OPT_OUT),
    ("no-longer-want", "I no longer want these messages", OPT_OUT),
    ("want-texts-to-stop", "I want the texts to stop", OPT_OUT),
    ("opt-me-out", "opt me out", OPT_OUT),
    ("revoke-consent", "I revoke my consent", OPT_OUT),
    ("enough-texts", "enough with the texts", OPT_OUT),
    ("done-with-messages", "I'm done with these messages", OPT_OUT),
    # -- Spanish sentences ---------------------------------------------------------
    ("no-mas-mensajes", "no más mensajes", OPT_OUT),
    ("ya-no-quiero-mensajes", "ya no quiero mensajes", OPT_OUT),
    ("no-quiero-recibir", "No quiero recibir más mensajes, gracias", OPT_OUT),
    ("no-me-manden-mas", "no me manden más", OPT_OUT),
    ("no-me-envien-mas-mensajes", "No me envíen más mensajes por favor", OPT_OUT),
    ("ya-no-me-escriban", "ya no me escriban", OPT_OUT),
    ("dejen-de-escribirme", "dejen de escribirme", OPT_OUT),
    ("deja-de-enviarme", "deja de enviarme mensajes", OPT_OUT),
    ("borrenme", "bórrenme de la lista", OPT_OUT),
    ("quitenme", "Quítenme de la lista", OPT_OUT),
    ("me-quiten-de-la-lista", "quiero que me quiten de su lista", OPT_OUT),
    ("darme-de-baja", "quiero darme de baja", OPT_OUT),
    ("me-doy-de-baja", "me doy de baja", OPT_OUT),
    ("basta-de-mensajes", "¡Basta de mensajes!", OPT_OUT),
    ("paren-los-mensajes", "paren los mensajes", OPT_OUT),
    ("alto-por-favor", "alto por favor", OPT_OUT),
    ("cancelar-mensajes", "cancelar los mensajes", OPT_OUT),
    # -- Spanglish -----------------------------------------------------------------
    ("stop-los-mensajes", "stop los mensajes", OPT_OUT),
    ("no-more-mensajes", "no more mensajes", OPT_OUT),
    ("ya-no-quiero-texts", "ya no quiero texts", OPT_OUT),
    ("stop-mandando-mensajes", "stop mandando mensajes please", OPT_OUT),
    ("unsubscribe-por-favor", "unsubscribe por favor", OPT_OUT),
    ("please-no-mas", "please no más mensajes", OPT_OUT),
    # -- opt-out plus something triage must read ------------------------------------
    ("stop-cant-breathe", "STOP. I can't breathe", OPT_OUT_AND_MORE),
    ("stop-texting-and-pus", "please stop texting me. the site is leaking pus", OPT_OUT_AND_MORE),
    ("quit-texts-throbbing", "quit the texts, my leg is throbbing 9/10 and warm", OPT_OUT_AND_MORE),
    ("no-more-messages-fever", "no more messages, I have a fever of 102", OPT_OUT_AND_MORE),
    ("alto-dolor-pecho", "ALTO. tengo dolor en el pecho", OPT_OUT_AND_MORE),
    ("dejen-de-escribirme-fiebre", "dejen de escribirme, tengo fiebre", OPT_OUT_AND_MORE),
    ("stop-comma-numb", "STOP, my leg is numb", OPT_OUT_AND_MORE),
    # -- pleas, clinical and daily-life sentences: never an opt-out --------------------
    ("stop-the-pain", "stop the pain please", NOT),
    ("make-it-stop", "please make it stop", NOT),
    ("it-wont-stop", "the bleeding won't stop", NOT),
    ("bleeding-stopped", "the bleeding stopped", NOT),
    ("stopped-bleeding", "stopped bleeding now", NOT),
    ("stop-by", "can you stop by on the way?", NOT),
    ("stop-sending-pills", "stop sending the pills, I have enough", NOT),
    ("stop-ibuprofen", "stop the ibuprofen?", NOT),
    ("stop-blood-thinner", "should I stop my blood thinner", NOT),
    ("when-stop-icing", "when can I stop icing it", NOT),
    ("cancel-appointment", "cancel my appointment", NOT),
    ("cancel-appointment-tuesday", "I need to cancel my appointment on Tuesday", NOT),
    ("end-of-needle", "the end of the needle hurt", NOT),
    ("end-of-day", "at the end of the day it hurts", NOT),
    ("quit-smoking", "I quit smoking last week", NOT),
    ("no-more-pain", "no more pain!", NOT),
    ("take-me-off-thinner", "can you take me off the blood thinner", NOT),
    ("take-me-to-clinic", "can you take me to the clinic", NOT),
    ("waiting-list", "remove me from the waiting list, I found another date", NOT),
    ("dont-want-pills", "I don't want these pills", NOT),
    ("dont-stop-reminders", "please don't stop the reminders, they help", NOT),
    ("dont-stop-texting", "don't stop texting me", NOT),
    ("dont-text-at-night", "don't text me at night", NOT),
    ("stop-texting-early", "stop texting me so early", NOT),
    ("texts-stopped-question", "why did the texts stop?", NOT),
    ("didnt-unsubscribe", "I didn't unsubscribe, why no texts?", NOT),
    ("start-running", "when can I start running?", NOT),
    ("para-el-sangrado", "para el sangrado?", NOT),
    ("no-para-de-sangrar", "no para de sangrar", NOT),
    ("como-parar-sangrado", "¿cómo parar el sangrado?", NOT),
    ("azucar-alto", "azúcar alto hoy", NOT),
    ("alto-350", "Alto. 350 esta mañana", NOT),
    ("presion-baja", "tengo la presión baja", NOT),
    ("fiebre-baja", "la fiebre baja con paracetamol", NOT),
    ("no-mas-dolor", "¡no más dolor!", NOT),
    ("no-dejen-de-escribirme", "no dejen de escribirme", NOT),
    ("quitenme-el-dolor", "quítenme el dolor por favor", NOT),
    ("baja-laboral", "¿me pueden dar de baja del trabajo?", NOT),
    ("cancelar-cita", "quiero cancelar mi cita", NOT),
    ("no-quiero-pastillas", "ya no quiero tomar la pastilla", NOT),
    ("no-me-manden-receta", "no me manden la receta", NOT),
    ("yes", "yes", NOT),
]


@pytest.mark.parametrize(("text", "outcome"), [(t, o) for _, t, o in TABLE],
                         ids=[name for name, _, _ in TABLE])  # fmt: skip
def test_opt_out_table(text: str, outcome: str) -> None:
    match = detect_keyword(text)
    if outcome == NOT:
        assert match is None or match.kind != "opt_out", match
        return
    assert match is not None and match.kind == "opt_out", match
    assert match.has_extra == (outcome == OPT_OUT_AND_MORE), match


def test_the_table_covers_both_languages_and_both_outcomes() -> None:
    outcomes = [o for _, _, o in TABLE]
    assert len(TABLE) >= 70
    assert outcomes.count(NOT) >= 25 and outcomes.count(OPT_OUT) >= 25
    assert len({name for name, _, _ in TABLE}) == len(TABLE), "ids must be unique"


def test_the_matched_phrase_is_reported_not_the_whole_message() -> None:
    match = detect_keyword("stop texting me, my knee is swollen and hot")
    assert match is not None and match.keyword == "stop texting me" and match.has_extra


@pytest.mark.parametrize("text", ["START", "unstop", "Start please"])
def test_opt_in_keywords_still_work(text: str) -> None:
    match = detect_keyword(text)
    assert match is not None and match.kind == "opt_in"


def test_yes_restores_only_an_opted_out_patient() -> None:
    assert detect_keyword("Sí") is None
    match = detect_keyword("Sí", opted_out=True)
    assert match is not None and match.kind == "opt_in"
