from __future__ import annotations

import email
from email import policy

from vinex.notify.channels.mime import plain_text_message


def parsed(**kwargs: str) -> email.message.EmailMessage:
    defaults = {"sender": "vinex notifications <notifications@vinex.example>", "recipient": "v@example.org",
                "subject": "Custody update: released", "body": "Hello\nthere"}
    raw = plain_text_message(headers={"X-Vinex-Notification": "7"}, **(defaults | kwargs))
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_a_plain_message_reads_back_as_sent() -> None:
    message = parsed()
    assert message["From"] == "vinex notifications <notifications@vinex.example>"
    assert message["To"] == "v@example.org"
    assert message["X-Vinex-Notification"] == "7"
    assert message.get_content() == "Hello\nthere\n" or message.get_content() == "Hello\nthere"
    assert message["Date"]


def test_spanish_subject_and_body_survive() -> None:
    message = parsed(subject="Aviso de custodia: puesta en libertad — José", body="Está previsto el día 5.")
    assert str(message["Subject"]) == "Aviso de custodia: puesta en libertad — José"
    assert message.get_content().strip() == "Está previsto el día 5."


def test_header_injection_is_neutralised() -> None:
    message = parsed(subject="Hi\r\nBcc: everyone@example.org")
    assert message["Bcc"] is None
    assert "Bcc" in str(message["Subject"])
