"""The phone menu (IVR): the TwiML for each step of a call to the hotline.

A caller picks a language, finds a person by booking number (with the date of birth) or A-number (the
public locator's rules, disclosure, audit and rate limits, with the calling number and the call in place
of a client address and a browser session, and a budget for all calls together, since caller ID can be
forged), and can then register the number they call from for voice notifications with a
PIN, or ask the call centre to call back. Caller ID can be forged, so a number registered here is not
trusted: the registration stays pending until the one-time code that vinex places in a call to that
number is keyed in on a later call (main menu, option 3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from phonenumbers import timezone as number_timezones
from twilio.twiml.voice_response import Gather, VoiceResponse

from vinex.audit.unit import Actor, audit_unit
from vinex.hotline import selectors, services
from vinex.hotline.models import CallOutcome
from vinex.locator.ratelimit import RetryAfter, budget_check, rate_limit_check
from vinex.locator.selectors import (
    ByANumber,
    ByBooking,
    LocatorQuery,
    LocatorResult,
    agency_choices,
    locator_actor,
    locator_client_ref,
    locator_search_public,
    subject_ref_make,
    subject_ref_person_id,
)
from vinex.notify.messages import status_label
from vinex.notify.models import CallPreference
from vinex.notify.voice import VOICES
from vinex.notify.webhooks import twilio_signed
from vinex.policy.contacts import InvalidContact, normalise_contact
from vinex.registrations.models import Arrival, Registration, RegistrationStatus
from vinex.registrations.services import (
    Check,
    ContactIn,
    RegistrationInvalid,
    registration_preferences_update,
    registration_withdraw,
    verification_check,
)

PEOPLE_SALT = "vinex.hotline.ivr.people"
MAX_CHOICES = 9
# Twilio's <Enqueue> results that mean the caller is no longer waiting for anyone.
LEFT_QUEUE = frozenset({"hangup", "leave", "error", "system-error", "redirected-from-queue"})


@dataclass(frozen=True)
class Step:
    """What Twilio tells us at one step of the call."""

    language: str
    digits: str
    caller: str
    call_sid: str
    params: dict[str, str]


# --- TwiML helpers ----------------------------------------------------------------------------------


def _url(step: str, **params: str) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return f"{settings.VINEX_PUBLIC_URL}/webhooks/twilio/voice/ivr/{step}{query}"


def _say(node: VoiceResponse | Gather, text: str, language: str) -> None:
    voice, locale = VOICES.get(language, VOICES["en"])
    node.say(text, voice=voice, language=locale)


def _ask(step: Step, action: str, prompt: str, *, num_digits: int | None = None,
         finish_on_key: str | None = None, before: str = "") -> VoiceResponse:
    """Speak ``prompt`` while listening for keys; with no keys at all, say goodbye (never loop)."""
    response = VoiceResponse()
    if before:
        _say(response, before, step.language)
    kwargs: dict[str, object] = {"action": action, "method": "POST", "input": "dtmf", "timeout": 8}
    if num_digits is not None:
        kwargs["num_digits"] = num_digits
    if finish_on_key is not None:
        kwargs["finish_on_key"] = finish_on_key
    gather = response.gather(**kwargs)
    _say(gather, prompt, step.language)
    _goodbye(response, step.language, _("We did not hear a choice."))
    return response


def _goodbye(response: VoiceResponse, language: str, text: str = "") -> VoiceResponse:
    if text:
        _say(response, text, language)
    _say(response, _("Thank you for calling. Goodbye."), language)
    response.hangup()
    return response


# --- Steps ----------------------------------------------------------------------------------------


def welcome(step: Step) -> VoiceResponse:
    response = VoiceResponse()
    gather = response.gather(action=_url("language"), method="POST", input="dtmf", num_digits=1, timeout=8)
    with translation.override("en"):
        _say(gather, _("Welcome to vinex, custody information for victims. For English, press 1."), "en")
    with translation.override("es"):
        _say(gather, _("For Spanish, press 2."), "es")
    _goodbye(response, "en")
    return response


def language(step: Step) -> VoiceResponse:
    chosen = {"1": "en", "2": "es"}.get(step.digits)
    if chosen is None:
        return welcome(step)
    with translation.override(chosen):
        return main_menu(Step(chosen, "", step.caller, step.call_sid, {}))


def main_menu(step: Step, before: str = "") -> VoiceResponse:
    prompt = " ".join([
        _("To find a person by booking number, press 1."),
        _("To find a person by A-number, press 2."),
        _("If we called you with a code, press 3 to key it in."),
        _("To ask our call centre to call you back, press 4."),
        _("If you are registered, press 5 to hear your last message again, change how we call you, or stop "
          "updates."),
        _("To speak with someone now, press 0."),
        _("vinex never asks about immigration status."),
    ])
    return _ask(step, _url("menu", lang=step.language), prompt, num_digits=1, before=before)


def menu(step: Step) -> VoiceResponse:
    if step.digits == "1":
        return _agency_prompt(step)
    if step.digits == "2":
        return _ask(step, _url("a-number", lang=step.language), _(
            "Key in the 9 digits of the A-number, then the star key, then the telephone country code of the "
            "country of birth, for example 52 for Mexico, then the pound key."), finish_on_key="#")
    if step.digits == "3":
        return _ask(step, _url("code", lang=step.language), _("Key in the 6-digit code we gave you."),
                    num_digits=6)
    if step.digits == "4":
        return callback(step)
    if step.digits == "5":
        return _mine_pin_prompt(step)
    if step.digits == "0":
        return _enqueue(step)
    return main_menu(step)


def _agency_prompt(step: Step) -> VoiceResponse:
    agencies = agency_choices()[:MAX_CHOICES]
    if len(agencies) == 1:
        return _booking_prompt(step, agencies[0][0])
    choices = " ".join(_("For %(agency)s, press %(digit)s.") % {"agency": name, "digit": index}
                       for index, (_code, name) in enumerate(agencies, start=1))
    return _ask(step, _url("agency", lang=step.language), choices, num_digits=1)


def agency(step: Step) -> VoiceResponse:
    agencies = agency_choices()[:MAX_CHOICES]
    index = int(step.digits) - 1 if step.digits.isdigit() else -1
    if not 0 <= index < len(agencies):
        return _agency_prompt(step)
    return _booking_prompt(step, agencies[index][0])


def _booking_prompt(step: Step, agency_code: str) -> VoiceResponse:
    return _ask(step, _url("booking", lang=step.language, agency=agency_code),
                _("Key in the booking number, then the pound key."), finish_on_key="#")


def booking(step: Step) -> VoiceResponse:
    agency_code = step.params.get("agency", "")
    if step.params.get("number"):  # the booking number was keyed in: these keys are the date of birth
        return _booking_birth(step, agency_code, step.params["number"])
    number = step.digits.strip("#*")
    if not number.isdigit():
        return _booking_prompt(step, agency_code)
    return _birth_prompt(step, agency_code, number)


def _birth_prompt(step: Step, agency_code: str, number: str) -> VoiceResponse:
    # Booking numbers are often sequential: like the web, a booking search needs a second fact.
    return _ask(step, _url("booking", lang=step.language, agency=agency_code, number=number), _(
        "Key in the date of birth as 8 digits: two for the month, two for the day and four for the year. "
        "For example, for May 17, 1980, key in 0 5 1 7 1 9 8 0."), num_digits=8)


def _booking_birth(step: Step, agency_code: str, number: str) -> VoiceResponse:
    digits = step.digits.strip("#*")
    try:
        born = date(int(digits[4:8]), int(digits[0:2]), int(digits[2:4])) if len(digits) == 8 else None
    except ValueError:
        born = None
    if born is None or not number.isdigit():
        return _birth_prompt(step, agency_code, number)
    return _search(step, ByBooking(agency_code, number, date_of_birth=born))


def a_number(step: Step) -> VoiceResponse:
    a_digits, _star, country_code = step.digits.rstrip("#").partition("*")
    region = phonenumbers.region_code_for_country_code(int(country_code)) if country_code.isdigit() else "ZZ"
    if not (len(a_digits) == 9 and a_digits.isdigit()) or region == "ZZ":
        return menu(Step(step.language, "2", step.caller, step.call_sid, {}))
    return _search(step, ByANumber(a_digits, region))


def _client_key(step: Step) -> str:
    """The calling number standing for a client address (in limits, the audit log and abuse checks)."""
    return f"ivr:{_caller_number(step) or step.caller}"


def _search_refused(step: Step) -> RetryAfter | None:
    """The locator's limits: per calling number as per client address, per call as per browser session,
    and budgets for every call together (caller ID and call ids cost an attacker nothing to change)."""
    ivr = budget_check(name="ivr", rate=settings.VINEX_IVR_SEARCH_BUDGET)
    everyone = budget_check(name="global", rate=settings.VINEX_LOCATOR_GLOBAL_BUDGET)
    refused = rate_limit_check(key=f"locator:ivr:number:{step.caller}", rate=settings.VINEX_LOCATOR_RATE)
    per_call = rate_limit_check(key=f"locator:ivr:call:{step.call_sid}", rate=settings.VINEX_LOCATOR_SESSION_RATE)
    return ivr or everyone or per_call or refused


def _search(step: Step, query: LocatorQuery) -> VoiceResponse:
    if _search_refused(step):
        return _goodbye(VoiceResponse(), step.language, _("Too many searches. Please try again later."))
    # Audited like a web search, the caller named by a keyed hash of their number, so the registration
    # check sees a caller who looked up many people.
    results = locator_search_public(query=query, actor=locator_actor(_client_key(step)), via="ivr")[:MAX_CHOICES]
    if not results:
        return main_menu(step, before=_("We found nobody with these details. Some people cannot be shown by "
                                        "phone or on the web."))
    heard = " ".join(_describe(result) for result in results)
    if len(results) == 1:
        return _options(step, results[0].subject_ref, before=heard)
    people = signing.dumps([subject_ref_person_id(subject_ref=r.subject_ref) for r in results], salt=PEOPLE_SALT,
                           compress=True)
    choices = " ".join(_("For %(name)s, press %(digit)s.") % {"name": r.name, "digit": i}
                       for i, r in enumerate(results, start=1))
    return _ask(step, _url("person", lang=step.language, people=people), choices, num_digits=1, before=heard)


def _describe(result: LocatorResult) -> str:
    status = status_label(result.status)
    if result.facility is None:
        return _("%(name)s: %(status)s.") % {"name": result.name, "status": status}
    return _("%(name)s: %(status)s, at %(facility)s.") % {"name": result.name, "status": status,
                                                        "facility": result.facility.name}


def person(step: Step) -> VoiceResponse:
    try:
        people = signing.loads(step.params.get("people", ""), salt=PEOPLE_SALT,
                               max_age=settings.VINEX_SUBJECT_REF_MAX_AGE)
    except signing.BadSignature:
        return main_menu(step)
    index = int(step.digits) - 1 if step.digits.isdigit() else -1
    if not (isinstance(people, list) and 0 <= index < len(people) and isinstance(people[index], int)):
        return main_menu(step)
    return _options(step, subject_ref_make(person_id=people[index],
                                           client_ref=locator_client_ref(_client_key(step))))


def _options(step: Step, subject_ref: str, before: str = "") -> VoiceResponse:
    prompt = " ".join([
        _("To get a phone call at this number when their custody status changes, press 1."),
        _("To ask our call centre to call you back, press 2."),
        _("To search again, press 3."),
    ])
    return _ask(step, _url("options", lang=step.language, ref=subject_ref), prompt, num_digits=1, before=before)


def options(step: Step) -> VoiceResponse:
    ref = step.params.get("ref", "")
    if step.digits == "1":
        if _caller_number(step) is None:
            return main_menu(step, before=_("We cannot see the number you are calling from, so we cannot "
                                            "register it."))
        return _ask(step, _url("pin", lang=step.language, ref=ref), _(
            "Choose a 4-digit PIN and key it in now. When we call you with news, you will key in this PIN to "
            "tell us you heard it, and we stop calling."), num_digits=4)
    if step.digits == "2":
        return callback(step)
    if step.digits == "3":
        return main_menu(step)
    return _options(step, ref)


def _caller_number(step: Step) -> str | None:
    try:
        return normalise_contact("voice", step.caller)
    except InvalidContact:
        return None  # a withheld or unusable caller ID


def pin(step: Step) -> VoiceResponse:
    number = _caller_number(step)
    if number is None or not (len(step.digits) == 4 and step.digits.isdigit()):
        return main_menu(step)
    if rate_limit_check(key=f"hotline:ivr-register:{number}", rate=settings.VINEX_HOTLINE_IVR_REGISTRATION_RATE):
        return _goodbye(VoiceResponse(), step.language, _("Too many registrations from this number today. "
                                                          "Please call again tomorrow."))
    try:
        # One unit: the phone menu's call record and the registration are written (and audited) together.
        with audit_unit(actor=services.hotline_actor(None)):
            call = services.call_record_ivr(call_sid=step.call_sid, language=step.language,
                                            outcome=CallOutcome.REGISTERED)
            services.call_register(call=call, user=None, subject_ref=step.params.get("ref", ""),
                                   language=step.language, contacts=[ContactIn("voice", number)], pin=step.digits,
                                   client_key=_client_key(step), arrival=Arrival.IVR)
    except RegistrationInvalid:
        return main_menu(step, before=_("We could not register you: this search has expired. Please search again."))
    spoken = ", ".join(step.digits)
    return _goodbye(VoiceResponse(), step.language, " ".join([
        _("Thank you. Your PIN is %(pin)s.") % {"pin": spoken},
        _("To make sure this number is yours, we will call it in a moment with a 6-digit code. Write the code "
          "down, call us again, press 3 in the main menu and key it in. Your registration starts then."),
    ]))


def code(step: Step) -> VoiceResponse:
    actor = services.hotline_actor(None)
    verification = selectors.pending_verification_for_number(phone=step.caller, actor=actor)
    if verification is None:
        return main_menu(step, before=_("We have no code waiting for this number."))
    result = verification_check(verification=verification, code=step.digits, actor=actor)
    replies = {
        Check.VERIFIED: _("Thank you, your number is confirmed."),
        Check.ACTIVE: _("Thank you, your number is confirmed. You are now registered for phone calls about this "
                        "person."),
        Check.HELD: _("Thank you, your number is confirmed. Your registration will be reviewed before it starts."),
        Check.REFUSED: _("Thank you. We cannot accept this registration."),
    }
    if result.outcome in replies:
        return _goodbye(VoiceResponse(), step.language, replies[result.outcome])
    if result.outcome == Check.WRONG:
        return _ask(step, _url("code", lang=step.language), _("That code is not right. Key in the 6-digit code "
                                                              "again."), num_digits=6)
    return main_menu(step, before=_("That code can no longer be used. Register again to get a new one."))


def _caller_timezone(number: str) -> str:
    """The caller's time zone when their number tells it, else the hotline's."""
    zones = number_timezones.time_zones_for_number(phonenumbers.parse(number))
    if len(zones) == 1:
        try:
            ZoneInfo(zones[0])
            return str(zones[0])
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return str(settings.VINEX_HOTLINE_TIMEZONE)


def callback(step: Step) -> VoiceResponse:
    number = _caller_number(step)
    if number is None:
        return main_menu(step, before=_("We cannot see the number you are calling from, so we cannot call you "
                                        "back. To speak with someone now, press 0."))
    if rate_limit_check(key=f"hotline:ivr-callback:{number}", rate=settings.VINEX_HOTLINE_CALLBACK_RATE):
        return _goodbye(VoiceResponse(), step.language, _("We already have your request to call you back."))
    now: datetime = timezone.now()
    with transaction.atomic():
        call = services.call_record_ivr(call_sid=step.call_sid, language=step.language,
                                        outcome=CallOutcome.CALLBACK)
        services.callback_schedule(user=None, call=call, due_local=now, timezone_name=_caller_timezone(number),
                                   language=step.language, phone=number)
    return _goodbye(VoiceResponse(), step.language, _("Our call centre will call you back at this number as soon "
                                                      "as they can."))


def _enqueue(step: Step) -> VoiceResponse:
    services.call_enqueue(call_sid=step.call_sid, language=step.language)
    if settings.VINEX_HOTLINE_AGENT_NUMBER:
        return _dial_agent(step)
    return _wait_in_queue(step)


def _wait_in_queue(step: Step) -> VoiceResponse:
    response = VoiceResponse()
    _say(response, _("Please hold. Someone from our call centre will answer you soon."), step.language)
    response.enqueue(settings.VINEX_HOTLINE_QUEUE, action=_url("left", lang=step.language), method="POST")
    return response


def _dial_agent(step: Step) -> VoiceResponse:
    """Ring the call centre's phone; if nobody answers, the caller waits in the queue (``dialled``)."""
    response = VoiceResponse()
    _say(response, _("Please hold while we connect you with our call centre."), step.language)
    response.dial(settings.VINEX_HOTLINE_AGENT_NUMBER, action=_url("dialled", lang=step.language), method="POST",
                  timeout=25)
    return response


def dialled(step: Step) -> VoiceResponse:
    """After ringing the call centre: a finished conversation ends the call; otherwise the caller waits in
    the queue, where an agent takes them by calling the agent line (``agent``)."""
    if step.params.get("DialCallStatus", "") == "completed":
        response = VoiceResponse()
        response.hangup()
        return response
    return _wait_in_queue(step)


def agent(step: Step) -> VoiceResponse:
    """The agent line: an agent who calls it is connected to the caller waiting longest."""
    response = VoiceResponse()
    agents = settings.VINEX_HOTLINE_AGENT_NUMBER
    if not agents or step.caller.replace(" ", "") != agents:
        response.hangup()  # only the call centre's own phone may take callers from the queue
        return response
    response.dial().queue(settings.VINEX_HOTLINE_QUEUE)
    return response


# --- A registered caller (with her PIN): hear the last message, change calls, stop updates ---------

MINE_SALT = "vinex.hotline.ivr.mine"
MINE_MAX_AGE = 600  # seconds a caller's PIN stays good within one call


def _mine_pin_prompt(step: Step, before: str = "") -> VoiceResponse:
    if _caller_number(step) is None:
        return main_menu(step, before=_("We cannot see the number you are calling from, so we cannot find your "
                                        "registration. To speak with someone now, press 0."))
    return _ask(step, _url("mine", lang=step.language), _("Key in your four-digit PIN."), num_digits=4,
                before=before)


def _mine_registrations(step: Step) -> list[Registration]:
    """The registrations the signed reference in this step names (the caller keyed her PIN earlier)."""
    try:
        ids = signing.loads(step.params.get("mine", ""), salt=MINE_SALT, max_age=MINE_MAX_AGE)
    except signing.BadSignature:
        return []
    if not isinstance(ids, list):
        return []
    return list(Registration.objects.filter(public_id__in=ids, status=RegistrationStatus.ACTIVE).select_related(
        "registrant", "subscription"))


def _mine_menu(step: Step, mine: str, before: str = "") -> VoiceResponse:
    prompt = " ".join([
        _("To hear your last message again, press 1."),
        _("To change how we call you, press 2."),
        _("To stop all updates to this number, press 3."),
        _("To go back to the main menu, press 9."),
    ])
    return _ask(step, _url("mine-choice", lang=step.language, mine=mine), prompt, num_digits=1, before=before)


def mine(step: Step) -> VoiceResponse:
    """The caller keyed her PIN: find her registrations on this number."""
    number = _caller_number(step)
    if number is None:
        return main_menu(step)
    if rate_limit_check(key=f"hotline:ivr-pin:{number}", rate=settings.VINEX_HOTLINE_IVR_PIN_RATE):
        return _goodbye(VoiceResponse(), step.language, _("Too many tries. Please call again later."))
    found = selectors.registrations_for_caller(phone=number, pin=step.digits, actor=services.hotline_actor(None))
    if not found:
        return main_menu(step, before=_("We found no registration for this number with that PIN."))
    token = signing.dumps([str(r.public_id) for r in found], salt=MINE_SALT, compress=True)
    return _mine_menu(step, token)


def mine_choice(step: Step) -> VoiceResponse:
    found, token = _mine_registrations(step), step.params.get("mine", "")
    if not found:
        return _mine_pin_prompt(step)
    actor = services.hotline_actor(None)
    if step.digits == "1":
        heard = selectors.last_message_for_caller(registrations=found, language=step.language, actor=actor)
        return _mine_menu(step, token, before=heard or _("We have not sent you any message yet."))
    if step.digits == "2":
        return _ask(step, _url("mine-calls", lang=step.language, mine=token), " ".join([
            _("To be called until you confirm with your PIN, press 1."),
            _("To be called once, then sent a text message or email if you do not answer, press 2."),
            _("To get no calls at all, only text messages and email, press 3."),
        ]), num_digits=1)
    if step.digits == "3":
        return _ask(step, _url("mine-withdraw", lang=step.language, mine=token), _(
            "You will get no more updates at this number about anyone. To confirm, press 9. To go back, press "
            "any other key."), num_digits=1)
    if step.digits == "9":
        return main_menu(step)
    return _mine_menu(step, token)


def mine_calls(step: Step) -> VoiceResponse:
    found, token = _mine_registrations(step), step.params.get("mine", "")
    preference = {"1": CallPreference.STANDARD, "2": CallPreference.GENTLE, "3": CallPreference.NONE}.get(step.digits)
    if not found or preference is None:
        return _mine_menu(step, token) if found else _mine_pin_prompt(step)
    try:
        with transaction.atomic():  # every registration on her number, or none
            for registration in found:
                registration_preferences_update(registration=registration, call_preference=preference,
                                                actor=Actor.registrant(registration.registrant_id),
                                                reason="phone menu")
    except RegistrationInvalid:
        return _mine_menu(step, token, before=_("We cannot stop calls: you have no email or text message number "
                                                "with us. Please call our call centre to add one."))
    return _mine_menu(step, token, before=_("Thank you. We saved how we call you."))


def mine_withdraw(step: Step) -> VoiceResponse:
    found, token = _mine_registrations(step), step.params.get("mine", "")
    if not found:
        return _mine_pin_prompt(step)
    if step.digits != "9":
        return _mine_menu(step, token)
    for registration in found:
        registration_withdraw(registration=registration, actor=Actor.registrant(registration.registrant_id),
                              reason="phone menu")
    return _goodbye(VoiceResponse(), step.language, _("Your updates are stopped. You will get no more messages "
                                                      "at this number."))


def left(step: Step) -> VoiceResponse:
    if step.params.get("QueueResult", "") in LEFT_QUEUE:
        services.call_left_queue(call_sid=step.call_sid)
    response = VoiceResponse()
    response.hangup()
    return response


# --- Views ----------------------------------------------------------------------------------------


Handler = Callable[[Step], VoiceResponse]


def _view(handler: Handler) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    @require_POST
    @twilio_signed
    def view(request: HttpRequest) -> HttpResponse:
        chosen = request.GET.get("lang", "en")
        lang = chosen if chosen in ("en", "es") else "en"
        params = {**request.GET.dict(), "QueueResult": request.POST.get("QueueResult", ""),
                  "DialCallStatus": request.POST.get("DialCallStatus", "")}
        step = Step(lang, request.POST.get("Digits", "").strip(), request.POST.get("From", ""),
                    request.POST.get("CallSid", ""), params)
        with translation.override(lang):
            response = handler(step)
        return HttpResponse(str(response), content_type="application/xml")

    view.__name__ = f"ivr_{handler.__name__.strip('_')}"
    return view


ivr_welcome = _view(welcome)
ivr_language = _view(language)
ivr_menu = _view(menu)
ivr_agency = _view(agency)
ivr_booking = _view(booking)
ivr_a_number = _view(a_number)
ivr_person = _view(person)
ivr_options = _view(options)
ivr_pin = _view(pin)
ivr_code = _view(code)
ivr_left = _view(left)
ivr_dialled = _view(dialled)
ivr_agent = _view(agent)
ivr_mine = _view(mine)
ivr_mine_choice = _view(mine_choice)
ivr_mine_calls = _view(mine_calls)
ivr_mine_withdraw = _view(mine_withdraw)
