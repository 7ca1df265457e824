"""Portal pages of the softphone: the page, its polled state, its actions, its audio."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from callauto.errors import AcsError, BadRequest, error_body
from calls import softphone
from calls.models import MediaOperation, Participant, SimulatedCallee
from carrier.media.play_sources import SourceError
from tenants.models import PhoneNumber
from tenants.permissions import Action
from tenants.portal.access import permits, tenant_page

ACTIONS = ("answer", "hang_up", "press")


def _identity(request: HttpRequest, pk: str | None) -> SimulatedCallee | None:
    """The softphone callee named by `pk`; None for none; 404 for anything else."""
    if not pk:
        return None
    try:
        return softphone.identities(request.tenant).get(pk=int(pk))
    except (ValueError, SimulatedCallee.DoesNotExist):
        raise Http404("No such softphone identity.") from None


def _back(request: HttpRequest, identity: SimulatedCallee | None) -> HttpResponse:
    url = reverse("portal:softphone", kwargs={"tenant_slug": request.tenant.slug})
    return redirect(f"{url}?as={identity.pk}" if identity else url)


@tenant_page(write=Action.CALLS_DRIVE)
def softphone_page(request: HttpRequest) -> HttpResponse:
    """Pick who you are; then answer, decline, press keys and hang up as the page polls.
    Operators and up add identities and call the tenant's numbers; viewers watch."""
    tenant = request.tenant
    identities = list(softphone.identities(tenant))
    # The identity chosen last is remembered for this tenant, across pages and visits.
    remembered = f"softphone_identity_{tenant.pk}"
    pk = request.POST.get("as") or request.GET.get("as") or request.session.get(remembered)
    try:
        identity = _identity(request, pk)
    except Http404:
        if pk != request.session.get(remembered):
            raise
        identity = None  # a remembered identity that was removed since
    identity = identity or (identities[0] if len(identities) == 1 else None)
    if identity is not None:
        request.session[remembered] = str(identity.pk)
    numbers = list(PhoneNumber.objects.for_tenant(tenant).values_list("e164", flat=True))
    error = ""
    if request.method == "POST" and "add" in request.POST:
        try:
            identity = softphone.add_identity(
                tenant, request.POST.get("identity", ""), actor=request.user
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, f"You can now be {identity.raw_id} on the softphone.")
            return _back(request, identity)
    elif request.method == "POST" and "claim" in request.POST and identity is not None:
        softphone.claim_identity(tenant, identity, member=request.user)
        messages.success(request, f"Calls to {identity.raw_id} now ring here for you.")
        return _back(request, identity)
    elif request.method == "POST" and "call" in request.POST and identity is not None:
        try:
            softphone.call_number(
                tenant, identity, to_number=request.POST.get("to_number", ""), actor=request.user
            )
        except AcsError as exc:
            error = str(exc.detail)
        else:
            messages.success(request, f"Calling {request.POST['to_number']}.")
            return _back(request, identity)
    elif request.method == "POST" and "call" in request.POST:
        error = "Choose who you are first."
    elif request.method == "POST":
        error = "Nothing to do: add an identity or call a number."
    ringing = softphone.ringing_identities(tenant, identity, request.user) if identity else []
    return render(
        request,
        "portal/calls/softphone.html",
        {
            "identities": identities,
            "identity": identity,
            "numbers": numbers,
            "error": error,
            "can_act": permits(request, Action.CALLS_DRIVE),
            # Also rings for: the member's other identities (ringing_identities).
            "also": ringing[1:],
            "mine": identity is not None and identity.member_id == request.user.pk,
            "recent": softphone.recent_calls(tenant, ringing) if identity else [],
        },
        status=400 if error else 200,
    )


@tenant_page(write=None)
def softphone_state(request: HttpRequest) -> JsonResponse:
    """The ringing and connected calls of the identity and of the member's other
    identities (each leg says which identity it calls), and what plays to each (polled)."""
    identity = _identity(request, request.GET.get("as"))
    if identity is None:
        raise Http404("No such softphone identity.")
    ringing = softphone.ringing_identities(request.tenant, identity, request.user)
    legs = [
        _leg(request, participant) for participant in softphone.live_legs(request.tenant, ringing)
    ]
    return JsonResponse(
        {"identity": identity.raw_id, "identities": [one.raw_id for one in ringing], "legs": legs}
    )


def _leg(request: HttpRequest, participant: Participant) -> dict:
    call = participant.call
    calling = participant.role == Participant.Role.CALLER
    if participant.state == Participant.State.CONNECTED:
        state = "on_hold" if participant.is_on_hold else "connected"
    else:
        state = "calling" if calling else "ringing"
    op = softphone.playing_to(participant)
    media = None
    if op is not None:
        url = reverse(
            "portal:softphone_audio",
            kwargs={"tenant_slug": request.tenant.slug, "op_id": op.op_id},
        )
        media = {
            "op_id": str(op.op_id),
            "kind": op.kind,
            "audio_url": url,
            "loop": bool(op.payload.get("loop")),
        }
    return {
        "leg_id": str(participant.leg_id),
        # Which of the member's identities this leg calls (or calls from).
        "identity": participant.raw_id,
        "state": state,
        "direction": "outgoing" if calling else "incoming",
        # Who is on the other end: the number called, or the caller ID shown.
        "other": call.to_number if calling else participant.source_caller_id,
        "call_id": call.pk,
        "call_url": reverse(
            "portal:call_detail", kwargs={"tenant_slug": request.tenant.slug, "call_id": call.pk}
        ),
        "server_call_id": call.server_call_id,
        "since": (participant.joined_at or participant.invited_at).isoformat(),
        "media": media,
        # customCallingContext the app sent with the invitation (what a phone would show).
        "headers": {
            **(participant.custom_context.get("sipHeaders") or {}),
            **(participant.custom_context.get("voipHeaders") or {}),
        },
    }


@tenant_page(write=Action.CALLS_DRIVE)
def softphone_leg(request: HttpRequest, leg_id: str) -> JsonResponse:
    """POST action=answer|hang_up|press (with key=...) for one of the identity's legs."""
    if request.method != "POST":
        return JsonResponse(error_body("MethodNotAllowed", "Use POST."), status=405)
    action = request.POST.get("action", "")
    tenant, actor = request.tenant, request.user
    try:
        if action == "answer":
            softphone.answer_leg(tenant, str(leg_id), actor=actor)
        elif action == "hang_up":
            softphone.hang_up_leg(tenant, str(leg_id), actor=actor)
        elif action == "press":
            softphone.press_key(tenant, str(leg_id), request.POST.get("key", ""), actor=actor)
        else:
            return _field_error("action", f"Use one of {', '.join(ACTIONS)}.")
    except BadRequest as exc:  # only a key can be malformed
        return _field_error("key", str(exc.detail))
    except AcsError as exc:
        return JsonResponse(
            error_body(str(exc.detail.code), str(exc.detail)), status=exc.status_code
        )
    return JsonResponse({"ok": True})


def _field_error(field: str, message: str) -> JsonResponse:
    detail = {"code": "invalid", "message": message, "target": field}
    return JsonResponse(error_body("BadRequest", f"{field}: {message}", [detail]), status=400)


@tenant_page(write=None)
def softphone_audio(request: HttpRequest, op_id: str) -> HttpResponse:
    """What the carrier plays for one media operation of the tenant, as a WAV file."""
    op = MediaOperation.objects.for_tenant(request.tenant).filter(op_id=op_id).first()
    if op is None:
        raise Http404("No such media operation.")
    try:
        wav = softphone.operation_wav(op)
    except SourceError:
        raise Http404("This operation has nothing playable.") from None
    response = HttpResponse(wav, content_type="audio/wav")
    # An operation's audio never changes; only the tenant's members may fetch it.
    response["Cache-Control"] = "private, max-age=86400"
    return response
