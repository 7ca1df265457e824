"""The one permission table (role x action) that the portal and both APIs enforce.

Every mutating portal page and every API route names the action it performs
(`tenant_page(write=...)` for the portal, `permission_actions` on DRF views); the table
below says which roles may perform it. A portal member's role is their membership's; an
access key's (HMAC) role is the one set on the key (viewer, operator or admin).

Suspension sits on top of the table: a suspended tenant's members may still read the
portal (with a banner) but change nothing, and every API request, by key or by portal
session, answers 403.
"""

from enum import StrEnum

from tenants.models import AccessKey, Membership, Tenant

Role = Membership.Role
ROLES: list[str] = list(Role.values)  # least to most powerful


class Action(StrEnum):
    """What a request does. Values are stable names (audit, error messages, README)."""

    READ = "tenant.read"  # every portal page and every GET of the APIs
    KEYS_VIEW = "keys.view"  # see connection strings
    KEYS_MANAGE = "keys.manage"  # regenerate a key, set a key's role
    MEMBERS_MANAGE = "members.manage"  # invite, revoke invitations, change roles, remove
    NUMBERS_MANAGE = "numbers.manage"
    TRUNKS_MANAGE = "trunks.manage"  # SIP trunks (credentials) and which numbers use them
    CALLEES_MANAGE = "callees.manage"  # scripted test callees
    WEBHOOKS_MANAGE = "webhooks.manage"  # event webhooks, signing secrets, test rings
    SETTINGS_MANAGE = "settings.manage"  # recording retention
    RATES_CHANGE = "rates.change"  # platform operators only, in /admin/
    CALLS_DRIVE = "calls.drive"  # the /calling API's writes, the softphone
    DELIVERIES_REDELIVER = "deliveries.redeliver"  # and re-enabling a disabled endpoint
    RECORDINGS_DELETE = "recordings.delete"
    RECORDINGS_LEGAL_HOLD = "recordings.legal_hold"  # set or lift
    REMINDERS_EDIT = "reminders.edit"  # contacts, plans, appointments, suppressions, imports
    REMINDERS_DISPATCH = "reminders.dispatch"
    NOTIFICATIONS_EDIT = "notifications.edit"  # audiences, draft notifications
    NOTIFICATIONS_LAUNCH = "notifications.launch"  # launch, pause, resume, cancel
    PREFERENCES_EDIT = "preferences.edit"  # a member's own portal settings (time zone)


def _from(minimum: str | None) -> frozenset[str]:
    """The roles at or above `minimum` (roles are ordered); None: no tenant role."""
    return frozenset(ROLES[ROLES.index(minimum) :]) if minimum else frozenset()


A = Action
TABLE: dict[Action, frozenset[str]] = {
    A.READ: _from(Role.VIEWER),
    A.KEYS_VIEW: _from(Role.ADMIN),
    A.KEYS_MANAGE: _from(Role.OWNER),
    A.MEMBERS_MANAGE: _from(Role.OWNER),
    A.NUMBERS_MANAGE: _from(Role.ADMIN),
    A.TRUNKS_MANAGE: _from(Role.ADMIN),
    A.CALLEES_MANAGE: _from(Role.ADMIN),
    A.WEBHOOKS_MANAGE: _from(Role.ADMIN),
    A.SETTINGS_MANAGE: _from(Role.ADMIN),
    A.RATES_CHANGE: _from(None),
    A.CALLS_DRIVE: _from(Role.OPERATOR),
    A.DELIVERIES_REDELIVER: _from(Role.OPERATOR),
    A.RECORDINGS_DELETE: _from(Role.ADMIN),
    A.RECORDINGS_LEGAL_HOLD: _from(Role.ADMIN),
    A.REMINDERS_EDIT: _from(Role.OPERATOR),
    A.REMINDERS_DISPATCH: _from(Role.OPERATOR),
    A.NOTIFICATIONS_EDIT: _from(Role.OPERATOR),
    A.NOTIFICATIONS_LAUNCH: _from(Role.OPERATOR),
    A.PREFERENCES_EDIT: _from(Role.VIEWER),
}

# The roles an access key may have (never owner; see AccessKey.role).
KEY_ROLES: list[str] = [str(role) for role in AccessKey.ROLES]

SUSPENDED = "This tenant is suspended: nothing can be changed and the API is refused."


def allows(role: str | None, action: Action) -> bool:
    """Whether `role` may perform `action` (the table only; no suspension)."""
    return role is not None and role in TABLE[action]


def refusal(tenant: Tenant, role: str | None, action: Action) -> str | None:
    """Why a portal member with `role` may not perform `action` now; None if they may.

    A suspended tenant's members keep reading, nothing more.
    """
    if not tenant.is_active and action != Action.READ:
        return SUSPENDED
    if not allows(role, action):
        return f"Your role ({role or 'none'}) cannot do this ({action})."
    return None


def capabilities(tenant: Tenant | None, role: str | None) -> dict[str, bool]:
    """Every action as `name -> allowed now`, keyed for templates (`can.recordings_delete`)."""
    if tenant is None:
        return {}
    return {action.name.lower(): refusal(tenant, role, action) is None for action in Action}


def outranks(role: str, other: str) -> bool:
    return ROLES.index(role) > ROLES.index(other)


def as_markdown() -> str:
    """The table as README shows it (a test keeps the README's copy in step)."""
    header = "| action | " + " | ".join(ROLES) + " |"
    rule = "| --- |" + " :---: |" * len(ROLES)
    rows = [
        f"| `{action}` | " + " | ".join("yes" if r in TABLE[action] else "-" for r in ROLES) + " |"
        for action in Action
    ]
    return "\n".join([header, rule, *rows])
