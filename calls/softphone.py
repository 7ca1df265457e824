"""The portal's softphone: a person in the browser is a callee or caller of the simulated
carrier, through a SimulatedCallee whose outcome is "softphone".

Each verb checks that the leg is the tenant's and belongs to one of its softphone
callees, then writes the CarrierCommand the gateway carries out (the post_save signal
nudges it, as for every command). What follows on the network comes back as ordinary
carrier events, so the app sees the same CallEvents a scripted callee would cause.
"""

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet

from callauto.errors import BadRequest, Conflict, NotFound
from calls import call_verbs, incoming_verbs
from calls.callees import normalize_raw_id, save_callee
from calls.identifiers import parse_raw_id
from calls.models import CarrierCommand, MediaOperation, Participant, SimulatedCallee
from carrier.media import dtmf
from carrier.media.audio import Audio, concat, silence
from carrier.media.play_sources import PlaySource, load
from carrier.simulated.driver import GAP_SECONDS, TONE_SECONDS
from tenants import audit
from tenants.audit import Actor
from tenants.models import Tenant

P = Participant.State
SOFTPHONE = SimulatedCallee.Outcome.SOFTPHONE
# "1", "one", "#", "pound", "a", "A": each names one key; values are what the carrier presses.
KEY_NAMES: dict[str, str] = {
    **{key: key for key in dtmf.TONE_NAMES},
    **{key.lower(): key for key in "ABCD"},
    **dtmf.KEYS,
}


def identities(tenant: Tenant) -> QuerySet[SimulatedCallee]:
    """The tenant's softphone callees: who a person on the softphone can be."""
    return SimulatedCallee.objects.for_tenant(tenant).filter(outcome=SOFTPHONE).order_by("raw_id")


def add_identity(tenant: Tenant, text: str, *, actor: Actor) -> SimulatedCallee:
    """Make `text` (+14255550199, 4:+1..., 8:acs:...) a softphone callee of the tenant.

    Raises ValidationError for a malformed id or one that already has another script.
    The member who adds it owns it: it rings on their softphone from then on
    (ringing_identities), whichever identity the page shows.
    """
    with transaction.atomic():
        callee = save_callee(tenant, actor=actor, raw_id=normalize_raw_id(text), outcome=SOFTPHONE)
        if isinstance(actor, get_user_model()):
            callee.member = actor
            callee.save(update_fields=["member"])
    return callee


@transaction.atomic
def claim_identity(tenant: Tenant, identity: SimulatedCallee, *, member: Any) -> None:
    """`member` owns the tenant's softphone identity from now on (it rings for them on
    every softphone page); audited like a callee change. Raises NotFound for an identity
    that is not a softphone callee of the tenant."""
    callee = identities(tenant).select_for_update().filter(pk=identity.pk).first()
    if callee is None:
        raise NotFound("No such softphone identity.")
    before = callee.member_id
    callee.member = member
    callee.save(update_fields=["member"])
    audit.record(
        tenant,
        actor=member,
        action="simulated_callee.change",
        target=callee,
        before={"member": before},
        after={"member": member.pk},
    )


def ringing_identities(
    tenant: Tenant, identity: SimulatedCallee, member: Any
) -> list[SimulatedCallee]:
    """Whom the softphone answers for: the identity shown, then every other softphone
    identity `member` owns, so a call to any of them rings whatever is selected."""
    others = identities(tenant).filter(member_id=getattr(member, "pk", None))
    return [identity, *others.exclude(pk=identity.pk)]


def _raw_ids(who: SimulatedCallee | list[SimulatedCallee]) -> list[str]:
    return [one.raw_id for one in (who if isinstance(who, list) else [who])]


def live_legs(tenant: Tenant, who: SimulatedCallee | list[SimulatedCallee]) -> list[Participant]:
    """The legs of the identity (or identities) that ring or are connected, oldest first."""
    return list(
        Participant.objects.for_tenant(tenant)
        .filter(raw_id__in=_raw_ids(who), state__in=[P.INVITED, P.CONNECTED])
        .select_related("call")
        .order_by("invited_at")
    )


def playing_to(participant: Participant) -> MediaOperation | None:
    """The media operation the carrier is playing to this leg now, if any."""
    running = MediaOperation.unscoped.filter(
        call_id=participant.call_id, state=MediaOperation.State.RUNNING
    ).order_by("started_at", "pk")
    # A call runs a handful of operations at most; JSON `contains` is PostgreSQL-only
    # (`make run` uses SQLite), so targets are matched here.
    return next((op for op in running if not op.targets or participant.raw_id in op.targets), None)


def _softphone_leg(tenant: Tenant, leg_id: str) -> Participant:
    """The tenant's leg, locked, if it belongs to a softphone callee; NotFound otherwise."""
    try:
        leg_uuid = uuid.UUID(str(leg_id))
    except ValueError:
        raise NotFound("No such softphone leg.") from None
    participant = (
        Participant.objects.for_tenant(tenant).select_for_update().filter(leg_id=leg_uuid).first()
    )
    if participant is None or not identities(tenant).filter(raw_id=participant.raw_id).exists():
        raise NotFound("No such softphone leg.")
    return participant


@transaction.atomic
def answer_leg(tenant: Tenant, leg_id: str, *, actor: Actor) -> Participant:
    """The person picks up a call ringing them. Raises NotFound for a leg that is not
    one of the tenant's softphone legs, Conflict unless it is ringing the person."""
    participant = _softphone_leg(tenant, leg_id)
    if participant.state != P.INVITED or participant.role == Participant.Role.CALLER:
        raise Conflict("This call is not ringing you.")
    call_verbs.leg_command(participant, CarrierCommand.Kind.CALLEE_ANSWER)
    return participant


@transaction.atomic
def hang_up_leg(tenant: Tenant, leg_id: str, *, actor: Actor) -> Participant:
    """The person declines a ringing call, gives up calling, or leaves a connected one.
    Raises NotFound as answer_leg does, Conflict for a leg that has already ended."""
    participant = _softphone_leg(tenant, leg_id)
    if not participant.is_live:
        raise Conflict("This call has already ended.")
    call_verbs.leg_command(participant, CarrierCommand.Kind.CALLEE_HANG_UP)
    return participant


def parse_key(text: str) -> str:
    """The keypad key `text` names ("1", "one", "#", "pound", "a"); BadRequest otherwise."""
    key = KEY_NAMES.get(str(text).strip()) or KEY_NAMES.get(str(text).strip().lower())
    if key is None:
        raise BadRequest(f"{str(text)[:20]!r} is not a key; use 0-9, *, #, A-D or a tone name.")
    return key


@transaction.atomic
def press_key(tenant: Tenant, leg_id: str, key: str, *, actor: Actor) -> str:
    """The person presses a key on a connected call; it reaches a running recognize or
    continuous DTMF recognition. Returns the key pressed. Raises BadRequest for an
    unknown key, NotFound as answer_leg does, Conflict unless the leg is connected."""
    pressed = parse_key(key)
    participant = _softphone_leg(tenant, leg_id)
    if participant.state != P.CONNECTED:
        raise Conflict("Keys can be pressed only on a connected call.")
    call_verbs.leg_command(participant, CarrierCommand.Kind.PRESS, key=pressed)
    return pressed


def call_number(
    tenant: Tenant, identity: SimulatedCallee, *, to_number: str, actor: Actor
) -> CarrierCommand:
    """The person calls one of the tenant's numbers: an incoming call the app answers (or
    not) as any other; the person's leg stays until one side hangs up. Raises BadRequest
    for a number the tenant does not own, NotFound for an identity that is not a softphone
    callee of the tenant."""
    if not identities(tenant).filter(pk=identity.pk).exists():
        raise NotFound("No such softphone identity.")
    return incoming_verbs.simulate_incoming_call(
        tenant, to_number=to_number, caller=parse_raw_id(identity.raw_id, "caller")
    )


# --- what the person hears ---------------------------------------------------------------


def operation_audio(op: MediaOperation) -> Audio:
    """What the carrier plays for `op`: its sources or prompts one after the other, or
    the DTMF tones it sends (with the carrier's timing). Raises SourceError for a source
    that cannot be loaded (the carrier reported PlayFailed for it too)."""
    payload = op.payload
    if op.kind == MediaOperation.Kind.SEND_DTMF:
        parts: list[Audio] = []
        for index, name in enumerate(payload.get("tones", [])):
            if index:
                parts.append(silence(GAP_SECONDS))
            parts.append(dtmf.tone(dtmf.KEYS[name], TONE_SECONDS))
        return concat(*parts)
    field = "prompts" if op.kind == MediaOperation.Kind.RECOGNIZE else "sources"
    return concat(
        *(
            load(PlaySource.from_payload(data), tenant_id=op.tenant_id)
            for data in payload.get(field, [])
        )
    )


def operation_wav(op: MediaOperation) -> bytes:
    """operation_audio as a WAV file, rendered once per distinct content of a tenant: an
    IVR plays the same prompts on every call, and speech takes a moment to render. Like
    the play caches, it is the tenant's own: the same sources of another tenant are
    loaded for that tenant."""
    content = json.dumps([op.tenant_id, op.kind, op.payload.get("prompts"),
                          op.payload.get("sources"), op.payload.get("tones")],
                         sort_keys=True)  # fmt: skip
    directory = Path(settings.MEDIA_CACHE_DIR)
    path = directory / f"softphone-{hashlib.sha256(content.encode()).hexdigest()}.wav"
    if path.exists():
        return path.read_bytes()
    wav = operation_audio(op).to_wav()
    directory.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed, so a concurrent reader never sees half a file.
    partial = path.with_suffix(f".{uuid.uuid4().hex}.part")
    partial.write_bytes(wav)
    partial.replace(path)
    return wav


def recent_calls(
    tenant: Tenant, who: SimulatedCallee | list[SimulatedCallee], limit: int = 10
) -> list[Participant]:
    """The identities' latest legs, newest first, with their calls (the page's recent list)."""
    return list(
        Participant.objects.for_tenant(tenant)
        .filter(raw_id__in=_raw_ids(who))
        .select_related("call")
        .order_by("-invited_at", "-pk")[:limit]
    )
