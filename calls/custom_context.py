"""customCallingContext: SIP and VoIP headers an app sends with an invitation (add
participant, transfer) and an inbound call brings along (IncomingCall's customContext).

Validated as ACS does: custom SIP headers are named `X-MS-Custom-<name>` (or are the
`User-To-User` header), VoIP headers are free names; a handful of each, short values.
Names are RFC 9110 tokens and values are printable with no line breaks, because on SIP
trunks they become real header lines of the INVITE: a CR or LF in one would let an app
write headers of its own choosing.
"""

import re
from typing import Any

from callauto.errors import BadRequest

SIP_PREFIX = "X-MS-Custom-"
USER_TO_USER = "User-To-User"
MAX_HEADERS = 5  # of each kind
MAX_NAME = 64
MAX_SIP_VALUE, MAX_VOIP_VALUE = 256, 1024
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


def parse(data: Any, field: str = "customCallingContext") -> dict[str, dict[str, str]]:
    """{"sipHeaders": {...}, "voipHeaders": {...}} (kinds that were given), checked.
    Raises BadRequest naming the header and the rule it breaks."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadRequest(f"{field}: must be an object with sipHeaders and/or voipHeaders.")
    unknown = sorted(set(data) - {"sipHeaders", "voipHeaders", "teamsPhoneCallDetails"})
    if unknown:
        raise BadRequest(f"{field}.{unknown[0]}: not a custom context field.")
    context: dict[str, dict[str, str]] = {}
    for kind, limit in (("sipHeaders", MAX_SIP_VALUE), ("voipHeaders", MAX_VOIP_VALUE)):
        headers = data.get(kind)
        if headers in (None, {}):
            continue
        if not isinstance(headers, dict):
            raise BadRequest(f"{field}.{kind}: must be an object of header names to values.")
        if len(headers) > MAX_HEADERS:
            raise BadRequest(f"{field}.{kind}: at most {MAX_HEADERS} headers.")
        for name, value in headers.items():
            _check(f"{field}.{kind}.{name}", kind, name, value, limit)
        context[kind] = dict(headers)
    return context


def _check(where: str, kind: str, name: str, value: Any, limit: int) -> None:
    if not 0 < len(name) <= MAX_NAME or not _TOKEN.match(name):
        raise BadRequest(f"{where}: a header name is 1 to {MAX_NAME} letters, digits or -.")
    if kind == "sipHeaders" and not (
        (name.lower().startswith(SIP_PREFIX.lower()) and len(name) > len(SIP_PREFIX))
        or name.lower() == USER_TO_USER.lower()
    ):
        raise BadRequest(
            f"{where}: custom SIP headers are named {SIP_PREFIX}<name> (or {USER_TO_USER})."
        )
    if not isinstance(value, str) or len(value) > limit or not _PRINTABLE.match(value):
        raise BadRequest(
            f"{where}: the value is at most {limit} printable characters with no line breaks."
        )


def incoming_custom_context(context: dict) -> dict:
    """IncomingCall's customContext: both kinds, empty when none came."""
    return {
        "sipHeaders": dict(context.get("sipHeaders") or {}),
        "voipHeaders": dict(context.get("voipHeaders") or {}),
    }
