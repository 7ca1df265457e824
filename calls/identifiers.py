"""ACS communication identifiers: wire JSON in, one normalized `Identifier` out, and back.

The SDK sends identifiers without `kind` (only `rawId` plus one nested object) and picks
the class of an identifier it receives only from the nested object, so requests are parsed
leniently about `kind` and responses always carry all three parts (ACS-WIRE.md §3).

Only phone numbers and ACS users are supported. Teams identifiers raise `NotSupported`;
anything malformed raises `BadRequest` whose message starts with the caller's field name,
e.g. "targets[0].rawId: ...".

Phone numbers go through `tenants.phone.normalize_e164`, but first must consist of `+`,
ASCII digits and the separators space, `-`, `.`, `(`, `)`. So "+1 425 555 0123" (as a
value or as the rawId "4:+1 425 555 0123") normalizes to +14255550123, while the letters
and extensions libphonenumber would quietly accept ("+1-800-FLOWERS", "... ext 5") and the
"4: 1425..." that `unquote_plus` makes of a path parameter are refused.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from callauto.errors import BadRequest, NotSupported
from tenants.phone import normalize_e164

PHONE_NUMBER = "phoneNumber"
COMMUNICATION_USER = "communicationUser"
KINDS = (PHONE_NUMBER, COMMUNICATION_USER)

PHONE_PREFIX = "4:"
TEAMS_KEYS = ("microsoftTeamsUser", "microsoftTeamsApp", "teamsExtensionUser")
TEAMS_PREFIXES = ("8:orgid:", "8:dod:", "8:gcch:", "8:teamsvisitor:", "28:")
# ACS users of the US government clouds (the SDK reads three-part ones as Teams extension users).
GOV_ACS_PREFIXES = ("8:dod-acs:", "8:gcch-acs:")
ALLOWED_KEYS = frozenset({"kind", "rawId", *KINDS, *TEAMS_KEYS})

ACS_USER_ID = re.compile(r"8:(acs|spool):[A-Za-z0-9_\-:.]+")
ACS_USER_ID_MAX = 256
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# A caller who withholds their number, or whose SIP user is not one: ACS's anonymous phone
# number (the SDK's PhoneNumberIdentifier("anonymous")). Only the carrier makes these; a
# request may name one as a participant (`parse_participant`), never as someone to call.
ANONYMOUS = "anonymous"
PHONE_TEXT = re.compile(r"\+[0-9 ().\-]+")


@dataclass(frozen=True)
class Identifier:
    """A phone number or ACS user, keyed by its canonical rawId ("4:+1...", "8:acs:...").

    Build one with `phone()` / `user()` from trusted values, or with the parse functions
    below from request data; a malformed pair raises ValueError (a bug, not a 400).
    """

    kind: str
    raw_id: str

    def __post_init__(self) -> None:
        # Checked here so no code path can emit a wire form the SDK would misread.
        if self.kind == PHONE_NUMBER:
            tail = self.raw_id.removeprefix(PHONE_PREFIX)
            valid = self.raw_id.startswith(PHONE_PREFIX) and (
                bool(E164.fullmatch(tail)) or tail == ANONYMOUS
            )
        elif self.kind == COMMUNICATION_USER:
            valid = _is_acs_user_id(self.raw_id)
        else:
            valid = False
        if not valid:
            raise ValueError(f"Not a valid {self.kind!r} identifier: {self.raw_id!r}.")

    @classmethod
    def phone(cls, e164: str) -> "Identifier":
        return cls(PHONE_NUMBER, PHONE_PREFIX + e164)

    @classmethod
    def user(cls, acs_id: str) -> "Identifier":
        return cls(COMMUNICATION_USER, acs_id)

    @property
    def phone_number(self) -> str | None:
        """The E.164 number of a phone identifier, None for an ACS user."""
        return self.raw_id.removeprefix(PHONE_PREFIX) if self.kind == PHONE_NUMBER else None

    def to_wire(self) -> dict[str, Any]:
        """The response form: `kind`, `rawId` and the nested object the SDK reads the type from."""
        nested = {"value": self.phone_number} if self.kind == PHONE_NUMBER else {"id": self.raw_id}
        return {"kind": self.kind, "rawId": self.raw_id, self.kind: nested}


def parse_identifier(value: object, field: str) -> Identifier:
    """Parse a CommunicationIdentifierModel from a request body.

    The type comes from the nested object if there is one, else from the rawId prefix; a
    `kind`, a rawId and a nested object that are all present must agree. Raises
    NotSupported for Teams identifiers and BadRequest, naming `field`, for anything else
    that is not a valid phone number or ACS user.
    """
    if not isinstance(value, dict) or not value:
        raise _bad(field, "must be an object with rawId, phoneNumber or communicationUser.")
    unknown = sorted(str(key) for key in value if key not in ALLOWED_KEYS)
    if unknown:
        raise _bad(field, f"unknown key(s): {', '.join(unknown)}.")
    # JSON null means "absent" here, as it does for the SDK's own serializer.
    present = {key: item for key, item in value.items() if item is not None}

    kind = present.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise _bad(f"{field}.kind", "must be a string.")
    if kind in TEAMS_KEYS or any(key in present for key in TEAMS_KEYS):
        raise _teams(field)

    raw_id = present.get("rawId")
    if raw_id is not None and (not isinstance(raw_id, str) or not raw_id):
        raise _bad(f"{field}.rawId", "must be a non-empty string.")

    nested = [key for key in KINDS if key in present]
    if len(nested) > 1:
        raise _bad(field, "has both phoneNumber and communicationUser; send exactly one.")
    if nested:
        identifier = _from_nested(nested[0], present[nested[0]], f"{field}.{nested[0]}")
        if raw_id is not None and not _raw_id_agrees(raw_id, identifier):
            raise _bad(f"{field}.rawId", f"{raw_id!r} does not match {nested[0]}.")
    elif raw_id is not None:
        identifier = _from_raw_id(raw_id, f"{field}.rawId")
    else:
        raise _bad(field, "needs rawId, phoneNumber or communicationUser.")

    if kind is not None and kind != identifier.kind:
        raise _bad(f"{field}.kind", f"{kind!r} does not match the identifier ({identifier.kind}).")
    return identifier


def parse_participant(value: object, field: str) -> Identifier:
    """Like `parse_identifier`, for a body field that names someone already in the call
    (playTo, a recognize or DTMF target, mute, remove, transferee): the anonymous caller
    ("4:anonymous", which the SDK also sends with isAnonymous) is one of those, though it
    can never be called."""
    if _is_anonymous(value):
        return Identifier(PHONE_NUMBER, PHONE_PREFIX + ANONYMOUS)
    return parse_identifier(value, field)


def parse_participant_raw_id(raw: str, field: str) -> Identifier:
    """`parse_raw_id` for a path naming a participant: "4:anonymous" included."""
    if raw == PHONE_PREFIX + ANONYMOUS:
        return Identifier(PHONE_NUMBER, raw)
    return parse_raw_id(raw, field)


def _is_anonymous(value: object) -> bool:
    """The anonymous phone number in any form the SDK sends it, and nothing else."""
    if not isinstance(value, dict):
        return False
    present = {key: item for key, item in value.items() if item is not None}
    if not present or set(present) - {"kind", "rawId", PHONE_NUMBER}:
        return False
    if present.get("kind", PHONE_NUMBER) != PHONE_NUMBER:
        return False
    if present.get("rawId", PHONE_PREFIX + ANONYMOUS) != PHONE_PREFIX + ANONYMOUS:
        return False
    nested = present.get(PHONE_NUMBER)
    if nested is None:
        return "rawId" in present
    if not isinstance(nested, dict) or set(nested) - {"value", "isAnonymous"}:
        return False
    return nested.get("value") == ANONYMOUS and nested.get("isAnonymous") in (None, True)


def parse_phone_value(value: object, field: str) -> str:
    """Parse a bare PhoneNumberIdentifierModel (`{"value": "+1..."}`) and return its E.164.

    Used for `sourceCallerIdNumber`. Raises BadRequest naming `field`.
    """
    return _phone_model(value, field)


def parse_raw_id(raw: str, field: str) -> Identifier:
    """Parse a rawId from a path parameter, already decoded with `unquote` (not `_plus`).

    Same rules as a rawId in a body: "4:" + E.164 is a phone number, "8:acs:" / "8:spool:" an
    ACS user. Raises NotSupported for Teams raw ids and BadRequest naming `field` otherwise.
    """
    if not isinstance(raw, str) or not raw:
        raise _bad(field, "must be a non-empty raw id.")
    return _from_raw_id(raw, field)


def _from_nested(key: str, nested: object, field: str) -> Identifier:
    if key == PHONE_NUMBER:
        return Identifier.phone(_phone_model(nested, field))
    if not isinstance(nested, dict):
        raise _bad(field, 'must be an object like {"id": "8:acs:..."}.')
    unknown = sorted(str(item) for item in nested if item != "id")
    if unknown:
        raise _bad(field, f"unknown key(s): {', '.join(unknown)}.")
    return Identifier.user(_acs_user_id(nested.get("id"), f"{field}.id"))


def _from_raw_id(raw: str, field: str) -> Identifier:
    if raw.startswith(PHONE_PREFIX):
        return Identifier.phone(_phone(raw.removeprefix(PHONE_PREFIX), field))
    if raw.startswith(TEAMS_PREFIXES):
        raise _teams(field)
    # The SDK's identifier_from_raw_id reads "8:acs:<resource>_<tenant>_<user>" (three
    # parts) as a Teams extension user; a bare rawId must mean what it means to the SDK.
    if raw.startswith("8:acs:") and len(raw.removeprefix("8:acs:").split("_")) == 3:
        raise _teams(field)
    return Identifier.user(_acs_user_id(raw, field))


def _raw_id_agrees(raw: str, identifier: Identifier) -> bool:
    if identifier.kind == COMMUNICATION_USER:
        return raw == identifier.raw_id
    if not raw.startswith(PHONE_PREFIX):
        return False
    # The SDK builds rawId as "4:" + value verbatim, so compare the numbers, not the text.
    try:
        return _phone(raw.removeprefix(PHONE_PREFIX), "") == identifier.phone_number
    except BadRequest:
        return False


def _phone_model(value: object, field: str) -> str:
    if not isinstance(value, dict):
        raise _bad(field, 'must be an object like {"value": "+14255550123"}.')
    # isAnonymous and assertedId appear only on identifiers the SDK rebuilt from a rawId the
    # service sent; we never send such rawIds, so only the harmless isAnonymous=false passes.
    unknown = sorted(str(key) for key in value if key not in ("value", "isAnonymous"))
    if unknown:
        raise _bad(field, f"unknown key(s): {', '.join(unknown)}.")
    if value.get("isAnonymous") not in (None, False):
        raise _bad(f"{field}.isAnonymous", "anonymous phone numbers cannot be used here.")
    return _phone(value.get("value"), f"{field}.value")


def _phone(text: object, field: str) -> str:
    if not isinstance(text, str) or not text:
        raise _bad(field, "must be a phone number in E.164 form, like +14255550123.")
    if not PHONE_TEXT.fullmatch(text):
        raise _bad(field, f"{text!r} is not a phone number in E.164 form, like +14255550123.")
    try:
        return normalize_e164(text)
    except ValidationError as exc:
        raise _bad(field, " ".join(exc.messages)) from None


def _acs_user_id(text: object, field: str) -> str:
    if not isinstance(text, str) or not text:
        raise _bad(field, "must be an ACS user id like 8:acs:<resource>_<user>.")
    if text.startswith(TEAMS_PREFIXES):
        raise _teams(field)
    if text.startswith(GOV_ACS_PREFIXES):
        raise NotSupported(f"{field}: identifiers from government clouds are not supported.")
    if not _is_acs_user_id(text):
        shown = text if len(text) <= 80 else text[:80] + "..."
        raise _bad(field, f"{shown!r} is not a phone number (4:+...) or ACS user id (8:acs:...).")
    return text


def _is_acs_user_id(text: str) -> bool:
    return len(text) <= ACS_USER_ID_MAX and bool(ACS_USER_ID.fullmatch(text))


def _bad(field: str, message: str) -> BadRequest:
    return BadRequest(f"{field}: {message}" if field else message)


def _teams(field: str) -> NotSupported:
    return NotSupported(f"{field}: Teams identifiers are not supported.")
