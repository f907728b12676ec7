"""Every notification (email, text message, voice script, the unsubscribe page) is complete in Spanish: the
catalogues are the truth, so a string added in English without its translation fails here."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.actors import ACTOR
from tests.notify.test_messages import recorded
from tests.support.catalogue import english_fragments, english_left, msgids_of, sources, untranslated
from vinex.custody.models import Agency, EventType
from vinex.notify.messages import _withheld_message, correction_notice, render_event_message
from vinex.notify.services import contact_add, registrant_create, unsubscribe_token
from vinex.policy.disclosure import Audience, disclose
from vinex.registrations.messages import code_message, confirmation_message

pytestmark = pytest.mark.django_db
CHANNELS = ("email", "sms", "voice")
SOURCES = sources("notify/templates/notify/*", "notify/messages.py", "notify/voice.py", "notify/webhooks.py",
                  "registrations/messages.py")
MSGIDS = [m for path in SOURCES for m in msgids_of(path)]
ENGLISH = english_fragments(MSGIDS)


def test_the_sources_are_read() -> None:
    assert "Current status" in {m.text for m in MSGIDS}
    assert "You receive this message because you registered with vinex for updates about this person" in ENGLISH


def test_every_message_string_has_a_spanish_translation() -> None:
    assert [f"{m.where}: {m.text}" for m in untranslated(MSGIDS)] == []


@pytest.mark.parametrize("type_", [t.value for t in EventType])
def test_every_event_message_in_spanish_has_no_english_left(agency: Agency, type_: str) -> None:
    event = recorded(agency, type_)
    for channel in CHANNELS:
        message = render_event_message(event=event, channel=channel, language="es", tier="verified_victim",
                                       unsubscribe_url="https://x.example/u/1/")
        assert english_left(f"{message.subject_line}\n{message.body}", ENGLISH) == [], (channel, message.body)


def test_the_spanish_time_names_its_zone(agency: Agency) -> None:
    message = render_event_message(event=recorded(agency, "RELEASED"), channel="email", language="es",
                                   tier="public", unsubscribe_url="https://x.example/u/1/")
    assert "(hora oriental)" in message.body and "-0500" not in message.body and "-0400" not in message.body


def test_the_other_notices_in_spanish_have_no_english_left(agency: Agency) -> None:
    event = recorded(agency, "RELEASED")
    view = disclose(event.subject, audience=Audience.REGISTRANT_MESSAGE, event=event, tier="public")
    texts = []
    for channel in CHANNELS:
        withheld = _withheld_message(view, channel, "es", "https://x.example/u/1/")
        correction = correction_notice(channel=channel, language="es")
        code = code_message(code="123456", minutes=10, channel=channel, language="es")
        confirmation = confirmation_message(name="Ana", manage_url="https://x.example/m", channel=channel,
                                            language="es")
        texts += [withheld.body, correction.body, code.body, code.subject_line, confirmation.body,
                  confirmation.subject_line]
    for text in texts:
        assert english_left(text, ENGLISH) == [], text


def test_the_unsubscribe_page_in_spanish_has_no_english_left(agency: Agency) -> None:
    contact = contact_add(actor=ACTOR, registrant=registrant_create(actor=ACTOR, language="es"), channel="email",
                          value="ana@example.org", verified=True)
    browser = Client(headers={"Accept-Language": "es"})
    url = f"/unsubscribe/{unsubscribe_token(contact=contact)}/"
    pages = [browser.get(url), browser.post(url), browser.get("/unsubscribe/forged/")]
    assert "¿Dejar de enviar mensajes a esta dirección?" in pages[0].content.decode()
    for page in pages:
        assert english_left(page.content.decode(), ENGLISH) == [], page.content.decode()
