"""Scripted callees of the simulated carrier: how a tenant's test numbers behave when dialled.

The gateway reads these rows when it dials a leg (`calls.gateway.Gateway._script`); a number
without one answers after 1 s and stays until hung up (`calls.carrier.simulated`). Each verb
owns its transaction and writes one audit entry per change.
"""

import math
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from callauto.errors import AcsError
from calls.identifiers import PHONE_PREFIX, parse_raw_id
from calls.models import SimulatedCallee
from tenants import audit
from tenants.audit import Actor
from tenants.models import Tenant

FIELDS = ("raw_id", "outcome", "answer_after", "hang_up_after", "keys", "says")
ANSWER_AFTER_MAX = 120.0
HANG_UP_AFTER_MAX = 3600.0
KEYS = frozenset("0123456789*#ABCD")
MAX_PRESSES = 20
MAX_SAYS, MAX_SAY_CHARACTERS = 10, 200


def normalize_raw_id(text: str) -> str:
    """Return the canonical raw id of an E.164 number ("+1 425...") or a raw id ("4:+1...",
    "8:acs:..."). Raises ValidationError for anything the API would not accept as a target.
    """
    text = (text or "").strip()
    # A bare number is the common case in the portal; the API's raw id rules do the rest.
    raw = PHONE_PREFIX + text if text.startswith("+") else text
    try:
        return parse_raw_id(raw, "").raw_id
    except AcsError as exc:
        message = str(exc.detail).removeprefix(": ")
        raise ValidationError(message[:1].upper() + message[1:]) from None


def check_keys(keys: Any) -> list[list[float | str]]:
    """Return `keys` as stored: [seconds, key] (after answer) or [seconds, key, "prompt"]
    (into the next prompt played to the callee), after-answer presses first, each group
    sorted by time.

    Raises ValidationError unless it is at most MAX_PRESSES presses of a finite, non-negative
    number of seconds and one of 0-9, *, #, A-D, with "prompt" as the only anchor.
    """
    if not isinstance(keys, list | tuple):
        raise ValidationError("Key presses must be a list of [seconds, key] pairs.")
    if len(keys) > MAX_PRESSES:
        raise ValidationError(f"At most {MAX_PRESSES} key presses, not {len(keys)}.")
    presses: list[list[float | str]] = []
    for press in keys:
        if not isinstance(press, list | tuple) or len(press) not in (2, 3):
            raise ValidationError(f"{press!r} is not a [seconds, key] pair.")
        at, key, *anchor = press
        # bool is an int; True seconds would be a typo, not a time.
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise ValidationError(f"{at!r} is not a number of seconds.")
        if at < 0:
            raise ValidationError(f"{at:g} s is before the answer; times start at 0.")
        if not isinstance(key, str) or key not in KEYS:
            raise ValidationError(f"{key!r} is not a key; use 0-9, *, # or A-D.")
        if anchor not in ([], ["prompt"]):
            raise ValidationError(f'{anchor[0]!r} is not an anchor; use "prompt" or none.')
        presses.append([float(at), key, *anchor])
    return sorted(presses, key=lambda press: (len(press), press[0]))


def check_says(says: Any) -> list[list[float | str]]:
    """Return `says` as stored: [seconds, text] (after answer) or [seconds, text, "prompt"]
    (into the next prompt), after-answer phrases first, each group sorted by time.

    Raises ValidationError unless it is at most MAX_SAYS phrases of a finite,
    non-negative number of seconds and 1 to MAX_SAY_CHARACTERS characters of text.
    """
    if not isinstance(says, list | tuple):
        raise ValidationError("Phrases must be a list of [seconds, text] pairs.")
    if len(says) > MAX_SAYS:
        raise ValidationError(f"At most {MAX_SAYS} phrases, not {len(says)}.")
    phrases: list[list[float | str]] = []
    for step in says:
        if not isinstance(step, list | tuple) or len(step) not in (2, 3):
            raise ValidationError(f"{step!r} is not a [seconds, text] pair.")
        at, text, *anchor = step
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise ValidationError(f"{at!r} is not a number of seconds.")
        if at < 0:
            raise ValidationError(f"{at:g} s is before the answer; times start at 0.")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_SAY_CHARACTERS:
            raise ValidationError(f"A phrase is 1 to {MAX_SAY_CHARACTERS} characters of text.")
        if anchor not in ([], ["prompt"]):
            raise ValidationError(f'{anchor[0]!r} is not an anchor; use "prompt" or none.')
        phrases.append([float(at), text.strip(), *anchor])
    return sorted(phrases, key=lambda step: (len(step), step[0]))


def _check(tenant: Tenant, callee: SimulatedCallee) -> None:
    if normalize_raw_id(callee.raw_id) != callee.raw_id:
        raise ValidationError(f"{callee.raw_id!r} is not a canonical raw id.")
    callee.keys = check_keys(callee.keys)
    callee.says = check_says(callee.says)
    ranges = {
        "answer_after": (callee.answer_after, ANSWER_AFTER_MAX),
        "hang_up_after": (callee.hang_up_after, HANG_UP_AFTER_MAX),
    }
    for name, (value, most) in ranges.items():
        if value is None and name == "hang_up_after":
            continue
        if not isinstance(value, int | float) or not 0 <= value <= most:
            raise ValidationError(f"{name} must be between 0 and {most:g} seconds.")
    # The unique constraint is checked by hand below, with a message a person can act on.
    callee.full_clean(validate_constraints=False)
    taken = SimulatedCallee.objects.for_tenant(tenant).filter(raw_id=callee.raw_id)
    if taken.exclude(pk=callee.pk).exists():
        raise ValidationError(f"{callee.raw_id} already has a script; edit that one instead.")


def _snapshot(callee: SimulatedCallee) -> dict[str, Any]:
    return {name: getattr(callee, name) for name in FIELDS}


@transaction.atomic
def save_callee(
    tenant: Tenant, *, actor: Actor, callee_id: int | None = None, **fields: Any
) -> SimulatedCallee:
    """Add a scripted callee, or change the tenant's callee `callee_id`.

    `fields` are model fields (raw_id, outcome, answer_after, hang_up_after, keys); a change
    sets only those given. Raises SimulatedCallee.DoesNotExist for another tenant's (or a
    missing) callee_id, ValidationError for a value out of range, a raw id that is not
    canonical or one the tenant already scripts, and TypeError for an unknown field.
    """
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise TypeError(f"Not a callee field: {', '.join(unknown)}.")
    if callee_id is None:
        callee, before = SimulatedCallee(tenant=tenant), None
    else:
        callee = SimulatedCallee.objects.for_tenant(tenant).select_for_update().get(pk=callee_id)
        before = _snapshot(callee)
    for name, value in fields.items():
        setattr(callee, name, value)
    _check(tenant, callee)
    try:
        # A concurrent add of the same number passes the check above; the constraint decides.
        with transaction.atomic():
            callee.save()
    except IntegrityError:
        raise ValidationError(f"{callee.raw_id} already has a script.") from None

    after = _snapshot(callee)
    if before is None:
        audit.record(tenant, actor=actor, action="simulated_callee.add", target=callee, after=after)
    elif before != after:
        changed = [name for name in FIELDS if before[name] != after[name]]
        audit.record(
            tenant,
            actor=actor,
            action="simulated_callee.change",
            target=callee,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
    return callee


@transaction.atomic
def delete_callee(tenant: Tenant, callee_id: int, *, actor: Actor) -> None:
    """Remove a scripted callee; its number then answers like any unscripted one.

    Raises SimulatedCallee.DoesNotExist for another tenant's (or a missing) callee_id.
    """
    callee = SimulatedCallee.objects.for_tenant(tenant).select_for_update().get(pk=callee_id)
    audit.record(
        tenant,
        actor=actor,
        action="simulated_callee.remove",
        target=callee,
        before=_snapshot(callee),
    )
    callee.delete()
