"""Twilio webhooks: delivery receipts and inbound SMS keywords (STOP/START/HELP).

Every request must carry a valid ``X-Twilio-Signature`` for our public URL; anything else is 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from vinex.audit.unit import Actor
from vinex.notify.models import Contact, Notification
from vinex.notify.services import (
    contact_opt_in,
    contact_opt_out,
    contacts_find,
    notification_record_receipt,
)
from vinex.notify.voice import (
    notification_from_reference,
    voice_call_answered,
    voice_call_ended,
    voice_confirm_by_reply,
    voice_pin_entered,
)
from vinex.policy.contacts import InvalidContact

# Carrier and CTIA conventions, plus the Spanish words Twilio's opt-out handling also honours.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE",
                        "PARAR", "ALTO", "DETENER", "CANCELAR", "BAJA"})
START_WORDS = frozenset({"START", "UNSTOP", "YES", "OPTIN", "INICIAR", "ALTA", "SI"})
HELP_WORDS = frozenset({"HELP", "INFO", "AYUDA"})

View = Callable[[HttpRequest], HttpResponse]


def twilio_signed(view: View) -> View:
    """Refuse requests not signed by Twilio with our auth token for our public URL."""

    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        signature = request.headers.get("X-Twilio-Signature", "")
        url = settings.VINEX_PUBLIC_URL + request.get_full_path()
        validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
        if not (settings.TWILIO_AUTH_TOKEN and signature and validator.validate(url, request.POST.dict(), signature)):
            return HttpResponseForbidden("invalid signature")
        return view(request)

    return wrapper


def _twiml(response: MessagingResponse | VoiceResponse | str) -> HttpResponse:
    return HttpResponse(str(response), content_type="application/xml")


@csrf_exempt
@require_POST
@twilio_signed
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Delivery receipt for a message we sent (MessageSid, MessageStatus, ErrorCode)."""
    sid = request.POST.get("MessageSid", "")
    status = request.POST.get("MessageStatus", "")
    if not sid or not status:
        return HttpResponse("MessageSid and MessageStatus are required", status=400)
    # Our callback URL names the notification, so a receipt faster than the worker's record still finds it.
    notification_id = request.GET.get("notification", "")
    notification_record_receipt(provider_id=sid, provider_status=status, error_code=request.POST.get("ErrorCode", ""),
                                notification_id=int(notification_id) if notification_id.isdigit() else None)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
@twilio_signed
def twilio_inbound_sms(request: HttpRequest) -> HttpResponse:
    """STOP opts the number out at once; START opts back in; HELP answers with how to get help."""
    body = request.POST.get("Body", "").strip().upper().rstrip(".!")
    word = body.split()[0] if body else ""
    actor = Actor.anonymous()  # a text message from a phone number, which names nobody until looked up
    contacts = _contacts_of_sender(request, "sms", actor)
    # The number may be registered for calls only: a reply from it still confirms the call it got.
    callers = _contacts_of_sender(request, "voice", actor)
    known = contacts or callers
    language = known[0].registrant.language if known else ("es" if word in {"AYUDA", "PARAR", "ALTO"} else "en")
    response = MessagingResponse()
    with translation.override(language):
        if word in STOP_WORDS:
            contact_opt_out(contacts=contacts, actor=actor)
            response.message(_("vinex: you will get no more text messages. Reply START to receive them again."))
        elif word in START_WORDS:
            contact_opt_in(contacts=contacts, actor=actor)
            response.message(_("vinex: text messages are on again. Reply STOP to stop, HELP for help."))
        elif word in HELP_WORDS:
            response.message(
                _("vinex custody notifications. Reply STOP to stop. For help call %(phone)s.")
                % {"phone": settings.VINEX_HOTLINE_NUMBER or _("the victim services line")}
            )
        elif known and voice_confirm_by_reply(contacts=[*contacts, *callers]):
            response.message(_("vinex: thank you, we will not call again about this message."))
    return _twiml(response)


def _contacts_of_sender(request: HttpRequest, channel: str, actor: Actor) -> list[Contact]:
    try:
        return contacts_find(channel=channel, value=request.POST.get("From", ""), actor=actor)
    except InvalidContact:
        return []


def _voice_notification(request: HttpRequest) -> tuple[Notification | None, str]:
    ref = request.GET.get("ref", "")
    return notification_from_reference(ref=ref), ref


def _hang_up() -> HttpResponse:
    response = VoiceResponse()
    response.hangup()
    return _twiml(response)


@csrf_exempt
@require_POST
@twilio_signed
def twilio_voice(request: HttpRequest) -> HttpResponse:
    """TwiML for a voice notification call that was answered (by a person or a machine)."""
    notification, ref = _voice_notification(request)
    if notification is None:
        return _hang_up()
    twiml = voice_call_answered(notification=notification, ref=ref, call_sid=request.POST.get("CallSid", ""),
                                answered_by=request.POST.get("AnsweredBy", ""))
    return _twiml(twiml)


@csrf_exempt
@require_POST
@twilio_signed
def twilio_voice_pin(request: HttpRequest) -> HttpResponse:
    notification, ref = _voice_notification(request)
    if notification is None:
        return _hang_up()
    twiml = voice_pin_entered(notification=notification, ref=ref, call_sid=request.POST.get("CallSid", ""),
                              digits=request.POST.get("Digits", ""))
    return _twiml(twiml)


@csrf_exempt
@require_POST
@twilio_signed
def twilio_voice_status(request: HttpRequest) -> HttpResponse:
    """The call ended: schedule the next call unless the PIN confirmed it."""
    notification, _ref = _voice_notification(request)
    if notification is None:
        return HttpResponse(status=204)
    voice_call_ended(notification=notification, call_sid=request.POST.get("CallSid", ""),
                     call_status=request.POST.get("CallStatus", ""), answered_by=request.POST.get("AnsweredBy", ""))
    return HttpResponse(status=204)
